// A map from strings that never rehashes more than a few thousand entries at once.
//
// V8's Map doubles its table on the insert that fills it, rehashing every entry then and there.
// A hot key's pending holds lived in three such maps (the actor's by id and by idempotency key,
// the partition's owner by id), which grew together and so doubled on the same reserve: at
// 524,288 holds that one reserve stopped the shard for 0.28-0.39 s, at 1,048,576 for 0.81-0.95 s
// (bench/micro/pending-growth.ts, before this map). A flash sale reaches that in a minute. The
// holds are in their partition's store now (pending-holds.ts); a key's adjust memos, which grow
// the same way under a stream of adjusts, are a split map.
//
// So a map here is one table until it holds `partEntriesMax` entries, and then extendible hashing
// over tables: a directory of 2^depth slots, each naming the part that holds the keys whose hash
// begins with the slot's bits (a part of lower depth is named by a run of slots). A part that
// fills splits in eight by the next three bits of the hash, on its own: the most one insert ever
// moves is one part's entries, and a part's table doubles at most at that size. Past the
// directory's depth limit parts only grow, as a single Map would: that needs 2^16 full parts.
// Until its first split the map is its one table alone, with no directory or part: most maps
// are a key's few holds, and with many keys every lookup's chain of objects is a cache miss or
// more (and each object is memory a quiet key keeps, quiet-keys.ts).
//
// A part is a StringTable (string-table.ts), not a Map: a Map's replaced tables stay linked to
// their successors with their entries in place, which kept every hold made between two full
// collections alive and promoted it.
//
// Iteration goes part by part, each in its insertion order, and sees sets and deletes made
// during it as a Map's iteration does; a split during an iteration is a programming error (it
// would move entries under it) and fails the iteration.
import { assert } from './assert.js';
import { StringTable } from './string-table.js';
import { hashText } from './text-hash.js';

/** Entries at which a part splits (all of them move then, into eight new parts). */
const partEntriesMaxDefault = 4096;
/** The directory's depth limit: 65,536 slots. */
const directoryDepthMaxDefault = 16;
/**
 * A full part splits into 2^3 by the next three bits of the hash: each entry moves once per
 * split it goes through, and eight-way splits make that a third as many moves as halving would
 * (a million entries went through eight halvings each).
 */
const splitBits = 3;

/** Smaller parts and depths are for tests: they split and reach the limit with few entries. */
export interface SplitMapShape {
  readonly partEntriesMax: number;
  readonly directoryDepthMax: number;
}

const defaultShape: SplitMapShape = {
  partEntriesMax: partEntriesMaxDefault,
  directoryDepthMax: directoryDepthMaxDefault,
};

/** The directory and parts of a map not yet split: never written (a split makes its own). */
const noParts: never[] = [];

class Part<V> {
  constructor(
    /** The leading bits of the hash its keys share. */
    public depth: number,
    readonly entries: StringTable<V>,
  ) {}
}

export class SplitMap<V> implements ReadonlyMap<string, V> {
  /**
   * The one table of a map that has not split yet (most maps: a key's few holds), found without
   * the directory and its part (two loads fewer on every lookup); undefined once it splits.
   */
  private only: StringTable<V> | undefined = new StringTable();
  /** Made at the first split: the parts by the leading bits of the hash. */
  private directory: Part<V>[] = noParts;
  private depth = 0;
  /** The distinct parts, in the order iteration visits them (none while `only`). */
  private parts: Part<V>[] = noParts;
  private count = 0;
  /** Splits so far: an iteration that sees this change had parts moved under it. */
  private splits = 0;

  constructor(private readonly shape: SplitMapShape = defaultShape) {
    assert(shape.partEntriesMax >= 2 && shape.directoryDepthMax <= 24, 'a split map shape');
  }

  get size(): number {
    return this.count;
  }

  /** The parts (1 until the map first splits). */
  get partCount(): number {
    return this.only === undefined ? this.parts.length : 1;
  }

