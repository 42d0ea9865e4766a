// The deterministic simulator of carts across partitions: the real Shard (actors, group commit,
// reply gate, recovery) owning 4, 8 or 16 partitions, the real CartCoordinator driving carts over
// a simulated channel (SimWire) whose every delivery the seed decides, the real CartResolver
// finishing what a dead coordinator left in doubt, an in-memory journal that fails and loses
// writes, a virtual clock, and kill -9 at any step (between a prepare and the decision, between
// the decision and the reply, during an abort). The checks (cart-checks.ts) ask the journal alone:
// every cart answered 200 was durable then, and once resolution has run every cart ever attempted
// is entirely there or not at all; the journal never oversells, makes a hold twice or binds a key
// twice, and an assertion anywhere fails the run.
import type { Command, TransferStatus } from '../../src/actors/index.js';
import { cartInDoubtAfterMs, cartResolveIntervalMs } from '../../src/limits.js';
import { CartCoordinator, CartResolver, type CartRequest } from '../../src/router/index.js';
import type { ShardOutcome, ShardReply } from '../../src/shards/index.js';
import { Shard } from '../../src/shards/shard.js';
import { CartChecks, type CartAttempt } from './cart-checks.js';
import { CartWorkload, type PlainRequest } from './cart-workload.js';
import { LandedLedger } from './landed-ledger.js';
import { MemoryJournal, type Completion } from './memory-journal.js';
import { Random } from './random.js';
import { SimClock, SimTime } from './sim-clock.js';
import { runSteps, SimLog, type SeededResult, type SimulatorName } from './seed-runs.js';
import { drain, isAssertion, show } from './sim-support.js';
import { SimWire } from './sim-wire.js';
import { reservationIdFor } from './workload.js';

export interface CartSimProfile {
  readonly partitions: number;
  readonly products: number;
  readonly warehouses: number;
  readonly buyers: number;
  readonly expiriesPerSweepMax: number;
  readonly snapshotEveryRecords: number;
  readonly walBatchRecordsMax: number;
  /** Share of journal completions that fail (error, or connection lost before/after). */
  readonly faultRate: number;
  /** Weight of a crash (kill -9) among the steps. */
  readonly crashWeight: number;
  /** Messages delivered to the shard and not yet answered, at most (the channel's bound). */
  readonly inflightMax: number;
  /** Values one slice of a snapshot captures at most (the virtual clock stands still). */
  readonly snapshotSliceUnits: number;
  /** Group commits in flight at most (a cart's records must still land in one write). */
  readonly commitsInFlight: number;
}

export function cartProfileFor(random: Random): CartSimProfile {
  return {
    partitions: random.pick([4, 8, 16]),
    products: random.pick([3, 6, 12]),
    warehouses: random.pick([2, 3, 4]),
    buyers: random.pick([2, 5]),
    expiriesPerSweepMax: random.pick([1, 4, 64]),
    snapshotEveryRecords: random.pick([3, 11, 60, 100_000]),
    walBatchRecordsMax: random.pick([1, 3, 4096]),
    faultRate: random.pick([0, 0.03, 0.1]),
    crashWeight: random.pick([0.3, 0.8, 2]),
    inflightMax: random.pick([4, 16, 64]),
    snapshotSliceUnits: random.pick([1, 5, 64, 1_000_000]),
    commitsInFlight: random.pick([1, 2, 3]),
  };
}

/** Where a failure of this simulator says to replay it. */
const simulatorName: SimulatorName = {
  label: 'cart simulation',
  testFile: 'test/sim/cart-simulator.test.ts',
  cliFile: 'test/sim/run-cart-sim.ts',
};

/** One process: its shard, its coordinator and resolver, its clock. kill -9 ends all four. */
interface Incarnation {
  readonly id: number;
  readonly clock: SimClock;
  readonly shard: Shard;
  readonly coordinator: CartCoordinator;
  readonly resolver: CartResolver;
  alive: boolean;
  /** start() failed with an operating error: the host would start again. */
  startFailed: boolean;
  wasServing: boolean;
}

const retention = {
  // Long enough that nothing is forgotten within a run.
  retainFinishedMs: 1e12,
  retainFinishedMax: 1_000_000_000,
  onHandMax: 1_000_000_000_000,
};

