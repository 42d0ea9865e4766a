// A hash index of numbered entries (retained-holds.ts's sequences, pending-holds.ts's slots),
// kept outside the collected heap: extendible hashing, a directory by the hash's high bits over
// buckets of open addressing in Float64Arrays. A full bucket splits alone (or is rebuilt without
// its forgotten slots), so no insert ever moves more than one bucket's entries: a hot key's
// hundreds of thousands of holds are never rehashed at once.
//
// The index keeps numbers only: each entry with its full hash beside it, so that a probe past
// another key's entry costs a load, not a look at what the entry stands for (a miss, an
// idempotency key never seen, is most lookups on a hot key). The owner of the entries compares
// the rest (`find`'s `matches`) for an entry whose hash is the one asked for.

import { column } from './columns.js';

// An entry: 0 empty, -1 forgotten (or shadowed), else its number + 1.
const empty = 0;
const forgotten = -1;
/** A bucket's slots at most; it splits rather than grow past this. */
const bucketSlotsMax = 2048;
const bucketSlotsFirst = 16;
/**
 * The directory doubles up to 2^16 buckets (of up to 1,024 entries each); past that, a bucket
 * grows instead of splitting, which also bounds what entries sharing all 32 bits of hash can do.
 */
const directoryDepthMax = 16;

/** One bucket of an extendible hash table: open addressing by the hash's low bits. */
class Bucket {
  /** Live entries and forgotten slots: at most half the slots. */
  used = 0;
  live = 0;

  constructor(
    /** How many of the hash's high bits all its entries share. */
    readonly depth: number,
    public slots: Float64Array,
    /** Each slot's entry's hash. */
    public hashes: Int32Array,
  ) {}

  get size(): number {
    return this.slots.length;
  }
}

function bucketOfSize(depth: number, size: number): Bucket {
  return new Bucket(depth, column(Float64Array, size), column(Int32Array, size));
}

// A bucket's live entries while it is rebuilt or split (`takeOut`): one pair for the thread, as
// large as the largest bucket taken out yet.
let spareSlots = new Float64Array(bucketSlotsMax);
let spareHashes = new Int32Array(bucketSlotsMax);

/** Moves the bucket's live entries to the spare arrays and empties it; returns how many. */
function takeOut(bucket: Bucket): number {
  const { slots, hashes } = bucket;
  if (spareSlots.length < slots.length) {
    spareSlots = new Float64Array(slots.length);
    spareHashes = new Int32Array(slots.length);
  }
  let count = 0;
  for (let slot = 0; slot < slots.length; slot += 1) {
    const entry = slots[slot] as number;
    if (entry <= 0) continue;
    spareSlots[count] = entry;
    spareHashes[count] = hashes[slot] as number;
    count += 1;
  }
  slots.fill(empty);
  bucket.used = 0;
  bucket.live = 0;
  return count;
}

/**
 * Numbers by a 32-bit hash: extendible hashing, a directory by the hash's high bits over buckets
 * of open addressing. A full bucket splits alone (or is rebuilt without its forgotten slots), so
 * no insert ever moves more than one bucket's entries.
 */
export class HashIndex {
  private directory: Bucket[] = [bucketOfSize(0, bucketSlotsFirst)];
  private depth = 0;

  private bucketOf(hash: number): Bucket {
    const index = this.depth === 0 ? 0 : hash >>> (32 - this.depth);
    return this.directory[index] as Bucket;
  }

