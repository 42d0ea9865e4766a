// A group commit's column arrays in Postgres's binary array format, sent as binary parameters (pg
// sends a Buffer parameter as binary). As JavaScript arrays, pg turns each into the text form of
// an array literal first: a bytea becomes `\\x` and its hex, a text is quoted and escaped, a
// number printed, all concatenated into one string per column, which Postgres then parses back.
// On the hot SKU that is the shard thread's work for every record it writes, and garbage.
//
// The format (Postgres's array_send / array_recv): the number of dimensions, a has-nulls flag, the
// element type's OID, then per dimension its length and lower bound, then each element as its
// byte length and its bytes in the type's binary form (big-endian integers). Postgres checks the
// OID against the parameter's declared type (`$1::bigint[]`), so a wrong column fails loudly.

/** Where an array's bytes go: a Buffer of exactly `bytes` bytes, not zeroed. */
export type ArrayRoom = (bytes: number) => Buffer;

/** A Buffer of its own for each array. */
export const freshRoom: ArrayRoom = (bytes) => Buffer.allocUnsafe(bytes);

/** What a connection's scratch holds at first; it doubles as a commit needs more. */
const scratchFirstBytes = 64 * 1024;

/**
 * One Buffer a connection's group commits write their arrays into, one after another, the next
 * commit over the last one's once that has settled. A Buffer of its own for each of a commit's
 * fourteen arrays was an ArrayBuffer each (or a share of Node's pool), and on a hot SKU V8
 * allocated them straight in the old generation (allocation-site pretenuring: with it turned off,
 * those full collections stopped), where they died, their bytes waiting for a full collection
 * and counted against the old generation's room: most of what still started the hot shard's
 * full collections (bench/README.md, "The group commit's arrays in one buffer"). The
 * arrays are subarrays of it, which pg copies into its own message as it sends the statement.
 */
export class ArrayScratch {
  private buffer = Buffer.allocUnsafeSlow(scratchFirstBytes);
  private used = 0;
  private taken = false;

  /**
   * The room for one statement's arrays, until `release`: the scratch, or a Buffer of their own
   * if another statement holds it still (a connection that runs one at a time never sees that).
   */
  take(): ArrayRoom {
    if (this.taken) return freshRoom;
    this.taken = true;
    this.used = 0;
    return this.room;
  }

  /** The statement `room` was taken for has settled: its arrays' bytes may be written over. */
  release(room: ArrayRoom): void {
    if (room === this.room) this.taken = false;
  }

  private readonly room: ArrayRoom = (bytes) => {
    if (this.used + bytes > this.buffer.length) {
      // The arrays written so far keep the smaller buffer alive until the statement is done.
      this.buffer = Buffer.allocUnsafeSlow(Math.max(bytes, this.buffer.length * 2));
      this.used = 0;
    }
    const start = this.used;
    this.used = start + bytes;
    return this.buffer.subarray(start, start + bytes);
  };
}

/** A value its column cannot hold: refused as Postgres would have refused its text. */
function refuse(value: number, what: string): never {
  throw new RangeError(`${value} is not ${what}`);
}

const oids = { int4: 23, int8: 20, text: 25, bytea: 17 } as const;

/** One dimension: its header is 20 bytes; an empty array is 12 (no dimension). */
function header(buffer: Buffer, oid: number, length: number): number {
  buffer.writeInt32BE(length === 0 ? 0 : 1, 0);
  buffer.writeInt32BE(0, 4);
  buffer.writeInt32BE(oid, 8);
  if (length === 0) return 12;
  buffer.writeInt32BE(length, 12);
  buffer.writeInt32BE(1, 16);
  return 20;
}

const headerBytes = (length: number): number => (length === 0 ? 12 : 20);

/** `integer[]`: each value a 32-bit signed integer. */
export function int4Array(values: readonly number[], room = freshRoom): Buffer {
  const buffer = room(headerBytes(values.length) + values.length * 8);
  let offset = header(buffer, oids.int4, values.length);
  for (const value of values) {
    if (value !== (value | 0)) refuse(value, 'a 32-bit integer');
    buffer.writeInt32BE(4, offset);
    buffer.writeInt32BE(value, offset + 4);
    offset += 8;
  }
  return buffer;
}

const twoTo32 = 2 ** 32;

/** `bigint[]`: each value a safe integer, written as two 32-bit halves (no BigInt made). */
export function int8Array(values: readonly number[], room = freshRoom): Buffer {
  const buffer = room(headerBytes(values.length) + values.length * 12);
  let offset = header(buffer, oids.int8, values.length);
  for (const value of values) {
    if (!Number.isSafeInteger(value)) refuse(value, 'a safe integer');
    const high = Math.floor(value / twoTo32);
    buffer.writeInt32BE(8, offset);
    buffer.writeInt32BE(high, offset + 4);
    buffer.writeUInt32BE(value - high * twoTo32, offset + 8);
    offset += 12;
  }
  return buffer;
}

/** `text[]`: each value as UTF-8. */
export function textArray(values: readonly string[], room = freshRoom): Buffer {
  let bytes = headerBytes(values.length);
  for (const value of values) bytes += 4 + Buffer.byteLength(value);
  const buffer = room(bytes);
  let offset = header(buffer, oids.text, values.length);
  for (const value of values) {
    const written = buffer.write(value, offset + 4);
    buffer.writeInt32BE(written, offset);
    offset += 4 + written;
  }
  return buffer;
}

/** `bytea[]`: each value's bytes as they are. */
export function byteaArray(values: readonly Uint8Array[], room = freshRoom): Buffer {
  let bytes = headerBytes(values.length);
  for (const value of values) bytes += 4 + value.byteLength;
  const buffer = room(bytes);
  let offset = header(buffer, oids.bytea, values.length);
  for (const value of values) {
    buffer.writeInt32BE(value.byteLength, offset);
    buffer.set(value, offset + 4);
    offset += 4 + value.byteLength;
  }
  return buffer;
}
