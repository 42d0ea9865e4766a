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
// entries under it, and fails it (the split map's rule for a split). Deletes never rebuild.
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
  /** Entry i's key, or undefined once it is deleted (until a rebuild drops the hole). */
  private keyAt: (string | undefined)[];
  private valueAt: (V | undefined)[];
  private hashAt: Int32Array;
  /** The entry after i in its bucket's chain (`none` at the end). */
  private nextAt: Int32Array;
  /** Each bucket's newest entry; a key's bucket is the low bits of its hash. */
  private buckets: Int32Array;
  /** Entries used, holes included: the next set goes at this index. */
  private used = 0;
  private count = 0;
  /** Rebuilds so far: an iteration that sees this change had its entries moved under it. */
  private rebuilds = 0;

  constructor(capacity = capacityMin) {
    const room = roomFor(capacity);
    this.keyAt = new Array<string | undefined>(room).fill(undefined);
    this.valueAt = new Array<V | undefined>(room).fill(undefined);
    this.hashAt = new Int32Array(room);
    this.nextAt = new Int32Array(room);
    this.buckets = new Int32Array(room / 2).fill(none);
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
    return this.keyAt.length;
  }

  get(key: string): V | undefined {
    const index = this.find(key, hashText(key));
    return index === none ? undefined : this.valueAt[index];
  }

  /** As `get`, with the key's `hashText` already known. */
  getHashed(key: string, hash: number): V | undefined {
    const index = this.find(key, hash);
    return index === none ? undefined : this.valueAt[index];
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
      this.valueAt[index] = value;
      return false;
    }
    if (this.used === this.keyAt.length) this.rebuild();
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
    this.keyAt[index] = undefined;
    this.valueAt[index] = undefined;
    this.count -= 1;
    return true;
  }

  /** Each live entry with its key's hash, in order; the visit must not change the table. */
  forEachHashed(visit: (key: string, value: V, hash: number) => void): void {
    const rebuilds = this.rebuilds;
    for (let index = 0; index < this.used; index += 1) {
      const key = this.keyAt[index];
      if (key !== undefined) visit(key, this.valueAt[index] as V, this.hashAt[index] as number);
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
    const { keyAt, hashAt, nextAt } = this;
    let index = this.buckets[hash & (this.buckets.length - 1)] as number;
    while (index !== none) {
      if (hashAt[index] === hash && keyAt[index] === key) return index;
      index = nextAt[index] as number;
    }
    return none;
  }

  private append(key: string, value: V, hash: number): void {
    const index = this.used;
    const bucket = hash & (this.buckets.length - 1);
    this.keyAt[index] = key;
    this.valueAt[index] = value;
    this.hashAt[index] = hash;
    this.nextAt[index] = this.buckets[bucket] as number;
    this.buckets[bucket] = index;
    this.used += 1;
    this.count += 1;
  }

  /** New arrays for the live entries, in order, with room to spare as much again. */
  private rebuild(): void {
    const { keyAt, valueAt, hashAt, used } = this;
    const room = roomFor(this.count * 2);
    this.keyAt = new Array<string | undefined>(room).fill(undefined);
    this.valueAt = new Array<V | undefined>(room).fill(undefined);
    this.hashAt = new Int32Array(room);
    this.nextAt = new Int32Array(room);
    this.buckets = new Int32Array(room / 2).fill(none);
    this.used = 0;
    this.count = 0;
    for (let index = 0; index < used; index += 1) {
      const key = keyAt[index];
      if (key !== undefined) this.append(key, valueAt[index] as V, hashAt[index] as number);
    }
    this.rebuilds += 1;
  }

  /** Each live entry's `item`, in order; fails if the entries move meanwhile. */
  private *walk<T>(item: (key: string, value: V) => T): IterableIterator<T> {
    const rebuilds = this.rebuilds;
    for (let index = 0; index < this.used; index += 1) {
      assert(this.rebuilds === rebuilds, 'a string table was rebuilt while it was iterated');
      const key = this.keyAt[index];
      if (key !== undefined) yield item(key, this.valueAt[index] as V);
    }
    assert(this.rebuilds === rebuilds, 'a string table was rebuilt while it was iterated');
  }
}

/** A power of two, at least `capacityMin`, at least `entries`. */
function roomFor(entries: number): number {
  let room = capacityMin;
  while (room < entries) room *= 2;
  return room;
}
