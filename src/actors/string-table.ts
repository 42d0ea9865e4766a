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
// Here a rebuild makes new arrays and nothing points from the old ones to the new: a deleted
// entry is gone from the table at once. Entries are kept in the order they were first set; a
// delete leaves a hole that the next rebuild (on a set that finds the entries full) closes up.
// Iteration sees sets and deletes made during it, as a Map's does; a rebuild during it moves the
// entries under it, and fails it (the split map's rule for a split). A delete that leaves the
// table an eighth full rebuilds it smaller (a flash sale's holds all gone must not keep its
// room), but never while an iteration is open: deleting as one iterates is as safe as with a Map.
import { assert } from './assert.js';
import { hashText } from './text-hash.js';

/** The fewest entries a table has room for. */
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
  // Two allocations a table (and a rebuild), whatever its size: a hot key's tables are made and
  // rebuilt often, and small ones most often.
  /** Entry i's key at 2i (undefined once it is deleted, until a rebuild), its value at 2i + 1. */
  private items: unknown[];
  /**
   * Entry i's hash at i, the entry after it in its bucket's chain at room + i (`none` at the
   * end), and each bucket's newest entry at 2 room + bucket; a key's bucket is the low bits of
   * its hash, room / 2 buckets.
   */
  private meta: Int32Array;
  /** Entries it has room for. */
  private room: number;
  /** Entries used, holes included: the next set goes at this index. */
  private used = 0;
  private count = 0;
  /** Rebuilds so far: an iteration that sees this change had its entries moved under it. */
  private rebuilds = 0;
  /**
   * Iterations open (begun, neither finished nor closed): no delete rebuilds meanwhile. One left
   * open for good (an iterator dropped half-way) only holds off shrinking until the next rebuild.
   */
  private iterating = 0;

  constructor(capacity = capacityMin) {
    this.room = roomFor(capacity);
    this.items = newItems(this.room);
    this.meta = newMeta(this.room);
  }

  /** A table of its own with these entries, in this table's order. */
  clone(): StringTable<V> {
    const copy = new StringTable<V>(this.count);
    this.forEachHashed((key, value, hash) => copy.append(key, value, hash));
    return copy;
  }

  get size(): number {
    return this.count;
  }

  /** Entries it has room for before the next rebuild, holes included. */
  get capacity(): number {
    return this.room;
  }

  get(key: string): V | undefined {
    const index = this.find(key, hashText(key));
    return index === none ? undefined : (this.items[2 * index + 1] as V);
  }

  /** As `get`, with the key's `hashText` already known. */
  getHashed(key: string, hash: number): V | undefined {
    const index = this.find(key, hash);
    return index === none ? undefined : (this.items[2 * index + 1] as V);
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
      this.items[2 * index + 1] = value;
      return false;
    }
    if (this.used === this.room) this.rebuild();
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
    this.items[2 * index] = undefined;
    this.items[2 * index + 1] = undefined;
    this.count -= 1;
    const room = this.room;
    if (this.iterating === 0 && room > capacityMin && this.count * 8 <= room) this.rebuild();
    return true;
  }

  /** Each live entry with its key's hash, in order; the visit must not change the table. */
  forEachHashed(visit: (key: string, value: V, hash: number) => void): void {
    const rebuilds = this.rebuilds;
    this.iterating += 1;
    try {
      const { items, meta } = this;
      for (let index = 0; index < this.used; index += 1) {
        const key = items[2 * index] as string | undefined;
        if (key !== undefined) visit(key, items[2 * index + 1] as V, meta[index] as number);
      }
    } finally {
      this.closeIteration(rebuilds);
    }
    assert(this.rebuilds === rebuilds, 'a string table was rebuilt while it was visited');
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

  private find(key: string, hash: number): number {
    const { items, meta, room } = this;
    let index = meta[2 * room + (hash & ((room >>> 1) - 1))] as number;
    while (index !== none) {
      if (meta[index] === hash && items[2 * index] === key) return index;
      index = meta[room + index] as number;
    }
    return none;
  }

  private append(key: string, value: V, hash: number): void {
    const { items, meta, room } = this;
    const index = this.used;
    const bucket = 2 * room + (hash & ((room >>> 1) - 1));
    items[2 * index] = key;
    items[2 * index + 1] = value;
    meta[index] = hash;
    meta[room + index] = meta[bucket] as number;
    meta[bucket] = index;
    this.used += 1;
    this.count += 1;
  }

  /** New arrays for the live entries, in order, with room for as many again (at least 8). */
  private rebuild(): void {
    const { items, meta, used } = this;
    this.room = roomFor(this.count * 2);
    this.items = newItems(this.room);
    this.meta = newMeta(this.room);
    this.used = 0;
    this.count = 0;
    for (let index = 0; index < used; index += 1) {
      const key = items[2 * index] as string | undefined;
      if (key !== undefined) this.append(key, items[2 * index + 1] as V, meta[index] as number);
    }
    this.rebuilds += 1;
    // Every iteration open now fails when it goes on: none holds off shrinking any more.
    this.iterating = 0;
  }

  /** Each live entry's `item`, in order; fails if the entries move meanwhile. */
  private *walk<T>(item: (key: string, value: V) => T): IterableIterator<T> {
    const rebuilds = this.rebuilds;
    this.iterating += 1;
    try {
      for (let index = 0; index < this.used; index += 1) {
        assert(this.rebuilds === rebuilds, 'a string table was rebuilt while it was iterated');
        const key = this.items[2 * index] as string | undefined;
        if (key !== undefined) yield item(key, this.items[2 * index + 1] as V);
      }
    } finally {
      this.closeIteration(rebuilds);
    }
    assert(this.rebuilds === rebuilds, 'a string table was rebuilt while it was iterated');
  }

  /** An iteration begun at `rebuilds` ends (a rebuild since has closed it already). */
  private closeIteration(rebuilds: number): void {
    if (this.rebuilds === rebuilds) this.iterating -= 1;
  }
}

function newItems(room: number): unknown[] {
  return new Array<unknown>(2 * room).fill(undefined);
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