const t0 = 1_800_000_000_000;

export class CartSimulation {
  readonly random: Random;
  readonly profile: CartSimProfile;
  private readonly log: SimLog;
  private readonly time = new SimTime(t0);
  private readonly journal = new MemoryJournal();
  private readonly ledger: LandedLedger;
  private readonly checks: CartChecks;
  private readonly wire: SimWire;
  private readonly workload: CartWorkload;
  private incarnation: Incarnation;
  private incarnations = 0;
  /** The id the coordinator mints next (minted here first, so the attempt knows it). */
  private nextCartId = '';
  /** Holds a client could confirm or release: plain ones, and acknowledged carts'. */
  private readonly knownHolds: string[] = [];
  /** Transfers a client could receive or cancel. */
  private readonly knownTransfers: string[] = [];
  /** Every acknowledged transfer and the latest status an answer reported for it. */
  private readonly ackedTransfers = new Map<string, TransferStatus>();
  private faultsOn = true;
  readonly counts = {
    steps: 0,
    cartConfirms: 0,
    carts: 0,
    acknowledged: 0,
    replayed: 0,
    refused: 0,
    unavailable: 0,
    crossPartition: 0,
    crashes: 0,
    lostInCrash: 0,
    writeFailures: 0,
    recoveries: 0,
    resolutions: 0,
    checkpoints: 0,
    committed: 0,
    aborted: 0,
    transfers: 0,
  };

  constructor(
    readonly seed: number,
    keepTrace: boolean,
  ) {
    this.log = new SimLog(simulatorName, seed, keepTrace, 60);
    this.random = new Random(seed);
    this.profile = cartProfileFor(this.random);
    this.wire = new SimWire(this.profile.partitions);
    this.workload = new CartWorkload(this.random, this.profile);
    this.ledger = new LandedLedger((reason) => this.log.fail(reason));
    this.checks = new CartChecks(
      this.ledger,
      (reason) => this.log.fail(reason),
      () => this.time.nowMs,
    );
    this.journal.onLanded = (rows) => this.ledger.land(rows);
    this.log.note(`profile ${JSON.stringify(this.profile)}`);
    this.incarnation = this.startIncarnation();
  }

  get traceLines(): readonly string[] {
    return this.log.traceLines;
  }

  run(steps: number): Promise<SeededResult> {
    return runSteps(this.log, steps, {
      start: () => this.stock(),
      step: () => this.step(),
      finish: () => this.finish(),
      counts: () => {
        for (const decision of this.ledger.decisions.values()) {
          this.counts[decision.decision === 'committed' ? 'committed' : 'aborted'] += 1;
        }
        return {
          ...this.counts,
          ...confirmCounts(this.ledger.confirmSteps),
          keysWithLots: this.ledger.lots.keysWithLots,
          lotWriteOffs: this.ledger.lots.writeOffs,
        };
      },
    });
  }

  /** Stock and settings, durable before the first cart (no faults meanwhile). */
  private async stock(): Promise<void> {
    this.faultsOn = false;
    await this.settle();
    for (const request of this.workload.stocking()) this.sendPlain(request);
    for (let product = 0; product < this.profile.products; product += 1) {
      if (this.random.chance(0.5)) this.sendPlain(this.workload.settings(`p${product}`));
    }
    await this.settle();
    this.faultsOn = true;
    this.log.note(`stocked: ${this.ledger.stock.size} keys`);
  }

