// Group commit: while the writes allowed in flight are out, appended rows accumulate; when one
// returns, all of them (up to the batch bound) go in the next single write. Under load batches
// grow by themselves; at low load a record waits for one write. Sequences count appended rows, so
// a reply can wait for "everything up to sequence N is durable".
//
// With more than one write in flight (each on a connection of its own, `sinks`), writes may
// commit in any order, but durability is told in append order only: sequence N is durable once
// every write holding a sequence up to N has committed. If one fails, nothing after it is ever
// told durable, even what committed: its rows lie past a gap in their partition's lsns, which
// recovery treats as the end of the journal (and removes).
import { AssertionError, assert, fail } from '../actors/index.js';
import type { Clock } from '../clock.js';
import { walPendingRecordsMax } from '../limits.js';
import type { JournalSink, SnapshotWrite, WalRow } from './journal-connection.js';

export interface GroupCommitListener {
  /** Every row up to `sequence` is durable. */
  durable(sequence: number): void;
  /**
   * A write failed, and every write in flight has settled since: rows after the durable
   * sequence may or may not be in the journal (a later write's rows past a gap, too).
   */
  failed(error: Error): void;
  /** For metrics: one write's duration and size. */
  flushed(rows: number, durationMs: number): void;
}

/** Takes durable snapshots off the commit loop (SnapshotWriter: a connection of its own). */
export interface SnapshotHandoff {
  write(row: SnapshotWrite): void;
  readonly idle: boolean;
}

interface PendingSnapshot {
  readonly sequence: number;
  readonly row: SnapshotWrite;
}

/** A write that committed, and the one it started on its sink after it (if any). */
interface Written {
  readonly next: Promise<Written> | undefined;
}

/** A write out on one of the sinks, in the order the writes began. */
interface InFlight {
  /** The sequence of its last row: durable once it and every write before it committed. */
  readonly lastSequence: number;
  committed: boolean;
}

export class GroupCommit {
  private pending: WalRow[] = [];
  /** Rows whose successor belongs to the same change: a write never ends on one of them. */
  private readonly joined = new WeakSet<WalRow>();
  private snapshots: PendingSnapshot[] = [];
  /** The last lsn appended per partition: what is written must follow it without a gap. */
  private readonly appendedLsns = new Map<number, number>();
  /** Writes out, oldest first; a sink is free when fewer than `sinks.length` are. */
  private inFlight: InFlight[] = [];
  /** Sinks with no write on them. */
  private readonly freeSinks: JournalSink[];
  private readonly sinkCount: number;
  /** The sequence up to which rows have been handed to a write. */
  private takenSequence = 0;
  private scheduled = false;
  /** A write failed: no write starts and nothing more is told durable until `resume`. */
  private failing: Error | undefined;
  private broken = false;
  private idleWaiters: (() => void)[] = [];
  appendedSequence = 0;
  durableSequence = 0;

  /**
   * `sinks`: one per write that may be in flight (each its own connection). Snapshots that became
   * due are handed to `snapshotHandoff`; WAL writes never wait for them.
   */
  constructor(
    sinks: readonly JournalSink[],
    private readonly listener: GroupCommitListener,
    private readonly batchRowsMax: number,
    private readonly snapshotHandoff: SnapshotHandoff,
    private readonly clock: Clock,
  ) {
    assert(sinks.length >= 1, 'a group commit needs a sink');
    this.freeSinks = [...sinks];
    this.sinkCount = sinks.length;
  }

  /** A write is out on some sink. */
  private get writing(): boolean {
    return this.freeSinks.length < this.sinkCount;
  }

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
    if (previous !== undefined && row.lsn !== previous + 1) {
      fail(`partition ${row.partition}: lsn ${row.lsn} appended after ${String(previous)}`);
    }
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
  addSnapshot(row: SnapshotWrite): void {
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
    assert(!this.writing, 'resumed with a write in flight');
    this.pending = [];
    this.failing = undefined;
    this.snapshots = [];
    for (const [partition, lsn] of heads) this.appendedLsns.set(partition, lsn);
    this.durableSequence = this.appendedSequence;
    this.takenSequence = this.appendedSequence;
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
    if (this.freeSinks.length === 0 || this.scheduled || this.failing !== undefined) return;
    if (this.broken) return;
    this.scheduled = true;
    // After the current turn, so every command of the batch being handled joins this write.
    this.clock.defer(() => {
      this.scheduled = false;
      this.startWrites();
    });
  }

