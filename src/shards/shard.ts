// A shard: the partitions one worker thread owns, and the path every command takes through them:
// apply (the actors), journal (group commit), gate the reply until what it saw is durable. The
// jobs around that path each have a room of their own: reply-gate.ts, journal-link.ts,
// partition-recovery.ts, expiry-schedule.ts, durable-notes.ts. The journal connection and the
// clock are parameters, so the simulator (test/sim) runs this very class from one seed.
import {
  AssertionError,
  PartitionState,
  assert,
  checkRecord,
  countsBefore,
  fail,
  isMovement,
  merged,
  subjectOf,
  type ApplyResult,
  type MovementCounts,
  type JournalRecord,
  type RetentionPolicy,
  type StockActor,
  type Write,
} from '../actors/index.js';
import type { Clock } from '../clock.js';
import {
  cartInDoubtAfterMs,
  pinnedRecheckMs,
  cartsInDoubtPerAnswerMax,
  journalRetryDelayMsMax,
  snapshotSliceMs,
  snapshotSliceUnitsMax,
  sweepBatch,
  sweepSliceMs,
  walPendingRecordsMax,
} from '../limits.js';
import {
  GroupCommit,
  SnapshotWriter,
  encodeRecord,
  type JournalConnection,
  type MovementColumns,
  type SnapshotConnection,
  type SnapshotWrite,
  snapshotBytes,
  type WalRow,
  leasesLostBy as leasesLost,
} from '../persistence/index.js';
import { DurableNotes } from './durable-notes.js';
import type { DueEntry } from './expiry-heap.js';
import { ExpirySchedule } from './expiry-schedule.js';
import { JournalLink } from './journal-link.js';
import { LotSchedule, type LotWriteOffKey } from './lot-schedule.js';
import { recoverPartitions, type RecoveredPartition } from './partition-recovery.js';
import {
  type CommitTiming,
  failure,
  stockChangeOf,
  type CartInDoubt,
  type DurableChanges,
  type RecoveryStats,
  type ShardReply,
  type StockChange,
  type ShardRequest,
} from './protocol.js';
import { ReplyGate } from './reply-gate.js';
import { SnapshotSlicer, type SliceBudget, type SnapshotStats } from './snapshot-slicer.js';

export interface ShardOptions {
  readonly shard: number;
  readonly partitions: readonly number[];
  /** The journal's partitions, all shards' (see RecoveryOptions); `partitions` if not given. */
  readonly partitionCount?: number;
  readonly retention: RetentionPolicy;
  readonly walBatchRecordsMax: number;
  /** Group commits in flight at most, each on a connection of its own (1 if not given). */
  readonly commitsInFlight?: number;
  readonly snapshotEveryRecords: number;
  /** Expiries applied per sweep at most, so one sweep never stalls the mailbox for long. */
  readonly expiriesPerSweepMax: number;
  /** Requests in flight to this shard at most (the channel's bound; the reply gate's). */
  readonly inflightMax: number;
  /** How long one slice of a snapshot may stop the shard (limits.ts by default). */
  readonly snapshotSlice?: SliceBudget;
  /**
   * In a cluster, partitions come and go (`adopt`, `drop`) and a command may arrive for one that
   * just left: it is answered 503 `unavailable`. Alone, such a command is a bug (asserted).
   */
  readonly partitionsMove?: boolean;
}

export interface ShardEnvironment {
  readonly connect: () => Promise<JournalConnection>;
  /** Where snapshots are written (a thread of their own in production); else `connect`. */
  readonly connectSnapshots?: () => Promise<SnapshotConnection>;
  readonly clock: Clock;
  readonly send: (replies: ShardReply[]) => void;
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
  readonly flushed: (rows: number, durationMs: number) => void;
  /** While tracing is on: the group commit that just ended (told after `flushed`). */
  readonly lastCommit?: () => CommitTiming | undefined;
  readonly durableChanges: (changes: DurableChanges) => void;
  /**
   * Recovered partitions' every stock key, durable by definition (the HTTP thread's read view),
   * and until when that state answers stock reads exactly (see DurableChanges).
   */
  readonly census: (
    partitions: readonly number[],
    stock: StockChange[],
    readableUntilMs: number,
  ) => void;
  /** A snapshot was captured and encoded (handed to the writer): its slices (a metric). */
  readonly snapshotted?: (stats: SnapshotStats & { readonly bytes: number }) => void;
}

interface PartitionRuntime {
  readonly state: PartitionState;
  /** In a cluster: the lease epoch the partition is held under (its records carry it). */
  readonly epoch: number | undefined;
  nextLsn: number;
  /** Group-commit sequence of this partition's newest record. */
  lastSequence: number;
  /** Records since the last snapshot began (a dropped one's count back on top). */
  recordsSinceSnapshot: number;
  /** The count when the snapshot under way began (it goes back if the snapshot is dropped). */
  recordsBeforeSnapshot: number;
}

const notHereMessage = 'This partition is moving to another node; nothing was done, retry shortly.';

type Mode = 'starting' | 'serving' | 'recovering' | 'stopping' | 'stopped';