  /** The entries of the largest part: what the next split or table doubling may move. */
  get largestPart(): number {
    if (this.only !== undefined) return this.only.size;
    return this.parts.reduce((largest, part) => Math.max(largest, part.entries.size), 0);
  }

  /** The table that holds `hash`'s keys. */
  private tableOf(hash: number): StringTable<V> {
    return this.only ?? this.partOf(hash).entries;
  }

  private partOf(hash: number): Part<V> {
    return this.directory[this.depth === 0 ? 0 : hash >>> (32 - this.depth)] as Part<V>;
  }

  get(key: string): V | undefined {
    const hash = hashText(key);
    return this.tableOf(hash).getHashed(key, hash);
  }

  has(key: string): boolean {
    const hash = hashText(key);
    return this.tableOf(hash).hasHashed(key, hash);
  }

  set(key: string, value: V): this {
    const hash = hashText(key);
    const entries = this.tableOf(hash);
    if (entries.setHashed(key, hash, value)) {
      this.count += 1;
      if (entries.size >= this.shape.partEntriesMax) this.splitFull(hash);
    }
    return this;
  }

  delete(key: string): boolean {
    const hash = hashText(key);
    if (!this.tableOf(hash).deleteHashed(key, hash)) return false;
    this.count -= 1;
    return true;
  }

  /** The table that holds `hash`'s keys has just filled: it splits, unless at the depth limit. */
  private splitFull(hash: number): void {
    const { directoryDepthMax } = this.shape;
    if (this.only !== undefined) {
      if (directoryDepthMax > 0) this.splitOnly(this.only);
      return;
    }
    const part = this.partOf(hash);
    if (part.depth < directoryDepthMax) this.split(part);
  }

  /** The one table, full, becomes the first part of a directory, and splits. */
  private splitOnly(only: StringTable<V>): void {
    const part = new Part(0, only);
    this.directory = [part];
    this.parts = [part];
    this.only = undefined;
    this.split(part);
  }

  private split(part: Part<V>): void {
    const bits = Math.min(splitBits, this.shape.directoryDepthMax - part.depth);
    const depth = part.depth + bits;
    while (this.depth < depth) {
      // Twice the directory: each part named by two neighbouring slots.
      this.directory = this.directory.flatMap((each) => [each, each]);
      this.depth += 1;
    }
    const pieces = Array.from({ length: 2 ** bits }, () => new Part<V>(depth, new StringTable()));
    const shift = 32 - depth;
    const mask = 2 ** bits - 1;
    part.entries.forEachHashed((key, value, hash) => {
      (pieces[(hash >>> shift) & mask] as Part<V>).entries.setHashed(key, hash, value);
    });
    // The slots that named the part: a run of 2^(directory depth - part depth), in runs of
    // equal length for the pieces in the order of their bits.
    const span = 2 ** (this.depth - part.depth);
    const run = span / pieces.length;
    const first = this.directory.indexOf(part);
    for (let index = 0; index < span; index += 1) {
      this.directory[first + index] = pieces[Math.floor(index / run)] as Part<V>;
    }
    this.parts.splice(this.parts.indexOf(part), 1, ...pieces);
    this.splits += 1;
  }

  entries(): IterableIterator<[string, V]> {
    return this.walk((entries) => entries.entries());
  }

  keys(): IterableIterator<string> {
    return this.walk((entries) => entries.keys());
  }

  values(): IterableIterator<V> {
    return this.walk((entries) => entries.values());
  }

  /** What `items` gives of each table, table after table; fails if the parts move meanwhile. */
  private *walk<T>(items: (entries: StringTable<V>) => IterableIterator<T>): IterableIterator<T> {
    const splits = this.splits;
    for (const table of this.tables()) {
      for (const item of items(table)) {
        assert(this.splits === splits, 'a split map split while it was iterated');
        yield item;
      }
    }
  }

  /** The map's tables in iteration order: its one table, or each part's. */
  private *tables(): IterableIterator<StringTable<V>> {
    if (this.only !== undefined) yield this.only;
    else for (const part of this.parts) yield part.entries;
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  forEach(callback: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [key, value] of this.entries()) callback(value, key, this);
  }
}
