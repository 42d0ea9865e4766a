// Snapshots as msgpack: the actors' positional tuples packed once per partition.
import { Packr } from 'msgpackr';
import type { PartitionSnapshot, SnapshotSink } from '../actors/index.js';

const packr = new Packr({ useRecords: false, moreTypes: false });

// msgpackr packs into one buffer shared by every encoder of the thread and sizes new buffers
// like the last one: after a multi-megabyte snapshot, every small record or batch would land in
// (and keep alive) a buffer that large. Hand msgpackr a small fresh buffer after each snapshot.
const sharedBufferBytes = 8192;

export function encodeSnapshot(snapshot: PartitionSnapshot): Buffer {
  const payload = packr.pack(snapshot);
  packr.useBuffer(Buffer.allocUnsafeSlow(sharedBufferBytes));
  return payload;
}

export function decodeSnapshot(payload: Uint8Array): PartitionSnapshot {
  return packr.unpack(payload) as PartitionSnapshot;
}

/** Values packed together: one `pack` call per this many (a few tens of KB for hold tuples). */
const valuesPerPack = 256;
/** The output grows by blocks of this size, copied into one buffer at the end. */
const blockBytes = 1 << 20;

/**
 * Packs a snapshot given piece by piece (SnapshotCapture's sink), as the same bytes as
 * `encodeSnapshot` of the whole: msgpack's headers are written as msgpackr writes them, and
 * values are packed in runs whose own array header is cut off. The bytes are then assembled
 * into one buffer, also in steps (`assemble`).
 */
export class SnapshotEncoder implements SnapshotSink {
  private values: unknown[] = [];
  private blocks: Buffer[] = [];
  private block = Buffer.allocUnsafeSlow(blockBytes);
  private used = 0;
  private payload: Buffer | undefined;
  private copied = 0;

  /** Bytes written so far. */
  bytes = 0;

  map(size: number): void {
    // msgpackr writes a plain object's header as map16 whatever its size (map32 beyond).
    this.header(size, 0xde, 0xde, 0xdf);
  }

  array(length: number): void {
    this.header(length, 0x90, 0xdc, 0xdd);
  }

  value(value: unknown): void {
    this.values.push(value);
    if (this.values.length >= valuesPerPack) this.flush();
  }

  /**
   * Copies up to `bytesMax` more of the output into the payload; returns the payload once all of
   * it is there. Nothing may be given after the first call.
   */
  assemble(bytesMax: number): Buffer | undefined {
    if (this.payload === undefined) {
      this.flush();
      this.blocks.push(this.block.subarray(0, this.used));
      this.block = Buffer.alloc(0);
      this.payload = Buffer.allocUnsafeSlow(this.bytes);
      // Hand msgpackr a small buffer again (see encodeSnapshot).
      packr.useBuffer(Buffer.allocUnsafeSlow(sharedBufferBytes));
    }
    let budget = bytesMax;
    while (this.blocks.length > 0 && budget > 0) {
      const block = this.blocks[0] as Buffer;
      const length = Math.min(block.length, budget);
      block.copy(this.payload, this.copied, 0, length);
      this.copied += length;
      budget -= length;
      if (length === block.length) this.blocks.shift();
      else this.blocks[0] = block.subarray(length);
    }
    return this.blocks.length === 0 ? this.payload : undefined;
  }

  private header(count: number, fixed: number, two: number, four: number): void {
    this.flush();
    const bytes = Buffer.allocUnsafe(5);
    let length: number;
    if (count < 0x10 && fixed !== two) {
      bytes[0] = fixed | count;
      length = 1;
    } else if (count < 0x10000) {
      bytes[0] = two;
      bytes.writeUInt16BE(count, 1);
      length = 3;
    } else {
      bytes[0] = four;
      bytes.writeUInt32BE(count, 1);
      length = 5;
    }
    this.write(bytes.subarray(0, length));
  }

  flush(): void {
    const count = this.values.length;
    if (count === 0) return;
    const packed = packr.pack(this.values);
    this.values = [];
    // The run's own array header, as `header` would have written it.
    this.write(packed.subarray(count < 0x10 ? 1 : count < 0x10000 ? 3 : 5));
  }

  private write(bytes: Uint8Array): void {
    let offset = 0;
    while (offset < bytes.length) {
      if (this.used === this.block.length) {
        this.blocks.push(this.block);
        this.block = Buffer.allocUnsafeSlow(blockBytes);
        this.used = 0;
      }
      const length = Math.min(bytes.length - offset, this.block.length - this.used);
      this.block.set(bytes.subarray(offset, offset + length), this.used);
      this.used += length;
      offset += length;
    }
    this.bytes += bytes.length;
  }
}
