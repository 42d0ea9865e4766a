// Reads WAL rows out of a `COPY (SELECT [partition,] lsn, payload ...) TO STDOUT (FORMAT
// binary)` stream: the payloads arrive as their raw bytes, not as the hex text a query's `bytea`
// is sent as (which pg would then parse back, the slowest part of a recovery's read). The binary
// COPY format (Postgres docs, "COPY ... File Formats"): an 11-byte signature, flags and a header
// extension, then per row a 16-bit field count and per field a 32-bit length and its bytes, and a
// field count of -1 to end.

const signature = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
/** Signature, flags (32 bits) and the header extension's length (32 bits). */
const headerBytes = signature.length + 8;

export class WalCopyFormatError extends Error {
  override readonly name = 'WalCopyFormatError';
}

/**
 * A WAL row as cut: its payload is `bytes[start, end)` of the chunk it arrived in, which holds
 * other rows too (copy the range to keep it).
 */
export type WalRowReader = (
  lsn: number,
  bytes: Uint8Array,
  start: number,
  end: number,
  partition: number,
) => void;

/**
 * Cuts `(lsn bigint, payload bytea)` rows, or `(partition integer, lsn bigint, payload bytea)`
 * rows with `withPartition`, out of binary COPY chunks, however the chunks split them. A row's
 * payload is handed over as a range of the chunk, with no view made of each (a recovery reads
 * millions). Without a partition column `onRow` is given -1 for it.
 */
export class WalCopyRows {
  private pending: Buffer | undefined = undefined;
  private headerRead = false;
  private ended = false;
  /** Bytes of the partition field (its length and its int4) before the lsn's, if any. */
  private readonly partitionBytes: number;

  constructor(
    private readonly onRow: WalRowReader,
    private readonly withPartition = false,
  ) {
    this.partitionBytes = withPartition ? 8 : 0;
  }

  /** Whether the end-of-data marker came. */
  get complete(): boolean {
    return this.ended;
  }

  push(chunk: Buffer): void {
    const data = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    let offset = this.headerRead ? 0 : this.readHeader(data);
    if (offset < 0) {
      this.pending = data;
      return;
    }
    while (!this.ended) {
      const next = this.readRow(data, offset);
      if (next < 0) break;
      offset = next;
    }
    if (this.ended && offset < data.length) throw new WalCopyFormatError('bytes after the end');
    this.pending = offset < data.length ? data.subarray(offset) : undefined;
  }

  /** The header's length, or -1 while it has not all arrived. */
  private readHeader(data: Buffer): number {
    if (data.length < headerBytes) return -1;
    if (!data.subarray(0, signature.length).equals(signature))
      throw new WalCopyFormatError('not a binary COPY stream');
    const extensionBytes = data.readUInt32BE(signature.length + 4);
    if (data.length < headerBytes + extensionBytes) return -1;
    this.headerRead = true;
    return headerBytes + extensionBytes;
  }

  /** The offset after the row at `offset`, or -1 while it has not all arrived. */
  private readRow(data: Buffer, offset: number): number {
    if (data.length < offset + 2) return -1;
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
    if (data.length < at + 4 + 8 + 4) return -1;
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
    const payloadStart = at + 16;
    if (data.length < payloadStart + payloadBytes) return -1;
    const payloadEnd = payloadStart + payloadBytes;
    this.onRow(lsn, data, payloadStart, payloadEnd, partition);
    return payloadEnd;
  }
}