type HoldEnd = Extract<JournalRecord, { type: 'confirmed' | 'released' | 'expired' }>;

const endsHold = (record: JournalRecord): record is HoldEnd =>
  record.type === 'confirmed' || record.type === 'released' || record.type === 'expired';

/** The newest journal sequence the outcome depends on: its keys', or the partition's. */
function observedSequence(result: ApplyResult, partitionSequence: number): number {
  if (result.observed !== undefined) {
    let sequence = result.actor?.journalSequence ?? 0;
    for (const actor of result.observed) sequence = Math.max(sequence, actor.journalSequence);
    // A cart's own records (its decision) may be on no key: then the partition's newest.
    return result.writes !== undefined && result.writes.length > 0
      ? Math.max(sequence, partitionSequence)
      : sequence;
  }
  return result.actor?.journalSequence ?? partitionSequence;
}

/** A stock key's counts now. */
const countsNow = (actor: StockActor): MovementCounts => ({
  onHand: actor.onHand,
  reserved: actor.reserved,
  incoming: actor.incoming,
});

/**
 * Each record's key counts right after it, in a change of several records: the key's state now
 * is after its last record; walking back, each record's counts before it are its predecessor's
 * after (a key may have several records in one change).
 */
function countsAfterEach(writes: readonly Write[]): (MovementCounts | undefined)[] {
  const counts = new Array<MovementCounts | undefined>(writes.length);
  const walking = new Map<StockActor, MovementCounts>();
  for (let index = writes.length - 1; index >= 0; index -= 1) {
    const { record, actor } = writes[index] as Write;
    if (actor === undefined || !isMovement(record)) continue;
    const after = walking.get(actor) ?? countsNow(actor);
    counts[index] = after;
    walking.set(actor, countsBefore(record, after));
  }
  return counts;
}

/** The movement row of a record that changed a key (none for other records). */
function movementColumns(
  record: JournalRecord,
  actor: StockActor | undefined,
  counts: MovementCounts | undefined,
  callerSubject: string,
): MovementColumns | undefined {
  if (actor === undefined || !isMovement(record)) return undefined;
  const after = counts ?? countsNow(actor);
  assert(
    counts !== undefined || actor.version === record.version,
    'a lone record is not the last change of its key',
  );
  return {
    productId: record.productId,
    warehouseId: record.warehouseId,
    version: record.version,
    atMs: record.atMs,
    ...after,
    // A hold's end names who asked for it, not who made the hold (the record's requester).
    subject:
      record.type === 'confirmed' || record.type === 'released' ? callerSubject : subjectOf(record),
  };
}

/** A WAL row with only the fields it has (one shape per case, no undefined properties). */
function walRow(
  partition: number,
  lsn: number,
  payload: Uint8Array,
  movement: MovementColumns | undefined,
  epoch: number | undefined,
): WalRow {
  if (epoch === undefined) {
    return movement === undefined
      ? { partition, lsn, payload }
      : { partition, lsn, payload, movement };
  }
  return movement === undefined
    ? { partition, lsn, payload, epoch }
    : { partition, lsn, payload, movement, epoch };
}

export class Shard {
  private readonly runtimes = new Map<number, PartitionRuntime>();
  private readonly expiry = new ExpirySchedule();
  /** When keys with named lots next have a lot to write off. */
  private readonly lotWriteOffs = new LotSchedule();
  private readonly gate: ReplyGate;
  private readonly notes = new DurableNotes();
  /** Recovery, pings and group commits; `links` holds it first, then one per further commit. */
  private readonly link: JournalLink;
  private readonly links: readonly JournalLink[];
  private readonly commit: GroupCommit;
  /** Writes snapshots on a connection of its own, so they never hold up group commits. */
  private readonly snapshotWriter: SnapshotWriter;
  /** Captures and encodes snapshots a slice at a time between turns. */
  private readonly slicer: SnapshotSlicer;
  private outbox: ShardReply[] = [];
  /** The token subject of the request being applied, if it names one (its movements keep it). */
  private callerSubject = '';
  private mode: Mode = 'starting';
  private reloading: Promise<void> | undefined;
  private reconnecting: Promise<void> | undefined;
  /** The last `readableUntilMs` told (durable changes, census). */
  private toldReadableUntilMs = Number.NEGATIVE_INFINITY;
  /** Partitions being dropped (a cluster's hand-over): refused, never reloaded. */
  private readonly leaving = new Set<number>();
  /** In a cluster: the lease epoch each partition is held under. */
  private readonly leases = new Map<number, number>();
  /**
   * In a cluster: the group-commit sequence when each partition was last adopted. Rows appended
   * up to it belong to a lease held before (let go, then taken again), never to this one.
   */
  private readonly adoptedAtSequence = new Map<number, number>();
  /** Hand-overs waiting for their partitions' writes to be durable. */
  private durableWaiters: { readonly sequence: number; readonly resolve: () => void }[] = [];

