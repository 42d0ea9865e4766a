// The deterministic simulator of the durability core (TigerBeetle's VOPR is the model): the real
// Shard (actors, group commit, reply gate, recovery, expiry schedule, snapshots) driven from one
// seed, with an in-memory journal whose every completion the simulator decides, a virtual clock,
// and crashes at any step. After every step it checks that no reply left before what it observed
// was durable, that the reference model agrees with every answer, that every acknowledged change
// survives every crash exactly once, and that the invariants hold.
import type { ShardRequest } from '../../src/shards/protocol.js';
import { Shard } from '../../src/shards/shard.js';
import type { ShardReply, ShardOutcome, StockChange } from '../../src/shards/index.js';
import { decodeRecord } from '../../src/persistence/index.js';
import { partitionOf } from '../../src/router/index.js';
import { expiriesPerSweepMax } from '../../src/limits.js';
import type { Outcome } from '../../src/actors/index.js';
import { modelReplyOf } from '../helpers/actor-fixtures.js';
import { replyMismatch } from '../model/reference-ledger.js';
import { MemoryJournal, type Completion } from './memory-journal.js';
import { Mirror, keyOf, type Applied, type SentRequest } from './mirror.js';
import { Random } from './random.js';
import { SimClock, SimTime } from './sim-clock.js';
import { runSteps, SimLog, type SeededResult, type SimulatorName } from './seed-runs.js';
import { drain, isAssertion, show } from './sim-support.js';
import { Workload, type SimRequest } from './workload.js';

export interface SimProfile {
  readonly partitions: number;
  readonly products: number;
  readonly warehouses: number;
  readonly hotShare: number;
  readonly expiriesPerSweepMax: number;
  readonly snapshotEveryRecords: number;
  readonly walBatchRecordsMax: number;
  /** Share of journal completions that fail (error, or connection lost before/after). */
  readonly faultRate: number;
  /** Weight of a crash (kill -9) among the steps. */
  readonly crashWeight: number;
  /** Requests in flight at most (the channel's bound in production). */
  readonly inflightMax: number;
  /** Values one slice of a snapshot captures at most (the virtual clock stands still). */
  readonly snapshotSliceUnits: number;
  /** Group commits in flight at most, each on a connection of its own. */
  readonly commitsInFlight: number;
}

export function profileFor(random: Random): SimProfile {
  return {
    partitions: random.pick([1, 4, 8]),
    products: random.pick([1, 3, 6]),
    warehouses: random.pick([1, 2, 3]),
    hotShare: random.pick([0, 0.5, 0.9]),
    expiriesPerSweepMax: random.pick([1, 3, expiriesPerSweepMax]),
    snapshotEveryRecords: random.pick([2, 7, 40, 100_000]),
    walBatchRecordsMax: random.pick([1, 3, 4096]),
    faultRate: random.pick([0, 0.03, 0.1]),
    crashWeight: random.pick([0, 0.4, 1.5]),
    inflightMax: random.pick([4, 32]),
    snapshotSliceUnits: random.pick([1, 5, 64, 1_000_000]),
    commitsInFlight: random.pick([1, 2, 3]),
  };
}

/** Where a failure of this simulator says to replay it. */
const simulatorName: SimulatorName = {
  label: 'simulation',
  testFile: 'test/sim/simulator.test.ts',
  cliFile: 'test/sim/run-sim.ts',
};

interface Incarnation {
  readonly id: number;
  readonly clock: SimClock;
  readonly shard: Shard;
  alive: boolean;
  /** start() failed with an operating error: the host would start a new thread. */
  startFailed: boolean;
  wasServing: boolean;
}

interface Flight {
  readonly request: SimRequest;
  readonly incarnation: number;
  /** The model's answer, when the shard was serving as it took the request. */
  readonly applied: Applied | undefined;
}

const retention = {
  // Long enough that nothing is forgotten within a run: the model never forgets.
  retainFinishedMs: 1e12,
  retainFinishedMax: 1_000_000_000,
  onHandMax: 1_000_000_000_000,
};

const t0 = 1_800_000_000_000;

