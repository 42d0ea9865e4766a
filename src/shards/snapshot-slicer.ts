// A shard's snapshots, captured and encoded a slice at a time between its turns, so a hot
// partition's snapshot never stops the shard for long (150,000 holds took 90-130 ms in one go:
// bench/micro/snapshot-cost.ts). One snapshot is under way at a time; others wait their turn.
// A snapshot starts in a deferred task, where every change applied has been journaled (a turn's
// commands are applied and journaled together), so the LSN it starts at is exact; it is then
// exact at that LSN however the partition changes meanwhile (SnapshotCapture, copy on write).
import { SnapshotCapture, type PartitionState } from '../actors/index.js';
import type { Clock } from '../clock.js';
import { SnapshotEncoder, type SnapshotWrite } from '../persistence/index.js';

export interface SliceBudget {
  /** A slice ends once it has run this long (checked every `unitsPerCheck` values). */
  readonly sliceMs: number;
  /** And after this many values at most (the simulator's clock stands still within a turn). */
  readonly unitsPerSliceMax: number;
}

/**
 * Values captured between two looks at the clock. A hot key's
 * hold takes 2-3 µs to capture and encode when 600,000 are pending, so a look every 256 values let
 * a slice run 0.71-0.84 ms at the median against its 0.5 ms budget; every 64, 0.55-0.58 ms
 * (bench/micro/snapshot-cost.ts --holds 600000; bench/README.md, "A slice looks at the clock every
 * 64 values"). A look is one `performance.now()`.
 */
const unitsPerCheck = 64;

/** What the shard tells the slicer, and is told. */
export interface SlicerOwner {
  /** The partition's state and LSN now, if a snapshot of it may start (undefined: not now). */
  begin(partition: number): { state: PartitionState; lsn: number } | undefined;
  /** A snapshot is complete; false if it was not handed on (the partition was reloaded). */
  complete(state: PartitionState, row: SnapshotWrite, stats: SnapshotStats): boolean;
  /** A snapshot was dropped before completion: its records count toward the next one. */
  dropped(partition: number, state: PartitionState, error?: unknown): void;
}

export interface SnapshotStats {
  readonly slices: number;
  /** The longest slice of this snapshot, and all of them together (the shard thread's time). */
  readonly longestSliceMs: number;
  readonly totalMs: number;
  /** From its start to its end, turns between its slices included (the clock's time). */
  readonly elapsedMs: number;
}

type Waiter = (taken: boolean) => void;

interface Job {
  readonly partition: number;
  readonly state: PartitionState;
  readonly lsn: number;
  readonly capture: SnapshotCapture;
  readonly encoder: SnapshotEncoder;
  readonly waiters: Waiter[];
  slices: number;
  longestSliceMs: number;
  totalMs: number;
  readonly startedMs: number;
}

export class SnapshotSlicer {
  /** Partitions waiting for their snapshot to start, in order, with who waits for each. */
  private readonly queue = new Map<number, Waiter[]>();
  private job: Job | undefined;
  private scheduled = false;
  private closed = false;

  constructor(
    private readonly clock: Clock,
    private readonly budget: SliceBudget,
    private readonly owner: SlicerOwner,
  ) {}

  /** Whether a snapshot of the partition is under way or waiting. */
  has(partition: number): boolean {
    return this.job?.partition === partition || this.queue.has(partition);
  }

  get idle(): boolean {
    return this.job === undefined && this.queue.size === 0;
  }

  /**
   * Asks for a snapshot of the partition, taken when its turn comes (at the LSN it has then).
   * Resolves true once it is captured and handed on, false if it was dropped or not taken.
   */
  request(partition: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.closed) {
        resolve(false);
        return;
      }
      const waiters = this.queue.get(partition);
      if (waiters === undefined) this.queue.set(partition, [resolve]);
      else waiters.push(resolve);
      this.schedule();
    });
  }

  /** Resolves when the snapshot under way of the partition ends (false if none is). */
  whenDone(partition: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.job?.partition === partition) this.job.waiters.push(resolve);
      else resolve(false);
    });
  }

  /** Drops every snapshot under way or waiting (a failed write: the partitions are reloaded). */
  cancelAll(): void {
    const job = this.job;
    this.job = undefined;
    if (job !== undefined) this.drop(job);
    const waiting = [...this.queue.values()];
    this.queue.clear();
    for (const waiters of waiting) for (const resolve of waiters) resolve(false);
  }

  /** Drops everything, and takes no more requests. */
  close(): void {
    this.closed = true;
    this.cancelAll();
  }

  private schedule(): void {
    if (this.scheduled || this.closed || this.idle) return;
    this.scheduled = true;
    this.clock.defer(() => {
      this.scheduled = false;
      this.slice();
    });
  }

  /** One slice: starts the next snapshot if none is under way, then works within the budget. */
  private slice(): void {
    if (this.closed) return;
    const startedMs = this.clock.monotonic();
    let job = this.job;
    try {
      job ??= this.start();
      if (job === undefined) return;
      const step = Math.min(unitsPerCheck, this.budget.unitsPerSliceMax);
      let units = 0;
      for (;;) {
        const captured = job.capture.advance(step);
        units += step;
        if (captured) {
          // The encoder's blocks go as they are: never put together in one buffer, which would
          // hold a hot partition's snapshot twice (SnapshotWrite).
          const blocks = job.encoder.finish();
          this.account(job, startedMs);
          this.finish(job, blocks);
          return;
        }
        if (units >= this.budget.unitsPerSliceMax) break;
        if (this.clock.monotonic() - startedMs >= this.budget.sliceMs) break;
      }
      this.account(job, startedMs);
    } catch (error) {
      // A snapshot is never needed for durability (the WAL has every record): drop it.
      if (job !== undefined && this.job === job) {
        this.job = undefined;
        this.drop(job, error);
      }
    } finally {
      this.schedule();
    }
  }

  private account(job: Job, startedMs: number): void {
    const ms = this.clock.monotonic() - startedMs;
    job.slices += 1;
    job.totalMs += ms;
    job.longestSliceMs = Math.max(job.longestSliceMs, ms);
  }

  private start(): Job | undefined {
    for (const [partition, waiters] of this.queue) {
      this.queue.delete(partition);
      const begun = this.owner.begin(partition);
      if (begun === undefined) {
        for (const resolve of waiters) resolve(false);
        continue;
      }
      const encoder = new SnapshotEncoder();
      const capture = new SnapshotCapture(begun.state, encoder);
      this.job = {
        partition,
        state: begun.state,
        lsn: begun.lsn,
        capture,
        encoder,
        waiters,
        slices: 0,
        longestSliceMs: 0,
        totalMs: 0,
        startedMs: this.clock.monotonic(),
      };
      return this.job;
    }
    return undefined;
  }

  private finish(job: Job, blocks: readonly Uint8Array[]): void {
    this.job = undefined;
    const { partition, lsn, slices, longestSliceMs, totalMs } = job;
    const stats = {
      slices,
      longestSliceMs,
      totalMs,
      elapsedMs: this.clock.monotonic() - job.startedMs,
    };
    const taken = this.owner.complete(job.state, { partition, lsn, blocks }, stats);
    for (const resolve of job.waiters) resolve(taken);
  }

  private drop(job: Job, error?: unknown): void {
    job.capture.cancel();
    this.owner.dropped(job.partition, job.state, error);
    for (const resolve of job.waiters) resolve(false);
  }
}
