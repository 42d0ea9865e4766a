// Reads WAL rows out of a `COPY (SELECT [partition,] lsn, payload ...) TO STDOUT (FORMAT
// binary)` stream: the payloads arrive as their raw bytes, not as the hex text a query's `bytea`
// is sent as (which pg would then parse back, the slowest part of a recovery's read). The binary
// COPY format (Postgres docs, "COPY ... File Formats"): an 11-byte signature, flags and a header
// extension, then per row a 16-bit field count and per field a 32-bit length and its bytes, and a
// field count of -1 to end.

import type { WalPageRow } from './journal-connection.js';

const signature = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Signature, flags (32 bits) and the header extension's length (32 bits). */
const headerBytes = signature.length + 8;

export class WalCopyFormatError extends Error {
  override readonly name = 'WalCopyFormatError';
}

/**
 * Cuts `(lsn bigint, payload bytea)` rows, or `(partition integer, lsn bigint, payload bytea)`
 * rows with `withPartition`, out of binary COPY data handed over in pieces (ranges of the chunks
 * the socket read), however the pieces split them. A row's payload is handed over as a range of
 * the piece it lies in, with no view made of each (a recovery reads millions). Only a row cut by
 * a piece's end is copied, into a buffer of its own. A row is handed over as `readAll` hands it
 * (`WalPageRow`); without a partition column `onRow` is given -1 for it.
 */
export class WalCopyRows {
  /**
   * A row (or the header) cut by the end of the piece before: its bytes so far, copied, in
   * `pending[0, pendingUsed)`. Once the row's length is known its buffer is made that large, so a
   * row many pieces long (a snapshot's part of a MiB) is copied once, not again at each piece.
   */
  private pending: Buffer | undefined = undefined;
  private pendingUsed = 0;
  private headerRead = false;
  private ended = false;
  private rowsRead = 0;
  /** Bytes of the partition field (its length and its int4) before the lsn's, if any. */
  private readonly partitionBytes: number;
  /**
   * A row's bytes before its payload: the field count, the partition field if any, the lsn's
   * length and value, the payload's length.
   */
  private readonly rowHeadBytes: number;

  constructor(
    private readonly onRow: WalPageRow,
    private readonly withPartition = false,
  ) {
    this.partitionBytes = withPartition ? 8 : 0;
    this.rowHeadBytes = 2 + this.partitionBytes + 4 + 8 + 4;
  }

  /** Rows handed to `onRow` so far. */
  get rows(): number {
    return this.rowsRead;
  }

  /** Whether the end-of-data marker came. */
  get complete(): boolean {
    return this.ended;
  }

  /** The next piece of the stream: `data[start, end)`. */
  push(data: Buffer, start = 0, end = data.length): void {
    let offset = start;
    if (this.pending !== undefined) {
      offset = this.completePending(data, start, end);
      if (offset < 0) return;
    }
    if (!this.headerRead && offset < end) {
      const next = this.readHeader(data, offset, end);
      if (next < 0) {
        this.keepPending(data, offset, end);
        return;
      }
      offset = next;
    }
    while (!this.ended && offset < end) {
      const next = this.readRow(data, offset, end);
      if (next < 0) break;
      offset = next;
    }
    if (this.ended && offset < end) throw new WalCopyFormatError('bytes after the end');
    if (offset < end) this.keepPending(data, offset, end);
  }

  private keepPending(data: Buffer, start: number, end: number): void {
    this.pending = Buffer.from(data.subarray(start, end));
    this.pendingUsed = end - start;
  }