export class Simulation {
  readonly random: Random;
  readonly profile: SimProfile;
  private readonly log: SimLog;
  private readonly time = new SimTime(t0);
  private readonly journal = new MemoryJournal();
  private readonly mirror: Mirror;
  private readonly workload: Workload;
  private readonly partitions: number[];
  private incarnation: Incarnation;
  private incarnations = 0;
  private readonly flights = new Map<number, Flight>();
  private requests = 0;
  private readonly sent = new Map<string, SentRequest>();
  /** Trace ids of acknowledged changes: each must be in the journal exactly once, forever. */
  private readonly acked = new Set<string>();
  private readonly durableVersions = new Map<string, number>();
  /** Holds pending in the journal (durably), with their expires_at. */
  private readonly durablePending = new Map<string, number>();
  /** The version each durable request's record gave its stock key, by trace id. */
  private readonly durableTraceVersions = new Map<string, number>();
  private census: SimRequest[] = [];
  private faultsOn = true;
  readonly counts = {
    steps: 0,
    replies: 0,
    acknowledged: 0,
    unavailable: 0,
    crashes: 0,
    writeFailures: 0,
    recoveries: 0,
    censusReads: 0,
    expiredBySweep: 0,
    lostInCrash: 0,
    snapshots: 0,
    snapshotSlices: 0,
    crashesMidSnapshot: 0,
    /** Rebuilds (crash or failed write) that found rows past a gap in the journal. */
    gapsFound: 0,
  };

  constructor(
    readonly seed: number,
    keepTrace: boolean,
  ) {
    this.log = new SimLog(simulatorName, seed, keepTrace);
    this.random = new Random(seed);
    this.profile = profileFor(this.random);
    this.partitions = Array.from({ length: this.profile.partitions }, (_, index) => index);
    this.mirror = new Mirror(this.partitions);
    this.workload = new Workload(this.random, this.profile, (productId) =>
      partitionOf(productId, this.profile.partitions),
    );
    this.journal.onLanded = (rows) => {
      for (const row of rows) {
        const record = decodeRecord(row.payload);
        if (record.type === 'settings' || record.type === 'cart' || record.type === 'cart-confirm')
          continue;
        const key = keyOf(record.productId, record.warehouseId);
        this.durableVersions.set(key, Math.max(this.durableVersions.get(key) ?? 0, record.version));
        if (record.traceId !== '') this.durableTraceVersions.set(record.traceId, record.version);
        if (record.type === 'reserved') {
          this.durablePending.set(record.reservationId, record.expiresAtMs);
        } else if (
          record.type !== 'adjusted' &&
          record.type !== 'extended' &&
          record.type !== 'transfer' &&
          record.type !== 'lot-expired'
        ) {
          this.durablePending.delete(record.reservationId);
        }
      }
    };
    this.log.note(`profile ${JSON.stringify(this.profile)}`);
    this.incarnation = this.startIncarnation();
  }

  // ---- Running. ----

  run(steps: number): Promise<SeededResult> {
    return runSteps(this.log, steps, {
      start: () => this.settle(),
      step: () => this.step(),
      finish: () => this.finish(),
      counts: () => ({ ...this.counts }),
    });
  }

  get traceLines(): readonly string[] {
    return this.log.traceLines;
  }

  private async step(): Promise<void> {
    this.log.step += 1;
    this.counts.steps += 1;
    const kind = this.random.weighted(this.stepWeights());
    try {
      await this.take(kind);
    } catch (error) {
      this.log.fail(`${kind} threw: ${show(error)}`);
    }
    await drain();
    await this.afterStep();
  }

  private stepWeights() {
    const incarnation = this.incarnation;
    const crashes = this.faultsOn ? this.profile.crashWeight : 0;
    return {
      deliver: this.flights.size < this.profile.inflightMax ? 20 : 0,
      defer: incarnation.clock.deferredCount > 0 ? 25 : 0,
      complete: this.journal.busyConnections().length > 0 ? 35 : 0,
      connect: this.journal.pendingConnects > 0 ? 15 : 0,
      tick: 6,
      jump: 0.6,
      sweep: 6,
      ping: 1.5,
      snapshot: 0.7,
      crash: crashes,
      restart: incarnation.startFailed ? 50 : 0,
    };
  }

