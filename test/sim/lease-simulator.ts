// The simulator of a cluster's leases and fencing: two or three nodes, each the real Shard
// (partitionsMove, `adopt`, `drop`), share one in-memory journal whose appends are fenced by an
// in-memory lease table (lease-table.ts: the rules of cluster-leases.ts and ledger_fence). The
// harness plays each node's lease keeper (renew, take what is free or run out, hand over) and
// its router (a command goes to the node whose lease is valid by its own clock, validity as in
// lease-keeper.ts), and makes nodes pause past their leases and wake up still holding their old
// epochs, with group commits and routed commands of the old epoch still to run. Crashes and
// journal faults as in the single-node simulator. Checks: every acknowledged change is durable
// when acknowledged and is in the journal exactly once at the end; the journal, replayed into
// the reference model, is a history the model allows (no oversell across owners); one
// idempotency key never gets two reservation ids acknowledged; a write under a lost lease never
// lands; a node never serves again a partition a fenced write told it it lost; a read sees every
// change acknowledged before it was routed (to the node whose lease was valid); and the
// last owner's recovery finds exactly the journal's state.
import { Shard } from '../../src/shards/shard.js';
import type { ShardReply, ShardOutcome, StockChange } from '../../src/shards/index.js';
import {
  decodeRecord,
  leasesLostBy,
  type JournalConnection,
  type WalRow,
} from '../../src/persistence/index.js';
import { partitionOf } from '../../src/router/index.js';
import { LeaseTable } from './lease-table.js';
import { MemoryJournal, type Completion } from './memory-journal.js';
import { Mirror, keyOf, type SentRequest } from './mirror.js';
import { Random } from './random.js';
import { SimClock, SimTime } from './sim-clock.js';
import { runSteps, SimLog, type SeededResult, type SimulatorName } from './seed-runs.js';
import { drain, isAssertion, show } from './sim-support.js';
import { Workload, type SimRequest } from './workload.js';

export interface LeaseProfile {
  readonly nodes: number;
  readonly partitions: number;
  readonly products: number;
  readonly warehouses: number;
  readonly hotShare: number;
  readonly walBatchRecordsMax: number;
  readonly snapshotEveryRecords: number;
  readonly faultRate: number;
  readonly crashWeight: number;
  readonly pauseWeight: number;
}

export function leaseProfileFor(random: Random): LeaseProfile {
  return {
    nodes: random.pick([2, 2, 3]),
    partitions: random.pick([1, 2, 4]),
    products: random.pick([1, 3]),
    warehouses: random.pick([1, 2]),
    hotShare: random.pick([0.5, 0.9]),
    walBatchRecordsMax: random.pick([1, 3, 4096]),
    snapshotEveryRecords: random.pick([3, 40, 100_000]),
    faultRate: random.pick([0, 0.03]),
    crashWeight: random.pick([0, 0.3]),
    pauseWeight: random.pick([0.5, 1.5]),
  };
}

const simulatorName: SimulatorName = {
  label: 'lease simulation',
  testFile: 'test/sim/lease-simulator.test.ts',
  cliFile: 'test/sim/run-lease-sim.ts',
};

/** The lease, and the validity margin of lease-keeper.ts (a fifth of it). */
const leaseMs = 10_000;
const marginMs = leaseMs / 5;

const retention = { retainFinishedMs: 1e12, retainFinishedMax: 1_000_000_000, onHandMax: 1e12 };
const t0 = 1_800_000_000_000;

interface Held {
  readonly epoch: number;
  /** By the node's own clock: it answers for the partition until then (lease-keeper.ts). */
  validUntilMs: number;
  serving: boolean;
}

interface SimNode {
  readonly name: string;
  /** The journal's incarnation id of the node's current process (a crash starts another). */
  incarnation: number;
  clock: SimClock;
  shard: Shard;
  alive: boolean;
  paused: boolean;
  /** A take or hand-over under way (the keeper does one at a time). */
  moving: boolean;
  readonly held: Map<number, Held>;
  /** Commands routed here (the lease valid then) that the shard has not taken yet. */
  inbox: number[];
  /** Partitions a fenced write of this process lost, since it last adopted them. */
  readonly lostByFence: Set<number>;
}

