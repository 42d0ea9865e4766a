// One expiry schedule per shard: a binary min-heap on expiry time, not a timer per hold. Entries
// are never removed early; a confirmed or released hold is skipped when its entry comes due.

export interface ExpiryEntry {
  readonly expiresAtMs: number;
  readonly partition: number;
  readonly reservationId: string;
}

export class ExpiryHeap {
  private readonly entries: ExpiryEntry[] = [];

  get size(): number {
    return this.entries.length;
  }

  push(entry: ExpiryEntry): void {
    const entries = this.entries;
    entries.push(entry);
    let index = entries.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      const parentEntry = entries[parent] as ExpiryEntry;
      if (parentEntry.expiresAtMs <= entry.expiresAtMs) break;
      entries[index] = parentEntry;
      index = parent;
    }
    entries[index] = entry;
  }

  /** Removes and returns the earliest entry if it is due at `nowMs`. */
  popDue(nowMs: number): ExpiryEntry | undefined {
    const top = this.entries[0];
    if (top === undefined || top.expiresAtMs > nowMs) return undefined;
    const last = this.entries.pop() as ExpiryEntry;
    if (this.entries.length > 0) this.siftDown(last);
    return top;
  }

  private siftDown(entry: ExpiryEntry): void {
    const entries = this.entries;
    const length = entries.length;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (
        right < length &&
        (entries[right] as ExpiryEntry).expiresAtMs < (entries[left] as ExpiryEntry).expiresAtMs
      ) {
        child = right;
      }
      const childEntry = entries[child] as ExpiryEntry;
      if (childEntry.expiresAtMs >= entry.expiresAtMs) break;
      entries[index] = childEntry;
      index = child;
    }
    entries[index] = entry;
  }
}
