// The stock keys in order, for listings: a list of sorted blocks (as Python's sortedcontainers
// keeps them). Keys are never removed and new ones are rare next to reads, but they do arrive
// while listings are read, and one flat sorted array would pay for that dearly: merging a few new
// keys into a flat array of 1,000,000 copies all of it (about 100 ms here, on the HTTP thread),
// and so does a splice into it (about 3 ms each). A block is at most `blockKeysMax` keys, so a
// new key costs a binary search and a splice of at most that many (a few microseconds), a page
// costs a binary search and a walk, and a large batch (a recovery's census) is sorted once and
// merged in one pass.
//
// Keys are strings compared by code unit. A stock key is `product_id NUL warehouse_id`: NUL sorts
// below every character an id may hold, so string order is (product_id, warehouse_id) order.
import { fail } from '../actors/index.js';

/** A block is split in halves when it grows past this many keys (by default). */
const blockKeysMaxDefault = 1024;
/** A batch of new keys larger than this and than an eighth of the index is merged, not inserted. */
const insertBatchMax = 64;

/** Keys of a page, and whether keys matching the same prefix follow them. */
export interface KeyRange {
  readonly keys: string[];
  readonly more: boolean;
}

export class SortedKeys {
  /** Non-empty blocks in order; every key of a block sorts before every key of the next. */
  private blocks: string[][] = [];
  /** Each block's first key: where a search starts. */
  private firsts: string[] = [];
  private count = 0;
  /** Keys a bulk build puts in each block: room to grow before the first split. */
  private readonly blockKeysBuilt: number;

  /** `blockKeysMax`: tests make it small, so that blocks split and merge often. */
  constructor(private readonly blockKeysMax = blockKeysMaxDefault) {
    if (!(Number.isInteger(blockKeysMax) && blockKeysMax >= 2)) fail(`block of ${blockKeysMax}`);
    this.blockKeysBuilt = blockKeysMax >> 1;
  }

  get size(): number {
    return this.count;
  }

  /** Adds keys that are not in the index yet (the caller knows them to be new). */
  addAll(keys: readonly string[]): void {
    if (keys.length === 0) return;
    if (keys.length > insertBatchMax && keys.length * 8 > this.count) {
      this.merge(keys);
      return;
    }
    for (const key of keys) this.insert(key);
  }

  /**
   * Up to `limit` keys in order, starting at `start` (after it, when `exclusive`) and stopping at
   * the first key that does not begin with `prefix` ('' matches every key).
   */
  range(start: string, exclusive: boolean, prefix: string, limit: number): KeyRange {
    const keys: string[] = [];
    let block = this.blockOf(start);
    let index = block < 0 ? 0 : this.position(this.blocks[block] as string[], start, exclusive);
    block = Math.max(block, 0);
    while (block < this.blocks.length) {
      const keysOfBlock = this.blocks[block] as string[];
      if (index >= keysOfBlock.length) {
        block += 1;
        index = 0;
        continue;
      }
      const key = keysOfBlock[index] as string;
      if (!key.startsWith(prefix)) break;
      if (keys.length === limit) return { keys, more: true };
      keys.push(key);
      index += 1;
    }
    return { keys, more: false };
  }

  private insert(key: string): void {
    if (this.blocks.length === 0) {
      this.blocks.push([key]);
      this.firsts.push(key);
      this.count = 1;
      return;
    }
    const block = Math.max(this.blockOf(key), 0);
    const keys = this.blocks[block] as string[];
    const index = this.position(keys, key, false);
    keys.splice(index, 0, key);
    if (index === 0) this.firsts[block] = key;
    this.count += 1;
    if (keys.length > this.blockKeysMax) {
      const upper = keys.splice(keys.length >> 1);
      this.blocks.splice(block + 1, 0, upper);
      this.firsts.splice(block + 1, 0, upper[0] as string);
    }
  }

  /** Sorts the new keys and merges them with the index in one pass, into fresh blocks. */
  private merge(added: readonly string[]): void {
    const incoming = [...added].sort();
    const merged: string[] = [];
    let next = 0;
    for (const keys of this.blocks) {
      for (const key of keys) {
        while (next < incoming.length && (incoming[next] as string) < key) {
          merged.push(incoming[next] as string);
          next += 1;
        }
        merged.push(key);
      }
    }
    while (next < incoming.length) {
      merged.push(incoming[next] as string);
      next += 1;
    }
    this.blocks = [];
    this.firsts = [];
    for (let from = 0; from < merged.length; from += this.blockKeysBuilt) {
      const keys = merged.slice(from, from + this.blockKeysBuilt);
      this.blocks.push(keys);
      this.firsts.push(keys[0] as string);
    }
    this.count = merged.length;
  }

  /** The last block whose first key is at most `key`; -1 if `key` sorts before every block. */
  private blockOf(key: string): number {
    let low = 0;
    let high = this.firsts.length - 1;
    if (high < 0 || key < (this.firsts[0] as string)) return -1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((this.firsts[middle] as string) <= key) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** The index of the first key of `keys` at least `key` (greater than it, when `exclusive`). */
  private position(keys: readonly string[], key: string, exclusive: boolean): number {
    let low = 0;
    let high = keys.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      const probe = keys[middle] as string;
      if (probe < key || (exclusive && probe === key)) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}
