// Group commit: while one write is in flight, appended rows accumulate; when it returns, all of
// them (up to the batch bound) go in the next single write. Under load batches grow by
// themselves; at low load a record waits for one write. Sequences count appended rows, so a
// reply can wait for "everything up to sequence N is durable".
import type { SnapshotRow, WalRow } from './journal-store.js';

export interface JournalSink {
  append(rows: readonly WalRow[]): Promise<void>;
}

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
  private snapshots: PendingSnapshot[] = [];
  private writing = false;
  private scheduled = false;
  private broken = false;
  appendedSequence = 0;
  durableSequence = 0;

  /** Snapshots that became due are handed to `snapshotHandoff`; WAL writes never wait for them. */
  constructor(
    private sink: JournalSink,
    private readonly listener: GroupCommitListener,
    private readonly batchRowsMax: number,
    private readonly snapshotHandoff: SnapshotHandoff,
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

  append(row: WalRow): number {
    this.pending.push(row);
    this.appendedSequence += 1;
    this.schedule();
    return this.appendedSequence;
  }

  /** A snapshot is written only once every row it reflects is durable. */
  addSnapshot(row: SnapshotRow): void {
    this.snapshots.push({ sequence: this.appendedSequence, row });
    this.schedule();
  }

  /** Sends later writes to another connection; a write in flight finishes on the old one. */
  replaceSink(sink: JournalSink): void {
    this.sink = sink;
  }

  /**
   * After a failure the owner reloads state from the journal, then resumes on a new sink: rows
   * that were pending are dropped (their requests were answered 503) and nothing is outstanding.
   */
  resume(sink: JournalSink): void {
    this.sink = sink;
    this.pending = [];
    this.snapshots = [];
    this.durableSequence = this.appendedSequence;
    this.broken = false;
  }

  private schedule(): void {
    if (this.writing || this.scheduled || this.broken) return;
    this.scheduled = true;
    // Run after the current turn, so every command of the batch being handled joins this write.
    setImmediate(() => {
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
      this.broken = true;
      this.listener.failed(error instanceof Error ? error : new Error(String(error)));
    } finally {
      this.writing = false;
    }
  }

  private async writeOnce(): Promise<void> {
    const batch =
      this.pending.length <= this.batchRowsMax
        ? this.pending
        : this.pending.slice(0, this.batchRowsMax);
    this.pending = batch === this.pending ? [] : this.pending.slice(batch.length);
    const startedMs = performance.now();
    await this.sink.append(batch);
    this.durableSequence += batch.length;
    this.listener.flushed(batch.length, performance.now() - startedMs);
    // Replies go first; snapshots are written elsewhere, once everything they reflect is durable.
    this.listener.durable(this.durableSequence);
    while (this.snapshots[0] !== undefined && this.snapshots[0].sequence <= this.durableSequence) {
      this.snapshotHandoff.write((this.snapshots.shift() as PendingSnapshot).row);
    }
  }
}
