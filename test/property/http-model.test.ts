// Proves the real server is linearizable per stock key and keeps its invariants: concurrent
// clients, interleaved by fast-check's scheduler, send random reserve / confirm / release /
// adjust / read / clock-advance requests over HTTP (keys over both shards, and one hot key);
// each stock key's history must be explained by the reference model in some order that respects
// real time, stock bodies obey the invariants after every step, and the books balance at the end.
// The same against three nodes of a cluster, one of them killed and restarted in some runs.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { runOptions } from '../helpers/fc-options.js';
import { sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { deleteStream, haveNats, sharedNatsUrl, uniqueStream } from '../helpers/nats.js';
import { havePostgres } from '../helpers/services.js';
import { knob, report, timeoutFor } from '../helpers/soak.js';
import { productsAcrossShards } from '../helpers/stock-keys.js';
import { timedCall, type TimedReply } from '../helpers/timed-http.js';
import {
  httpCallOf,
  ledgerSpec,
  observedReply,
  showOperation,
  type LedgerOperation,
} from '../model/ledger-history.js';
import { checkLinearizable, describeFailure } from '../model/linearizability.js';
import type { ModelRequest, StockBody } from '../model/reference-ledger.js';

const shards = 2;
const partitions = 256;
const warehouseId = 'wh';
// A well-formed id the ledger never issued (partition 0, so it routes).
const unknownId = '0000ffff-ffff-8fff-8fff-ffffffffffff';

type Command =
  | { kind: 'reserve'; key: number; quantity: number; ttlSeconds: number; pool: number }
  | { kind: 'confirm' | 'release' | 'read-reservation'; pick: number }
  | { kind: 'adjust'; key: number; delta: number; pool: number }
  | { kind: 'read-stock'; key: number }
  | { kind: 'advance'; ms: number };

interface Plan {
  readonly opening: number[];
  readonly clients: Command[][];
}

function commandArbitrary(keys: number, withClock: boolean): fc.Arbitrary<Command> {
  const key = fc.nat({ max: keys - 1 });
  const pick = fc.nat({ max: 1_000 });
  const commands: fc.WeightedArbitrary<Command>[] = [
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('reserve' as const),
        key,
        quantity: fc.integer({ min: 1, max: 4 }),
        // Mostly long holds; one-second holds expire within a run that advances the clock.
        ttlSeconds: withClock ? fc.constantFrom(1, 1, 2, 600) : fc.constantFrom(600, 600, 1),
        pool: fc.integer({ min: -4, max: 2 }), // negative: a fresh idempotency key
      }),
    },
    {
      weight: 5,
      arbitrary: fc.record({
        kind: fc.constantFrom('confirm' as const, 'release' as const, 'read-reservation' as const),
        pick,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('adjust' as const),
        key,
        delta: fc.integer({ min: -4, max: 8 }).filter((delta) => delta !== 0),
        pool: fc.integer({ min: -2, max: 1 }), // negative: no idempotency key
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('read-stock' as const), key }) },
  ];
  return fc.oneof(...commands);
}

interface Shape {
  readonly keys: number;
  readonly clients: [number, number];
  readonly commands: [number, number];
  readonly stock: [number, number];
  readonly withClock: boolean;
}

function planArbitrary(shape: Shape): fc.Arbitrary<Plan> {
  const [clientsMin, clientsMax] = shape.clients;
  const [commandsMin, commandsMax] = shape.commands;
  let commands = fc.array(commandArbitrary(shape.keys, shape.withClock), {
    minLength: commandsMin,
    maxLength: commandsMax,
  });
  if (shape.withClock) {
    // Every client waits out the short holds once, somewhere in its run.
    const advance = fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.integer({ min: 1_000, max: 1_300 }),
    });
    commands = fc
      .tuple(commands, advance, fc.nat())
      .map(([list, wait, at]) => list.toSpliced(at % (list.length + 1), 0, wait));
  }
  return fc.record({
    opening: fc.array(fc.integer({ min: shape.stock[0], max: shape.stock[1] }), {
      minLength: shape.keys,
      maxLength: shape.keys,
    }),
    clients: fc.array(commands, { minLength: clientsMin, maxLength: clientsMax }),
  });
}

let runCounter = 0;

/** An exchange, and whether it took more than one attempt (a retry after an unknown outcome). */
interface RunReply extends TimedReply {
  readonly retried: boolean;
}

/** How long a client retries an unknown outcome: a hand-over after a kill takes seconds. */
const retryWindowMs = 60_000;