  constructor(
    private readonly options: ShardOptions,
    private readonly environment: ShardEnvironment,
  ) {
    this.gate = new ReplyGate(options.inflightMax);
    this.links = Array.from(
      { length: options.commitsInFlight ?? 1 },
      () => new JournalLink(environment.connect),
    );
    this.link = this.links[0] as JournalLink;
    this.snapshotWriter = new SnapshotWriter(
      environment.connectSnapshots ?? environment.connect,
      (error) =>
        environment.log(
          'warn',
          `snapshot write failed, dropped (the WAL has it): ${error.message}`,
        ),
    );
    this.commit = new GroupCommit(
      this.links,
      {
        durable: (sequence) => this.durable(sequence),
        failed: (error) => this.failed(error),
        flushed: environment.flushed,
      },
      options.walBatchRecordsMax,
      this.snapshotWriter,
      environment.clock,
    );
    this.slicer = new SnapshotSlicer(
      environment.clock,
      options.snapshotSlice ?? {
        sliceMs: snapshotSliceMs,
        unitsPerSliceMax: snapshotSliceUnitsMax,
      },
      {
        begin: (partition) => this.beginSnapshot(partition),
        complete: (state, row, stats) => this.completeSnapshot(state, row, stats),
        dropped: (partition, state, error) => this.snapshotDropped(partition, state, error),
      },
    );
  }

  get serving(): boolean {
    return this.mode === 'serving';
  }

  /** A snapshot is under way or waiting for its turn. */
  get snapshotting(): boolean {
    return !this.slicer.idle;
  }

  /** Loads every owned partition from the journal: latest snapshot plus the WAL tail. */
  async start(): Promise<RecoveryStats> {
    const startedMs = this.environment.clock.monotonic();
    await this.reopenLinks();
    const recovered = await this.recover(this.options.partitions);
    this.mode = 'serving';
    this.census(recovered);
    let snapshots = 0;
    let records = 0;
    for (const partition of recovered.values()) {
      if (partition.snapshotLsn > 0) snapshots += 1;
      records += partition.records;
    }
    return {
      partitions: this.options.partitions.length,
      snapshots,
      records,
      durationMs: this.environment.clock.monotonic() - startedMs,
    };
  }

  /** Opens a fresh connection on every link, one after the other (a failed write's closed). */
  private async reopenLinks(): Promise<void> {
    for (const link of this.links) await link.reopen(this.closeError);
  }

  /**
   * Recovers partitions and installs them, their holds back on the expiry schedule. Rows past a
   * partition's first gap (a later group commit that committed while an earlier one failed) were
   * never acknowledged: they are removed, with their history, before the partition is written
   * again, or the next rows would collide with them (and the history show what never happened).
   */
  private async recover(partitions: readonly number[]): Promise<Map<number, RecoveredPartition>> {
    const { retention, partitionCount } = this.options;
    const recovered = await recoverPartitions(this.link, partitions, {
      retention,
      ...(partitionCount === undefined ? {} : { partitionCount }),
    });
    for (const [partition, { lastLsn, pastGap }] of recovered) {
      if (pastGap === undefined) continue;
      const epoch = this.leases.get(partition);
      const removed = await this.link.cutTail(partition, lastLsn, pastGap.movements, epoch);
      this.environment.log(
        'warn',
        `partition ${partition}: ${removed} unacknowledged rows past lsn ${lastLsn} removed`,
      );
    }
    for (const [partition, { state, snapshotLsn, lastLsn }] of recovered) {
      // Dropped while it was read back: not ours to install.
      if (this.leaving.has(partition)) {
        recovered.delete(partition);
        continue;
      }
      this.runtimes.set(partition, {
        state,
        epoch: this.leases.get(partition),
        nextLsn: lastLsn + 1,
        lastSequence: 0,
        recordsSinceSnapshot: lastLsn - snapshotLsn,
        recordsBeforeSnapshot: 0,
      });
      for (const [slot, serial, expiresAtMs] of state.pendingExpiries()) {
        this.expiry.schedule(partition, serial, expiresAtMs, slot);
      }
      for (const actor of state.actors.values()) this.noteLots(partition, actor);
    }
    return recovered;
  }

  /** Tells what the recovered partitions hold, key by key: all of it is durable. */
  private census(recovered: ReadonlyMap<number, RecoveredPartition>): void {
    const stock: StockChange[] = [];
    for (const { state } of recovered.values()) {
      for (const actor of state.actors.values()) {
        const { onHand, reserved, version, incoming } = actor;
        const counts = [onHand, reserved, version, incoming] as const;
        const lots = actor.lots !== undefined;
        stock.push(stockChangeOf(actor.productId, actor.warehouseId, counts, lots));
      }
    }
    this.toldReadableUntilMs = this.readableUntilMs();
    this.environment.census([...recovered.keys()], stock, this.toldReadableUntilMs);
  }

