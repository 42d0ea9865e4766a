// Journal records as positional msgpack arrays: compact, self-contained per row, and fast to
// decode during recovery. The first element is the record type's code; never renumber them.
//
// Recovery decodes every record of the WAL tail, so decoding has a hand-written reader for the
// rows encodeRecord writes (a fixarray of numbers and ASCII strings). It accepts a row only where
// msgpackr would decode the very same values; anything else it meets (another msgpack type, a
// non-ASCII string, trailing bytes, a truncated row) goes to the general path, msgpackr plus the
// shape check, which then decides. So both paths accept exactly the same rows, with the same
// results and the same errors; the codec's property test holds the two to each other.
import { Packr } from 'msgpackr';
import type { JournalRecord } from '../actors/index.js';
import { decodeV11, encodeV11, isV11 } from './record-codec-v11.js';

// copyBuffers: a binary value decoded is a copy, never a view of the row's bytes, which recovery
// reuses page after page (no record has one today; one added must not alias them).
const packr = new Packr({ useRecords: false, moreTypes: false, copyBuffers: true });

const typeCodes = { reserved: 1, confirmed: 2, released: 3, expired: 4, adjusted: 5 } as const;
const typeNames = [undefined, 'reserved', 'confirmed', 'released', 'expired', 'adjusted'] as const;

export class RecordDecodeError extends Error {
  override readonly name = 'RecordDecodeError';
}

export function encodeRecord(record: JournalRecord): Buffer {
  // Records with v1.1 fields have rows of their own; the plain ones keep the v1 rows below.
  if (isV11(record)) return packr.pack(encodeV11(record));
  // One array literal per type (no spread of a common head): this runs for every write.
  switch (record.type) {
    case 'reserved':
      return packr.pack([
        typeCodes.reserved,
        record.productId,
        record.warehouseId,
        record.version,
        record.atMs,
        record.traceId,
        record.reservationId,
        record.quantity,
        record.expiresAtMs,
        record.idempotencyKey,
        record.requesterId,
      ]);
    case 'adjusted':
      return packr.pack([
        typeCodes.adjusted,
        record.productId,
        record.warehouseId,
        record.version,
        record.atMs,
        record.traceId,
        record.delta,
        record.onHand,
        record.reserved,
        record.reason,
        record.idempotencyKey,
        record.actorId,
      ]);
    case 'confirmed':
    case 'released':
    case 'expired':
      return packr.pack([
        typeCodes[record.type],
        record.productId,
        record.warehouseId,
        record.version,
        record.atMs,
        record.traceId,
        record.reservationId,
        record.quantity,
        record.requesterId,
      ]);
    default:
      throw new TypeError(`a ${record.type} record has a v1.1 row`);
  }
}

/** Decodes a journal row, refusing anything that is not exactly a record of a known type. */
export function decodeRecord(payload: Uint8Array): JournalRecord {
  return decodeRecordAt(payload, 0, payload.length);
}

/**
 * As `decodeRecord`, for the row in `bytes[start, end)`: recovery decodes rows where they lie in
 * the page it read, without a view made of each.
 */
export function decodeRecordAt(bytes: Uint8Array, start: number, end: number): JournalRecord {
  return readRow(bytes, start, end) ?? decodeGeneral(bytes.subarray(start, end));
}

// ---- The general path: msgpackr, then a strict check of the row's shape. ----

/** Fields per record type, and which positions hold strings (the rest are numbers). */
const shapes: Record<number, { readonly length: number; readonly strings: readonly number[] }> = {
  1: { length: 11, strings: [1, 2, 5, 6, 9, 10] },
  2: { length: 9, strings: [1, 2, 5, 6, 8] },
  3: { length: 9, strings: [1, 2, 5, 6, 8] },
  4: { length: 9, strings: [1, 2, 5, 6, 8] },
  5: { length: 12, strings: [1, 2, 5, 9, 10, 11] },
};

function decodeGeneral(payload: Uint8Array): JournalRecord {
  const row: unknown = packr.unpack(payload);
  if (!Array.isArray(row)) throw new RecordDecodeError('journal row is not an array');
  if (typeof row[0] === 'number' && row[0] >= 6) return decodeV11(row, RecordDecodeError);
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
      const changed = type as 'confirmed' | 'released' | 'expired';
      return { type: changed, ...base, reservationId, quantity, requesterId };
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

// ---- The fast reader. Its state lives here, so the field readers return plain values. ----

/** fixarray headers of 11, 9 and 12 elements: reserved, confirmed/released/expired, adjusted. */
const reservedHeader = 0x9b;
const changedHeader = 0x99;
const adjustedHeader = 0x9c;

const empty: Uint8Array = new Uint8Array(0);
/** The bytes the row lies in, and where it ends (reads at or past it give 0: see `byteAt`). */
let bytes = empty;
let end = 0;
/**
 * The row read as latin1: one character per byte, so an ASCII string field is a slice of it (one
 * native call per row instead of one per field). V8 keeps a slice of 13 characters or more as a
 * view of the row's text, which then lives as long as the field does, as msgpackr's did. Its
 * first character is the byte at `base`.
 */
let text = '';
let base = 0;
/** An offset in `bytes`. */
let cursor = 0;
/** Set when the reader meets something it leaves to the general path. */
let unusual = false;

/** Node's Buffer method (msgpackr uses it too): any Uint8Array as a one-byte string, natively. */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice: LatinSlice }).latin1Slice;
type LatinSlice = (this: Uint8Array, start: number, end: number) => string;

/**
 * The record in `row[from, to)`, or undefined if the row is anything but the usual; then the
 * general path decides. Exported for the property test, which holds it to the general path on
 * its own.
 */
