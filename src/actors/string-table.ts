// A hash table from strings that lets go of what it held: the parts of a split map.
//
// A V8 Map rebuilds its table when it fills with deleted entries or grows, and leaves the table it
// replaces pointing at the new one, with its entries in place (so that an iterator still on the
// old table can follow). While the old table is young that costs nothing. But a full collection
// moves whatever young objects survive it to the old generation, the current table included:
// from then on each table the Map replaces is reachable from an old one, so the next scavenge
// keeps it and everything in it, promotes them at the one after, and the chain grows with every
// rebuild until the next full collection. For a hot key's pending holds (a set at each reserve,
// a delete at each confirm) that was every hold made between two full collections, promoted
// although it lived milliseconds, and the promotion brought the next full collection sooner.
//
// Here nothing points from an old array to a new one: a deleted entry is gone from the table at
// once. Entries are kept in the order they were first set, in chunks of 256 that never move while
// the table grows: growing makes only a new index (hashes, chains and buckets in one Int32Array,
// outside the collected heap). A table of 8 or fewer, the most common size, has no index: its
// keys' hashes sit in a plain array and a lookup goes through them in turn. V8 makes the tables
// of a Map that is old in the old generation directly; arrays made here are young, and a growing
// table that copied its entries into each new array had every copy that lived long enough
// copied twice more by the scavenges. A delete leaves a hole; a compaction (on a set that finds
// the entries full and half of them holes, or on a delete that leaves the table an eighth full,
// so a flash sale's holds all gone do not keep their room) copies what is left into new chunks.
//
// Iteration sees sets and deletes made during it, as a Map's does, growth included. A compaction
// moves the entries under it and would fail it (the split map's rule for a split): deletes never
// compact while an iteration is open (deleting as one iterates is as safe as with a Map), and a
// set compacts only a table half holes.
import { assert } from './assert.js';
import { hashText } from './text-hash.js';

/**
 * The fewest entries a table has room for. A table of this room has no index: a lookup compares
 * its (at most 8) keys' hashes in turn, kept in a plain array. Most tables are this small (a
 * key's few pending holds), and many are made and dropped again as a key comes and goes; an
 * `Int32Array`, even of 20 elements, took 1.2–1.3 µs to make in one sitting and 0.25 µs in
 * another: two to nine times a set and a delete together (bench/micro/small-tables.ts;
 * bench/README.md, "Small tables without an index").
 */
const capacityMin = 8;
/** No bucket: the end of a chain. */
const none = -1;

/** What readers of a table may use. */
export interface ReadonlyStringTable<V> {
  readonly size: number;
  get(key: string): V | undefined;
  has(key: string): boolean;
  keys(): IterableIterator<string>;
  values(): IterableIterator<V>;
  entries(): IterableIterator<[string, V]>;
  [Symbol.iterator](): IterableIterator<[string, V]>;
}

export class StringTable<V> implements ReadonlyStringTable<V> {
  /**
   * Entry i's key at chunk i >> 8, slot 2 (i & 255) (undefined once deleted, until a compaction),
   * its value at the slot after. A table with room for fewer than 256 has one chunk its size.
   */
  private chunks: unknown[][];
  /**
   * Entry i's hash at i, the entry after it in its bucket's chain at room + i (`none` at the
   * end), and each bucket's newest entry at 2 room + bucket; a key's bucket is the low bits of
   * its hash, room / 2 buckets. Undefined while the room is `capacityMin`: no index then.
   */
  private meta: Int32Array | undefined;
  /** Entry i's hash at i while there is no index (`meta` undefined); else undefined. */
  private smallHashes: number[] | undefined;
  /** Entries it has room for. */
  private room: number;
  /** Entries used, holes included: the next set goes at this index. */
  private used = 0;
  private count = 0;
  /** Compactions so far: an iteration that sees this change had its entries moved under it. */
  private compactions = 0;
  /**
   * Iterations open (begun, neither finished nor closed): no delete compacts meanwhile. One left
   * open for good (an iterator dropped half-way) only holds off shrinking until the next
   * compaction.
   */
  private iterating = 0;

  constructor(capacity = capacityMin) {
    this.room = roomFor(capacity);
    this.chunks = [];
    this.meta = undefined;
    this.smallHashes = undefined;
    this.newIndex();
  }

  get size(): number {
    return this.count;
  }

  /** Entries it has room for before it next grows or compacts, holes included. */
  get capacity(): number {
    return this.room;
  }

  get(key: string): V | undefined {
    return this.valueOf(this.find(key, hashText(key)));
  }

  /** As `get`, with the key's `hashText` already known. */
  getHashed(key: string, hash: number): V | undefined {
    return this.valueOf(this.find(key, hash));
  }

  has(key: string): boolean {
    return this.find(key, hashText(key)) !== none;
  }

  hasHashed(key: string, hash: number): boolean {
    return this.find(key, hash) !== none;
  }