interface Flight {
  readonly request: SimRequest;
  readonly node: SimNode;
  readonly incarnation: number;
  /** For a read: the newest acknowledged version of its key when it was routed. */
  readonly ackedVersion: number;
}

export class LeaseSimulation {
  readonly random: Random;
  readonly profile: LeaseProfile;
  private readonly log: SimLog;
  private readonly time = new SimTime(t0);
  private readonly leases: LeaseTable;
  private readonly journal: MemoryJournal;
  private readonly workload: Workload;
  private readonly partitions: number[];
  private readonly nodes: SimNode[] = [];
  private incarnations = 0;
  private readonly flights = new Map<number, Flight>();
  private requests = 0;
  private readonly sent = new Map<string, SentRequest>();
  /** Trace ids of acknowledged changes: each must be in the journal exactly once, forever. */
  private readonly acked = new Set<string>();
  /** The version each landed record gave its key, by trace id; and each key's newest acked. */
  private readonly landedTraces = new Map<string, { key: string; version: number }>();
  private readonly ackedVersions = new Map<string, number>();
  /** Reservation ids acknowledged per idempotency key. */
  private readonly reservationsByKey = new Map<string, string>();
  /** Holds the journal has, with their partition (what clients may confirm or release). */
  private readonly holds = new Map<string, number>();
  private faultsOn = true;
  readonly counts = {
    steps: 0,
    replies: 0,
    acknowledged: 0,
    unavailable: 0,
    unroutable: 0,
    takes: 0,
    handOvers: 0,
    leasesLost: 0,
    pauses: 0,
    fencedWrites: 0,
    crashes: 0,
    writeFailures: 0,
    adoptFailures: 0,
  };