  private async take(kind: keyof ReturnType<Simulation['stepWeights']>): Promise<void> {
    const incarnation = this.incarnation;
    switch (kind) {
      case 'deliver':
        return this.deliver(this.random.int(1, 6));
      case 'defer':
        this.log.note(`turn ends: ${incarnation.clock.runDeferred()} deferred`);
        return;
      case 'complete':
        return this.completeQuery();
      case 'connect':
        return this.completeConnect();
      case 'tick':
        return this.advance(this.random.int(1, 300));
      case 'jump':
        // An expiry storm: every hold of the last minutes comes due at once.
        return this.advance(this.random.int(30_000, 700_000));
      case 'sweep':
        return this.sweep();
      case 'ping':
        this.log.note('ping');
        void incarnation.shard.journalWritable();
        return;
      case 'snapshot':
        this.log.note('snapshot all');
        void incarnation.shard.snapshotAll();
        return;
      case 'crash':
        return this.crash();
      case 'restart':
        this.log.note(`restart after a failed start of i${incarnation.id}`);
        incarnation.alive = false;
        incarnation.clock.kill();
        this.incarnation = this.startIncarnation();
        return;
    }
  }

  // ---- The shard's incarnations. ----

  private startIncarnation(): Incarnation {
    this.incarnations += 1;
    const id = this.incarnations;
    const clock = new SimClock(this.time);
    const shard = new Shard(
      {
        shard: 0,
        partitions: this.partitions,
        retention,
        walBatchRecordsMax: this.profile.walBatchRecordsMax,
        commitsInFlight: this.profile.commitsInFlight,
        snapshotEveryRecords: this.profile.snapshotEveryRecords,
        expiriesPerSweepMax: this.profile.expiriesPerSweepMax,
        inflightMax: this.profile.inflightMax + 1024,
        snapshotSlice: { sliceMs: 1, unitsPerSliceMax: this.profile.snapshotSliceUnits },
      },
      {
        connect: () => this.journal.connect(id),
        clock,
        send: (replies) => {
          if (incarnation.alive) this.replies(incarnation, replies);
        },
        log: (level, message) => {
          if (level !== 'info') this.log.note(`i${id} ${level}: ${message}`);
        },
        flushed: () => undefined,
        snapshotted: ({ slices }) => {
          if (!incarnation.alive) return;
          this.counts.snapshots += 1;
          this.counts.snapshotSlices += slices;
        },
        durableChanges: (changes) => {
          if (!incarnation.alive) return;
          this.told(changes.stock);
          this.readableUntilTold(changes.readableUntilMs);
        },
        census: (partitions, stock, readableUntilMs) => {
          if (!incarnation.alive) return;
          this.censusTold(partitions, stock);
          this.readableUntilTold(readableUntilMs);
        },
      },
    );
    const incarnation: Incarnation = {
      id,
      clock,
      shard,
      alive: true,
      startFailed: false,
      wasServing: false,
    };
    this.log.note(`incarnation i${id} starts`);
    shard.start().then(
      () => this.log.note(`i${id} recovered`),
      (error: unknown) => {
        if (!incarnation.alive) return;
        if (isAssertion(error)) this.log.fail(`recovery asserted: ${show(error)}`);
        else {
          this.log.note(`i${id} start failed: ${show(error)}`);
          incarnation.startFailed = true;
        }
      },
    );
    return incarnation;
  }

  private async crash(): Promise<void> {
    const dead = this.incarnation;
    // The snapshot under way, if any, dies with it: the previous one stays in force.
    if (dead.shard.snapshotting) this.counts.crashesMidSnapshot += 1;
    dead.alive = false;
    dead.clock.kill();
    const notes = this.journal.killIncarnation(dead.id, () => this.random.chance(0.5));
    let lost = 0;
    for (const [id, flight] of this.flights) {
      if (flight.incarnation !== dead.id) continue;
      this.flights.delete(id);
      lost += 1;
    }
    this.counts.crashes += 1;
    this.counts.lostInCrash += lost;
    this.log.note(`CRASH i${dead.id}: ${lost} requests unanswered; ${notes.join('; ')}`);
    await this.rebuild('crash');
    this.incarnation = this.startIncarnation();
  }

  // ---- Steps. ----