  set(key: string, value: V): this {
    this.setHashed(key, hashText(key), value);
    return this;
  }

  /** Sets the key's value; true if the key is new. */
  setHashed(key: string, hash: number, value: V): boolean {
    const index = this.find(key, hash);
    if (index !== none) {
      chunkOf(this.chunks, index)[slotOf(index) + 1] = value;
      return false;
    }
    if (this.used === this.room) {
      // Half holes or more: close them up (as a Map rehashes in place); else room for twice as
      // many, the entries where they are.
      if (this.count * 2 <= this.room) this.compact();
      else this.grow();
    }
    this.append(key, value, hash);
    return true;
  }

  delete(key: string): boolean {
    return this.deleteHashed(key, hashText(key));
  }

  /** Deletes the key; true if it was there. Its entry stays a hole, its chain as it was. */
  deleteHashed(key: string, hash: number): boolean {
    const index = this.find(key, hash);
    if (index === none) return false;
    const chunk = chunkOf(this.chunks, index);
    const slot = slotOf(index);
    chunk[slot] = undefined;
    chunk[slot + 1] = undefined;
    this.count -= 1;
    const room = this.room;
    if (this.iterating === 0 && room > capacityMin && this.count * 8 <= room) this.compact();
    return true;
  }

  /** Each live entry with its key's hash, in order; the visit must not change the table. */
  forEachHashed(visit: (key: string, value: V, hash: number) => void): void {
    const compactions = this.compactions;
    this.iterating += 1;
    try {
      forEachLive(this.chunks, this.hashes(), this.used, visit);
    } finally {
      this.closeIteration(compactions);
    }
    assert(this.compactions === compactions, 'a string table was compacted while it was visited');
  }

  keys(): IterableIterator<string> {
    return this.walk((key) => key);
  }

  values(): IterableIterator<V> {
    return this.walk((_key, value) => value);
  }

