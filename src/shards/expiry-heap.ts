// A binary min-heap of hold expiries, ordered by expiry time, then key: a total order, so which
// of several holds due at the same millisecond expires first is fixed and can be stated (a capped
// sweep takes the earliest by this order). A hold's key is its serial in its partition's store
// (pending-holds.ts: the order holds were made in), with its slot there as the entry's tag; the
// lot schedule's key is a stock key's text. Entries are never removed one by one: the
// lot schedule (lot-schedule.ts), one entry per key with lots, rebuilds it when keys go; the hold
// expiry schedule (expiry-schedule.ts) keeps one heap per bucket of expiry time and rebuilds a
// bucket's heap at a time (a heap of a million holds in one array stops the shard each time the
// array grows or is rebuilt).

import { column, grown } from '../actors/columns.js';

/** A heap's room at first; it doubles as it fills. */
const firstCapacity = 16;

export interface ExpiryEntry<K extends string | number = string> {
  readonly expiresAtMs: number;
  readonly partition: number;
  /** What the entry is for, and its place in the order after the time. */
  readonly key: K;
  /** A number carried along (0 when not given). */
  readonly tag?: number;
}

/** An entry as the heap hands it back: every field set (a tag not given is 0). */
export type DueEntry<K extends string | number = string> = Required<ExpiryEntry<K>>;

export class ExpiryHeap<K extends string | number = string> {
  // The entries as columns, not an object each: a flash sale schedules a million holds on a
  // shard, and every object (and the boxed number an epoch time in an object's field is) is one
  // more the garbage collector visits each time it marks the old generation. Typed arrays, off
  // the heap (columns.ts), grown by doubling: the numbers of a hot key's pending holds were the
  // last of their bytes on the shard's heap, and an array of numbers grown by push left a copy
  // behind in the old generation each time. A key that is text (the lot schedule's) is kept in
  // an array beside them.
  private times = column(Float64Array, firstCapacity);
  private partitions = column(Int32Array, firstCapacity);
  private tags = column(Float64Array, firstCapacity);
  /** The keys, when they are numbers. */
  private numbers = column(Float64Array, firstCapacity);
  /** The keys, when they are text (decided by the first entry). */
  private texts: K[] | undefined;
  private length = 0;

  get size(): number {
    return this.length;
  }

  push(entry: ExpiryEntry<K>): void {
    if (this.length === this.times.length) this.grow();
    const index = this.length;
    this.length = index + 1;
    this.times[index] = entry.expiresAtMs;
    this.partitions[index] = entry.partition;
    this.tags[index] = entry.tag ?? 0;
    if (typeof entry.key === 'number') {
      this.numbers[index] = entry.key;
    } else {
      this.texts ??= [];
      this.texts[index] = entry.key;
    }
    this.siftUp(index);
  }

  /** The earliest entry's time (Infinity when empty). */
  get nextMs(): number {
    return this.length === 0 ? Number.POSITIVE_INFINITY : (this.times[0] as number);
  }

  /** Removes and returns the earliest entry if it is due at `nowMs`. */
  popDue(nowMs: number): DueEntry<K> | undefined {
    if (this.length === 0) return undefined;
    const expiresAtMs = this.times[0] as number;
    if (expiresAtMs > nowMs) return undefined;
    const top = {
      expiresAtMs,
      partition: this.partitions[0] as number,
      key: this.keyAt(0),
      tag: this.tags[0] as number,
    };
    const last = this.length - 1;
    this.move(last, 0);
    this.length = last;
    if (this.texts !== undefined) this.texts.length = last;
    if (last > 0) this.siftDown(0);
    return top;
  }

  /**
   * Keeps only the entries `keep` accepts, and rebuilds the heap from them in linear time;
   * returns how many went. `keep` is handed one entry object for the whole call, its fields set
   * before each entry: it reads it and must not keep it (a compaction filters a hot shard's
   * million entries; an object for each would be that much more for the scavenger to sweep).
   */
  retain(keep: (entry: DueEntry<K>) => boolean): number {
    const length = this.length;
    if (length === 0) return 0;
    const entry = { expiresAtMs: 0, partition: 0, key: this.keyAt(0), tag: 0 };
    let kept = 0;
    for (let index = 0; index < length; index += 1) {
      entry.expiresAtMs = this.times[index] as number;
      entry.partition = this.partitions[index] as number;
      entry.key = this.keyAt(index);
      entry.tag = this.tags[index] as number;
      if (!keep(entry)) continue;
      this.move(index, kept);
      kept += 1;
    }
    this.length = kept;
    if (this.texts !== undefined) this.texts.length = kept;
    for (let index = (kept >> 1) - 1; index >= 0; index -= 1) this.siftDown(index);
    return length - kept;
  }

  private keyAt(index: number): K {
    return (this.texts === undefined ? this.numbers[index] : this.texts[index]) as K;
  }

  /** Twice the room, what is there copied. */
  private grow(): void {
    const capacity = this.times.length * 2;
    this.times = grown(this.times, capacity);
    this.partitions = grown(this.partitions, capacity);
    this.tags = grown(this.tags, capacity);
    if (this.texts === undefined) this.numbers = grown(this.numbers, capacity);
  }

  /** Entry `a` comes before entry `b`: earlier, or at the same time with the smaller key. */
  private before(a: number, b: number): boolean {
    const timeA = this.times[a] as number;
    const timeB = this.times[b] as number;
    return timeA < timeB || (timeA === timeB && this.keyAt(a) < this.keyAt(b));
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from] as number;
    this.partitions[to] = this.partitions[from] as number;
    this.tags[to] = this.tags[from] as number;
    if (this.texts === undefined) this.numbers[to] = this.numbers[from] as number;
    else this.texts[to] = this.texts[from] as K;
  }

  private swap(a: number, b: number): void {
    const { times, partitions, tags, numbers, texts } = this;
    const time = times[a] as number;
    times[a] = times[b] as number;
    times[b] = time;
    const partition = partitions[a] as number;
    partitions[a] = partitions[b] as number;
    partitions[b] = partition;
    const tag = tags[a] as number;
    tags[a] = tags[b] as number;
    tags[b] = tag;
    if (texts === undefined) {
      const key = numbers[a] as number;
      numbers[a] = numbers[b] as number;
      numbers[b] = key;
    } else {
      const key = texts[a] as K;
      texts[a] = texts[b] as K;
      texts[b] = key;
    }
  }

  private siftUp(start: number): void {
    let index = start;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(index, parent)) break;
      this.swap(index, parent);
      index = parent;
    }
  }

  private siftDown(start: number): void {
    const length = this.length;
    let index = start;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && this.before(right, left) ? right : left;
      if (!this.before(child, index)) break;
      this.swap(index, child);
      index = child;
    }
  }
}
