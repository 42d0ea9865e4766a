// Snapshots as msgpack: the actors' positional tuples packed once per partition.
import { Packr } from 'msgpackr';
import type {
  PartitionSnapshot,
  RestorableActor,
  RestorableSnapshot,
  SnapshotSink,
  Tuples,
} from '../actors/index.js';
import { snapshotPartBytes } from '../limits.js';
import { headerAt, skipValues } from './msgpack-walk.js';

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

/**
 * A snapshot as recovery restores it: what `decodeSnapshot` gives, but each key's holds and the
 * finished entries stay bytes until restore visits them, a tuple at a time. Decoded whole, a hot
 * key's million holds were a million arrays and their strings alive at once, each copied by the
 * young generation's collections before restore had made its first hold of them.
 */
export function decodeSnapshotForRestore(payload: Uint8Array): RestorableSnapshot {
  const top = headerAt(payload, 0);
  if (top.kind !== 'map') throw new TypeError('a snapshot is a map');
  const snapshot: Record<string, unknown> = {};
  let at = top.start;
  for (let pair = 0; pair < top.count; pair += 1) {
    const valueAt = skipValues(payload, at, 1);
    const key = decodeValues(payload, at, valueAt)[0];
    if (key === 'actors') {
      const actors = headerAt(payload, valueAt);
      const tuples: RestorableActor[] = [];
      at = actors.start;
      for (let index = 0; index < actors.count; index += 1) {
        const [tuple, end] = restorableActor(payload, at);
        tuples.push(tuple);
        at = end;
      }
      snapshot[key] = tuples;
    } else if (key === 'retained' || key === 'finished') {
      const run = headerAt(payload, valueAt);
      at = skipValues(payload, run.start, run.count);
      snapshot[key] = new TupleRun(payload, run.start, at);
    } else {
      at = skipValues(payload, valueAt, 1);
      snapshot[key as string] = decodeValues(payload, valueAt, at)[0];
    }
  }
  if (at !== payload.length)
    throw new RangeError(`a snapshot of ${payload.length} bytes ends at ${at}`);
  return snapshot as unknown as RestorableSnapshot;
}

/** A key's tuple at `at`, its holds left in their bytes; and where it ends. */
function restorableActor(payload: Uint8Array, at: number): [RestorableActor, number] {
  const tuple = headerAt(payload, at);
  const holdsAt = skipValues(payload, tuple.start, 5);
  const holds = headerAt(payload, holdsAt);
  const holdsEnd = skipValues(payload, holds.start, holds.count);
  const end = skipValues(payload, holdsEnd, tuple.count - 6);
  const restored = [
    ...decodeValues(payload, tuple.start, holdsAt),
    new TupleRun(payload, holds.start, holdsEnd),
    ...decodeValues(payload, holdsEnd, end),
  ];
  return [restored as RestorableActor, end];
}

/** The values packed back to back in `payload[start, end)`. */
function decodeValues(payload: Uint8Array, start: number, end: number): unknown[] {
  return start === end ? [] : (packr.unpackMultiple(payload.subarray(start, end)) as unknown[]);
}

/** Tuples packed back to back, decoded one at a time as they are visited. */
class TupleRun<T> implements Tuples<T> {
  constructor(
    private readonly payload: Uint8Array,
    private readonly start: number,
    private readonly end: number,
  ) {}

  /** `visit` must not decode msgpack itself: msgpackr is in the middle of these bytes. */
  forEach(visit: (tuple: T) => void): void {
    if (this.start === this.end) return;
    packr.unpackMultiple(this.payload.subarray(this.start, this.end), (tuple: T) => {
      visit(tuple);
    });
  }
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
