// One lot write-off schedule per shard: when each key with named lots next has a lot whose day
// ends with unheld units in it. One entry per such key (its earliest), in a heap ordered by that
// time then by key, so which key is written off first at one instant is fixed. After every record
// on a key with lots the shard notes the key again: a key whose next write-off moved earlier
// (a new lot, units back in a lot past its end) gets a new entry; a later or vanished one leaves
// its entry stale, skipped by the sweep (which writes off nothing then).
import { ExpiryHeap, type ExpiryEntry } from './expiry-heap.js';

export interface LotWriteOffKey {
  readonly partition: number;
  readonly productId: string;
  readonly warehouseId: string;
}

const separator = '\u0000';

export class LotSchedule {
  // The expiry heap's order (time, then key) is the one wanted; its key is the stock key's text.
  private readonly heap = new ExpiryHeap();
  /** Per `partition NUL product NUL warehouse`: the time of its entry in the heap. */
  private readonly scheduled = new Map<string, number>();

  get size(): number {
    return this.scheduled.size;
  }

  get nextDueMs(): number {
    return this.heap.nextMs;
  }

  /** The key's next write-off is due at `dueMs` (Infinity: none); keeps the earliest entry. */
  note(key: LotWriteOffKey, dueMs: number): void {
    if (dueMs === Number.POSITIVE_INFINITY) return;
    const id = `${key.partition}${separator}${key.productId}${separator}${key.warehouseId}`;
    const known = this.scheduled.get(id);
    if (known !== undefined && known <= dueMs) return;
    this.scheduled.set(id, dueMs);
    this.heap.push({ expiresAtMs: dueMs, partition: key.partition, key: id });
  }

  /**
   * Hands keys whose write-off is due at `nowMs` to `writeOff`, earliest first, until `max` of
   * them wrote something off; a stale entry (an earlier one replaced it) is skipped.
   */
  sweep(nowMs: number, max: number, writeOff: (key: LotWriteOffKey) => boolean): number {
    let done = 0;
    while (done < max) {
      const entry = this.heap.popDue(nowMs);
      if (entry === undefined) break;
      if (this.scheduled.get(entry.key) !== entry.expiresAtMs) continue;
      this.scheduled.delete(entry.key);
      if (writeOff(keyOf(entry))) done += 1;
    }
    return done;
  }

  /** Forgets the entries of partitions that are being reloaded (they are noted again). */
  dropPartitions(partitions: ReadonlySet<number>): void {
    this.heap.retain((entry) => !partitions.has(entry.partition));
    for (const [id] of this.scheduled) {
      if (partitions.has(Number(id.slice(0, id.indexOf(separator))))) this.scheduled.delete(id);
    }
  }
}

function keyOf(entry: ExpiryEntry): LotWriteOffKey {
  const [, productId, warehouseId] = entry.key.split(separator) as [string, string, string];
  return { partition: entry.partition, productId, warehouseId };
}