  /** Starts a write on each free sink while rows are pending (snapshots need none). */
  private startWrites(): void {
    while (this.freeSinks.length > 0 && this.failing === undefined && !this.broken) {
      if (this.pending.length === 0) {
        // Snapshots waiting for rows that are durable already (none in flight): handed now.
        if (!this.writing) {
          this.advance();
          this.settle();
        }
        return;
      }
      void this.write(this.freeSinks.shift() as JournalSink);
    }
  }

  /** Writes batches on `sink` until nothing is pending, then frees it. */
  private async write(sink: JournalSink): Promise<void> {
    try {
      let writing: Promise<Written> | undefined = this.writeOnce(sink);
      while (writing !== undefined) writing = (await writing).next;
    } catch (error) {
      // A broken assertion (here or in a listener) is a bug, not a journal failure: it must
      // crash the shard (which then recovers), never pass for a failed write.
      if (error instanceof AssertionError) throw error;
      this.failing ??= error instanceof Error ? error : new Error(String(error));
    } finally {
      this.freeSinks.push(sink);
      this.settle();
    }
  }

  /**
   * One batch on `sink`. Once it committed, the next batch (if rows are pending) goes out on the
   * same sink before this one is told durable: Postgres works on it while this thread releases
   * the replies, instead of after, so the connection does not sit idle for the release. What is
   * durable, and when replies may go, is unchanged. Resolves with that next write.
   */
  private async writeOnce(sink: JournalSink): Promise<Written> {
    let size = Math.min(this.pending.length, this.batchRowsMax);
    // A group is never cut: the batch stretches to its end (a group is bounded, see limits).
    while (size < this.pending.length && this.joined.has(this.pending[size - 1] as WalRow)) {
      size += 1;
    }
    const batch = size === this.pending.length ? this.pending : this.pending.slice(0, size);
    this.pending = batch === this.pending ? [] : this.pending.slice(batch.length);
    this.takenSequence += batch.length;
    const write: InFlight = { lastSequence: this.takenSequence, committed: false };
    this.inFlight.push(write);
    // Another sink may take what is appended meanwhile, while this write is out.
    if (this.pending.length > 0) this.schedule();
    const startedMs = this.clock.monotonic();
    // A failed write is never marked committed: the durable sequence stops before it for good
    // (writes begun before it that commit still count).
    await sink.append(batch);
    write.committed = true;
    // Told before the release, in the same turn: the shard's timeline counts that turn's replies
    // into this commit.
    this.listener.flushed(batch.length, this.clock.monotonic() - startedMs);
    const more = this.pending.length > 0 && this.failing === undefined;
    const next = more ? this.writeOnce(sink) : undefined;
    this.advance();
    return { next };
  }

  /**
   * Tells durable the writes committed in order from the oldest: a write that committed before
   * one begun earlier waits for it. Replies go first; snapshots are written elsewhere, once
   * everything they reflect is durable.
   */
  private advance(): void {
    const before = this.durableSequence;
    while (this.inFlight[0]?.committed === true) {
      this.durableSequence = (this.inFlight.shift() as InFlight).lastSequence;
    }
    // A write that committed ahead of an earlier one tells nothing yet (the shard's release
    // walks every reply held).
    if (this.durableSequence > before) this.listener.durable(this.durableSequence);
    while (this.snapshots[0] !== undefined && this.snapshots[0].sequence <= this.durableSequence) {
      this.snapshotHandoff.write((this.snapshots.shift() as PendingSnapshot).row);
    }
  }

  private settle(): void {
    if (this.failing !== undefined) {
      // The failure is told once every write in flight has settled: recovery then reads a
      // journal that no write of this shard is still changing.
      if (this.writing) return;
      if (this.broken) return;
      this.inFlight = [];
      this.broken = true;
      this.listener.failed(this.failing);
    } else if (this.pending.length > 0 || this.writing) {
      return;
    }
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
