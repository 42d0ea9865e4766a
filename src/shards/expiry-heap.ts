// A binary min-heap of hold expiries, ordered by expiry time, then key: a total order, so which
// of several holds due at the same millisecond expires first is fixed and can be stated (a capped
// sweep takes the earliest by this order). A hold's key is its serial in its partition's store
// (pending-holds.ts: the order holds were made in), with its slot there as the entry's tag; the
// lot schedule's key is a stock key's text. Entries are never removed one by one: the
// lot schedule (lot-schedule.ts), one entry per key with lots, rebuilds it when keys go; the hold
// expiry schedule (expiry-schedule.ts) keeps one heap per bucket of expiry time and rebuilds a
// bucket's heap at a time (a heap of a million holds in one array stops the shard each time the
// array grows or is rebuilt).

export interface ExpiryEntry<K extends string | number = string> {
  readonly expiresAtMs: number;
  readonly partition: number;
  /** What the entry is for, and its place in the order after the time. */
  readonly key: K;
  /** A number carried along (0 when not given). */
  readonly tag?: number;
}

export class ExpiryHeap<K extends string | number = string> {
  // The entries as columns, not an object each: a flash sale schedules a million holds on
  // a shard, and every object (and the boxed number an epoch time in an object's field is) is
  // one more the garbage collector visits each time it marks the old generation. An array of
  // numbers only keeps them unboxed.
  private times: number[] = [];
  private partitions: number[] = [];
  private keys: K[] = [];
  private tags: number[] = [];

  get size(): number {
    return this.times.length;
  }

  push(entry: ExpiryEntry<K>): void {
    this.times.push(entry.expiresAtMs);
    this.partitions.push(entry.partition);
    this.keys.push(entry.key);
    this.tags.push(entry.tag ?? 0);
    this.siftUp(this.times.length - 1);
  }

  /** The earliest entry's time (Infinity when empty). */
  get nextMs(): number {
    return this.times[0] ?? Number.POSITIVE_INFINITY;
  }

  /** Removes and returns the earliest entry if it is due at `nowMs`. */
  popDue(nowMs: number): Required<ExpiryEntry<K>> | undefined {
    const { times, partitions, keys, tags } = this;
    const expiresAtMs = times[0];
    if (expiresAtMs === undefined || expiresAtMs > nowMs) return undefined;
    const partition = partitions[0] as number;
    const top = { expiresAtMs, partition, key: keys[0] as K, tag: tags[0] as number };
    const last = times.length - 1;
    this.move(last, 0);
    times.pop();
    partitions.pop();
    keys.pop();
    tags.pop();
    if (last > 0) this.siftDown(0);
    return top;
  }

  /**
   * Keeps only the entries `keep` accepts, and rebuilds the heap from them in linear time;
   * returns how many went. `keep` is handed one entry object for the whole call, its fields set
   * before each entry: it reads it and must not keep it (a compaction filters a hot shard's
   * million entries; an object for each would be that much more for the scavenger to sweep).
   */
  retain(keep: (entry: Required<ExpiryEntry<K>>) => boolean): number {
    const { times, partitions, keys, tags } = this;
    const length = times.length;
    if (length === 0) return 0;
    const entry = { expiresAtMs: 0, partition: 0, key: keys[0] as K, tag: 0 };
    let kept = 0;
    for (let index = 0; index < length; index += 1) {
      entry.expiresAtMs = times[index] as number;
      entry.partition = partitions[index] as number;
      entry.key = keys[index] as K;
      entry.tag = tags[index] as number;
      if (!keep(entry)) continue;
      this.move(index, kept);
      kept += 1;
    }
    times.length = kept;
    partitions.length = kept;
    keys.length = kept;
    tags.length = kept;
    for (let index = (kept >> 1) - 1; index >= 0; index -= 1) this.siftDown(index);
    return length - kept;
  }

  /** Entry `a` comes before entry `b`: earlier, or at the same time with the smaller key. */
  private before(a: number, b: number): boolean {
    const timeA = this.times[a] as number;
    const timeB = this.times[b] as number;
    return timeA < timeB || (timeA === timeB && (this.keys[a] as K) < (this.keys[b] as K));
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from] as number;
    this.partitions[to] = this.partitions[from] as number;
    this.keys[to] = this.keys[from] as K;
    this.tags[to] = this.tags[from] as number;
  }

  private swap(a: number, b: number): void {
    const { times, partitions, keys, tags } = this;
    const time = times[a] as number;
    times[a] = times[b] as number;
    times[b] = time;
    const partition = partitions[a] as number;
    partitions[a] = partitions[b] as number;
    partitions[b] = partition;
    const key = keys[a] as K;
    keys[a] = keys[b] as K;
    keys[b] = key;
    const tag = tags[a] as number;
    tags[a] = tags[b] as number;
    tags[b] = tag;
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
    const length = this.times.length;
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