  /** Applies a batch of commands in arrival order; replies leave once what they saw is durable. */
  handle(requests: readonly ShardRequest[]): void {
    if (this.mode !== 'serving') {
      for (const request of requests) this.outbox.push(this.unavailable(request.id));
      this.sendOutbox();
      return;
    }
    const nowMs = this.environment.clock.now();
    this.sweep(nowMs);
    const durableSequence = this.commit.durableSequence;
    for (const request of requests) {
      const runtime = this.runtimes.get(request.partition);
      if (runtime === undefined || this.leaving.has(request.partition)) {
        if (this.options.partitionsMove !== true) {
          fail(`shard ${this.options.shard} got partition ${request.partition}`);
        }
        this.outbox.push(
          merged(failure(request.id, 'unavailable', notHereMessage), { moved: true }),
        );
        continue;
      }
      const refusal = this.refusal(request);
      if (refusal !== undefined) {
        this.outbox.push(refusal);
        continue;
      }
      const command = request.command;
      this.callerSubject =
        command.kind === 'confirm' || command.kind === 'release' || command.kind === 'cart-holds'
          ? (command.subject ?? '')
          : '';
      const result = runtime.state.apply(command, nowMs);
      if (result.record !== undefined) this.journal(runtime, result.record, result.actor, false);
      else if (result.writes !== undefined && result.writes.length > 0)
        this.journalGroup(runtime, result.writes);
      if (request.command.kind === 'cart-place') this.countSplits(result);
      const sequence = observedSequence(result, runtime.lastSequence);
      this.gate.pass(
        sequence,
        durableSequence,
        { id: request.id, outcome: result.outcome },
        this.outbox,
      );
    }
    this.sendOutbox();
  }

  /** Lines of placed carts that allocation split over several warehouses (a metric). */
  allocationSplits = 0;
  /** Units of lots written off, durably (read by the worker's metrics at each scrape). */
  lotUnitsWrittenOff = 0;
  /** Write-offs journaled and not yet durable: [group-commit sequence, units]. */
  private writeOffsPending: [sequence: number, units: number][] = [];

  private countSplits(result: ApplyResult): void {
    const outcome = result.outcome;
    if (!outcome.ok || !('cart' in outcome) || result.writes === undefined) return;
    const lines = new Map<number, number>();
    for (const hold of outcome.cart.holds) lines.set(hold.line, (lines.get(hold.line) ?? 0) + 1);
    for (const holds of lines.values()) if (holds > 1) this.allocationSplits += 1;
  }

  /** Prepared holds of carts not known decided, over every partition (a metric). */
  get cartHoldsInDoubt(): number {
    let holds = 0;
    for (const runtime of this.runtimes.values()) {
      for (const entry of runtime.state.carts.inDoubt.values()) holds += entry.holdIds.size;
      for (const entry of runtime.state.carts.pinned.values()) holds += entry.holdIds.size;
    }
    return holds;
  }

  /** A bound that refuses the request before it is applied (503 overloaded), if one is hit. */
  private refusal(request: ShardRequest): ShardReply | undefined {
    // Room is kept for two sweeps, so expiries never have to wait for commands to drain.
    const rowsMax = walPendingRecordsMax - 2 * this.options.expiriesPerSweepMax;
    if (this.commit.pendingRows >= rowsMax) {
      return failure(request.id, 'overloaded', 'The journal is behind; retry shortly.');
    }
    const kind = request.command.kind;
    if ((kind === 'reserve' || kind === 'cart-place') && this.expiry.full) {
      return failure(request.id, 'overloaded', 'The shard holds as many holds as it may.');
    }
    return undefined;
  }

  private unavailable(id: number): ShardReply {
    const message =
      this.mode === 'recovering' || this.mode === 'starting'
        ? 'The shard is recovering its partitions from the journal; retry shortly.'
        : 'The ledger is shutting down.';
    return failure(id, 'unavailable', message);
  }

  /**
   * Journals one record of a change; `actor` is the key it changed (none for a product's or a
   * cart's record); `swept` when the expiry schedule itself expired it. `grouped`: more records
   * of the same change follow, which must reach the journal in the same write.
   */
  private journal(
    runtime: PartitionRuntime,
    record: JournalRecord,
    actor: StockActor | undefined,
    swept: boolean,
    grouped = false,
    counts?: MovementCounts,
  ): void {
    checkRecord(record);
    const { partition } = runtime.state;
    const lsn = runtime.nextLsn;
    runtime.nextLsn += 1;
    const movement = movementColumns(record, actor, counts, swept ? '' : this.callerSubject);
    const payload = encodeRecord(record);
    const row = walRow(partition, lsn, payload, movement, runtime.epoch);
    const sequence = this.commit.append(row, grouped);
    if (actor !== undefined) actor.journalSequence = sequence;
    runtime.lastSequence = sequence;
    this.notes.add(sequence, partition, lsn, actor, endedHoldMs(runtime.state, record));
    if (actor !== undefined) this.noteLots(partition, actor);
    if (record.type === 'reserved' || record.type === 'extended') {
      // By its slot in the partition's store and its serial there, not its id: a string for each
      // pending hold would be most of what the collector marks on a hot shard (pending-holds.ts).
      const slot = runtime.state.holdSlot(record.reservationId);
      if (slot >= 0) {
        this.expiry.schedule(partition, runtime.state.holdSerial(slot), record.expiresAtMs, slot);
      }
    }
    if (record.type === 'extended' || (endsHold(record) && !swept)) {
      this.expiry.finishedEarly(this.isPending);
    }
    runtime.recordsSinceSnapshot += 1;
    if (!grouped && runtime.recordsSinceSnapshot >= this.snapshotInterval(runtime.state))
      this.snapshot(runtime);
  }

