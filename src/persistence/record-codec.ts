// Journal records as positional msgpack arrays: compact, self-contained per row, and fast to
// decode during recovery. The first element is the record type's code; never renumber them.
import { Packr } from 'msgpackr';
import type { JournalRecord } from '../actors/index.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

const typeCodes = { reserved: 1, confirmed: 2, released: 3, expired: 4, adjusted: 5 } as const;
const typeNames = [undefined, 'reserved', 'confirmed', 'released', 'expired', 'adjusted'] as const;

export class RecordDecodeError extends Error {
  override readonly name = 'RecordDecodeError';
}

export function encodeRecord(record: JournalRecord): Buffer {
  const head = [
    typeCodes[record.type],
    record.productId,
    record.warehouseId,
    record.version,
    record.atMs,
    record.traceId,
  ];
  switch (record.type) {
    case 'reserved':
      return packr.pack([
        ...head,
        record.reservationId,
        record.quantity,
        record.expiresAtMs,
        record.idempotencyKey,
        record.requesterId,
      ]);
    case 'adjusted':
      return packr.pack([
        ...head,
        record.delta,
        record.onHand,
        record.reserved,
        record.reason,
        record.idempotencyKey,
        record.actorId,
      ]);
    default:
      return packr.pack([...head, record.reservationId, record.quantity]);
  }
}

export function decodeRecord(payload: Uint8Array): JournalRecord {
  const row: unknown = packr.unpack(payload);
  if (!Array.isArray(row) || row.length < 8)
    throw new RecordDecodeError('journal row is not a record');
  const [code, productId, warehouseId, version, atMs, traceId] = row as [
    number,
    string,
    string,
    number,
    number,
    string,
  ];
  const base = { productId, warehouseId, version, atMs, traceId };
  const type = typeNames[code];
  switch (type) {
    case 'reserved': {
      const [reservationId, quantity, expiresAtMs, idempotencyKey, requesterId] = row.slice(6);
      return { type, ...base, reservationId, quantity, expiresAtMs, idempotencyKey, requesterId };
    }
    case 'adjusted': {
      const [delta, onHand, reserved, reason, idempotencyKey, actorId] = row.slice(6);
      return { type, ...base, delta, onHand, reserved, reason, idempotencyKey, actorId };
    }
    case 'confirmed':
    case 'released':
    case 'expired': {
      const [reservationId, quantity] = row.slice(6);
      return { type, ...base, reservationId, quantity };
    }
    default:
      throw new RecordDecodeError(`unknown journal record type code ${String(code)}`);
  }
}
