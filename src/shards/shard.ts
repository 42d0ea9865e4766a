// A shard: the partitions one worker thread owns, their actors, the expiry schedule, the journal
// writer and reply gating. It never shares state with another thread. The journal connection is
// a parameter, so tests can run a shard on the main thread with a fault-injecting journal.
import {
  AssertionError,
  PartitionState,
  assert,
  captureSnapshot,
  restoreSnapshot,
  type ApplyResult,
  type JournalRecord,
  type RetentionPolicy,
  type StockActor,
} from '../actors/index.js';
import {
  GroupCommit,
  SnapshotWriter,
  decodeRecord,
  decodeSnapshot,
  encodeRecord,
  encodeSnapshot,
  type JournalSink,
  type SnapshotConnection,
  type SnapshotRow,
} from '../persistence/index.js';
import { journalRetryDelayMsMax } from '../limits.js';
import { ExpiryHeap } from './expiry-heap.js';
import type {
  DurableChanges,
  RecoveryStats,
  ShardReply,
  ShardRequest,
  StockChange,
} from './protocol.js';
import { errorReply, formatReply } from './reply-format.js';

/**
 * A journal connection: the sink group commit writes to, the snapshot writer's connection, and
 * what recovery reads.
 */
export interface JournalConnection extends JournalSink, SnapshotConnection {
  latestSnapshots(partitions: readonly number[]): Promise<Map<number, SnapshotRow>>;
  readTail(
    partition: number,
    afterLsn: number,
    onRow: (lsn: number, payload: Uint8Array) => void,
  ): Promise<number>;
  /** A cheap round trip, to tell whether the journal answers at all. */
  ping(): Promise<void>;
}

export interface ShardOptions {
  readonly shard: number;
  readonly partitions: readonly number[];
  readonly retention: RetentionPolicy;
  readonly walBatchRecordsMax: number;
  readonly snapshotEveryRecords: number;
  /** Expiries applied per sweep at most, so one sweep never stalls the mailbox for long. */
  readonly expiriesPerSweepMax: number;
}

export interface ShardEnvironment {
  readonly connect: () => Promise<JournalConnection>;
  readonly now: () => number;
  readonly send: (replies: ShardReply[]) => void;
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
  readonly flushed: (rows: number, durationMs: number) => void;
  readonly durableChanges: (changes: DurableChanges) => void;
}

/** A journaled change waiting for its group commit, remembered for the durable-changes note. */
interface ChangeNote {
  readonly sequence: number;
  readonly partition: number;
  readonly lsn: number;
  readonly actor: StockActor;
  readonly available: number;
  readonly version: number;
}

interface PartitionRuntime {
  state: PartitionState;
  nextLsn: number;
  /** Group-commit sequence of this partition's newest record. */
  lastSequence: number;
  recordsSinceSnapshot: number;
}

interface HeldReply {
  readonly sequence: number;
  readonly reply: ShardReply;
}

type Mode = 'recovering' | 'serving' | 'stopping' | 'stopped';

export class Shard {
  private readonly runtimes = new Map<number, PartitionRuntime>();
  private readonly expiry = new ExpiryHeap();
  private held: HeldReply[] = [];
  private notes: ChangeNote[] = [];
  private reloading: Promise<void> | undefined;
  private reconnecting: Promise<void> | undefined;
  private outbox: ShardReply[] = [];
  private mode: Mode = 'recovering';
  private connection: JournalConnection | undefined;
  private commit: GroupCommit | undefined;
  /** Writes snapshots on a connection of its own, so they never hold up group commits. */
  private readonly snapshotWriter = new SnapshotWriter(
    () => this.environment.connect(),
    (error) =>
      this.environment.log(
        'warn',
        `snapshot write failed, dropped (the journal has every record): ${error.message}`,
      ),
  );

  constructor(
    private readonly options: ShardOptions,
    private readonly environment: ShardEnvironment,
  ) {}

  get serving(): boolean {
    return this.mode === 'serving';
  }

  get heldReplies(): number {
    return this.held.length;
  }