  private deliver(count: number): void {
    const incarnation = this.incarnation;
    const shard = incarnation.shard;
    const serving = shard.serving;
    const nowMs = this.time.nowMs;
    if (serving) {
      const expired = this.mirror.sweep(nowMs, this.profile.expiriesPerSweepMax);
      this.counts.expiredBySweep += expired.length;
    }
    const batch: ShardRequest[] = [];
    const lines: string[] = [];
    for (let index = 0; index < count; index += 1) {
      const request = this.census.shift() ?? this.workload.next(this.knownHolds());
      this.requests += 1;
      const id = this.requests;
      this.sent.set(request.traceId, { request: request.model });
      const applied = serving
        ? this.mirror.apply(request.partition, request.model, nowMs)
        : undefined;
      this.flights.set(id, { request, incarnation: incarnation.id, applied });
      batch.push({ id, partition: request.partition, command: request.command });
      lines.push(`r${id}/${request.traceId} ${describe(request)}`);
    }
    this.log.note(
      `deliver to i${incarnation.id}${serving ? '' : ' (not serving)'}: ${lines.join(', ')}`,
    );
    shard.handle(batch);
  }

  private knownHolds(): [number, string][] {
    return this.mirror.census().holds;
  }

  private completeQuery(): void {
    const busy = this.journal.busyConnections();
    const connection = this.random.pick(busy);
    const fault = this.faultsOn ? this.profile.faultRate : 0;
    const completion = this.random.weighted<Completion>({
      ok: 1 - fault,
      error: fault / 3,
      'lost-before': fault / 3,
      'lost-after': fault / 3,
    });
    if (completion !== 'ok' && connection.headKind === 'append') this.counts.writeFailures += 1;
    this.log.note(connection.complete(completion));
  }

  private completeConnect(): void {
    const fault = this.faultsOn ? this.profile.faultRate : 0;
    const index = this.random.int(0, this.journal.pendingConnects - 1);
    this.log.note(this.journal.completeConnect(index, !this.random.chance(fault)));
  }

  private advance(ms: number): void {
    this.time.nowMs += ms;
    const fired = this.incarnation.clock.fireDue();
    this.log.note(`clock +${ms} ms${fired > 0 ? `, ${fired} timers` : ''}`);
  }

  private sweep(): void {
    const shard = this.incarnation.shard;
    if (!shard.serving) {
      this.log.note('sweep (not serving)');
      return;
    }
    const nowMs = this.time.nowMs;
    const expected = this.mirror.sweep(nowMs, this.profile.expiriesPerSweepMax);
    this.counts.expiredBySweep += expected.length;
    const expired = shard.sweep(nowMs);
    this.log.note(`sweep: ${expired} expired`);
    if (expired !== expected.length) {
      this.log.fail(`the sweep expired ${expired} holds, the model ${expected.length}`);
    }
  }

  // ---- What the shard says. ----

  private replies(incarnation: Incarnation, replies: readonly ShardReply[]): void {
    for (const reply of replies) {
      this.counts.replies += 1;
      const flight = this.flights.get(reply.id);
      if (flight === undefined || flight.incarnation !== incarnation.id) {
        this.log.fail(`a reply to r${reply.id}, which is not in flight`);
        continue;
      }
      this.flights.delete(reply.id);
      this.log.note(`  reply r${reply.id} ${summary(reply.outcome)}`);
      this.check(flight, reply.outcome, incarnation);
    }
  }

  private check(flight: Flight, outcome: ShardOutcome, incarnation: Incarnation): void {
    const { applied, request } = flight;
    if (!outcome.ok && outcome.code === 'unavailable') {
      this.counts.unavailable += 1;
      // Only a request the shard never applied, or one whose write failed since.
      if (applied !== undefined && incarnation.shard.serving) {
        this.log.fail(`r ${request.traceId} answered 503 by a serving shard`);
      }
      return;
    }
    if (applied === undefined) {
      this.log.fail(`${request.traceId} answered ${summary(outcome)} though not applied`);
      return;
    }
    const mismatch = replyMismatch(applied.reply, modelReplyOf(outcome as Outcome));
    if (mismatch !== undefined)
      this.log.fail(`${request.traceId} ${describe(request)}: ${mismatch}`);
    const durable = this.durableVersions.get(applied.key) ?? 0;
    const own = this.durableTraceVersions.get(request.traceId);
    if (applied.changed && own !== undefined && own !== applied.version) {
      this.log.fail(
        `${request.traceId} diverged: its record made ${applied.key} version ${own}, ` +
          `the model version ${applied.version}`,
      );
    } else if (applied.key !== '' && durable < applied.version) {
      this.log.fail(
        `${request.traceId} answered before durable: it saw ${applied.key} at version ` +
          `${applied.version}, the journal holds version ${durable}`,
      );
    }
    if (outcome.ok && 'stock' in outcome) {
      const { onHand, reserved, available } = outcome.stock;
      if (!(reserved >= 0 && reserved <= onHand && available === onHand - reserved)) {
        this.log.fail(`${request.traceId}: a stock view breaks the invariants`);
      }
    }
    if (applied.changed) {
      this.acked.add(request.traceId);
      this.counts.acknowledged += 1;
    }
  }