  /** A change of several records (a cart): one group, written whole or not at all. */
  private journalGroup(runtime: PartitionRuntime, writes: readonly Write[]): void {
    const counts = countsAfterEach(writes);
    writes.forEach(({ record, actor }, index) => {
      this.journal(runtime, record, actor, false, index < writes.length - 1, counts[index]);
    });
  }

  /** A partition's runtime, unless it is being handed over (then nothing more is written). */
  private servedRuntime(partition: number): PartitionRuntime | undefined {
    return this.leaving.has(partition) ? undefined : this.runtimes.get(partition);
  }

  /** The id of a scheduled hold ('' for a stale entry): holds due together expire in id order. */
  private readonly dueHoldId = (entry: DueEntry<number>): string =>
    this.runtimes.get(entry.partition)?.state.holdIdAt(entry.tag, entry.key) ?? '';

  private readonly isPending = (entry: DueEntry<number>): boolean =>
    this.runtimes.get(entry.partition)?.state.isPendingHold(entry.tag, entry.key) === true;

  /** Expires due holds. Each expiry is journaled like any change; nobody waits for its reply. */
  sweep(nowMs: number): number {
    if (this.mode !== 'serving') return 0;
    // Commands stop two sweeps short of the bound; a sweep stops one short.
    if (this.commit.pendingRows > walPendingRecordsMax - this.options.expiriesPerSweepMax) return 0;
    const startedMs = this.environment.clock.monotonic();
    const nextDueMs = this.expiry.nextDueMs;
    const expired = this.sweepDue(nowMs, startedMs);
    // Stale entries popped without a record move the bound too: say so now, not at a commit.
    // Nothing popped (every batch's sweep, mostly): the bound did not move, no scan of the notes.
    if (this.expiry.nextDueMs !== nextDueMs) this.tellReadableUntil(undefined);
    // Holds first: one ending at a lot's end gives its units back before the lot is written off.
    const writtenOff = this.sweepLots(nowMs, this.options.expiriesPerSweepMax - expired, startedMs);
    return expired + writtenOff;
  }

  /** A sweep waiting for the next turn (a storm is swept a slice at a time). */
  private sweepDeferred = false;

  /**
   * Whether the sweep has stopped the shard long enough: it then goes on in a later turn (a
   * storm of 10,000 due holds swept at once stopped the shard for tens of ms), after whatever
   * arrived meanwhile. What is left stays due in the schedule (and bounds the read view).
   */
  private sweptLong(startedMs: number): boolean {
    if (this.environment.clock.monotonic() - startedMs < sweepSliceMs) return false;
    if (!this.sweepDeferred) {
      this.sweepDeferred = true;
      this.environment.clock.defer(() => {
        this.sweepDeferred = false;
        this.sweep(this.environment.clock.now());
      });
    }
    return true;
  }

  /** A key with named lots: its next write-off goes on the schedule. */
  private noteLots(partition: number, actor: StockActor): void {
    const book = actor.lots;
    if (book === undefined) return;
    const { productId, warehouseId } = actor;
    this.lotWriteOffs.note({ partition, productId, warehouseId }, book.writeOffDueMs());
  }

  /**
   * Writes off the lots whose day is over: each one's unheld units, one record per lot, journaled
   * like any change (nobody waits for a reply). Keys with named lots are read by their shard,
   * never from the read view, so no read bound moves. Returns the keys written off.
   */
  private sweepLots(nowMs: number, max: number, startedMs: number): number {
    let done = 0;
    while (done < max && this.lotWriteOffs.nextDueMs <= nowMs) {
      if (this.sweptLong(startedMs)) break;
      const batch = Math.min(sweepBatch, max - done);
      done += this.lotWriteOffs.sweep(nowMs, batch, (key) => this.writeOffKey(key, nowMs));
    }
    return done;
  }

  private writeOffKey(key: LotWriteOffKey, nowMs: number): boolean {
    const runtime = this.servedRuntime(key.partition);
    const result = runtime?.state.writeOffLots(key.productId, key.warehouseId, nowMs);
    if (runtime === undefined || result?.writes === undefined) return false;
    // One group: a snapshot never lands between the key's write-offs (all applied already).
    this.journalGroup(runtime, result.writes);
    let units = 0;
    for (const { record } of result.writes) {
      if (record.type === 'lot-expired') units += record.quantity;
    }
    this.writeOffsPending.push([runtime.lastSequence, units]);
    return true;
  }