  /**
   * `fenced: false` takes the fence away from the journal (and its check here): the test shows
   * that the other checks then fail, so they do check what the fence protects.
   */
  constructor(
    readonly seed: number,
    keepTrace: boolean,
    private readonly fenced = true,
  ) {
    this.log = new SimLog(simulatorName, seed, keepTrace);
    this.random = new Random(seed);
    this.profile = leaseProfileFor(this.random);
    this.partitions = Array.from({ length: this.profile.partitions }, (_, index) => index);
    this.leases = new LeaseTable(this.partitions, leaseMs);
    this.journal = new MemoryJournal(fenced ? this.leases : undefined);
    this.workload = new Workload(this.random, this.profile, (productId) =>
      partitionOf(productId, this.profile.partitions),
    );
    this.journal.onLanded = (rows, node) => this.landed(rows, node);
    this.journal.onFenced = (node, lost) => {
      this.counts.fencedWrites += 1;
      this.log.note(`fence refused a write of ${node}: lost ${lost.join(',')}`);
    };
    this.journal.onUnfenced = (node, partition) =>
      this.log.fail(`${node} wrote partition ${partition} without a lease epoch`);
    this.log.note(`profile ${JSON.stringify(this.profile)}`);
    for (let index = 1; index <= this.profile.nodes; index += 1) {
      const node: SimNode = {
        name: `n${index}`,
        incarnation: 0,
        clock: new SimClock(this.time),
        shard: undefined as unknown as Shard,
        alive: true,
        paused: false,
        moving: false,
        held: new Map(),
        inbox: [],
        lostByFence: new Set(),
      };
      this.nodes.push(node);
      this.startProcess(node);
    }
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

  private running(): SimNode[] {
    return this.nodes.filter((node) => node.alive && !node.paused);
  }

  private async step(): Promise<void> {
    this.log.step += 1;
    this.counts.steps += 1;
    const running = this.running();
    const kind = this.random.weighted({
      route: 20,
      process: running.some((node) => node.inbox.length > 0) ? 20 : 0,
      defer: running.some((node) => node.clock.deferredCount > 0) ? 25 : 0,
      complete: this.busy().length > 0 ? 35 : 0,
      connect: this.journal.pendingConnects > 0 ? 15 : 0,
      tick: 6,
      keeper: 8,
      sweep: 3,
      ping: 1,
      pause: this.faultsOn && running.length > 1 ? this.profile.pauseWeight : 0,
      wake: this.nodes.some((node) => node.paused) ? 2 : 0,
      jump: 0.5,
      crash: this.faultsOn ? this.profile.crashWeight : 0,
    });
    try {
      this.take(kind);
    } catch (error) {
      this.log.fail(`${kind} threw: ${show(error)}`);
    }
    await drain();
  }

  private take(kind: string): void {
    const running = this.running();
    switch (kind) {
      case 'route':
        return this.route(this.random.int(1, 4));
      case 'process':
        return this.process(this.random.pick(running.filter((node) => node.inbox.length > 0)));
      case 'defer': {
        const node = this.random.pick(running.filter((each) => each.clock.deferredCount > 0));
        this.log.note(`${node.name} turn ends: ${node.clock.runDeferred()} deferred`);
        return;
      }
      case 'complete':
        return this.completeQuery();
      case 'connect': {
        const fault = this.faultsOn ? this.profile.faultRate : 0;
        const index = this.random.int(0, this.journal.pendingConnects - 1);
        this.log.note(this.journal.completeConnect(index, !this.random.chance(fault)));
        return;
      }
      case 'tick':
        return this.advance(this.random.int(1, 1_500));
      case 'keeper':
        if (running.length > 0) this.keeperTick(this.random.pick(running));
        return;
      case 'sweep': {
        if (running.length === 0) return;
        const node = this.random.pick(running);
        this.log.note(`${node.name} sweep: ${node.shard.sweep(this.time.nowMs)} expired`);
        return;
      }
      case 'ping': {
        // The readiness probe: it also replaces a journal connection that died while idle.
        if (running.length === 0) return;
        const node = this.random.pick(running);
        this.log.note(`${node.name} ping`);
        void node.shard.journalWritable();
        return;
      }
      case 'pause': {
        // A stop the world (GC, a VM frozen): nothing of the node runs, time goes on.
        const node = this.random.pick(running);
        node.paused = true;
        this.counts.pauses += 1;
        this.log.note(`${node.name} PAUSED`);
        return;
      }
      case 'wake': {
        const node = this.random.pick(this.nodes.filter((each) => each.paused));
        node.paused = false;
        const fired = node.clock.fireDue();
        this.log.note(`${node.name} wakes${fired > 0 ? `, ${fired} timers` : ''}`);
        // Its keeper's tick is overdue: it may run before the shard's pending work does.
        if (this.random.chance(0.5)) this.keeperTick(node);
        return;
      }
      case 'jump':
        // Past a lease: the paused node's leases run out, another may take them.
        return this.advance(this.random.int(leaseMs, 2 * leaseMs));
      case 'crash':
        return this.crash(this.random.pick(this.nodes));
    }
  }

  private busy() {
    const running = new Set(this.running().map((node) => node.incarnation));
    return this.journal.busyConnections().filter((each) => running.has(each.incarnation));
  }

  private completeQuery(): void {
    const connection = this.random.pick(this.busy());
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
    let fired = 0;
    for (const node of this.running()) fired += node.clock.fireDue();
    this.log.note(`clock +${ms} ms${fired > 0 ? `, ${fired} timers` : ''}`);
  }

  // ---- A node's process. ----

  private startProcess(node: SimNode): void {
    this.incarnations += 1;
    const incarnation = this.incarnations;
    const clock = new SimClock(this.time);
    node.incarnation = incarnation;
    node.clock = clock;
    node.alive = true;
    node.held.clear();
    node.inbox = [];
    node.moving = false;
    node.lostByFence.clear();
    const live = (): boolean => node.alive && node.incarnation === incarnation;
    node.shard = new Shard(
      {
        shard: 0,
        partitions: [],
        retention,
        walBatchRecordsMax: this.profile.walBatchRecordsMax,
        snapshotEveryRecords: this.profile.snapshotEveryRecords,
        expiriesPerSweepMax: 64,
        inflightMax: 4096,
        snapshotSlice: { sliceMs: 1, unitsPerSliceMax: 64 },
        partitionsMove: true,
      },
      {
        connect: () =>
          this.journal
            .connect(incarnation, node.name)
            .then((connection) => this.watched(node, incarnation, connection)),
        clock,
        send: (replies) => {
          if (live()) this.replies(node, replies);
        },
        log: (level, message) => {
          if (level !== 'info') this.log.note(`${node.name} ${level}: ${message}`);
        },
        flushed: () => undefined,
        durableChanges: () => undefined,
        census: (partitions, stock) => {
          if (live()) this.censusTold(node, partitions, stock);
        },
      },
    );
    this.log.note(`${node.name} process i${incarnation} starts`);
    node.shard.start().then(
      () => this.log.note(`${node.name} started`),
      (error: unknown) => {
        // Nothing to recover (no partitions yet): a start fails only on its connection.
        if (!live()) return;
        if (isAssertion(error)) this.log.fail(`${node.name} start asserted: ${show(error)}`);
        else {
          this.log.note(`${node.name} start failed: ${show(error)}; restarts`);
          node.alive = false;
          node.clock.kill();
          this.startProcess(node);
        }
      },
    );
  }

  /**
   * The node's connection, with its appends watched: a refusal the shard is told of (LDG01, not
   * a connection lost after the fence refused) names partitions it must not serve again until
   * it adopts them anew, when it can tell they are lost for good (`lostForGood`).
   */
  private watched(
    node: SimNode,
    incarnation: number,
    connection: JournalConnection,
  ): JournalConnection {
    return {
      append: (rows) =>
        connection.append(rows).catch((error: unknown) => {
          const lost = leasesLostBy(error);
          if (lost !== undefined && node.incarnation === incarnation) {
            for (const partition of lost) {
              if (this.lostForGood(node, partition, rows)) node.lostByFence.add(partition);
            }
          }
          throw error;
        }),
      writeSnapshot: (row) => connection.writeSnapshot(row),
      latestSnapshots: (partitions) => connection.latestSnapshots(partitions),
      readTails: (tails, onRow) => connection.readTails(tails, onRow),
      readAll: (partitions, onRow) => connection.readAll(partitions, onRow),
      ping: () => connection.ping(),
      cutTail: (partition, lastLsn, movements, epoch) =>
        connection.cutTail(partition, lastLsn, movements, epoch),
      close: () => connection.close(),
    };
  }

  /**
   * Whether a refusal naming the partition tells the node it lost the partition for good: it
   * no longer holds it, or every refused row of it is of the lease it holds now and that lease
   * is not the table's. A refusal that may be for rows of a lease it held before (it took the
   * partition again since) tells it nothing of its lease now.
   */
  private lostForGood(node: SimNode, partition: number, rows: readonly WalRow[]): boolean {
    const held = node.held.get(partition);
    if (held === undefined) return true;
    const epochs = new Set(rows.filter((row) => row.partition === partition).map((r) => r.epoch));
    if (epochs.size !== 1 || !epochs.has(held.epoch)) return false;
    const holder = this.leases.holder(partition);
    return holder.node !== node.name || holder.epoch !== held.epoch;
  }

  /** kill -9: the process's writes at the server land or not; its leases run out by themselves. */
  private crash(node: SimNode): void {
    node.alive = false;
    node.clock.kill();
    const notes = this.journal.killIncarnation(node.incarnation, () => this.random.chance(0.5));
    let lost = 0;
    for (const [id, flight] of this.flights) {
      if (flight.incarnation !== node.incarnation) continue;
      this.flights.delete(id);
      lost += 1;
    }
    this.counts.crashes += 1;
    this.log.note(`CRASH ${node.name}: ${lost} requests unanswered; ${notes.join('; ')}`);
    node.paused = false;
    this.startProcess(node);
  }

  // ---- The lease keeper, as lease-keeper.ts does it. ----

  /** One round of the node's keeper; `handsOver`: it may hand a partition over this round. */
  private keeperTick(node: SimNode, handsOver = true): void {
    const nowMs = this.time.nowMs;
    const mine = [...node.held].map(([partition, { epoch }]) => ({ partition, epoch }));
    const kept = new Set(this.leases.renew(node.name, mine, nowMs));
    const lost: number[] = [];
    for (const [partition, held] of node.held) {
      if (kept.has(partition)) held.validUntilMs = nowMs + leaseMs - marginMs;
      else lost.push(partition);
    }
    if (lost.length > 0) {
      for (const partition of lost) node.held.delete(partition);
      this.counts.leasesLost += lost.length;
      this.log.note(`${node.name} lost leases ${lost.join(',')}: dropped`);
      void node.shard.drop(lost, false);
    }
    if (node.moving || !node.shard.serving) return;
    const takable = this.leases.takable(nowMs).filter(() => this.random.chance(0.7));
    if (takable.length > 0) return this.takeLeases(node, takable);
    if (handsOver && node.held.size > 0 && this.random.chance(0.15)) {
      this.handOver(node, [this.random.pick([...node.held.keys()])]);
    }
  }

  private takeLeases(node: SimNode, partitions: readonly number[]): void {
    const taken = this.leases.acquire(node.name, partitions, this.time.nowMs);
    if (taken.length === 0) return;
    const validUntilMs = this.time.nowMs + leaseMs - marginMs;
    for (const { partition, epoch } of taken) {
      node.held.set(partition, { epoch, validUntilMs, serving: false });
      node.lostByFence.delete(partition);
    }
    this.counts.takes += taken.length;
    this.log.note(`${node.name} takes ${taken.map((l) => `${l.partition}@${l.epoch}`).join(',')}`);
    node.moving = true;
    const incarnation = node.incarnation;
    const leases = new Map(taken.map(({ partition, epoch }) => [partition, epoch]));
    node.shard.adopt(leases).then(
      () => {
        if (node.incarnation !== incarnation) return;
        node.moving = false;
        for (const { partition, epoch } of taken) {
          const held = node.held.get(partition);
          if (held?.epoch === epoch) held.serving = true;
        }
        this.log.note(`${node.name} serves ${[...leases.keys()].join(',')}`);
      },
      (error: unknown) => {
        if (node.incarnation !== incarnation) return;
        if (isAssertion(error)) return this.log.fail(`${node.name} adopt asserted: ${show(error)}`);
        // As the keeper does: leases not served are let go, to be taken again later.
        this.counts.adoptFailures += 1;
        node.moving = false;
        this.log.note(`${node.name} adopt failed: ${show(error)}; lets the leases go`);
        for (const { partition } of taken) node.held.delete(partition);
        void node.shard.drop([...leases.keys()], false).then(() => {
          if (node.incarnation === incarnation) this.leases.release(node.name, taken);
        });
      },
    );
  }

  private handOver(node: SimNode, partitions: readonly number[]): void {
    const leaving = partitions.map((partition) => {
      const held = node.held.get(partition) as Held;
      held.serving = false;
      return { partition, epoch: held.epoch };
    });
    node.moving = true;
    this.counts.handOvers += 1;
    this.log.note(`${node.name} hands over ${partitions.join(',')}`);
    const incarnation = node.incarnation;
    void node.shard.drop(partitions, true).then(() => {
      if (node.incarnation !== incarnation) return;
      this.leases.release(node.name, leaving);
      for (const { partition } of leaving) node.held.delete(partition);
      node.moving = false;
      this.log.note(`${node.name} handed over ${partitions.join(',')}`);
    });
  }

  // ---- Commands: routed by validity, taken by the shard later. ----

  /** The node that may answer for the partition now by its own lease (lease-keeper `where`). */
  private ownerOf(partition: number): SimNode | undefined {
    return this.running().find((node) => {
      const held = node.held.get(partition);
      return held !== undefined && held.serving && this.time.nowMs < held.validUntilMs;
    });
  }

  private route(count: number): void {
    const lines: string[] = [];
    for (let index = 0; index < count; index += 1) {
      const request = this.workload.next([...this.holds].map(([id, p]) => [p, id]));
      const node = this.ownerOf(request.partition);
      if (node === undefined) {
        this.counts.unroutable += 1;
        continue;
      }
      this.requests += 1;
      const id = this.requests;
      this.sent.set(request.traceId, { request: request.model });
      const model = request.model;
      const key = 'productId' in model ? keyOf(model.productId, model.warehouseId) : '';
      const ackedVersion = this.ackedVersions.get(key) ?? 0;
      this.flights.set(id, { request, node, incarnation: node.incarnation, ackedVersion });
      node.inbox.push(id);
      lines.push(`r${id}/${request.traceId}→${node.name} ${request.model.kind}`);
    }
    if (lines.length > 0) this.log.note(`route: ${lines.join(', ')}`);
  }

  private process(node: SimNode): void {
    const ids = node.inbox.splice(0, this.random.int(1, 6));
    const batch = ids.flatMap((id) => {
      const flight = this.flights.get(id);
      return flight === undefined
        ? []
        : [{ id, partition: flight.request.partition, command: flight.request.command }];
    });
    this.log.note(`${node.name} takes r${ids.join(',r')}`);
    node.shard.handle(batch);
  }

  private replies(node: SimNode, replies: readonly ShardReply[]): void {
    for (const reply of replies) {
      this.counts.replies += 1;
      const flight = this.flights.get(reply.id);
      if (flight === undefined || flight.node !== node) {
        this.log.fail(`${node.name} replied to r${reply.id}, which is not in flight there`);
        continue;
      }
      this.flights.delete(reply.id);
      this.log.note(`  ${node.name} reply r${reply.id} ${summary(reply.outcome)}`);
      this.check(node, flight, reply.outcome, reply.id);
    }
  }

  private check(node: SimNode, flight: Flight, outcome: ShardOutcome, id: number): void {
    const { request } = flight;
    if (this.probes.has(id)) this.probes.set(id, outcome.ok || outcome.code !== 'unavailable');
    if (!outcome.ok) {
      if (outcome.code === 'unavailable') this.counts.unavailable += 1;
      return;
    }
    const model = request.model;
    const replayed = 'replayed' in outcome && outcome.replayed;
    const changes =
      model.kind === 'reserve' ||
      model.kind === 'adjust' ||
      model.kind === 'confirm' ||
      model.kind === 'release';
    if (changes && !replayed) {
      // Acknowledged: its record must be in the journal now (the fence let it land).
      const landed = this.landedTraces.get(request.traceId);
      if (landed === undefined) {
        this.log.fail(
          `${node.name} acknowledged ${request.traceId} (${model.kind}), not in the journal`,
        );
        return;
      }
      this.acked.add(request.traceId);
      this.counts.acknowledged += 1;
      const before = this.ackedVersions.get(landed.key) ?? 0;
      this.ackedVersions.set(landed.key, Math.max(before, landed.version));
    }
    if (model.kind === 'reserve' && 'reservation' in outcome) {
      const known = this.reservationsByKey.get(model.idempotencyKey);
      const id = outcome.reservation.reservationId;
      if (known !== undefined && known !== id) {
        this.log.fail(`idempotency key ${model.idempotencyKey} acknowledged as ${known} and ${id}`);
      }
      this.reservationsByKey.set(model.idempotencyKey, id);
    }
    if (model.kind === 'read-stock' && 'stock' in outcome) {
      // Linearizable: a read sees every change acknowledged before it was routed (while the
      // node's lease was valid). A reply after the lease ran out may miss only later changes,
      // which are concurrent with it.
      if (outcome.stock.version >= flight.ackedVersion) return;
      this.log.fail(
        `stale read: ${node.name} read ${model.productId}/${model.warehouseId} at version ` +
          `${outcome.stock.version}, version ${flight.ackedVersion} was acknowledged before it`,
      );
    }
  }

  // ---- What the journal and the shards say. ----

  private landed(rows: readonly WalRow[], node: string | undefined): void {
    for (const row of rows) {
      // Belt and braces: the fence is the harness's, but its rule is checked here too.
      const holder = this.leases.holder(row.partition);
      if (this.fenced && (holder.node !== node || holder.epoch !== row.epoch)) {
        this.log.fail(
          `${node} wrote ${row.partition}:${row.lsn} under epoch ${row.epoch}, not its lease`,
        );
      }
      const record = decodeRecord(row.payload);
      if (record.type === 'settings' || record.type === 'cart' || record.type === 'cart-confirm')
        continue;
      const key = keyOf(record.productId, record.warehouseId);
      if (record.traceId !== '') {
        this.landedTraces.set(record.traceId, { key, version: record.version });
      }
      if (record.type === 'reserved') this.holds.set(record.reservationId, row.partition);
      else if (
        record.type === 'confirmed' ||
        record.type === 'released' ||
        record.type === 'expired'
      )
        this.holds.delete(record.reservationId);
    }
  }

  /** A node recovered partitions: it must hold their leases, and none may be lost to a fence. */
  private censusTold(node: SimNode, partitions: readonly number[], stock: StockChange[]): void {
    for (const partition of partitions) {
      if (node.lostByFence.has(partition)) {
        this.log.fail(
          `${node.name} serves partition ${partition} again after a fenced write lost it`,
        );
      }
    }
    this.log.note(`${node.name} census of ${partitions.join(',')}: ${stock.length} keys`);
  }

  // ---- The end: heal, let every lease run out, one node takes all, its census must agree. ----

  private async finish(): Promise<void> {
    if (this.log.failure !== undefined) return;
    this.faultsOn = false;
    this.log.note('heal: no more faults, nobody paused');
    for (const node of this.nodes) node.paused = false;
    await this.settle();
    await this.everyLeaseAnswers();
    for (const node of this.nodes) if (node.alive) this.crash(node);
    await this.settle();
    const mirror = new Mirror(this.partitions);
    let traces: Map<string, number>;
    try {
      traces = mirror.rebuild(this.journal, this.sent);
    } catch (error) {
      this.log.fail(`the journal is not a history the model allows: ${show(error)}`);
      return;
    }
    for (const [trace, count] of traces) {
      if (count > 1) this.log.fail(`${trace} is in the journal ${count} times`);
    }
    for (const trace of this.acked) {
      if (!traces.has(trace)) this.log.fail(`acknowledged change ${trace} is not in the journal`);
    }
    // The last owner: every lease has run out, one node takes them all and recovers.
    this.time.nowMs += leaseMs + 1;
    const last = this.nodes[0] as SimNode;
    await this.settle();
    let census: StockChange[] | undefined;
    const incarnation = last.incarnation;
    last.shard = new Shard(
      {
        shard: 0,
        partitions: [],
        retention,
        walBatchRecordsMax: 4096,
        snapshotEveryRecords: 100_000,
        expiriesPerSweepMax: 64,
        inflightMax: 4096,
        partitionsMove: true,
      },
      {
        connect: () => this.journal.connect(incarnation, last.name),
        clock: last.clock,
        send: () => undefined,
        log: () => undefined,
        flushed: () => undefined,
        durableChanges: () => undefined,
        census: (_partitions, stock) => (census = [...(census ?? []), ...stock]),
      },
    );
    const taken = this.leases.acquire(last.name, this.partitions, this.time.nowMs);
    let done = false;
    void last.shard
      .start()
      .then(() => last.shard.adopt(new Map(taken.map((l) => [l.partition, l.epoch]))))
      .then(() => (done = true));
    await this.settle(() => done);
    if (!done || census === undefined) return this.log.fail('the last owner never recovered');
    const told = new Map(census.map(([p, w, ...state]) => [keyOf(p, w), state.join('/')]));
    let keys = 0;
    for (const partition of this.partitions) {
      for (const { productId, warehouseId } of mirror.model(partition).stockKeys()) {
        keys += 1;
        const stock = mirror.model(partition).stock(productId, warehouseId);
        const wanted = `${stock?.onHand}/${stock?.reserved}/${stock?.version}`;
        const got = told.get(keyOf(productId, warehouseId));
        if (got?.startsWith(wanted) !== true) {
          this.log.fail(`the last owner has ${productId}/${warehouseId} at ${got}, not ${wanted}`);
        }
      }
    }
    if (keys !== census.length)
      this.log.fail(`the last owner has ${census.length} keys, not ${keys}`);
  }

  /**
   * Healed, every node renews: each partition a node holds and serves must answer a read (a
   * lease held while its partition refuses every command is a partition out of service).
   */
  private async everyLeaseAnswers(): Promise<void> {
    for (const node of this.nodes) this.keeperTick(node, false);
    await this.settle(() => this.nodes.every((node) => !node.moving));
    for (const node of this.nodes) {
      for (const [partition, held] of node.held) {
        if (!held.serving || this.time.nowMs >= held.validUntilMs) continue;
        this.requests += 1;
        const request = this.workload.readHold(partition, 'probe');
        const id = this.requests;
        this.sent.set(request.traceId, { request: request.model });
        this.flights.set(id, { request, node, incarnation: node.incarnation, ackedVersion: 0 });
        this.probes.set(id, false);
        this.log.note(`probe r${id} of partition ${partition} on ${node.name}`);
        node.shard.handle([{ id, partition, command: request.command }]);
      }
    }
    await this.settle();
    for (const [id, answered] of this.probes) {
      const flight = this.flights.get(id);
      if (!answered || flight !== undefined) {
        this.log.fail(`r${id}: a partition its node holds and serves did not answer after healing`);
      }
    }
  }

  /** The healed probes, by request id: whether each was answered other than 503. */
  private probes = new Map<number, boolean>();

  /** Runs every node to quiescence without faults (or until `until`). */
  private async settle(until: () => boolean = () => false): Promise<void> {
    for (let round = 0; round < 50_000 && this.log.failure === undefined; round += 1) {
      await drain();
      if (until()) return;
      this.log.step += 1;
      const running = this.running();
      const deferred = running.find((node) => node.clock.deferredCount > 0);
      const busy = this.busy();
      const timers = running
        .map((node) => node.clock.nextTimerMs())
        .filter((at): at is number => at !== undefined);
      if (deferred !== undefined) deferred.clock.runDeferred();
      else if (busy.length > 0) this.log.note((busy[0] as (typeof busy)[0]).complete('ok'));
      else if (this.journal.pendingConnects > 0)
        this.log.note(this.journal.completeConnect(0, true));
      else if (timers.length > 0) this.advance(Math.max(0, Math.min(...timers) - this.time.nowMs));
      else return;
    }
    if (this.log.failure === undefined && !until()) this.log.fail('the system does not settle');
  }
}

function summary(outcome: ShardOutcome): string {
  if (!outcome.ok) return outcome.code;
  if ('stock' in outcome) {
    const { onHand, reserved, version } = outcome.stock;
    return `stock ${onHand}/${reserved} v${version}${outcome.replayed ? ' replayed' : ''}`;
  }
  if (!('reservation' in outcome)) return 'ok';
  const { reservationId, status } = outcome.reservation;
  return `${status} ${reservationId.slice(0, 8)}${outcome.replayed ? ' replayed' : ''}`;
}