  /** Loads every owned partition from the journal: latest snapshot plus the WAL tail. */
  async start(): Promise<RecoveryStats> {
    const startedMs = performance.now();
    this.connection = await this.environment.connect();
    this.commit = new GroupCommit(
      this.connection,
      {
        durable: (sequence) => this.durable(sequence),
        failed: (error) => this.failed(error),
        flushed: this.environment.flushed,
      },
      this.options.walBatchRecordsMax,
      this.snapshotWriter,
    );
    const counts = await this.load(this.connection, this.options.partitions);
    this.mode = 'serving';
    return {
      ...counts,
      partitions: this.options.partitions.length,
      durationMs: performance.now() - startedMs,
    };
  }

  private async load(
    connection: JournalConnection,
    partitions: readonly number[],
  ): Promise<{ snapshots: number; records: number }> {
    const snapshots = await connection.latestSnapshots(partitions);
    let records = 0;
    const nowMs = this.environment.now();
    for (const partition of partitions) {
      const snapshot = snapshots.get(partition);
      const state =
        snapshot === undefined
          ? new PartitionState(partition, this.options.retention)
          : restoreSnapshot(decodeSnapshot(snapshot.payload), this.options.retention);
      assert(state.partition === partition, 'snapshot stored under another partition');
      let expectedLsn = (snapshot?.lsn ?? 0) + 1;
      const lastLsn = await connection.readTail(partition, expectedLsn - 1, (lsn, payload) => {
        assert(
          lsn === expectedLsn,
          () => `partition ${partition}: journal gap, lsn ${lsn} after ${expectedLsn - 1}`,
        );
        state.replay(decodeRecord(payload));
        expectedLsn += 1;
        records += 1;
      });
      this.runtimes.set(partition, {
        state,
        nextLsn: lastLsn + 1,
        lastSequence: 0,
        recordsSinceSnapshot: lastLsn - (snapshot?.lsn ?? 0),
      });
      for (const reservation of state.pendingReservations()) {
        this.expiry.push({
          expiresAtMs: reservation.expiresAtMs,
          partition,
          reservationId: reservation.id,
        });
      }
    }
    this.sweep(nowMs);
    return { snapshots: snapshots.size, records };
  }

  /** Applies a batch of commands in arrival order; replies leave once what they saw is durable. */
  handle(requests: readonly ShardRequest[]): void {
    if (this.mode !== 'serving') {
      for (const request of requests) this.outbox.push(this.unavailableReply(request.id));
      this.sendOutbox();
      return;
    }
    const nowMs = this.environment.now();
    this.sweep(nowMs);
    for (const request of requests) {
      const runtime = this.runtimes.get(request.partition);
      assert(
        runtime !== undefined,
        () => `shard ${this.options.shard} got partition ${request.partition}`,
      );
      const result = runtime.state.apply(request.command, nowMs);
      if (result.record !== undefined) this.journal(runtime, result);
      const sequence = result.actor?.journalSequence ?? runtime.lastSequence;
      const reply = formatReply(request.id, result.outcome);
      if (sequence <= this.durableSequence) this.outbox.push(reply);
      else this.held.push({ sequence, reply });
    }
    this.sendOutbox();
  }

  private get durableSequence(): number {
    return this.commit?.durableSequence ?? 0;
  }

  private unavailableReply(id: number): ShardReply {
    const message =
      this.mode === 'recovering'
        ? 'The shard is recovering its partitions from the journal; retry shortly.'
        : 'The ledger is shutting down.';
    return errorReply(id, 'unavailable', message);
  }

  private journal(runtime: PartitionRuntime, result: ApplyResult): void {
    const record = result.record as JournalRecord;
    const commit = this.commit;
    assert(commit !== undefined, 'journal before start');
    const lsn = runtime.nextLsn;
    runtime.nextLsn += 1;
    const sequence = commit.append({
      partition: runtime.state.partition,
      lsn,
      payload: encodeRecord(record),
    });
    const actor = result.actor as StockActor;
    actor.journalSequence = sequence;
    runtime.lastSequence = sequence;
    const { partition } = runtime.state;
    const { available, version } = actor;
    this.notes.push({ sequence, partition, lsn, actor, available, version });
    if (record.type === 'reserved') {
      this.expiry.push({
        expiresAtMs: record.expiresAtMs,
        partition: runtime.state.partition,
        reservationId: record.reservationId,
      });
    }
    runtime.recordsSinceSnapshot += 1;
    if (runtime.recordsSinceSnapshot >= this.snapshotInterval(runtime.state))
      this.snapshot(runtime);
  }