  private sweepDue(nowMs: number, startedMs: number): number {
    const max = this.options.expiriesPerSweepMax;
    let expired = 0;
    // The slice is looked at after a batch, not before the first: a sweep always makes progress.
    // Checked first, a thread that lost its core for a millisecond right after `startedMs` swept
    // nothing, and a read in the same batch saw holds already due as still held.
    while (expired < max && this.expiry.nextDueMs <= nowMs) {
      const batch = Math.min(sweepBatch, max - expired);
      expired += this.expiry.sweep(
        nowMs,
        batch,
        (entry) => this.expireDue(entry, nowMs),
        this.dueHoldId,
      );
      if (this.expiry.nextDueMs <= nowMs && this.sweptLong(startedMs)) break;
    }
    return expired;
  }

  private expireDue(entry: DueEntry<number>, nowMs: number): boolean {
    const runtime = this.servedRuntime(entry.partition);
    const result = runtime?.state.expireHold(entry.tag, entry.key, nowMs);
    if (runtime === undefined || result?.record === undefined) {
      // A hold pinned by its cart's confirm attempt waits for the attempt's decision: it is
      // looked at again a little later (confirmed by then, or unpinned and due).
      if (runtime?.state.isPinnedHold(entry.tag, entry.key) === true) {
        this.expiry.schedule(entry.partition, entry.key, nowMs + pinnedRecheckMs, entry.tag);
      }
      return false;
    }
    this.journal(runtime, result.record, result.actor, true);
    return true;
  }

  /**
   * A snapshot costs time in proportion to the partition's size (in slices, on this thread).
   * Taking one only after at least as many records as it holds entries keeps that cost at most
   * one entry per record, and a recovery's WAL tail no longer than the snapshot it starts from.
   */
  private snapshotInterval(state: PartitionState): number {
    const entries = state.actors.size + state.holdCount;
    return Math.max(this.options.snapshotEveryRecords, entries);
  }

  /** Asks for a snapshot of the partition, unless one is under way or waiting. */
  private snapshot(runtime: PartitionRuntime): void {
    const { partition } = runtime.state;
    if (!this.slicer.has(partition)) void this.slicer.request(partition);
  }

  /**
   * A snapshot of the partition begins now, at its newest LSN: called between turns, where
   * every change applied is journaled, so the state is exactly the records up to that LSN.
   */
  private beginSnapshot(partition: number): { state: PartitionState; lsn: number } | undefined {
    const runtime = this.runtimes.get(partition);
    const lsn = runtime === undefined ? 0 : runtime.nextLsn - 1;
    if (runtime === undefined || lsn === 0 || this.mode !== 'serving') return undefined;
    runtime.recordsBeforeSnapshot = runtime.recordsSinceSnapshot;
    runtime.recordsSinceSnapshot = 0;
    return { state: runtime.state, lsn };
  }

  private completeSnapshot(
    state: PartitionState,
    row: SnapshotWrite,
    stats: SnapshotStats,
  ): boolean {
    // A partition reloaded since (a failed write) has another state: this one may hold records
    // that never became durable. (A failure drops every snapshot under way anyway.)
    if (this.runtimes.get(row.partition)?.state !== state || this.mode !== 'serving') return false;
    // Written once every record appended so far (those up to its LSN among them) is durable.
    this.commit.addSnapshot(row);
    this.environment.snapshotted?.(merged(stats, { bytes: snapshotBytes(row) }));
    return true;
  }

  private snapshotDropped(partition: number, state: PartitionState, error?: unknown): void {
    const runtime = this.runtimes.get(partition);
    if (runtime?.state === state) runtime.recordsSinceSnapshot += runtime.recordsBeforeSnapshot;
    if (error !== undefined) {
      this.environment.log('error', `snapshot of partition ${partition} dropped: ${String(error)}`);
    }
  }

  /**
   * Snapshots every partition changed since its last snapshot began (and waits for one under
   * way); resolves once written, with the number written (a failed write is logged and not
   * counted).
   */
  async snapshotAll(): Promise<number> {
    const failuresBefore = this.snapshotWriter.failures;
    const requested: Promise<boolean>[] = [];
    for (const [partition, runtime] of this.runtimes) {
      if (runtime.recordsSinceSnapshot > 0) requested.push(this.slicer.request(partition));
      else requested.push(this.slicer.whenDone(partition));
    }
    const taken = (await Promise.all(requested)).filter((done) => done).length;
    await this.whenIdle();
    return Math.max(0, taken - (this.snapshotWriter.failures - failuresBefore));
  }

  /** Resolves when nothing is pending, in flight or queued for snapshots (or a write failed). */
  private async whenIdle(): Promise<void> {
    while (!this.commit.idle && !this.commit.failed) {
      await this.commit.whenSettled();
      await this.snapshotWriter.whenIdle();
    }
  }

  /** Resolves once every record up to `sequence` is durable, or a write failed. */
  private durableUpTo(sequence: number): Promise<void> {
    if (this.commit.durableSequence >= sequence || this.commit.failed) return Promise.resolve();
    return new Promise((resolve) => this.durableWaiters.push({ sequence, resolve }));
  }

  private settleDurableWaiters(failed: boolean): void {
    const durable = this.commit.durableSequence;
    this.durableWaiters = this.durableWaiters.filter((waiter) => {
      if (!failed && waiter.sequence > durable) return true;
      waiter.resolve();
      return false;
    });
  }