  entries(): IterableIterator<[string, V]> {
    return this.walk((key, value): [string, V] => [key, value]);
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  private valueOf(index: number): V | undefined {
    if (index === none) return undefined;
    return chunkOf(this.chunks, index)[slotOf(index) + 1] as V;
  }

  /** An empty index for the room: a hash index, or at the least room the small table's hashes. */
  private newIndex(): void {
    const small = this.room === capacityMin;
    this.meta = small ? undefined : newMeta(this.room);
    this.smallHashes = small ? new Array<number>(capacityMin).fill(0) : undefined;
  }

  /** Entry i's hash at i: the index's first part, or the small table's hashes. */
  private hashes(): Int32Array | number[] {
    return this.meta ?? (this.smallHashes as number[]);
  }

  private find(key: string, hash: number): number {
    const { chunks, meta, room } = this;
    if (meta === undefined) {
      // One chunk of at most `capacityMin` entries, holes (undefined) among them.
      const chunk = chunks[0] as unknown[];
      const hashes = this.smallHashes as number[];
      for (let index = 0; index < this.used; index += 1) {
        if (hashes[index] === hash && chunk[index << 1] === key) return index;
      }
      return none;
    }
    let index = meta[bucketOf(hash, room)] as number;
    while (index !== none) {
      if (meta[index] === hash && chunkOf(chunks, index)[slotOf(index)] === key) return index;
      index = meta[room + index] as number;
    }
    return none;
  }

  private append(key: string, value: V, hash: number): void {
    const { meta, room } = this;
    const index = this.used;
    const chunkIndex = index >>> chunkShift;
    let chunk = this.chunks[chunkIndex];
    if (chunk === undefined) {
      chunk = newChunk(Math.min(room, chunkEntries));
      // A first chunk as a literal of one: a push onto an empty array gives it room for 17.
      if (chunkIndex === 0) this.chunks = [chunk];
      else this.chunks.push(chunk);
    }
    const slot = slotOf(index);
    chunk[slot] = key;
    chunk[slot + 1] = value;
    if (meta === undefined) (this.smallHashes as number[])[index] = hash;
    else link(meta, room, index, hash);
    this.used += 1;
    this.count += 1;
  }

  /** Room for twice as many: a new index; the entries stay where they are. */
  private grow(): void {
    const used = this.used;
    const room = this.room * 2;
    // A first chunk smaller than a chunk grows with the table (at most 255 entries copied).
    const first = this.chunks[0];
    if (first !== undefined && first.length < 2 * chunkEntries) {
      const bigger = newChunk(Math.min(room, chunkEntries));
      for (let slot = 0; slot < first.length; slot += 1) bigger[slot] = first[slot];
      this.chunks[0] = bigger;
    }
    const meta = newMeta(room);
    const hashes = this.hashes();
    for (let index = 0; index < used; index += 1) link(meta, room, index, hashes[index] as number);
    this.smallHashes = undefined;
    this.room = room;
    this.meta = meta;
  }

  /** The live entries closed up, with room for as many again (at least 8). */
  private compact(): void {
    const room = roomFor(this.count * 2);
    if (room === this.room) this.compactInPlace();
    else this.compactInto(room);
    this.compactions += 1;
    // Every iteration open now fails when it goes on: none holds off shrinking any more.
    this.iterating = 0;
  }

  /**
   * The live entries moved down over the holes, the index relinked: a table that churns at one
   * size (a hot key's holds, each confirmed soon after it is made) allocates nothing.
   */
  private compactInPlace(): void {
    const { chunks, meta, room, used } = this;
    meta?.fill(none, 2 * room);
    const hashes = this.hashes();
    let write = 0;
    for (let index = 0; index < used; index += 1) {
      const from = chunkOf(chunks, index);
      const fromSlot = slotOf(index);
      const key = from[fromSlot];
      if (key === undefined) continue;
      if (write !== index) {
        const to = chunkOf(chunks, write);
        const toSlot = slotOf(write);
        to[toSlot] = key;
        to[toSlot + 1] = from[fromSlot + 1];
        from[fromSlot] = undefined;
        from[fromSlot + 1] = undefined;
      }
      // Entry `index`'s hash is read before entry `write`'s is written (write <= index).
      const hash = hashes[index] as number;
      if (meta === undefined) hashes[write] = hash;
      else link(meta, room, write, hash);
      write += 1;
    }
    // The chunks past the last entry hold nothing now (the first is kept for the next sets).
    const kept = write === 0 ? 1 : ((write - 1) >>> chunkShift) + 1;
    if (chunks.length > kept) chunks.length = kept;
    this.used = write;
  }

  /** The live entries into new chunks and a new index of `room`, in order. */
  private compactInto(room: number): void {
    const { chunks, used } = this;
    const hashes = this.hashes();
    this.room = room;
    this.chunks = [];
    this.newIndex();
    this.used = 0;
    this.count = 0;
    forEachLive(chunks, hashes, used, (key, value: V, hash) => this.append(key, value, hash));
  }

  /** Each live entry's `item`, in order; fails if the entries move meanwhile. */
  private *walk<T>(item: (key: string, value: V) => T): IterableIterator<T> {
    const compactions = this.compactions;
    this.iterating += 1;
    try {
      for (let index = 0; index < this.used; index += 1) {
        assert(
          this.compactions === compactions,
          'a string table was compacted while it was iterated',
        );
        const chunk = chunkOf(this.chunks, index);
        const slot = slotOf(index);
        const key = chunk[slot] as string | undefined;
        if (key !== undefined) yield item(key, chunk[slot + 1] as V);
      }
    } finally {
      this.closeIteration(compactions);
    }
    assert(this.compactions === compactions, 'a string table was compacted while it was iterated');
  }

  /** An iteration begun at `compactions` ends (a compaction since has closed it already). */
  private closeIteration(compactions: number): void {
    if (this.compactions === compactions) this.iterating -= 1;
  }
}

/** Entries a chunk holds (2^8). */
const chunkShift = 8;
const chunkEntries = 1 << chunkShift;
const chunkMask = chunkEntries - 1;

/** The chunk holding entry `index`. */
function chunkOf(chunks: readonly unknown[][], index: number): unknown[] {
  return chunks[index >>> chunkShift] as unknown[];
}

/** Entry `index`'s key's slot in its chunk; its value's is the next. */
function slotOf(index: number): number {
  return (index & chunkMask) << 1;
}

/** Where in `meta` the newest entry of `hash`'s bucket is: room / 2 buckets, by the low bits. */
function bucketOf(hash: number, room: number): number {
  return 2 * room + (hash & ((room >>> 1) - 1));
}

/** Entry `index` into `meta`: its hash, and first in its bucket's chain. */
function link(meta: Int32Array, room: number, index: number, hash: number): void {
  const bucket = bucketOf(hash, room);
  meta[index] = hash;
  meta[room + index] = meta[bucket] as number;
  meta[bucket] = index;
}

/** Each live entry of the first `used`, in order, with its hash (entry i's at `hashes[i]`). */
function forEachLive<V>(
  chunks: readonly unknown[][],
  hashes: Int32Array | readonly number[],
  used: number,
  visit: (key: string, value: V, hash: number) => void,
): void {
  for (let index = 0; index < used; index += 1) {
    const chunk = chunkOf(chunks, index);
    const slot = slotOf(index);
    const key = chunk[slot] as string | undefined;
    if (key !== undefined) visit(key, chunk[slot + 1] as V, hashes[index] as number);
  }
}

function newChunk(entries: number): unknown[] {
  return new Array<unknown>(2 * entries).fill(undefined);
}

function newMeta(room: number): Int32Array {
  const meta = new Int32Array(2 * room + room / 2);
  meta.fill(none, 2 * room);
  return meta;
}

/** A power of two, at least `capacityMin`, at least `entries`. */
function roomFor(entries: number): number {
  let room = capacityMin;
  while (room < entries) room *= 2;
  return room;
}