  // ---- Steps. ----

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
    this.afterStep();
  }

  private stepWeights() {
    const incarnation = this.incarnation;
    const faults = this.faultsOn ? 1 : 0;
    return {
      client: this.wire.queued < 64 ? 14 : 0,
      deliver: this.wire.queued > 0 && this.wire.inflight < this.profile.inflightMax ? 25 : 0,
      defer: incarnation.clock.deferredCount > 0 ? 25 : 0,
      complete: this.journal.busyConnections().length > 0 ? 35 : 0,
      connect: this.journal.pendingConnects > 0 ? 15 : 0,
      tick: 6,
      jump: 0.4,
      // Rarely, most of a day: lots dated the first day end, and their units are written off.
      day: 0.2,
      sweep: 4,
      resolve: 2,
      snapshot: 0.5,
      crash: this.profile.crashWeight * faults,
      checkpoint: 0.3,
      restart: incarnation.startFailed ? 50 : 0,
    };
  }

  private async take(kind: keyof ReturnType<CartSimulation['stepWeights']>): Promise<void> {
    const incarnation = this.incarnation;
    switch (kind) {
      case 'client':
        for (let count = this.random.int(1, 3); count > 0; count -= 1) this.client();
        return;
      case 'deliver':
        return this.deliver(this.random.int(1, 8));
      case 'defer':
        this.log.note(`turn ends: ${incarnation.clock.runDeferred()} deferred`);
        return;
      case 'complete':
        return this.completeQuery();
      case 'connect': {
        const index = this.random.int(0, this.journal.pendingConnects - 1);
        const ok = !this.random.chance(this.faultsOn ? this.profile.faultRate : 0);
        this.log.note(this.journal.completeConnect(index, ok));
        return;
      }
      case 'tick':
        return this.advance(this.random.int(1, 400));
      case 'jump':
        // Long enough for holds to expire and for the resolver to find carts in doubt.
        return this.advance(this.random.int(cartInDoubtAfterMs, 700_000));
      case 'day':
        return this.advance(this.random.int(4, 20) * 3_600_000);
      case 'sweep':
        this.log.note(`sweep: ${incarnation.shard.sweep(this.time.nowMs)} expired`);
        return;
      case 'resolve':
        return this.resolveRound();
      case 'snapshot':
        this.log.note('snapshot all');
        void incarnation.shard.snapshotAll();
        return;
      case 'crash':
        await this.crash();
        if (this.random.chance(0.5)) await this.checkpoint('a crash');
        return;
      case 'checkpoint':
        return this.checkpoint('a pause');
      case 'restart':
        this.log.note(`restart after a failed start of i${incarnation.id}`);
        return this.crash();
    }
  }

  private async resolveRound(): Promise<void> {
    const started = await this.incarnation.resolver.round();
    this.counts.resolutions += started;
    this.log.note(`resolver: ${started} carts in doubt`);
  }

  private completeQuery(): void {
    const connection = this.random.pick(this.journal.busyConnections());
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

  private advance(ms: number): void {
    this.time.nowMs += ms;
    const fired = this.incarnation.clock.fireDue();
    this.log.note(`clock +${ms} ms${fired > 0 ? `, ${fired} timers` : ''}`);
  }

  // ---- Processes. ----

  private startIncarnation(): Incarnation {
    this.incarnations += 1;
    const id = this.incarnations;
    const clock = new SimClock(this.time);
    const shard = new Shard(
      {
        shard: 0,
        partitions: Array.from({ length: this.profile.partitions }, (_, index) => index),
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
        durableChanges: () => undefined,
        census: () => undefined,
      },
    );
    const coordinator = new CartCoordinator({
      transport: this.wire.transport(id),
      clock,
      mintCartId: (home) => this.mintCartId(home),
      mintAttempt: (home) => reservationIdFor(home, this.random),
      placed: (_result, crossPartition) => {
        if (crossPartition) this.counts.crossPartition += 1;
      },
    });
    const resolver = new CartResolver({
      coordinator,
      inDoubt: () => Promise.resolve(shard.cartsInDoubt(this.time.nowMs)),
      intervalMs: cartResolveIntervalMs,
      log: (level, message) => this.log.note(`i${id} resolver ${level}: ${message}`),
    });
    const incarnation: Incarnation = {
      id,
      clock,
      shard,
      coordinator,
      resolver,
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

  private mintCartId(home: number): string {
    const id = this.nextCartId;
    if (Number.parseInt(id.slice(0, 4), 16) !== home)
      this.log.fail(`cart id ${id} minted for ${home}`);
    return id;
  }

  /** kill -9: the shard, the coordinator and the resolver die; their callbacks never run. */
  private async crash(): Promise<void> {
    const dead = this.incarnation;
    dead.alive = false;
    dead.clock.kill();
    const notes = this.journal.killIncarnation(dead.id, () => this.random.chance(0.5));
    const lost = this.wire.killIncarnation(dead.id);
    this.counts.crashes += 1;
    this.counts.lostInCrash += lost;
    this.log.note(`CRASH i${dead.id}: ${lost} messages lost; ${notes.join('; ')}`);
    this.incarnation = this.startIncarnation();
    await drain();
  }

  // ---- The channel. ----

  private deliver(count: number): void {
    const incarnation = this.incarnation;
    const messages = this.wire.take(count);
    const lines = messages.map(
      ({ request }) => `r${request.id}>${request.partition} ${describe(request.command)}`,
    );
    this.log.note(`deliver to i${incarnation.id}: ${lines.join(', ')}`);
    incarnation.shard.handle(messages.map((message) => message.request));
  }

  private replies(incarnation: Incarnation, replies: readonly ShardReply[]): void {
    for (const reply of replies) {
      const message = this.wire.answer(reply);
      if (message === undefined || message.incarnation !== incarnation.id) {
        this.log.fail(`a reply to r${reply.id}, which is not in flight`);
        continue;
      }
      this.log.note(`  r${reply.id} ${summary(reply.outcome)}`);
      const command = message.request.command;
      if (command.kind === 'cart-abort') this.checks.abortAnswered(command.cartId, reply.outcome);
      try {
        message.callback(reply);
      } catch (error) {
        // Thrown into the shard's reply path it would pass for a failed write: fail here.
        this.log.fail(`the reply to r${reply.id} threw: ${show(error)}`);
      }
    }
  }

  private sendPlain(request: PlainRequest): void {
    const incarnation = this.incarnation;
    const { command } = request;
    this.wire.send(incarnation.id, request.partition, command, (reply) => {
      const outcome = reply.outcome;
      if (outcome.ok && 'transfer' in outcome) {
        this.transferAnswered(outcome.transfer.transferId, outcome.transfer.status);
        return;
      }
      if (!outcome.ok || !('reservation' in outcome)) return;
      const { reservationId, status } = outcome.reservation;
      this.checks.holdReported(`${command.kind} ${describe(command)}`, reservationId, status);
      if (command.kind === 'reserve' && !outcome.replayed) this.remember(reservationId);
    });
  }

  /** An acknowledged step of a transfer: the journal must keep it from now on. */
  private transferAnswered(transferId: string, status: TransferStatus): void {
    if (!this.ackedTransfers.has(transferId)) {
      this.counts.transfers += 1;
      this.knownTransfers.push(transferId);
      if (this.knownTransfers.length > 48) this.knownTransfers.shift();
    }
    const before = this.ackedTransfers.get(transferId);
    // A replay of the transfer's making answers its first status: never a step back.
    if (before === undefined || before === 'IN_TRANSIT')
      this.ackedTransfers.set(transferId, status);
  }

  private remember(reservationId: string): void {
    this.knownHolds.push(reservationId);
    if (this.knownHolds.length > 96) this.knownHolds.shift();
  }

  // ---- Clients. ----

  private client(): void {
    const kind = this.random.weighted({
      cart: 35,
      replay: 10,
      reserve: 14,
      hold: this.knownHolds.length > 0 ? 10 : 0,
      readCart: 5,
      confirmCart: 6,
      releaseCart: 4,
      adjust: 5,
      settings: 1.5,
      transfer: 4,
      onTransfer: this.knownTransfers.length > 0 ? 3 : 0,
    });
    switch (kind) {
      case 'cart':
        return this.placeCart(this.workload.cart());
      case 'replay':
        return this.placeCart(this.workload.replay());
      case 'reserve':
        return this.sendPlain(this.workload.reserve());
      case 'hold': {
        const id = this.random.pick(this.knownHolds);
        return this.sendPlain(this.workload.onHold(this.random.pick(['confirm', 'release']), id));
      }
      case 'adjust':
        return this.sendPlain(this.workload.adjust());
      case 'settings':
        return this.sendPlain(this.workload.settings());
      case 'transfer':
        return this.sendPlain(this.workload.transfer());
      case 'onTransfer': {
        const id = this.random.pick(this.knownTransfers);
        const kind = this.random.pick(['transfer-receive', 'transfer-cancel'] as const);
        return this.sendPlain(this.workload.onTransfer(kind, id));
      }
      default:
        return this.onCart(kind);
    }
  }

  private placeCart(request: CartRequest): void {
    const incarnation = this.incarnation;
    const home = incarnation.coordinator.homeOf(request.idempotencyKey);
    this.nextCartId = reservationIdFor(home, this.random);
    const attempt = this.checks.attempt(request, this.nextCartId, incarnation.id);
    this.counts.carts += 1;
    const lines = request.lines.map(
      (line) => `${line.productId}/${line.warehouseId || '*'}x${line.quantity}`,
    );
    this.log.note(
      `cart ${request.traceId} ${request.idempotencyKey} -> ${attempt.cartId.slice(0, 13)} ` +
        `${lines.join(' ')}${request.buyerId === '' ? '' : ` buyer ${request.buyerId}`}`,
    );
    incarnation.coordinator.place(request, (outcome) => this.placed(attempt, outcome));
  }

  private placed(attempt: CartAttempt, outcome: ShardOutcome): void {
    this.log.note(`cart ${attempt.request.traceId} answered ${summary(outcome)}`);
    this.checks.placed(attempt, outcome);
    if (outcome.ok && 'cart' in outcome) {
      this.counts[outcome.replayed ? 'replayed' : 'acknowledged'] += 1;
      for (const hold of outcome.cart.holds) this.remember(hold.reservationId);
    } else if (!outcome.ok && (outcome.code === 'unavailable' || outcome.code === 'overloaded')) {
      this.counts.unavailable += 1;
    } else this.counts.refused += 1;
  }

  /** A cart-wide read, confirm (all, or partial quantities) or release of an acknowledged cart. */
  private onCart(kind: 'readCart' | 'confirmCart' | 'releaseCart'): void {
    const acked = [...this.checks.acked.values()];
    if (acked.length === 0) return;
    const cart = this.random.pick(acked);
    const coordinator = this.incarnation.coordinator;
    const traceId = this.workload.traceId('x');
    const what = kind.replace('Cart', '');
    const answered = (outcome: ShardOutcome): void => {
      this.log.note(`${what} cart ${cart.cartId.slice(0, 13)} ${traceId}: ${summary(outcome)}`);
      this.checks.cartAnswered(what, cart.cartId, traceId, outcome);
    };
    if (what === 'confirm') {
      this.counts.cartConfirms += 1;
      this.checks.cartConfirmed(cart.cartId, traceId);
    }
    this.log.note(`${what} cart ${cart.cartId.slice(0, 13)} ${traceId}`);
    if (kind === 'readCart') coordinator.readCart(cart.cartId, traceId, answered);
    else if (kind === 'releaseCart') coordinator.releaseCart(cart.cartId, traceId, answered);
    else {
      const quantities = new Map<string, number>();
      for (const hold of cart.holds) {
        if (this.random.chance(0.3))
          quantities.set(hold.reservationId, this.random.int(1, hold.quantity));
      }
      coordinator.confirmCart(cart.cartId, quantities, traceId, answered);
    }
  }

  private afterStep(): void {
    const incarnation = this.incarnation;
    const serving = incarnation.shard.serving;
    if (!incarnation.wasServing && serving) this.counts.recoveries += 1;
    incarnation.wasServing = serving;
  }

  // ---- Quiescence, resolution and the checks that need them. ----

  /**
   * Runs the system to quiescence without new faults: turns end, queries complete, queued
   * messages go out, sleeps (the coordinator's retries, the shard's reloads) come due.
   */
  private async settle(): Promise<void> {
    for (let round = 0; round < 100_000 && this.log.failure === undefined; round += 1) {
      await drain();
      this.afterStep();
      const incarnation = this.incarnation;
      const busy = this.journal.busyConnections();
      this.log.step += 1;
      if (incarnation.startFailed) await this.take('restart');
      else if (incarnation.clock.deferredCount > 0) await this.take('defer');
      else if (busy.length > 0) this.log.note((busy[0] as (typeof busy)[0]).complete('ok'));
      else if (this.journal.pendingConnects > 0)
        this.log.note(this.journal.completeConnect(0, true));
      else if (this.wire.queued > 0 && incarnation.shard.serving) this.deliver(8);
      else if (incarnation.clock.nextTimerMs() !== undefined) {
        this.advance(Math.max(0, (incarnation.clock.nextTimerMs() as number) - this.time.nowMs));
      } else if (this.wire.queued > 0) this.deliver(8);
      else return;
    }
    if (this.log.failure === undefined) this.log.fail('the system does not settle');
  }

  /**
   * Heals, lets everything in flight finish, waits out cartInDoubtAfterMs and runs the resolver
   * until nothing is left in doubt; then every cart ever attempted must be settled.
   */
  private async checkpoint(why: string): Promise<void> {
    const faults = this.faultsOn;
    this.faultsOn = false;
    this.counts.checkpoints += 1;
    this.log.note(`checkpoint after ${why}`);
    await this.settle();
    this.advance(cartInDoubtAfterMs + 1);
    await this.settle();
    for (let round = 0; round < 20 && this.log.failure === undefined; round += 1) {
      await this.resolveRound();
      await this.settle();
      if (this.incarnation.shard.cartsInDoubt(Number.MAX_SAFE_INTEGER).length === 0) break;
      this.advance(cartInDoubtAfterMs + 1);
    }
    const left = this.incarnation.shard.cartsInDoubt(Number.MAX_SAFE_INTEGER);
    if (left.length > 0) {
      const carts = left.map(({ partition, cartId }) => `${cartId}@${partition}`);
      this.log.fail(`after resolution, carts still in doubt: ${carts.slice(0, 5).join(', ')}`);
    }
    for (const attempt of this.checks.attempts) {
      if (attempt.incarnation === this.incarnation.id && attempt.answer === undefined) {
        this.log.fail(`cart ${attempt.request.traceId} never answered, its process alive`);
      }
    }
    this.checks.settled(why);
    this.faultsOn = faults;
  }

  /**
   * The end: settle and resolve; read back every acknowledged cart and every stock key through
   * the shard, which must agree with the journal; then kill -9 at rest, recover, and again.
   */
  private async finish(): Promise<void> {
    if (this.log.failure !== undefined) return;
    this.faultsOn = false;
    this.log.note('heal: no more faults');
    await this.checkpoint('the end');
    await this.census('the end');
    await this.crash();
    await this.checkpoint('a crash at rest');
    await this.census('recovery at rest');
  }

  /** Every acknowledged transfer is in the journal, at least as far as it was answered. */
  private transferCensus(why: string): void {
    for (const [transferId, acked] of this.ackedTransfers) {
      const landed = this.ledger.transfers.get(transferId);
      const gone = landed === undefined || (acked !== 'IN_TRANSIT' && landed !== acked);
      if (gone)
        this.log.fail(`${why}: transfer ${transferId} acknowledged ${acked}, journal ${landed}`);
      const partition = Number.parseInt(transferId.slice(0, 4), 16);
      const command = { kind: 'read-transfer', transferId, traceId: '' } as const;
      this.wire.send(this.incarnation.id, partition, command, ({ outcome }) => {
        const told = outcome.ok && 'transfer' in outcome ? outcome.transfer.status : undefined;
        // Finished transfers may be forgotten by retention; none is in a run this short.
        if (told !== this.ledger.transfers.get(transferId)) {
          this.log.fail(
            `${why}: transfer ${transferId} reads ${summary(outcome)}, journal ${landed}`,
          );
        }
      });
    }
  }

  private async census(why: string): Promise<void> {
    const coordinator = this.incarnation.coordinator;
    for (const { cartId } of this.checks.acked.values()) {
      coordinator.readCart(cartId, `census-${cartId}`, (outcome) => {
        if (!outcome.ok || !('cart' in outcome)) {
          this.log.fail(`${why}: acknowledged cart ${cartId} reads ${summary(outcome)}`);
          return;
        }
        for (const hold of outcome.cart.holds) {
          const landed = this.ledger.holds.get(hold.reservationId)?.status;
          if (landed !== hold.status) {
            this.log.fail(
              `${why}: cart ${cartId} reads ${hold.reservationId} ${hold.status}, the journal ${landed}`,
            );
          }
        }
      });
    }
    for (const [key, stock] of this.ledger.stock) {
      const [productId, warehouseId] = key.split('/') as [string, string];
      const command = { kind: 'read-stock', productId, warehouseId } as const;
      const partition = this.workload.partitionOfProduct(productId);
      this.wire.send(this.incarnation.id, partition, command, ({ outcome }) => {
        const told = outcome.ok && 'stock' in outcome ? outcome.stock : undefined;
        if (
          told?.onHand !== stock.onHand ||
          told.reserved !== stock.reserved ||
          (told.incoming ?? 0) !== stock.incoming
        ) {
          const journal = `${stock.onHand}/${stock.reserved}/${stock.incoming}`;
          this.log.fail(`${why}: ${key} reads ${summary(outcome)}, the journal ${journal}`);
        }
      });
    }
    this.transferCensus(why);
    await this.settle();
  }
}

// ---- Trace lines. ----

function describe(command: Command): string {
  switch (command.kind) {
    case 'reserve':
      return `reserve ${command.productId}/${command.warehouseId} q${command.quantity} ${command.reservationId.slice(0, 13)}`;
    case 'adjust':
      return (
        `adjust ${command.productId}/${command.warehouseId} ${command.delta}` +
        (command.lot === undefined ? '' : ` lot ${command.lot.lotId}`)
      );
    case 'read-stock':
    case 'read-settings':
    case 'read-product-stock':
    case 'put-settings':
      return `${command.kind} ${command.productId}`;
    case 'cart-place':
      return `${command.kind}(${command.mode}) ${command.terms.cartId.slice(0, 13)} ${command.lines.length} lines`;
    case 'cart-begin':
    case 'cart-decide':
      return `${command.kind} ${command.terms.cartId.slice(0, 13)}`;
    case 'cart-holds': {
      const attempt = 'attempt' in command.action ? ` ${command.action.attempt.slice(0, 13)}` : '';
      return `cart-holds(${command.action.kind}${attempt}) ${command.cartId.slice(0, 13)}`;
    }
    case 'cart-confirm-decide':
    case 'cart-confirm-resolve':
      return `${command.kind} ${command.cartId.slice(0, 13)} ${command.attempt.slice(0, 13)}`;
    case 'cart-resolve':
    case 'cart-abort':
    case 'cart-settle':
    case 'read-cart':
      return `${command.kind} ${command.cartId.slice(0, 13)}`;
    case 'transfer':
      return `${command.kind} ${command.fromWarehouseId}->${command.toWarehouseId} ${command.quantity}`;
    case 'transfer-receive':
    case 'transfer-cancel':
    case 'read-transfer':
      return `${command.kind} ${command.transferId.slice(0, 13)}`;
    default:
      return `${command.kind} ${command.reservationId.slice(0, 13)}`;
  }
}

/** The confirm attempts' steps that landed, named for the report. */
function confirmCounts(steps: LandedLedger['confirmSteps']): Record<string, number> {
  return {
    confirmPins: steps.pinned,
    confirmUnpins: steps.unpinned,
    confirmsDecided: steps.confirmed,
    confirmsAborted: steps.aborted,
  };
}

function summary(outcome: ShardOutcome): string {
  if (!outcome.ok) return outcome.code;
  if ('stock' in outcome) return `stock ${outcome.stock.onHand}/${outcome.stock.reserved}`;
  if ('decision' in outcome) return `decision ${outcome.decision}`;
  if ('transfer' in outcome) return `transfer ${outcome.transfer.status}`;
  const replayed = outcome.replayed ? ' replayed' : '';
  if ('cart' in outcome) {
    const holds = outcome.cart.holds.map(
      (hold) => `${hold.reservationId.slice(0, 13)}:${hold.status[0]}`,
    );
    return `cart ${outcome.cart.cartId.slice(0, 13)} [${holds.join(' ')}]${replayed}`;
  }
  if ('reservation' in outcome) {
    return `${outcome.reservation.status} ${outcome.reservation.reservationId.slice(0, 13)}${replayed}`;
  }
  return 'ok';
}