  /** The shard tells the main thread a key's durable state: it must be durable, and sane. */
  private told(stock: readonly StockChange[]): void {
    for (const [productId, warehouseId, onHand, reserved, version] of stock) {
      const key = keyOf(productId, warehouseId);
      if ((this.durableVersions.get(key) ?? 0) < version) {
        this.log.fail(`durable change of ${key} at version ${version} told before it was durable`);
      }
      if (!(reserved >= 0 && reserved <= onHand))
        this.log.fail(`${key} told with reserved > on_hand`);
    }
  }

  /**
   * The shard says its durable state answers stock reads exactly until `untilMs`: no hold the
   * journal holds as pending may expire before then.
   */
  private readableUntilTold(untilMs: number): void {
    for (const [id, expiresAtMs] of this.durablePending) {
      if (expiresAtMs < untilMs) {
        this.log.fail(
          `readable until ${untilMs} told, but ${id} is pending in the journal until ${expiresAtMs}`,
        );
        return;
      }
    }
  }

  /** A recovery's census: every key the model has for those partitions, exactly as it has it. */
  private censusTold(partitions: readonly number[], stock: readonly StockChange[]): void {
    this.told(stock);
    const told = new Map(stock.map(([p, w, ...state]) => [keyOf(p, w), state.join('/')]));
    let keys = 0;
    for (const partition of partitions) {
      for (const { productId, warehouseId } of this.mirror.model(partition).stockKeys()) {
        keys += 1;
        const model = this.mirror.model(partition).stock(productId, warehouseId);
        const wanted = `${model?.onHand}/${model?.reserved}/${model?.version}`;
        const got = told.get(keyOf(productId, warehouseId));
        if (got !== wanted)
          this.log.fail(`census of ${productId}/${warehouseId}: ${got}, not ${wanted}`);
      }
    }
    if (keys !== stock.length)
      this.log.fail(`census told ${stock.length} keys, the model has ${keys}`);
  }

  private async afterStep(): Promise<void> {
    const incarnation = this.incarnation;
    const serving = incarnation.shard.serving;
    if (incarnation.wasServing && !serving && incarnation.alive && !this.stopping) {
      await this.rebuild('write failure');
    }
    if (!incarnation.wasServing && serving) {
      this.counts.recoveries += 1;
      this.queueCensus();
    }
    incarnation.wasServing = serving;
  }

  /**
   * Everything in memory that was not durable is gone (a crash) or being dropped (a failed
   * write): the models become what the journal holds, and every acknowledged change must be
   * in it exactly once.
   */
  private async rebuild(why: string): Promise<void> {
    if (this.journal.rowsPastGap > 0) this.counts.gapsFound += 1;
    let traces: Map<string, number>;
    try {
      traces = this.mirror.rebuild(this.journal, this.sent);
    } catch (error) {
      this.log.fail(`after ${why}, the journal is not explained by the model: ${show(error)}`);
      return;
    }
    for (const [trace, count] of traces) {
      if (count > 1) this.log.fail(`${trace} is in the journal ${count} times`);
    }
    for (const trace of this.acked) {
      if (!traces.has(trace)) this.log.fail(`acknowledged change ${trace} lost after ${why}`);
    }
    this.log.note(`models rebuilt after ${why}: ${this.journal.rowCount} rows`);
  }