interface Totals {
  runs: number;
  operations: number;
  /** Operations whose outcome the client could not know (a 503, a connection a kill cut). */
  unknown: number;
  /** Attempts sent again after an unknown outcome. */
  retries: number;
  expired: number;
  concurrentMax: number;
}

/** One property run: the clients' requests, what came back, and the checks on it. */
class HttpRun {
  readonly products: string[];
  readonly histories = new Map<string, LedgerOperation[]>();
  /** Reservation ids seen in answers, with their stock key. */
  private readonly known = new Map<string, string>();
  private readonly ids: string[] = [];
  private inFlight = 0;
  concurrentMax = 0;
  /** Attempts sent again after an unknown outcome (where nodes are killed). */
  retries = 0;
  private readonly tag: string;

  /**
   * `baseUrls`: client n talks to baseUrls[n % length] (the nodes of a cluster, or one), or to
   * what `route` says (a cluster whose nodes go down and up).
   */
  constructor(
    private readonly baseUrls: readonly string[],
    keys: number,
    private readonly route?: (client: number) => string,
  ) {
    runCounter += 1;
    this.tag = `run${runCounter}-${process.pid}`;
    this.products = productsAcrossShards(
      `run${runCounter}-${process.pid}`,
      keys,
      shards,
      partitions,
    );
    for (const product of this.products) this.histories.set(product, []);
  }

  product(key: number): string {
    return this.products[key % this.products.length] as string;
  }

  /** The request a command stands for right now (ids come from answers seen so far). */
  resolve(command: Command, client: number, serial: number): ModelRequest | 'unknown-id' {
    switch (command.kind) {
      case 'reserve':
        return {
          kind: 'reserve',
          productId: this.product(command.key),
          warehouseId,
          quantity: command.quantity,
          ttlSeconds: command.ttlSeconds,
          idempotencyKey:
            command.pool < 0
              ? `${this.tag}-c${client}-${serial}-fresh`
              : `${this.tag}-reserve-pool-${command.pool}`,
          reservationId: '',
        };
      case 'adjust':
        return {
          kind: 'adjust',
          productId: this.product(command.key),
          warehouseId,
          delta: command.delta,
          reason: '',
          idempotencyKey: command.pool < 0 ? '' : `${this.tag}-adjust-pool-${command.pool}`,
        };
      case 'read-stock':
        return { kind: 'read-stock', productId: this.product(command.key), warehouseId };
      case 'advance':
        throw new Error('advance is not a request');
      default: {
        if (this.ids.length === 0 || command.pick % 17 === 16) return 'unknown-id';
        const id = this.ids[this.ids.length - 1 - (command.pick % Math.min(this.ids.length, 6))];
        return { kind: command.kind, reservationId: id as string };
      }
    }
  }

  private baseUrlOf(client: number): string {
    if (this.route !== undefined) return this.route(Math.max(client, 0));
    return this.baseUrls[Math.max(client, 0) % this.baseUrls.length] as string;
  }

  async send(request: ModelRequest, client = 0): Promise<RunReply> {
    this.inFlight += 1;
    this.concurrentMax = Math.max(this.concurrentMax, this.inFlight);
    try {
      if (this.route === undefined) {
        const reply = await timedCall(this.baseUrlOf(client), httpCallOf(request));
        return { ...reply, retried: false };
      }
      return await this.sendUntilKnown(request, client);
    } finally {
      this.inFlight -= 1;
    }
  }

  /**
   * Where nodes are killed, as a careful client does: an attempt whose outcome is unknown (a 503,
   * or a connection that died with its node) is sent again until an answer says what happened,
   * when the contract makes that safe (a read; a write with its idempotency key; a confirm or
   * release, which replays). The exchange spans the first attempt to the last answer. A keyless
   * adjust cannot be retried: its outcome stays unknown.
   */
  private async sendUntilKnown(request: ModelRequest, client: number): Promise<RunReply> {
    const invokeMs = Date.now();
    const retryable = request.kind !== 'adjust' || request.idempotencyKey !== '';
    const deadlineMs = invokeMs + retryWindowMs;
    for (let attempt = 0; ; attempt += 1) {
      let reply: TimedReply;
      try {
        reply = await timedCall(this.baseUrlOf(client), httpCallOf(request));
      } catch (error) {
        const responseMs = Date.now();
        reply = {
          status: 503,
          body: {},
          text: String(error),
          replayed: false,
          invokeMs,
          responseMs,
        };
      }
      const known = reply.status !== 503;
      if (known || !retryable || Date.now() > deadlineMs) {
        return { ...reply, invokeMs, retried: attempt > 0 };
      }
      this.retries += 1;
      await sleep(100);
    }
  }