  private durable(sequence: number): void {
    if (this.durableWaiters.length > 0) this.settleDurableWaiters(false);
    this.tellReadableUntil(this.notes.take(sequence));
    while (this.writeOffsPending.length > 0 && (this.writeOffsPending[0]?.[0] ?? 0) <= sequence) {
      this.lotUnitsWrittenOff += this.writeOffsPending.shift()?.[1] ?? 0;
    }
    this.gate.release(sequence, this.outbox, this.environment.lastCommit?.());
    this.sendOutbox();
  }

  /**
   * Until when the journal's state of this shard's keys is exact for a stock read: before the
   * earliest expiry of a hold that is pending in the journal (scheduled, or ended by a change not
   * yet durable). Told with each durable change, and whenever it moved.
   */
  private readableUntilMs(): number {
    return Math.min(this.expiry.nextDueMs, this.notes.earliestEndedHoldMs);
  }

  private tellReadableUntil(changes: Omit<DurableChanges, 'readableUntilMs'> | undefined): void {
    const readableUntilMs = this.readableUntilMs();
    if (changes === undefined && readableUntilMs === this.toldReadableUntilMs) return;
    this.toldReadableUntilMs = readableUntilMs;
    this.environment.durableChanges({
      durableLsns: changes?.durableLsns ?? [],
      stock: changes?.stock ?? [],
      readableUntilMs,
    });
  }

  private sendOutbox(): void {
    if (this.outbox.length === 0) return;
    const replies = this.outbox;
    this.outbox = [];
    this.environment.send(replies);
  }

  /**
   * Carts with holds in doubt here for longer than a coordinator takes (none while not serving:
   * a partition reloading has nothing to say yet). At most `cartsInDoubtPerAnswerMax`.
   */
  cartsInDoubt(nowMs: number): CartInDoubt[] {
    const carts: CartInDoubt[] = [];
    if (this.mode !== 'serving') return carts;
    for (const [partition, runtime] of this.runtimes) {
      for (const [cartId, entry] of runtime.state.carts.inDoubt) {
        if (entry.sinceMs > nowMs - cartInDoubtAfterMs) continue;
        carts.push({ partition, cartId });
        if (carts.length >= cartsInDoubtPerAnswerMax) return carts;
      }
      for (const [cartId, entry] of runtime.state.carts.pinned) {
        if (entry.sinceMs > nowMs - cartInDoubtAfterMs) continue;
        carts.push({ partition, cartId, attempt: entry.attempt });
        if (carts.length >= cartsInDoubtPerAnswerMax) return carts;
      }
    }
    return carts;
  }