  /** After a recovery: read back every key and hold the model knows, through the shard. */
  private queueCensus(): void {
    const { keys, holds } = this.mirror.census();
    for (const [, productId, warehouseId] of keys) {
      this.census.push(this.workload.readStock(productId, warehouseId));
    }
    for (const [partition, id] of holds) this.census.push(this.workload.readHold(partition, id));
    this.counts.censusReads += keys.length + holds.length;
    this.log.note(`census queued: ${keys.length} keys, ${holds.length} holds`);
  }

  // ---- The end: heal, read everything back, stop cleanly, recover, read again. ----

  private stopping = false;

  private async finish(): Promise<void> {
    if (this.log.failure !== undefined) return;
    this.faultsOn = false;
    this.log.note('heal: no more faults');
    await this.settle();
    this.queueCensus();
    await this.settle();
    this.stopping = true;
    const stopped = this.incarnation.shard.stop();
    let done = false;
    void stopped.then(() => (done = true));
    await this.settle(() => done);
    if (!done) this.log.fail('stop() never finished');
    this.stopping = false;
    this.incarnation.alive = false;
    this.incarnation.clock.kill();
    await this.rebuild('a clean stop');
    this.incarnation = this.startIncarnation();
    await this.settle();
    await this.settle();
    if (this.flights.size > 0) this.log.fail(`${this.flights.size} requests never answered`);
    // Recovered and settled: whatever lay past a gap is gone, with its history, and only it.
    for (const problem of this.journal.shapeProblems()) this.log.fail(`the journal: ${problem}`);
  }

  /**
   * Runs the system to quiescence without faults: turns end, queries complete, timers fire,
   * queued census reads go out, until nothing is left to do (or `until` says stop).
   */
  private async settle(until: () => boolean = () => false): Promise<void> {
    for (let round = 0; round < 50_000 && this.log.failure === undefined; round += 1) {
      // Whatever the last step set going runs first, so "nothing to do" is never premature.
      await drain();
      await this.afterStep();
      if (until()) return;
      const incarnation = this.incarnation;
      const busy = this.journal.busyConnections();
      this.log.step += 1;
      if (incarnation.startFailed) await this.take('restart');
      else if (incarnation.clock.deferredCount > 0) await this.take('defer');
      else if (busy.length > 0) this.log.note((busy[0] as (typeof busy)[0]).complete('ok'));
      else if (this.journal.pendingConnects > 0)
        this.log.note(this.journal.completeConnect(0, true));
      else if (incarnation.clock.nextTimerMs() !== undefined) {
        this.advance(Math.max(0, (incarnation.clock.nextTimerMs() as number) - this.time.nowMs));
      } else if (this.census.length > 0 && incarnation.shard.serving) {
        this.deliver(Math.min(6, this.census.length));
      } else return;
    }
    if (this.log.failure === undefined && !until()) this.log.fail('the system does not settle');
  }
}

// ---- Helpers. ----

function describe(request: SimRequest): string {
  const model = request.model;
  switch (model.kind) {
    case 'reserve':
      return `reserve ${model.productId}/${model.warehouseId} q${model.quantity} ${model.idempotencyKey.replace(/\.+$/, '')}`;
    case 'adjust':
      return `${model.setOnHand === undefined ? `adjust` : `set`} ${model.productId}/${model.warehouseId} ${model.setOnHand ?? model.delta}${model.expectedVersion === undefined ? '' : ` @v${model.expectedVersion}`}${model.idempotencyKey === '' ? '' : ` ${model.idempotencyKey.replace(/\.+$/, '')}`}`;
    case 'read-stock':
      return `read ${model.productId}/${model.warehouseId}`;
    default:
      return `${model.kind} ${model.reservationId.slice(0, 8)}`;
  }
}

function summary(outcome: ShardOutcome): string {
  if (!outcome.ok) return outcome.code;
  if ('stock' in outcome) {
    const { onHand, reserved, version } = outcome.stock;
    return `stock ${onHand}/${reserved} v${version}${outcome.replayed ? ' replayed' : ''}`;
  }
  if (!('reservation' in outcome)) return JSON.stringify(outcome);
  const { reservationId, status } = outcome.reservation;
  return `${status} ${reservationId.slice(0, 8)}${outcome.replayed ? ' replayed' : ''}`;
}