  /** Files the exchange under its stock key and checks what can be checked at once. */
  record(client: number, request: ModelRequest, reply: RunReply): void {
    // An answer to a retry may replay the effect of the attempt before it.
    const replayed = reply.retried ? undefined : reply.replayed;
    const output = observedReply(reply.status, reply.body, replayed);
    const key = 'productId' in request ? request.productId : this.known.get(request.reservationId);
    if (key === undefined) throw new Error(`no stock key for ${JSON.stringify(request)}`);
    const unknown = output === undefined;
    // A read whose answer was lost changed nothing and tells nothing.
    if (unknown && request.kind.startsWith('read-')) return;
    (this.histories.get(key) as LedgerOperation[]).push({
      client,
      input: request,
      output,
      invokeMs: reply.invokeMs,
      responseMs: unknown ? Number.POSITIVE_INFINITY : reply.responseMs,
    });
    if (output?.ok === true && 'reservation' in output) {
      const id = output.reservation.id;
      if (!this.known.has(id)) this.ids.push(id);
      this.known.set(id, output.reservation.productId);
    }
    if (output?.ok === true && 'stock' in output) checkStockInvariants(output.stock);
  }

  /**
   * With `midway`, the client sends the second half of its commands only once it resolves (a
   * disruption has landed), so some of every run's requests meet it however fast the first
   * half went.
   */
  async client(
    scheduler: fc.Scheduler,
    client: number,
    commands: Command[],
    midway?: Promise<void>,
  ): Promise<void> {
    for (const [serial, command] of commands.entries()) {
      if (midway !== undefined && serial === Math.floor(commands.length / 2)) await midway;
      // The scheduler decides which client moves next, and when each one hears its answer.
      await scheduler.schedule(Promise.resolve(), `client ${client} next`);
      if (command.kind === 'advance') {
        await sleep(command.ms);
        continue;
      }
      const request = this.resolve(command, client, serial);
      if (request === 'unknown-id') {
        const probe = await this.probeUnknownId(client);
        // A killed node's connection cannot say; any other answer must be a 404.
        if (probe !== undefined) expect(probe.status, probe.text).toBe(404);
        continue;
      }
      const reply = await scheduler.schedule(this.send(request, client), `client ${client} answer`);
      this.record(client, request, reply);
    }
  }

  private async probeUnknownId(client: number): Promise<TimedReply | undefined> {
    const call = { method: 'POST', path: '/v1/confirm', body: { reservation_id: unknownId } };
    try {
      const reply = await timedCall(this.baseUrlOf(client), call);
      // While partition 0's owner is down, the node asked says 503 unavailable: it cannot say.
      if (this.route !== undefined && reply.status === 503) return undefined;
      return reply;
    } catch (error) {
      if (this.route === undefined) throw error;
      return undefined;
    }
  }

  /** Quiescent reads of every key and hold: the final state joins the history, then the books. */
  async closeBooks(): Promise<void> {
    for (const productId of this.products) {
      const request: ModelRequest = { kind: 'read-stock', productId, warehouseId };
      this.record(-1, request, await this.send(request));
    }
    for (const id of this.ids) {
      const request: ModelRequest = { kind: 'read-reservation', reservationId: id };
      this.record(-1, request, await this.send(request));
    }
  }

  /** With everything quiet and checked for linearizability: the books must balance too. */
  balanceBooks(): void {
    for (const [productId, history] of this.histories) balance(productId, history);
  }

  checkLinearizable(): number {
    let expired = 0;
    for (const [productId, history] of this.histories) {
      const result = checkLinearizable(history, ledgerSpec());
      if (result.verdict !== 'linearizable') {
        throw new Error(`${productId}: ${describeFailure(history, result, showOperation)}`);
      }
      // Expiry observed either way: a hold read as EXPIRED, or a confirm/release refused for it.
      expired += history.filter((operation) => {
        const output = operation.output;
        if (output === undefined) return false;
        if (!output.ok) return output.code === 'reservation_expired';
        return 'reservation' in output && output.reservation.status === 'EXPIRED';
      }).length;
    }
    return expired;
  }
}

function checkStockInvariants(stock: StockBody): void {
  const { onHand, reserved, available } = stock;
  if (!(0 <= reserved && reserved <= onHand && available === onHand - reserved)) {
    throw new Error(`invariant broken: ${JSON.stringify(stock)}`);
  }
}

