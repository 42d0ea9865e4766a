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
      return packr.pack([...head, record.reservationId, record.quantity, record.requesterId]);
  }
}

/** Fields per record type, and which positions hold strings (the rest are numbers). */
const shapes: Record<number, { readonly length: number; readonly strings: readonly number[] }> = {
  1: { length: 11, strings: [1, 2, 5, 6, 9, 10] },
  2: { length: 9, strings: [1, 2, 5, 6, 8] },
  3: { length: 9, strings: [1, 2, 5, 6, 8] },
  4: { length: 9, strings: [1, 2, 5, 6, 8] },
  5: { length: 12, strings: [1, 2, 5, 9, 10, 11] },
};

/** Decodes a journal row, refusing anything that is not exactly a record of a known type. */
export function decodeRecord(payload: Uint8Array): JournalRecord {
  const row: unknown = packr.unpack(payload);
  if (!Array.isArray(row)) throw new RecordDecodeError('journal row is not an array');
  checkShape(row);
  const [code, productId, warehouseId, version, atMs, traceId] = row as [
    number,
    string,
    string,
    number,
    number,
    string,
  ];
  const base = { productId, warehouseId, version, atMs, traceId };
  const type = typeNames[code] as JournalRecord['type'];
  switch (type) {
    case 'reserved': {
      const [reservationId, quantity, expiresAtMs, idempotencyKey, requesterId] = row.slice(6);
      return { type, ...base, reservationId, quantity, expiresAtMs, idempotencyKey, requesterId };
    }
    case 'adjusted': {
      const [delta, onHand, reserved, reason, idempotencyKey, actorId] = row.slice(6);
      return { type, ...base, delta, onHand, reserved, reason, idempotencyKey, actorId };
    }
    default: {
      const [reservationId, quantity, requesterId] = row.slice(6);
      return { type, ...base, reservationId, quantity, requesterId };
    }
  }
}

function checkShape(row: unknown[]): void {
  const code = row[0];
  const shape = typeof code === 'number' ? shapes[code] : undefined;
  if (shape === undefined)
    throw new RecordDecodeError(`unknown journal record type code ${String(code)}`);
  if (row.length !== shape.length) {
    throw new RecordDecodeError(
      `record type ${String(code)} has ${row.length} fields, not ${shape.length}`,
    );
  }
  for (let index = 1; index < row.length; index += 1) {
    const wanted = shape.strings.includes(index) ? 'string' : 'number';
    if (typeof row[index] !== wanted) {
      throw new RecordDecodeError(`record type ${String(code)} field ${index} is not a ${wanted}`);
    }
  }
}
