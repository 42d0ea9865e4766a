// One expiry schedule per shard (one calendar, not a timer per hold). A hold confirmed or released
// before its time leaves its entry behind, stale; the sweep skips stale entries, and when they
// make up half the schedule a compaction pass drops them, so the schedule stays within about
// twice the pending holds (plus a slack) instead of growing with every hold of the last TTL.
//
// Nothing here works on all entries at once. A flash sale keeps a million holds pending on a
// shard; as one binary heap in one array they stopped the shard for 52-74 ms when the array grew,
// and for 1.4-2.4 s when a compaction rebuilt it (bench/micro/pending-growth.ts). So entries go
// into buckets of 100 ms of expiry time, each a binary heap of its own (expiry-heap.ts: holds due
// at the same instant, as a recovery or a storm makes them, cost a log each, never a sort), with
// a heap of the buckets' numbers. A compaction pass filters the buckets a few thousand
// entries at a time, one step with each entry scheduled or finished while it runs.
import { expiryCompactionSlack, expiryCompactionStepEntries, expiryEntriesMax } from '../limits.js';
import { ExpiryHeap, type DueEntry } from './expiry-heap.js';

/** Holds due within the same 100 ms share a bucket (a bucket's number is its start / width). */
const bucketWidthMsDefault = 100;

/** Other widths, slacks and steps are for tests: they compact and bucket with few entries. */
export interface ExpiryScheduleShape {
  readonly bucketWidthMs: number;
  readonly compactionSlack: number;
  readonly compactionStepEntries: number;
}

const defaultShape: ExpiryScheduleShape = {
  bucketWidthMs: bucketWidthMsDefault,
  compactionSlack: expiryCompactionSlack,
  compactionStepEntries: expiryCompactionStepEntries,
};

/** A compaction under way: the buckets to look at, and how far it got. */
interface Pass<K extends string | number> {
  readonly buckets: readonly number[];
  next: number;
  readonly keep: (entry: DueEntry<K>) => boolean;
  /** Entries gone stale since the pass began (some in buckets it had filtered already). */
  finishedDuring: number;
}

/**
 * Entries by key (`K`): a hold's serial in its partition's store, with its slot as the tag (the
 * shard's); any other key for tests.
 */
export class ExpirySchedule<K extends string | number = number> {
  private readonly buckets = new Map<number, ExpiryHeap<K>>();
  /** The buckets' numbers, earliest first: a heap of entries that carry only a number. */
  private readonly order = new ExpiryHeap<number>();
  private entries = 0;
  /**
   * Entries gone stale (their hold left PENDING another way, or was extended): an estimate. A pass
   * keeps an extended hold's earlier entry (its hold is pending) and stops counting it.
   */
  private stale = 0;
  private pass: Pass<K> | undefined = undefined;
  /**
   * The entries due at one instant, taken from their bucket together and put in their tie order
   * (`sweep`'s `tieKey`); a capped sweep leaves the rest here for the next. Still counted.
   */
  private carried: DueEntry<K>[] = [];
  private carriedNext = 0;

  constructor(private readonly shape: ExpiryScheduleShape = defaultShape) {}

  get size(): number {
    return this.entries;
  }

  /** The earliest scheduled expiry, stale entries included: no pending hold expires sooner. */
  get nextDueMs(): number {
    const carried = this.carried[this.carriedNext];
    if (carried !== undefined) return carried.expiresAtMs;
    const bucket = this.front();
    return bucket === undefined ? Number.POSITIVE_INFINITY : bucket.nextMs;
  }

  /** No room for another hold (reserves are refused with 503 overloaded). */
  get full(): boolean {
    return this.entries >= expiryEntriesMax;
  }

  /** A compaction pass is under way (it ends after a step per size / step entries). */
  get compacting(): boolean {
    return this.pass !== undefined;
  }

  schedule(partition: number, key: K, expiresAtMs: number, tag = 0): void {
    // One due as soon as the entries a capped sweep left (a partition recovered meanwhile): they
    // go back, to be taken again with it in their order.
    const carried = this.carried[this.carriedNext];
    if (carried !== undefined && expiresAtMs <= carried.expiresAtMs) this.putBackCarried();
    this.push({ expiresAtMs, partition, key, tag });
    this.entries += 1;
    this.compactStep();
  }

  private push(entry: DueEntry<K>): void {
    const number = Math.floor(entry.expiresAtMs / this.shape.bucketWidthMs);
    let bucket = this.buckets.get(number);
    if (bucket === undefined) {
      bucket = new ExpiryHeap<K>();
      this.buckets.set(number, bucket);
      this.order.push({ expiresAtMs: number, partition: 0, key: 0 });
    }
    bucket.push(entry);
  }