/**
 * With everything quiet: reserved is the sum of PENDING holds, on_hand is what adjusts put in
 * less what was sold, and holds never released or expired fit in the stock put in.
 */
function balance(productId: string, history: readonly LedgerOperation[]): void {
  if (history.some((operation) => operation.output === undefined)) return; // 503: unknowable
  const finalStatus = new Map<string, { status: string; quantity: number }>();
  let delta = 0;
  let putIn = 0;
  const keyed = new Map<string, number>();
  let stock: StockBody | undefined;
  for (const { input, output } of history) {
    if (output?.ok !== true) continue;
    if ('reservation' in output) {
      finalStatus.set(output.reservation.id, output.reservation);
    } else if (input.kind === 'adjust' && input.idempotencyKey === '') {
      delta += input.delta;
      putIn += Math.max(input.delta, 0);
    } else if (input.kind === 'adjust') {
      // Once per key: its replays (and a retry's answer, which may be one) add nothing.
      keyed.set(input.idempotencyKey, input.delta);
    }
    if ('stock' in output && input.kind === 'read-stock') stock = output.stock;
  }
  for (const each of keyed.values()) {
    delta += each;
    putIn += Math.max(each, 0);
  }
  const sum = (statuses: string[]) =>
    [...finalStatus.values()]
      .filter((hold) => statuses.includes(hold.status))
      .reduce((total, hold) => total + hold.quantity, 0);
  const books = { reserved: sum(['PENDING']), onHand: delta - sum(['CONFIRMED']) };
  expect(stock, `${productId}: final stock`).toMatchObject(books);
  expect(sum(['PENDING', 'CONFIRMED']), `${productId}: held within put in`).toBeLessThanOrEqual(
    putIn,
  );
}

/**
 * Something done to the cluster while a run's clients send, given the run's first key; it calls
 * `landed` once it has struck (the clients hold their second halves until then).
 */
type Disruption = (product: string, landed: () => void) => Promise<void>;

/** One property run through `baseUrls`, checked, its counts added to `totals`. */
async function runPlan(
  baseUrls: readonly string[],
  totals: Totals,
  scheduler: fc.Scheduler,
  plan: Plan,
  failover?: { readonly route: (client: number) => string; readonly during: Disruption },
): Promise<void> {
  const run = new HttpRun(baseUrls, plan.opening.length, failover?.route);
  for (const [key, units] of plan.opening.entries()) {
    const request: ModelRequest = {
      kind: 'adjust',
      productId: run.product(key),
      warehouseId,
      delta: units,
      reason: 'opening stock',
      idempotencyKey: '',
    };
    run.record(0, request, await run.send(request));
  }
  let landed = (): void => undefined;
  const struck =
    failover === undefined ? undefined : new Promise<void>((resolve) => (landed = resolve));
  const clients = plan.clients.map((commands, client) =>
    run.client(scheduler, client + 1, commands, struck),
  );
  const disruption = failover?.during(run.product(0), landed);
  // A disruption that fails before it strikes still lets the clients finish.
  void disruption?.then(landed, landed);
  // The disruption runs to its end (the node back up) whatever the clients met, so a failing
  // run leaves the cluster whole for the next one; the clients' failure is the one reported.
  const [sent, disrupted] = await Promise.allSettled([
    scheduler.waitFor(Promise.all(clients)),
    disruption,
  ]);
  if (sent.status === 'rejected') throw sent.reason;
  if (disrupted.status === 'rejected') throw disrupted.reason;
  await run.closeBooks();
  totals.expired += run.checkLinearizable();
  run.balanceBooks();
  totals.runs += 1;
  totals.concurrentMax = Math.max(totals.concurrentMax, run.concurrentMax);
  totals.retries += run.retries;
  for (const history of run.histories.values()) {
    totals.operations += history.length;
    totals.unknown += history.filter((operation) => operation.output === undefined).length;
  }
}