  /**
   * Adds to the cut row (or header) the bytes of `data[start, end)` it lacks and reads it once
   * whole: the offset after what it took, or -1 if it is still cut (all of the piece taken).
   */
  private completePending(data: Buffer, start: number, end: number): number {
    let pending = this.pending as Buffer;
    let [used, offset] = [this.pendingUsed, start];
    for (;;) {
      const lacking = this.lacking(pending.subarray(0, used));
      if (lacking === 0) break;
      if (pending.length < used + lacking) {
        // As large as the row (or its head) is now known to be.
        const larger = Buffer.allocUnsafe(used + lacking);
        pending.copy(larger, 0, 0, used);
        pending = larger;
      }
      const to = Math.min(end, offset + lacking);
      used += data.copy(pending, used, offset, to);
      offset = to;
      if (offset === end && this.lacking(pending.subarray(0, used)) > 0) {
        [this.pending, this.pendingUsed] = [pending, used];
        return -1;
      }
    }
    [this.pending, this.pendingUsed] = [undefined, 0];
    pending = pending.subarray(0, used);
    const read = this.headerRead
      ? this.readRow(pending, 0, pending.length)
      : this.readHeader(pending, 0, pending.length);
    if (read !== pending.length) throw new WalCopyFormatError('a row read short');
    return offset;
  }

  /** How many bytes past `data`'s end the header or row it starts with needs at least (0: none). */
  private lacking(data: Buffer): number {
    const have = data.length;
    if (!this.headerRead) {
      if (have < headerBytes) return headerBytes - have;
      return Math.max(0, headerBytes + data.readUInt32BE(signature.length + 4) - have);
    }
    if (have < 2) return 2 - have;
    if (data.readInt16BE(0) === -1) return 0;
    const head = this.rowHeadBytes;
    if (have < head) return head - have;
    // A NULL payload's length is refused by readRow, which reads it now.
    return Math.max(0, head + data.readInt32BE(head - 4) - have);
  }

  /** The offset after the header at `offset`, or -1 while it has not all arrived. */
  private readHeader(data: Buffer, offset: number, end: number): number {
    if (end - offset < headerBytes) return -1;
    if (!data.subarray(offset, offset + signature.length).equals(signature))
      throw new WalCopyFormatError('not a binary COPY stream');
    const extensionBytes = data.readUInt32BE(offset + signature.length + 4);
    if (end - offset < headerBytes + extensionBytes) return -1;
    this.headerRead = true;
    return offset + headerBytes + extensionBytes;
  }

  /** The offset after the row at `offset`, or -1 while it has not all arrived before `end`. */
  private readRow(data: Buffer, offset: number, end: number): number {
    if (end < offset + 2) return -1;
    const fields = data.readInt16BE(offset);
    if (fields === -1) {
      this.ended = true;
      return offset + 2;
    }
    const expected = this.withPartition ? 3 : 2;
    if (fields !== expected) {
      throw new WalCopyFormatError(`a row of ${fields} fields, not ${expected}`);
    }
    // partition (if any): length 4, then the integer; lsn: length 8, then the bigint; payload:
    // its length, then its bytes.
    const at = offset + 2 + this.partitionBytes;
    if (end < offset + this.rowHeadBytes) return -1;
    let partition = -1;
    if (this.withPartition) {
      if (data.readInt32BE(offset + 2) !== 4)
        throw new WalCopyFormatError('a partition of another size');
      partition = data.readInt32BE(offset + 6);
    }
    if (data.readInt32BE(at) !== 8) throw new WalCopyFormatError('an lsn of another size');
    // The bigint as two 32-bit halves: exact below 2^53 (an lsn never nears it), and no BigInt
    // made for every row of a recovery.
    const lsn = data.readInt32BE(at + 4) * 0x1_0000_0000 + data.readUInt32BE(at + 8);
    const payloadBytes = data.readInt32BE(at + 12);
    if (payloadBytes < 0) throw new WalCopyFormatError('a NULL payload');
    const payloadStart = offset + this.rowHeadBytes;
    if (end < payloadStart + payloadBytes) return -1;
    const payloadEnd = payloadStart + payloadBytes;
    this.rowsRead += 1;
    this.onRow(partition, lsn, data, payloadStart, payloadEnd);
    return payloadEnd;
  }
}