  private putBackCarried(): void {
    for (const entry of this.carried.slice(this.carriedNext)) this.push(entry);
    this.carried = [];
    this.carriedNext = 0;
  }

  /**
   * A scheduled hold was confirmed, released or expired on demand, or extended (its entry with the
   * earlier time is stale then, though the hold is pending: the sweep skips it when it comes).
   */
  finishedEarly(isPending: (entry: DueEntry<K>) => boolean): void {
    this.stale += 1;
    if (this.pass !== undefined) this.pass.finishedDuring += 1;
    this.compactStep();
    if (
      this.pass === undefined &&
      this.stale > this.shape.compactionSlack &&
      this.stale * 2 > this.entries
    ) {
      this.pass = {
        buckets: [...this.buckets.keys()],
        next: 0,
        keep: isPending,
        finishedDuring: 0,
      };
    }
  }

  /** Filters the pass's next buckets, about `compactionStepEntries` entries. */
  private compactStep(): void {
    const pass = this.pass;
    if (pass === undefined) return;
    let budget = this.shape.compactionStepEntries;
    while (budget > 0 && pass.next < pass.buckets.length) {
      const bucket = this.buckets.get(pass.buckets[pass.next] as number);
      pass.next += 1;
      if (bucket === undefined) continue;
      budget -= bucket.size;
      this.entries -= bucket.retain(pass.keep);
    }
    if (pass.next < pass.buckets.length) return;
    // Every bucket kept only what `keep` accepts: what is stale now went stale during the pass
    // (an extended hold's earlier entry is kept, and skipped by the sweep when it comes).
    this.stale = Math.min(pass.finishedDuring, this.entries);
    this.pass = undefined;
  }

  /**
   * Forgets the entries of partitions that are being reloaded (they are scheduled again). All at
   * once: a partition changes hands or reloads while its shard stands still for it anyway.
   */
  dropPartitions(partitions: ReadonlySet<number>): void {
    for (const bucket of this.buckets.values()) {
      this.entries -= bucket.retain((entry) => !partitions.has(entry.partition));
    }
    const left = this.carried.slice(this.carriedNext);
    this.carried = left.filter((entry) => !partitions.has(entry.partition));
    this.carriedNext = 0;
    this.entries -= left.length - this.carried.length;
    this.stale = Math.min(this.stale, this.entries);
  }

  /** The earliest bucket with an entry left; emptied buckets at the front go. */
  private front(): ExpiryHeap<K> | undefined {
    for (;;) {
      const number = this.order.nextMs;
      if (number === Number.POSITIVE_INFINITY) return undefined;
      const bucket = this.buckets.get(number) as ExpiryHeap<K>;
      if (bucket.size > 0) return bucket;
      this.buckets.delete(number);
      this.order.popDue(number);
    }
  }

  /**
   * Takes the entries due at the earliest instant, if it is due at `nowMs`, into `carried`, in
   * `tieKey`'s order; false if none is due.
   */
  private takeDue(nowMs: number, tieKey: ((entry: DueEntry<K>) => string) | undefined): boolean {
    const first = this.front()?.popDue(nowMs);
    if (first === undefined) return false;
    const due = [first];
    while (tieKey !== undefined && this.front()?.nextMs === first.expiresAtMs) {
      due.push(this.front()?.popDue(nowMs) as DueEntry<K>);
    }
    this.carried =
      due.length === 1 || tieKey === undefined
        ? due
        : due
            .map((entry) => ({ entry, key: tieKey(entry) }))
            .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
            .map(({ entry }) => entry);
    this.carriedNext = 0;
    return true;
  }

  /**
   * Expires due holds, earliest first, until `max` expired. `expire` returns false for an entry
   * whose hold is no longer pending (a stale entry, skipped without counting). Holds due at the
   * same millisecond go in the order of `tieKey` (the shard's: their ids, so that which of them
   * a capped sweep takes is the one stated, whatever order they were scheduled in); those a cap
   * leaves wait, in that order, for the next sweep.
   */
  sweep(
    nowMs: number,
    max: number,
    expire: (entry: DueEntry<K>) => boolean,
    tieKey?: (entry: DueEntry<K>) => string,
  ): number {
    let expired = 0;
    while (expired < max) {
      if (this.carriedNext === this.carried.length && !this.takeDue(nowMs, tieKey)) break;
      const entry = this.carried[this.carriedNext] as DueEntry<K>;
      this.carriedNext += 1;
      this.entries -= 1;
      if (expire(entry)) expired += 1;
      else this.stale = Math.max(0, this.stale - 1);
    }
    if (this.carriedNext === this.carried.length) {
      this.carried = [];
      this.carriedNext = 0;
    }
    return expired;
  }
}