export function readRow(row: Uint8Array, from: number, to: number): JournalRecord | undefined {
  if (to - from < 2) return undefined;
  const header = row[from];
  const code = row[from + 1] as number;
  let record: JournalRecord;
  if (header === reservedHeader && code === typeCodes.reserved) {
    start(row, from, to);
    record = readReserved();
  } else if (header === changedHeader && code >= 2 && code <= 4) {
    start(row, from, to);
    record = readChanged(typeNames[code] as 'confirmed' | 'released' | 'expired');
  } else if (header === adjustedHeader && code === typeCodes.adjusted) {
    start(row, from, to);
    record = readAdjusted();
  } else {
    return undefined;
  }
  // Every read moves the cursor past what it read: one that met the end leaves it past `to`.
  const whole = !unusual && cursor === to;
  bytes = empty;
  text = '';
  return whole ? record : undefined;
}

function start(row: Uint8Array, from: number, to: number): void {
  bytes = row;
  end = to;
  text = latin1Slice.call(row, from, to);
  base = from;
  cursor = from + 2;
  unusual = false;
}

// Object literals with a fixed property order per type, so every record of a type shares one
// hidden class; their fields are read in the row's order (JavaScript evaluates them in order).

function readReserved(): JournalRecord {
  return {
    type: 'reserved',
    productId: readString(),
    warehouseId: readString(),
    version: readNumber(),
    atMs: readNumber(),
    traceId: readString(),
    reservationId: readString(),
    quantity: readNumber(),
    expiresAtMs: readNumber(),
    idempotencyKey: readString(),
    requesterId: readString(),
  };
}

function readChanged(type: 'confirmed' | 'released' | 'expired'): JournalRecord {
  return {
    type,
    productId: readString(),
    warehouseId: readString(),
    version: readNumber(),
    atMs: readNumber(),
    traceId: readString(),
    reservationId: readString(),
    quantity: readNumber(),
    requesterId: readString(),
  };
}

function readAdjusted(): JournalRecord {
  return {
    type: 'adjusted',
    productId: readString(),
    warehouseId: readString(),
    version: readNumber(),
    atMs: readNumber(),
    traceId: readString(),
    delta: readNumber(),
    onHand: readNumber(),
    reserved: readNumber(),
    reason: readString(),
    idempotencyKey: readString(),
    actorId: readString(),
  };
}

/**
 * A str (fixstr, str 8/16/32) of ASCII characters. Other strings go to the general path: msgpackr
 * decodes bad UTF-8 and a leading byte-order mark differently depending on the string's length.
 */
function readString(): string {
  const token = byteAt(cursor);
  let first: number;
  if (token >= 0xa0 && token <= 0xbf) {
    first = cursor + 1;
    cursor = first + token - 0xa0;
  } else if (token === 0xd9) {
    first = cursor + 2;
    cursor = first + byteAt(cursor + 1);
  } else if (token === 0xda) {
    first = cursor + 3;
    cursor = first + uint16At(cursor + 1);
  } else if (token === 0xdb) {
    first = cursor + 5;
    cursor = first + uint32At(cursor + 1);
  } else {
    return leave();
  }
  // A length past the end is left to the general path (it says where the row ran out).
  if (cursor > end) return leave();
  for (let index = first; index < cursor; index += 1) {
    if ((bytes[index] as number) > 0x7f) return leave();
  }
  return text.slice(first - base, cursor - base);
}

/** A number as msgpackr reads it (the 64-bit integers come back as BigInts there: not here). */
function readNumber(): number {
  const token = byteAt(cursor);
  if (token <= 0x7f) {
    cursor += 1;
    return token;
  }
  if (token >= 0xe0) {
    cursor += 1;
    return token - 0x100;
  }
  const at = cursor + 1;
  switch (token) {
    case 0xcb:
      cursor += 9;
      return float64At(at);
    case 0xcc:
      cursor += 2;
      return byteAt(at);
    case 0xcd:
      cursor += 3;
      return uint16At(at);
    case 0xce:
      cursor += 5;
      return uint32At(at);
    case 0xd0:
      cursor += 2;
      return (byteAt(at) << 24) >> 24;
    case 0xd1:
      cursor += 3;
      return (uint16At(at) << 16) >> 16;
    case 0xd2:
      cursor += 5;
      return uint32At(at) | 0;
    case 0xca:
      cursor += 5;
      return float32At(at);
    default:
      leave();
      return 0;
  }
}

function leave(): string {
  unusual = true;
  return '';
}

// Reads past the row's end give 0 here (the bytes there may be the next row's); the cursor then
// lies past the end and the row goes general.
const byteAt = (at: number): number => (at < end ? (bytes[at] as number) : 0);
const uint16At = (at: number): number => (byteAt(at) << 8) | byteAt(at + 1);
const uint32At = (at: number): number =>
  ((byteAt(at) << 24) | (uint16At(at + 1) << 8) | byteAt(at + 3)) >>> 0;

/** Scratch space for the big-endian floats: copied in machine order, read through a typed array. */
const scratch = new Uint8Array(8);
const scratchFloat64 = new Float64Array(scratch.buffer);
const scratchFloat32 = new Float32Array(scratch.buffer, 0, 1);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function float64At(at: number): number {
  for (let index = 0; index < 8; index += 1) {
    scratch[littleEndian ? 7 - index : index] = byteAt(at + index);
  }
  return scratchFloat64[0] as number;
}

function float32At(at: number): number {
  for (let index = 0; index < 4; index += 1) {
    scratch[littleEndian ? 3 - index : index] = byteAt(at + index);
  }
  return scratchFloat32[0] as number;
}