  /** Serving, and the journal answers a round trip (readiness: "the journal is writable"). */
  async journalWritable(): Promise<boolean> {
    if (this.mode !== 'serving') return false;
    try {
      await this.link.ping();
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
    this.settleDurableWaiters(true);
    if (this.mode === 'serving') this.mode = 'recovering';
    // Snapshots under way may reflect records that will not be durable: dropped, all of them.
    this.slicer.cancelAll();
    this.gate.failAll(this.outbox);
    // Changes not known durable are never shown; whatever did commit is read back on reload.
    this.notes.clear();
    // Not known durable: recovery writes them off again if they did not land.
    this.writeOffsPending = [];
    this.sendOutbox();
    const durable = this.commit.durableSequence;
    const affected: number[] = [];
    for (const [partition, runtime] of this.runtimes) {
      if (runtime.lastSequence > durable) affected.push(partition);
    }
    for (const partition of affected) this.runtimes.delete(partition);
    this.expiry.dropPartitions(new Set(affected));
    this.lotWriteOffs.dropPartitions(new Set(affected));
    // A write refused for lost leases: those partitions are another node's now, never reloaded.
    // Not one taken again since rows of its earlier lease were appended: the refusal may be for
    // those rows only (dropped now, like every pending row). If its lease now is lost too, its
    // next write is refused alone; meanwhile the keeper's validity keeps commands away from it.
    const lost = new Set(
      (leasesLost(error) ?? []).filter(
        (partition) => (this.adoptedAtSequence.get(partition) ?? 0) <= durable,
      ),
    );
    for (const partition of lost) this.leaving.add(partition);
    this.reloading = this.reload(affected.filter((partition) => !lost.has(partition)));
  }

  /**
   * A cluster hands partitions to this shard: each is recovered from the journal (latest
   * snapshot and WAL tail) while the others keep serving, then told in a census.
   */
  async adopt(leases: ReadonlyMap<number, number>): Promise<RecoveryStats> {
    const partitions = [...leases.keys()];
    const startedMs = this.environment.clock.monotonic();
    // One still being let go is read back afresh: its schedules were no longer kept.
    this.forget(partitions.filter((partition) => this.leaving.has(partition)));
    for (const partition of partitions) this.leaving.delete(partition);
    const fresh = partitions.filter((partition) => !this.runtimes.has(partition));
    for (const [partition, epoch] of leases) this.leases.set(partition, epoch);
    for (const partition of fresh) {
      this.adoptedAtSequence.set(partition, this.commit.appendedSequence);
    }
    const recovered = await this.recover(fresh);
    const heads = new Map<number, number>();
    for (const [partition, { lastLsn }] of recovered) heads.set(partition, lastLsn);
    this.commit.follow(heads);
    this.census(recovered);
    let snapshots = 0;
    let records = 0;
    for (const partition of recovered.values()) {
      if (partition.snapshotLsn > 0) snapshots += 1;
      records += partition.records;
    }
    const durationMs = this.environment.clock.monotonic() - startedMs;
    return { partitions: recovered.size, snapshots, records, durationMs };
  }

  /**
   * A cluster takes partitions from this shard. From now on their commands are refused; with
   * `handOver`, their writes in flight finish and a snapshot is taken (the next owner recovers
   * from it quickly) before their memory goes; without (the lease is already lost), it goes at
   * once: nothing of it may be written or answered any more.
   */
  async drop(partitions: readonly number[], handOver: boolean): Promise<void> {
    for (const partition of partitions) this.leaving.add(partition);
    if (handOver && this.mode === 'serving') {
      const snapshots: Promise<boolean>[] = [];
      for (const partition of partitions) {
        const runtime = this.runtimes.get(partition);
        if (runtime !== undefined && runtime.recordsSinceSnapshot > 0) {
          snapshots.push(this.slicer.request(partition));
        }
      }
      await Promise.all(snapshots);
      let last = 0;
      for (const partition of partitions) {
        last = Math.max(last, this.runtimes.get(partition)?.lastSequence ?? 0);
      }
      await this.durableUpTo(last);
    }
    // One adopted again meanwhile (a hand-over that turned back) is kept.
    this.forget(partitions.filter((partition) => this.leaving.has(partition)));
  }

  /** Drops partitions' memory and schedules (they stay `leaving` until adopted again). */
  private forget(partitions: readonly number[]): void {
    const gone = new Set(partitions);
    for (const partition of gone) {
      this.runtimes.delete(partition);
      this.leases.delete(partition);
      this.adoptedAtSequence.delete(partition);
    }
    this.expiry.dropPartitions(gone);
    this.lotWriteOffs.dropPartitions(gone);
    this.commit.forget(gone);
  }

  private async reload(partitions: readonly number[]): Promise<void> {
    let delayMs = 50;
    for (let attempt = 1; this.mode === 'recovering'; attempt += 1) {
      try {
        await this.reopenLinks();
        // A stop that began while connecting wins: never go back to serving after it.
        if (this.mode !== 'recovering') return;
        const recovered = await this.recover(partitions);
        const heads = new Map<number, number>();
        for (const [partition, { lastLsn }] of recovered) heads.set(partition, lastLsn);
        this.commit.resume(heads);
        if (this.mode !== 'recovering') return;
        this.mode = 'serving';
        this.census(recovered);
        this.environment.log('info', `recovered ${partitions.length} partitions`);
        return;
      } catch (error) {
        if (error instanceof AssertionError) throw error;
        for (const partition of partitions) this.runtimes.delete(partition);
        this.expiry.dropPartitions(new Set(partitions));
        this.lotWriteOffs.dropPartitions(new Set(partitions));
        this.environment.log('warn', `recovery attempt ${attempt} failed: ${String(error)}`);
        await this.environment.clock.sleep(delayMs);
        delayMs = Math.min(delayMs * 2, journalRetryDelayMsMax);
      }
    }
  }

  private readonly closeError = (error: unknown): void => {
    this.environment.log('warn', `closing a journal connection: ${String(error)}`);
  };

  /** Drains: refuses new work, lets pending writes finish, snapshots, closes the connection. */
  async stop(): Promise<void> {
    if (this.mode === 'serving') {
      await this.whenIdle();
      await this.snapshotAll();
    }
    this.mode = 'stopping';
    this.slicer.close();
    await this.whenIdle();
    // A reload under way notices the stop at its next step; wait for it to let go.
    await this.reloading;
    await this.reconnecting;
    this.mode = 'stopped';
    await this.snapshotWriter.close();
    for (const link of this.links) await link.close(this.closeError);
  }

  /**
   * Replaces a journal connection that stopped answering while nothing was being written (an
   * idle connection killed by the server or a network hiccup). Everything in memory is durable
   * then, so no reload is needed. A write that fails on the old one takes the reload path.
   */
  private async reconnect(): Promise<void> {
    if (this.mode !== 'serving' || this.reconnecting !== undefined) return;
    this.reconnecting = this.link.replace(this.closeError).then(
      (replaced) => {
        if (replaced) this.environment.log('info', 'journal connection replaced');
      },
      (error: unknown) =>
        this.environment.log('warn', `journal reconnect failed: ${String(error)}`),
    );
    await this.reconnecting;
    this.reconnecting = undefined;
  }
}

/** For a record that ends a hold: the hold's expires_at (the read view's bound). */
function endedHoldMs(state: PartitionState, record: JournalRecord): number {
  if (!endsHold(record)) return Number.POSITIVE_INFINITY;
  return state.holdExpiresAtMs(record.reservationId) ?? 0;
}
