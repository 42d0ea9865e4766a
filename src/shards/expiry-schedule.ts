// One expiry schedule per shard (one heap, not a timer per hold). A hold confirmed or released
// before its time leaves its entry behind, stale; the sweep skips stale entries, and when they
// make up half the heap it is rebuilt from the live ones, so the heap stays within twice the
// pending holds (plus a slack) instead of growing with every hold of the last TTL.
import { expiryCompactionSlack, expiryEntriesMax } from '../limits.js';
import { ExpiryHeap, type ExpiryEntry } from './expiry-heap.js';

export class ExpirySchedule {
  private readonly heap = new ExpiryHeap();
  /** Entries whose hold left PENDING another way; an estimate (never below the truth). */
  private stale = 0;

  get size(): number {
    return this.heap.size;
  }

  /** The earliest scheduled expiry, stale entries included: no pending hold expires sooner. */
  get nextDueMs(): number {
    return this.heap.nextMs;
  }

  /** No room for another hold (reserves are refused with 503 overloaded). */
  get full(): boolean {
    return this.heap.size >= expiryEntriesMax;
  }

  schedule(partition: number, reservationId: string, expiresAtMs: number): void {
    this.heap.push({ expiresAtMs, partition, reservationId });
  }

  /** A scheduled hold was confirmed, released or expired on demand: its entry is stale now. */
  finishedEarly(isPending: (entry: ExpiryEntry) => boolean): void {
    this.stale += 1;
    if (this.stale > expiryCompactionSlack && this.stale * 2 > this.heap.size) {
      this.heap.retain(isPending);
      this.stale = 0;
    }
  }

  /** Forgets the entries of partitions that are being reloaded (they are scheduled again). */
  dropPartitions(partitions: ReadonlySet<number>): void {
    this.heap.retain((entry) => !partitions.has(entry.partition));
    this.stale = Math.min(this.stale, this.heap.size);
  }

  /**
   * Expires due holds, earliest first, until `max` expired. `expire` returns false for an entry
   * whose hold is no longer pending (a stale entry, skipped without counting).
   */
  sweep(nowMs: number, max: number, expire: (entry: ExpiryEntry) => boolean): number {
    let expired = 0;
    while (expired < max) {
      const entry = this.heap.popDue(nowMs);
      if (entry === undefined) break;
      if (expire(entry)) expired += 1;
      else this.stale = Math.max(0, this.stale - 1);
    }
    return expired;
  }
}