describe.runIf(await havePostgres())('the real ledger over HTTP, against the model', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess;
  const totals: Totals = {
    runs: 0,
    operations: 0,
    unknown: 0,
    retries: 0,
    expired: 0,
    concurrentMax: 0,
  };
  const startedMs = Date.now();

  beforeAll(async () => {
    database = await createDatabase();
    ledger = await startLedger({
      env: {
        DATABASE_URL: database.url,
        SHARDS: String(shards),
        LEDGER_PARTITIONS: String(partitions),
        LEDGER_TTL_SECONDS_MIN: '1',
      },
    });
  });

  afterAll(async () => {
    report({
      test: 'http model (linearizability)',
      seconds: (Date.now() - startedMs) / 1000,
      counts: { ...totals },
    });
    await ledger?.stop();
    await database?.drop();
  });

  function property(shape: Shape) {
    return fc.asyncProperty(fc.scheduler(), planArbitrary(shape), (scheduler, plan) =>
      runPlan([ledger.baseUrl], totals, scheduler, plan),
    );
  }

  // Soak: SOAK_MODEL_MINUTES (10 by default) of runs, shared by the three properties.
  const minutes = knob('SOAK_MODEL_MINUTES', 0, 10);
  function options(runs: number, share: number) {
    const base = runOptions<[fc.Scheduler, Plan]>(runs);
    if (minutes === 0) return base;
    const limitMs = minutes * 60_000 * share;
    return {
      ...base,
      numRuns: 1_000_000_000,
      interruptAfterTimeLimit: limitMs,
      markInterruptAsFailure: false,
    };
  }
  const timeoutMs = timeoutFor(minutes * 60_000 * 0.4);

  it(
    'explains every history over several keys on both shards by the model, in real-time order',
    async () => {
      const shape: Shape = {
        keys: 4,
        clients: [2, 5],
        commands: [3, 12],
        stock: [2, 12],
        withClock: false,
      };
      await fc.assert(property(shape), options(knob('HTTP_MODEL_RUNS', 12, 0), 0.4));
    },
    timeoutMs,
  );

  it(
    'explains every history on one hot key with many clients racing for little stock',
    async () => {
      const shape: Shape = {
        keys: 1,
        clients: [4, 8],
        commands: [3, 10],
        stock: [1, 8],
        withClock: false,
      };
      await fc.assert(property(shape), options(knob('HTTP_MODEL_RUNS', 12, 0), 0.4));
    },
    timeoutMs,
  );

  it(
    'explains every history in which one-second holds expire while clients race',
    async () => {
      const shape: Shape = {
        keys: 2,
        clients: [2, 4],
        commands: [3, 8],
        stock: [2, 8],
        withClock: true,
      };
      await fc.assert(property(shape), options(knob('HTTP_MODEL_CLOCK_RUNS', 12, 0), 0.2));
      expect(totals.expired, 'holds seen EXPIRED').toBeGreaterThan(0);
    },
    timeoutMs,
  );
});

/**
 * The same model, through three nodes of a cluster: each client talks to its own node, so most
 * requests are forwarded to their partition's owner, and every key's history must still be
 * explained by the model in real-time order; also while the key's owner is killed (kill -9),
 * its partitions taken over by the others, and the node started again.
 */
