// Group commit: while one write is in flight, appended rows accumulate; when it returns, all of
// them (up to the batch bound) go in the next single write. Under load batches grow by
// themselves; at low load a record waits for one write. Sequences count appended rows, so a
// reply can wait for "everything up to sequence N is durable".
import { AssertionError, assert } from '../actors/index.js';
import type { Clock } from '../clock.js';
import { walPendingRecordsMax } from '../limits.js';
import type { JournalSink, SnapshotRow, WalRow } from './journal-connection.js';

export interface GroupCommitListener {
  /** Every row up to `sequence` is durable. */
  durable(sequence: number): void;
  /** A write failed: rows after the durable sequence may or may not be in the journal. */
  failed(error: Error): void;
  /** For metrics: one write's duration and size. */
  flushed(rows: number, durationMs: number): void;
}

/** Takes durable snapshots off the commit loop (SnapshotWriter: a connection of its own). */
export interface SnapshotHandoff {
  write(row: SnapshotRow): void;
  readonly idle: boolean;
}

interface PendingSnapshot {
  readonly sequence: number;
  readonly row: SnapshotRow;
}

export class GroupCommit {
  private pending: WalRow[] = [];
  /** Rows whose successor belongs to the same change: a write never ends on one of them. */
  private readonly joined = new WeakSet<WalRow>();
  private snapshots: PendingSnapshot[] = [];
  /** The last lsn appended per partition: what is written must follow it without a gap. */
  private readonly appendedLsns = new Map<number, number>();
  private writing = false;
  private scheduled = false;
  private broken = false;
  private idleWaiters: (() => void)[] = [];
  appendedSequence = 0;
  durableSequence = 0;

  /** Snapshots that became due are handed to `snapshotHandoff`; WAL writes never wait for them. */
  constructor(
    private readonly sink: JournalSink,
    private readonly listener: GroupCommitListener,
    private readonly batchRowsMax: number,
    private readonly snapshotHandoff: SnapshotHandoff,
    private readonly clock: Clock,
  ) {}

  /** A write failed and the owner has not resumed yet: nothing more will be written. */
  get failed(): boolean {
    return this.broken;
  }

  get pendingRows(): number {
    return this.pending.length;
  }

  get idle(): boolean {
    return (
      !this.writing &&
      !this.scheduled &&
      this.pending.length === 0 &&
      this.snapshots.length === 0 &&
      this.snapshotHandoff.idle
    );
  }

  /** Resolves once nothing is pending or in flight here, or once a write has failed. */
  whenSettled(): Promise<void> {
    if (this.broken || (!this.writing && !this.scheduled && this.pending.length === 0)) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Queues a row; `joinsNext`: the next row appended belongs to the same change (a cart), and the
   * two go in the same write, so the journal holds the whole change or none of it.
   */
  append(row: WalRow, joinsNext = false): number {
    const previous = this.appendedLsns.get(row.partition);
    assert(
      previous === undefined || row.lsn === previous + 1,
      () => `partition ${row.partition}: lsn ${row.lsn} appended after ${String(previous)}`,
    );
    assert(this.pending.length < walPendingRecordsMax, 'group commit pending rows over the bound');
    this.appendedLsns.set(row.partition, row.lsn);
    this.pending.push(row);
    if (joinsNext) this.joined.add(row);
    this.appendedSequence += 1;
    // The last row of a group schedules the write: never a write that would cut it.
    if (!joinsNext) this.schedule();
    return this.appendedSequence;
  }

  /**
   * A snapshot is written only once every row it reflects is durable. A newer snapshot of a
   * partition replaces one still waiting: it reflects more, so the bound is one per partition.
   */
  addSnapshot(row: SnapshotRow): void {
    this.snapshots = this.snapshots.filter((queued) => queued.row.partition !== row.partition);
    this.snapshots.push({ sequence: this.appendedSequence, row });
    this.schedule();
  }

  /**
   * After a failure the owner reloads state from the journal (reconnecting its sink), then
   * resumes: rows that were pending are dropped (their requests were answered 503) and nothing
   * is outstanding. `heads` are the reloaded partitions' last durable lsns, which the next
   * appends must follow.
   */
  resume(heads: ReadonlyMap<number, number>): void {
    this.pending = [];
    this.snapshots = [];
    for (const [partition, lsn] of heads) this.appendedLsns.set(partition, lsn);
    this.durableSequence = this.appendedSequence;
    this.broken = false;
  }

  /**
   * Partitions a shard took on (a cluster's hand-over): each one's next append follows the
   * journal's last lsn, whatever this commit knew of it before.
   */
  follow(heads: ReadonlyMap<number, number>): void {
    for (const [partition, lsn] of heads) this.appendedLsns.set(partition, lsn);
  }

  /** Partitions a shard let go: it may take them again later, at another lsn. */
  forget(partitions: ReadonlySet<number>): void {
    for (const partition of partitions) this.appendedLsns.delete(partition);
  }

  private schedule(): void {
    if (this.writing || this.scheduled || this.broken) return;
    this.scheduled = true;
    // After the current turn, so every command of the batch being handled joins this write.
    this.clock.defer(() => {
      this.scheduled = false;
      void this.write();
    });
  }

  private async write(): Promise<void> {
    if (this.writing || this.broken) return;
    this.writing = true;
    try {
      while (this.pending.length > 0 || this.snapshots.length > 0) {
        await this.writeOnce();
      }
    } catch (error) {
      // A broken assertion (here or in a listener) is a bug, not a journal failure: it must
      // crash the shard (which then recovers), never pass for a failed write.
      if (error instanceof AssertionError) throw error;
      this.broken = true;
      this.listener.failed(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.writing = false;
      this.settle();
    }
  }

  private settle(): void {
    if (!this.broken && this.pending.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private async writeOnce(): Promise<void> {
    let size = Math.min(this.pending.length, this.batchRowsMax);
    // A group is never cut: the batch stretches to its end (a group is bounded, see limits).
    while (size < this.pending.length && this.joined.has(this.pending[size - 1] as WalRow)) {
      size += 1;
    }
    const batch = size === this.pending.length ? this.pending : this.pending.slice(0, size);
    this.pending = batch === this.pending ? [] : this.pending.slice(batch.length);
    const startedMs = this.clock.monotonic();
    if (batch.length > 0) await this.sink.append(batch);
    this.durableSequence += batch.length;
    if (batch.length > 0) this.listener.flushed(batch.length, this.clock.monotonic() - startedMs);
    // Replies go first; snapshots are written elsewhere, once everything they reflect is durable.
    this.listener.durable(this.durableSequence);
    while (this.snapshots[0] !== undefined && this.snapshots[0].sequence <= this.durableSequence) {
      this.snapshotHandoff.write((this.snapshots.shift() as PendingSnapshot).row);
    }
  }
}
