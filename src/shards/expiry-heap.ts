// A binary min-heap of hold expiries, ordered by expiry time, then reservation id: a total order,
// so which of several holds due at the same millisecond expires first is fixed and can be stated
// (a capped sweep takes the earliest by this order). Entries are never removed one by one: the
// lot schedule (lot-schedule.ts), one entry per key with lots, rebuilds it when keys go; the hold
// expiry schedule (expiry-schedule.ts) keeps one heap per bucket of expiry time and rebuilds a
// bucket's heap at a time (a heap of a million holds in one array stops the shard each time the
// array grows or is rebuilt).

export interface ExpiryEntry {
  readonly expiresAtMs: number;
  readonly partition: number;
  readonly reservationId: string;
}

function before(a: ExpiryEntry, b: ExpiryEntry): boolean {
  return (
    a.expiresAtMs < b.expiresAtMs ||
    (a.expiresAtMs === b.expiresAtMs && a.reservationId < b.reservationId)
  );
}

export class ExpiryHeap {
  private entries: ExpiryEntry[] = [];

  get size(): number {
    return this.entries.length;
  }

  push(entry: ExpiryEntry): void {
    this.entries.push(entry);
    this.siftUp(this.entries.length - 1);
  }

  /** The earliest entry's time (Infinity when empty). */
  get nextMs(): number {
    return this.entries[0]?.expiresAtMs ?? Number.POSITIVE_INFINITY;
  }

  /** Removes and returns the earliest entry if it is due at `nowMs`. */
  popDue(nowMs: number): ExpiryEntry | undefined {
    const top = this.entries[0];
    if (top === undefined || top.expiresAtMs > nowMs) return undefined;
    const last = this.entries.pop() as ExpiryEntry;
    if (this.entries.length > 0) this.siftDown(last, 0);
    return top;
  }

  /**
   * Keeps only the entries `keep` accepts, and rebuilds the heap from them in linear time;
   * returns how many went.
   */
  retain(keep: (entry: ExpiryEntry) => boolean): number {
    const before = this.entries.length;
    this.entries = this.entries.filter(keep);
    for (let index = (this.entries.length >> 1) - 1; index >= 0; index -= 1) {
      this.siftDown(this.entries[index] as ExpiryEntry, index);
    }
    return before - this.entries.length;
  }

  private siftUp(start: number): void {
    const entries = this.entries;
    const entry = entries[start] as ExpiryEntry;
    let index = start;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const parentEntry = entries[parent] as ExpiryEntry;
      if (!before(entry, parentEntry)) break;
      entries[index] = parentEntry;
      index = parent;
    }
    entries[index] = entry;
  }

  private siftDown(entry: ExpiryEntry, start: number): void {
    const entries = this.entries;
    const length = entries.length;
    let index = start;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && before(entries[right] as ExpiryEntry, entries[left] as ExpiryEntry)) {
        child = right;
      }
      const childEntry = entries[child] as ExpiryEntry;
      if (!before(childEntry, entry)) break;
      entries[index] = childEntry;
      index = child;
    }
    entries[index] = entry;
  }
}