describe.runIf((await havePostgres()) && (await haveNats()))(
  'a cluster of three nodes over HTTP, against the model',
  () => {
    let database: TestDatabase;
    const nodes: LedgerProcess[] = [];
    const totals: Totals = {
      runs: 0,
      operations: 0,
      unknown: 0,
      retries: 0,
      expired: 0,
      concurrentMax: 0,
    };
    const { stream, prefix } = uniqueStream('model');
    const tag = randomBytes(3).toString('hex');
    const nodeIds = ['p', 'q', 'r'].map((name) => `model-${name}-${tag}`);
    const startedMs = Date.now();
    /** Nodes killed and not back yet: their clients talk to the next node up. */
    const down = new Set<number>();

    const startNode = (index: number): Promise<LedgerProcess> =>
      startLedger({
        env: {
          DATABASE_URL: database.url,
          NATS_URL: sharedNatsUrl,
          LEDGER_EVENTS_STREAM: stream,
          LEDGER_EVENTS_SUBJECT_PREFIX: prefix,
          LEDGER_CLUSTER: '1',
          LEDGER_NODE_ID: nodeIds[index] as string,
          SHARDS: String(shards),
          LEDGER_PARTITIONS: String(partitions),
          LEDGER_TTL_SECONDS_MIN: '1',
        },
      });
    const up = (): LedgerProcess[] => nodes.filter((_, index) => !down.has(index));
    /** Until every node up sees the partitions shared as `shares` (sorted, comma-joined). */
    const settled = async (shares: string): Promise<void> => {
      const deadline = Date.now() + 60_000;
      for (const node of up()) {
        for (;;) {
          const response = await fetch(`${node.baseUrl}/v1/cluster`);
          const view = (await response.json()) as { nodes: { partitions: number }[] };
          const seen = view.nodes.map((each) => each.partitions).sort();
          if (seen.join() === shares) break;
          if (Date.now() > deadline) throw new Error(`shares never settled: ${seen.join()}`);
          await sleep(200);
        }
      }
    };

    beforeAll(async () => {
      database = await createDatabase('ledger_model_cluster');
      for (const index of nodeIds.keys()) nodes.push(await startNode(index));
      // Every node holds its share before the runs begin (none is still taking partitions).
      await settled('85,85,86');
    }, 120_000);

    afterAll(async () => {
      report({
        test: 'http model, cluster (linearizability)',
        seconds: (Date.now() - startedMs) / 1000,
        counts: { ...totals },
      });
      for (const node of nodes) await node.stop();
      await database?.drop();
      await deleteStream(sharedNatsUrl, stream);
    }, 60_000);

    const property = (shape: Shape) =>
      fc.asyncProperty(fc.scheduler(), planArbitrary(shape), (scheduler, plan) =>
        runPlan(
          nodes.map((node) => node.baseUrl),
          totals,
          scheduler,
          plan,
        ),
      );

    it('explains every history over several keys, clients on different nodes', async () => {
      const shape: Shape = {
        keys: 4,
        clients: [3, 6],
        commands: [3, 10],
        stock: [2, 12],
        withClock: false,
      };
      await fc.assert(property(shape), runOptions(knob('HTTP_MODEL_CLUSTER_RUNS', 8, 0)));
    }, 120_000);

    /** The index of the node serving `product` (a 503 while ownership moves is asked again). */
    const ownerOf = async (product: string): Promise<number> => {
      const deadline = Date.now() + 30_000;
      for (;;) {
        let seen: string;
        try {
          const probe = await fetch(`${up()[0]?.baseUrl}/v1/stock/${product}/${warehouseId}`);
          await probe.arrayBuffer();
          const owner = nodeIds.indexOf(probe.headers.get('x-served-by') ?? '');
          if (owner >= 0) return owner;
          seen = String(probe.status);
        } catch (error) {
          seen = String(error); // a kept-alive connection the node had just closed
        }
        if (Date.now() > deadline) throw new Error(`no owner for ${product}: ${seen}`);
        await sleep(100);
      }
    };

    /**
     * kill -9 of the key's owner soon after the clients start (they send the second half of
     * their commands once it has landed); back once the others took over.
     */
    const killOwner: Disruption = async (product, landed) => {
      const victim = await ownerOf(product);
      await sleep(30);
      down.add(victim);
      await nodes[victim]?.kill();
      landed();
      try {
        await settled('128,128');
      } finally {
        // Back up even when the others never settled, so no later run or test meets a dead node.
        nodes[victim] = await startNode(victim);
        down.delete(victim);
      }
      await settled('85,85,86');
    };
    const failover = {
      route: (client: number): string => {
        const live = up();
        return (live[client % live.length] as LedgerProcess).baseUrl;
      },
      during: killOwner,
    };

    // A run takes 10-20 s (a kill, two hand-overs, a start); a minute each leaves a busy box room.
    const failoverRuns = knob('HTTP_MODEL_FAILOVER_RUNS', 2, 0);
    it(
      'explains every history in which the key owner is killed and comes back',
      async () => {
        const shape: Shape = {
          keys: 1,
          clients: [3, 6],
          commands: [4, 10],
          stock: [2, 10],
          withClock: false,
        };
        const property = fc.asyncProperty(fc.scheduler(), planArbitrary(shape), (scheduler, plan) =>
          runPlan([], totals, scheduler, plan, failover),
        );
        const retriesBefore = totals.retries;
        // No shrinking: every run kills a node, and the first failure is the one worth seeing.
        await fc.assert(property, { ...runOptions(failoverRuns), endOnFailure: true });
        // The kill did land among the clients' requests: some could not know their outcome at
        // first and were sent again.
        expect(totals.retries - retriesBefore).toBeGreaterThan(0);
      },
      timeoutFor(failoverRuns * 60_000),
    );

    it('explains every history on one hot key, its clients spread over the nodes', async () => {
      const shape: Shape = {
        keys: 1,
        clients: [4, 8],
        commands: [3, 8],
        stock: [1, 8],
        withClock: false,
      };
      await fc.assert(property(shape), runOptions(knob('HTTP_MODEL_CLUSTER_RUNS', 8, 0)));
    }, 120_000);
  },
);