  /**
   * Puts a number in under `hash`; `shadows` says which entries of the same hash on its probe
   * path it replaces.
   */
  insert(hash: number, number: number, shadows?: (other: number) => boolean): void {
    let bucket = this.bucketOf(hash);
    if ((bucket.used + 1) * 2 > bucket.size) {
      this.makeRoom(bucket);
      bucket = this.bucketOf(hash);
    }
    const { slots, hashes } = bucket;
    const mask = slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot] as number;
      if (entry === empty) {
        slots[slot] = number + 1;
        hashes[slot] = hash;
        bucket.used += 1;
        bucket.live += 1;
        return;
      }
      if (entry !== forgotten && hashes[slot] === hash && shadows?.(entry - 1) === true) {
        slots[slot] = forgotten;
        bucket.live -= 1;
      }
    }
  }

  /** The live number under `hash` that `matches`, or -1. */
  find(hash: number, matches: (number: number) => boolean): number {
    const { slots, hashes } = this.bucketOf(hash);
    const mask = slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot] as number;
      if (entry === empty) return -1;
      if (entry !== forgotten && hashes[slot] === hash && matches(entry - 1)) return entry - 1;
    }
  }

  /** Takes a number out (it may be shadowed already: then nothing happens). */
  remove(hash: number, number: number): void {
    const bucket = this.bucketOf(hash);
    const slots = bucket.slots;
    const mask = slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = slots[slot] as number;
      if (entry === empty) return;
      if (entry === number + 1) {
        slots[slot] = forgotten;
        bucket.live -= 1;
        return;
      }
    }
  }

  private makeRoom(bucket: Bucket): void {
    const size = bucket.size;
    if (bucket.live * 4 < size) {
      // Mostly forgotten slots: rebuilt in place, as large.
      this.rebuild(bucket);
    } else if (size < bucketSlotsMax || bucket.depth >= directoryDepthMax) {
      this.refill(bucket, size * 2);
    } else {
      this.split(bucket);
    }
  }

  private refill(bucket: Bucket, size: number): void {
    const [slots, hashes] = [bucket.slots, bucket.hashes];
    bucket.slots = column(Float64Array, size);
    bucket.hashes = column(Int32Array, size);
    bucket.used = 0;
    bucket.live = 0;
    for (let slot = 0; slot < slots.length; slot += 1) {
      const entry = slots[slot] as number;
      if (entry > 0) this.place(bucket, entry, hashes[slot] as number);
    }
  }

  /**
   * Empties `bucket` and puts its live entries back in: its arrays are used again (no fresh
   * memory, which a hot key's churn would otherwise fault in at every rebuild).
   */
  private rebuild(bucket: Bucket): void {
    const count = takeOut(bucket);
    for (let index = 0; index < count; index += 1) {
      this.place(bucket, spareSlots[index] as number, spareHashes[index] as number);
    }
  }

  private split(bucket: Bucket): void {
    if (bucket.depth === this.depth) {
      // Twice the directory: each bucket named by two neighbouring entries.
      this.directory = this.directory.flatMap((each) => [each, each]);
      this.depth += 1;
    }
    const depth = bucket.depth + 1;
    // Each half as large as the bucket: one with all its entries live (a partition's retained
    // holds) gives each about half of them, which a half of half the size would have to refill
    // at once, past its half-full mark.
    // The first half takes the bucket's own arrays, emptied (at least as large).
    const count = takeOut(bucket);
    const halves = [
      new Bucket(depth, bucket.slots, bucket.hashes),
      bucketOfSize(depth, bucketSlotsMax),
    ];
    const bit = 32 - depth;
    for (let index = 0; index < count; index += 1) {
      const hash = spareHashes[index] as number;
      const half = halves[(hash >>> bit) & 1] as Bucket;
      if ((half.used + 1) * 2 > half.size) this.refill(half, half.size * 2);
      this.place(half, spareSlots[index] as number, hash);
    }
    // The directory entries that named the bucket: a run of 2^(depth-of-directory - old depth).
    const span = 2 ** (this.depth - bucket.depth);
    const first = this.directory.indexOf(bucket);
    for (let index = first; index < first + span; index += 1) {
      this.directory[index] = halves[index - first < span / 2 ? 0 : 1] as Bucket;
    }
  }

  /** Puts an entry (its number + 1) with its hash in the first empty slot of its probe path. */
  private place(bucket: Bucket, entry: number, hash: number): void {
    const { slots, hashes } = bucket;
    const mask = slots.length - 1;
    let slot = hash & mask;
    while (slots[slot] !== empty) slot = (slot + 1) & mask;
    slots[slot] = entry;
    hashes[slot] = hash;
    bucket.used += 1;
    bucket.live += 1;
  }
}
