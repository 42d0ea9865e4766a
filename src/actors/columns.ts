// Typed arrays for the stores that keep a hot key's holds off the JavaScript heap
// (pending-holds.ts, retained-holds.ts, their hash indexes and text arenas), on a
// SharedArrayBuffer each. Never shared with another thread: the shared kind is for V8's books.
//
// V8 counts the bytes of an ArrayBuffer made since the last full collection against the old
// generation's room, and starts marking once that room is less than the young generation. The
// stores grow by a whole flash sale (a pending hold is about 280 bytes of columns), so on a hot
// shard whose heap was ~13 MB they started a full collection every half second: 50 in 25 s,
// 2.9 s of CPU with the helper threads' marking, each finding the columns alive again. A
// SharedArrayBuffer's bytes are not counted per thread (V8 cannot say which thread owns them), so
// the stores' growth no longer starts collections; the process's `arrayBuffers` (memoryUsage)
// still counts them. The bytes of a dropped array come back when the collector finds its array
// dead, as any array's: the stores drop arrays only as they grow by half at least, or keep a
// spare chunk (pending-holds.ts), so what waits for a collection stays a share of what lives.

/** A typed array's constructor, as `column` uses it. */
export interface ColumnKind<T> {
  new (buffer: SharedArrayBuffer): T;
  readonly BYTES_PER_ELEMENT: number;
}

type Column = Float64Array | Int32Array | Uint8Array | Uint16Array;

/** Bytes of the columns this thread has made. */
let bytesMade = 0;

/**
 * Bytes of the columns this thread has made so far, kept or dropped: the stores' fresh memory,
 * which a recovery pays for in page faults and zeroing (bench/micro/recovery-replay.ts).
 */
export function columnBytesMade(): number {
  return bytesMade;
}

/** A zeroed array of `length` elements of `Kind`, on a SharedArrayBuffer of its own. */
export function column<T>(Kind: ColumnKind<T>, length: number): T {
  const bytes = length * Kind.BYTES_PER_ELEMENT;
  bytesMade += bytes;
  return new Kind(new SharedArrayBuffer(bytes));
}

/** A longer column of `array`'s kind (`length` elements), `array` copied to its start. */
export function grown<T extends Column>(array: T, length: number): T {
  const copy = column(array.constructor as ColumnKind<T>, length);
  copy.set(array);
  return copy;
}