  /** Expires due holds. Each expiry is journaled like any change; nobody waits for its reply. */
  sweep(nowMs: number): number {
    if (this.mode !== 'serving') return 0;
    let expired = 0;
    while (expired < this.options.expiriesPerSweepMax) {
      const entry = this.expiry.popDue(nowMs);
      if (entry === undefined) break;
      const runtime = this.runtimes.get(entry.partition);
      const result = runtime?.state.expire(entry.reservationId, nowMs);
      if (runtime === undefined || result?.record === undefined) continue;
      this.journal(runtime, result);
      expired += 1;
    }
    return expired;
  }

  /**
   * A snapshot costs time in proportion to the partition's size, on this thread. Taking one only
   * after at least as many records as it holds entries keeps that cost at most one entry per
   * record, and a recovery's WAL tail no longer than the snapshot it starts from.
   */
  private snapshotInterval(state: PartitionState): number {
    const entries = state.actors.size + state.reservationOwners.size;
    return Math.max(this.options.snapshotEveryRecords, entries);
  }

  private snapshot(runtime: PartitionRuntime): void {
    const lsn = runtime.nextLsn - 1;
    if (lsn === 0 || this.commit === undefined) return;
    const payload = encodeSnapshot(captureSnapshot(runtime.state));
    this.commit.addSnapshot({ partition: runtime.state.partition, lsn, payload });
    runtime.recordsSinceSnapshot = 0;
  }

  /**
   * Snapshots every partition changed since its last snapshot; resolves once written, with the
   * number written (a failed write is logged and not counted).
   */
  async snapshotAll(): Promise<number> {
    const failuresBefore = this.snapshotWriter.failures;
    let taken = 0;
    for (const runtime of this.runtimes.values()) {
      if (runtime.recordsSinceSnapshot === 0) continue;
      this.snapshot(runtime);
      taken += 1;
    }
    await this.whenIdle();
    return Math.max(0, taken - (this.snapshotWriter.failures - failuresBefore));
  }

