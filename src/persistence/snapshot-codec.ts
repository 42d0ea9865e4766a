// Snapshots as msgpack: the actors' positional tuples packed once per partition.
import { Packr } from 'msgpackr';
import type { PartitionSnapshot, SnapshotSink } from '../actors/index.js';
import { snapshotPartBytes } from '../limits.js';

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
/**
 * The output grows by blocks of this size, handed over as they are: the size of the parts a large
 * snapshot is written in (JournalStore.writeSnapshot), so each block is one part, written with no
 * copy.
 */
const blockBytes = snapshotPartBytes;

/**
 * Packs a snapshot given piece by piece (SnapshotCapture's sink), as the same bytes as
 * `encodeSnapshot` of the whole: msgpack's headers are written as msgpackr writes them, and
 * values are packed in runs whose own array header is cut off. The bytes come out in blocks
 * (`finish`), never put together in one buffer.
 */
export class SnapshotEncoder implements SnapshotSink {
  private values: unknown[] = [];
  private blocks: Buffer[] = [];
  private block = Buffer.allocUnsafeSlow(blockBytes);
  private used = 0;

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
   * The snapshot's bytes, in order: full blocks of `blockBytes` and a last one of what it holds
   * (a view). Nothing may be given after.
   */
  finish(): Uint8Array[] {
    this.flush();
    const blocks = [...this.blocks, this.block.subarray(0, this.used)];
    this.blocks = [];
    this.block = Buffer.alloc(0);
    this.used = 0;
    // Hand msgpackr a small buffer again (see encodeSnapshot).
    packr.useBuffer(Buffer.allocUnsafeSlow(sharedBufferBytes));
    return blocks;
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