  private async whenIdle(): Promise<void> {
    // A broken commit never becomes idle: stop waiting (the failure is being handled).
    while (this.commit !== undefined && !this.commit.idle && !this.commit.failed) {
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  private durable(sequence: number): void {
    this.noteDurable(sequence);
    const still: HeldReply[] = [];
    for (const held of this.held) {
      if (held.sequence <= sequence) this.outbox.push(held.reply);
      else still.push(held);
    }
    this.held = still;
    this.sendOutbox();
  }

  /** Tells the host what became durable: partitions' journal heads and stock keys' new state. */
  private noteDurable(sequence: number): void {
    let count = 0;
    while (count < this.notes.length && (this.notes[count] as ChangeNote).sequence <= sequence)
      count += 1;
    if (count === 0) return;
    const done = this.notes.slice(0, count);
    this.notes = this.notes.slice(count);
    const heads = new Map<number, number>();
    const latest = new Map<StockActor, ChangeNote>();
    for (const note of done) {
      heads.set(note.partition, note.lsn);
      latest.set(note.actor, note);
    }
    const durableLsns: number[] = [];
    for (const [partition, lsn] of heads) durableLsns.push(partition, lsn);
    const stock: StockChange[] = [];
    for (const note of latest.values()) {
      stock.push([note.actor.productId, note.actor.warehouseId, note.available, note.version]);
    }
    this.environment.durableChanges({ durableLsns, stock });
  }

  private sendOutbox(): void {
    if (this.outbox.length === 0) return;
    const replies = this.outbox;
    this.outbox = [];
    this.environment.send(replies);
  }

  /** Serving, and the journal answers a round trip (readiness: "the journal is writable"). */
  async journalWritable(): Promise<boolean> {
    if (this.mode !== 'serving' || this.connection === undefined) return false;
    try {
      await this.connection.ping();
      return this.mode === 'serving';
    } catch (error) {
      this.environment.log('warn', `journal ping failed: ${String(error)}`);
      await this.reconnect();
      return false;
    }
  }

  /**
   * A write failed. The shard does not guess what reached the journal: every reply still held is
   * answered 503 (nothing was acknowledged), the partitions with unacknowledged records are
   * dropped, and they are reloaded from the journal before the shard takes more work.
   */
  private failed(error: Error): void {
    this.environment.log('error', `journal write failed, recovering: ${error.message}`);
    if (this.mode === 'serving') this.mode = 'recovering';
    for (const held of this.held) this.outbox.push(errorReply(held.reply.id, 'unavailable'));
    this.held = [];
    // Changes not known durable are never shown; whatever did commit is read back on reload.
    this.notes = [];
    this.sendOutbox();
    const durable = this.durableSequence;
    const affected: number[] = [];
    for (const [partition, runtime] of this.runtimes) {
      if (runtime.lastSequence > durable) affected.push(partition);
    }
    for (const partition of affected) this.runtimes.delete(partition);
    this.reloading = this.reload(affected);
  }

  private async reload(partitions: number[]): Promise<void> {
    let delayMs = 50;
    for (let attempt = 1; this.mode === 'recovering'; attempt += 1) {
      try {
        await this.closeConnection();
        const connection = await this.environment.connect();
        if (this.mode !== 'recovering') {
          // A stop began while connecting: a connection left open would keep the thread alive.
          await connection.close();
          return;
        }
        this.connection = connection;
        const counts = await this.load(connection, partitions);
        (this.commit as GroupCommit).resume(connection);
        // A stop that began meanwhile wins: never go back to serving after it.
        if (this.mode !== 'recovering') return;
        this.mode = 'serving';
        this.environment.log(
          'info',
          `recovered ${partitions.length} partitions (${counts.records} records)`,
        );
        return;
      } catch (error) {
        if (error instanceof AssertionError) throw error;
        for (const partition of partitions) this.runtimes.delete(partition);
        this.environment.log('warn', `recovery attempt ${attempt} failed: ${String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        delayMs = Math.min(delayMs * 2, journalRetryDelayMsMax);
      }
    }
  }

  private async closeConnection(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    if (connection === undefined) return;
    await connection.close().catch((error: unknown) => {
      this.environment.log('warn', `closing the broken journal connection: ${String(error)}`);
    });
  }

  /** Drains: refuses new work, lets pending writes finish, snapshots, closes the connection. */
  async stop(): Promise<void> {
    if (this.mode === 'serving') {
      await this.whenIdle();
      await this.snapshotAll();
    }
    this.mode = 'stopping';
    await this.whenIdle();
    // A reload under way notices the stop at its next step; wait for it to let go.
    await this.reloading;
    await this.reconnecting;
    this.mode = 'stopped';
    await this.snapshotWriter.close();
    await this.closeConnection();
  }

  /**
   * Replaces a journal connection that stopped answering while nothing was being written (an
   * idle connection killed by the server or a network hiccup). Everything in memory is durable
   * then, so no reload is needed; writes simply go to the new connection. A write that fails on
   * the old one takes the reload path instead.
   */
  private async reconnect(): Promise<void> {
    if (this.mode !== 'serving' || this.reconnecting !== undefined) return;
    const attempt = (async () => {
      const connection = await this.environment.connect();
      if (this.mode !== 'serving' || this.commit === undefined || this.commit.failed) {
        await connection.close();
        return;
      }
      const old = this.connection;
      this.connection = connection;
      this.commit.replaceSink(connection);
      this.environment.log('info', 'journal connection replaced');
      await old?.close().catch((error: unknown) => {
        this.environment.log('warn', `closing the dead journal connection: ${String(error)}`);
      });
    })();
    this.reconnecting = attempt.catch((error: unknown) => {
      this.environment.log('warn', `journal reconnect failed: ${String(error)}`);
    });
    await this.reconnecting;
    this.reconnecting = undefined;
  }
}
