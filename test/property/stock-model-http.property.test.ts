// Proves the real server answers lots, transfers and sets as the contract's reference model does:
// fast-check plans adjusts naming lots with dates (tomorrow, later, none, past: refused), sets
// and adjusts with or without expected_version (a stale one is 409 version_conflict), FEFO holds
// (short ones expiring while the run waits, long ones skipping lots that end before them),
// partial and full confirms, releases, transfers between warehouses of one product (direct or in
// transit, retried under their key) with receive and cancel, and reads of stock, holds,
// transfers and products. Sequential runs send one request at a time and check every answer
// against the model at once (status, code, details, every body field, the lots a hold took);
// concurrent runs interleave clients and check each product's history for linearizability. Every
// stock body obeys the invariants (reserved <= on_hand, lots never negative and summing to the
// key), and at the end each key's journal (its movements) balances with what it holds.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { runOptions } from '../helpers/fc-options.js';
import { get } from '../helpers/http.js';
import { sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { knob, report, timeoutFor } from '../helpers/soak.js';
import { productsAcrossShards } from '../helpers/stock-keys.js';
import { timedCall, type TimedReply } from '../helpers/timed-http.js';
import { checkLinearizable, describeFailure } from '../model/linearizability.js';
import {
  ReferenceLedger,
  canonical,
  type ModelReply,
  type StockBody,
} from '../model/reference-ledger.js';
import {
  SequentialCheck,
  observedStockReply,
  stockCallOf,
  stockSpec,
  type StockOperation,
  type StockRequest,
} from '../model/stock-history.js';

const shards = 2;
const partitions = 256;
/** Two days: a hold of one day may take tomorrow's lot, one of two days may not. */
const ttlSecondsMax = 172_800;
const warehouses = ['wa', 'wb', 'wc'];
const lotIds = ['L1', 'L2', 'L3'];
/** Days from today of a lot's expires_on; undefined: no date; -1: yesterday (refused). */
const lotDays = [undefined, 1, 2, 5, -1];
const ttls = [1, 600, 86_400, ttlSecondsMax];
/**
 * Search nodes the linearizability check may visit per history: passing runs need a few dozen
 * (the soak report shows the largest), so a failure is reported long before the timeout.
 */
const exploredMax = 200_000;

/** The UTC date `days` from now, YYYY-MM-DD. */
const dayFromNow = (days: number): string =>
  new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

/** How a set or adjust uses expected_version: not at all, the last version seen, or another. */
type Cas = 'none' | 'seen' | 'stale' | 'zero';

type Command =
  | {
      kind: 'adjust';
      product: number;
      warehouse: number;
      delta: number;
      lot: number;
      day: number;
      pool: number;
      cas: Cas;
    }
  | { kind: 'set'; product: number; warehouse: number; onHand: number; pool: number; cas: Cas }
  | {
      kind: 'reserve';
      product: number;
      warehouse: number;
      quantity: number;
      ttl: number;
      pool: number;
    }
  | { kind: 'confirm'; pick: number; quantity: number }
  | { kind: 'release' | 'read-reservation'; pick: number }
  | {
      kind: 'transfer';
      product: number;
      from: number;
      to: number;
      quantity: number;
      inTransit: boolean;
      pool: number;
    }
  | { kind: 'receive-transfer' | 'cancel-transfer' | 'read-transfer'; pick: number }
  | { kind: 'read-stock'; product: number; warehouse: number }
  | { kind: 'read-product'; product: number }
  | { kind: 'retry'; what: 'reserve' | 'adjust' | 'transfer'; pick: number }
  | { kind: 'advance'; ms: number };

function commandArbitrary(products: number): fc.Arbitrary<Command> {
  const product = fc.nat({ max: products - 1 });
  const warehouse = fc.nat({ max: warehouses.length - 1 });
  const pick = fc.nat({ max: 1_000 });
  const pool = fc.integer({ min: -3, max: 1 }); // negative: no key (adjust, set) or a fresh one
  const cas = fc.constantFrom<Cas>('none', 'none', 'none', 'seen', 'seen', 'stale', 'zero');
  const commands: fc.WeightedArbitrary<Command>[] = [
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('adjust' as const),
        product,
        warehouse,
        delta: fc.integer({ min: -5, max: 10 }).filter((delta) => delta !== 0),
        lot: fc.integer({ min: -1, max: lotIds.length - 1 }), // -1: no lot
        day: fc.nat({ max: lotDays.length - 1 }),
        pool,
        cas,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('set' as const),
        product,
        warehouse,
        onHand: fc.integer({ min: 0, max: 16 }),
        pool,
        cas,
      }),
    },
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('reserve' as const),
        product,
        warehouse,
        quantity: fc.integer({ min: 1, max: 8 }),
        ttl: fc.nat({ max: ttls.length - 1 }),
        pool,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('confirm' as const),
        pick,
        quantity: fc.integer({ min: 0, max: 3 }), // 0: the whole hold
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constantFrom('release' as const, 'read-reservation' as const),
        pick,
      }),
    },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('transfer' as const),
        product,
        from: warehouse,
        to: warehouse,
        quantity: fc.integer({ min: 1, max: 10 }),
        inTransit: fc.boolean(),
        pool,
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constantFrom(
          'receive-transfer' as const,
          'cancel-transfer' as const,
          'read-transfer' as const,
        ),
        pick,
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('read-stock' as const), product, warehouse }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('read-product' as const), product }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('retry' as const),
        what: fc.constantFrom('reserve' as const, 'adjust' as const, 'transfer' as const),
        pick,
      }),
    },
  ];
  return fc.oneof(...commands);
}

/** A list of commands, with one wait past the one-second holds somewhere in it when asked. */
function commandsArbitrary(
  products: number,
  length: [number, number],
  withClock: boolean,
): fc.Arbitrary<Command[]> {
  const list = fc.array(commandArbitrary(products), { minLength: length[0], maxLength: length[1] });
  if (!withClock) return list;
  const advance = fc.record({
    kind: fc.constant('advance' as const),
    ms: fc.integer({ min: 1_100, max: 1_300 }),
  });
  return fc
    .tuple(list, advance, fc.nat())
    .map(([commands, wait, at]) => commands.toSpliced(at % (commands.length + 1), 0, wait));
}

let runCounter = 0;

/** What the property's runs saw, summed: they must reach the rules, not only the easy paths. */
const tally = new Map<string, number>();
/** The same for the concurrent runs. */
const concurrentTally = new Map<string, number>();

function addTally(into: Map<string, number>, from: ReadonlyMap<string, number>): void {
  for (const [name, times] of from) into.set(name, (into.get(name) ?? 0) + times);
}

function count(into: Map<string, number>, name: string): void {
  into.set(name, (into.get(name) ?? 0) + 1);
}

/** One run: its products, the ids the ledger issued, and every exchange. */
class StockRun {
  readonly products: string[];
  readonly operations: StockOperation[] = [];
  /** Ids the ledger issued, with their product, in the order first seen. */
  private readonly holds: string[] = [];
  private readonly transfers: string[] = [];
  /** Requests sent with an idempotency key, by kind, which a retry sends again as they were. */
  private readonly keyed = new Map<string, StockRequest[]>();
  private readonly productOfId = new Map<string, string>();
  /** The last version seen of each stock key (what a client would send as expected_version). */
  private readonly versions = new Map<string, number>();
  private readonly tag: string;
  private inFlight = 0;
  concurrentMax = 0;
  /** This run's answers by kind (see nameOf). */
  readonly tally = new Map<string, number>();

  constructor(
    private readonly baseUrl: string,
    productCount: number,
  ) {
    runCounter += 1;
    this.tag = `sm${runCounter}-${process.pid}`;
    this.products = productsAcrossShards(this.tag, productCount, shards, partitions);
  }

  private product(index: number): string {
    return this.products[index % this.products.length] as string;
  }

  private picked<T>(list: readonly T[], pick: number): T | undefined {
    if (list.length === 0) return undefined;
    return list[list.length - 1 - (pick % Math.min(list.length, 6))];
  }

  private idempotencyKey(name: string, pool: number, client: number, serial: number): string {
    return pool < 0
      ? `${this.tag}-${name}-c${client}-${serial}`
      : `${this.tag}-${name}-pool-${pool}`;
  }

  private expectedVersion(cas: Cas, productId: string, warehouseId: string): number | undefined {
    const seen = this.versions.get(`${productId}/${warehouseId}`) ?? 0;
    if (cas === 'seen') return seen;
    if (cas === 'stale') return seen === 0 ? 3 : seen - 1;
    return cas === 'zero' ? 0 : undefined;
  }

  /** The request a command stands for now; undefined when it names an id none was issued for. */
  resolve(command: Command, client: number, serial: number): StockRequest | undefined {
    switch (command.kind) {
      case 'adjust':
        return this.adjustOf(command, client, serial);
      case 'set': {
        const productId = this.product(command.product);
        const warehouseId = warehouses[command.warehouse] as string;
        const expectedVersion = this.expectedVersion(command.cas, productId, warehouseId);
        return {
          kind: 'adjust',
          productId,
          warehouseId,
          delta: 0,
          setOnHand: command.onHand,
          reason: 'count',
          idempotencyKey:
            command.pool < 0 ? '' : this.idempotencyKey('set', command.pool, client, serial),
          ...(expectedVersion === undefined ? {} : { expectedVersion }),
        };
      }
      case 'reserve':
        return {
          kind: 'reserve',
          productId: this.product(command.product),
          warehouseId: warehouses[command.warehouse] as string,
          quantity: command.quantity,
          ttlSeconds: ttls[command.ttl] as number,
          idempotencyKey: this.idempotencyKey('reserve', command.pool, client, serial),
          reservationId: '',
        };
      case 'confirm': {
        const id = this.picked(this.holds, command.pick);
        if (id === undefined) return undefined;
        const quantity = command.quantity === 0 ? {} : { quantity: command.quantity };
        return { kind: 'confirm', reservationId: id, ...quantity };
      }
      case 'release':
      case 'read-reservation': {
        const id = this.picked(this.holds, command.pick);
        return id === undefined ? undefined : { kind: command.kind, reservationId: id };
      }
      case 'transfer':
        return {
          kind: 'transfer',
          productId: this.product(command.product),
          fromWarehouseId: warehouses[command.from] as string,
          toWarehouseId: warehouses[command.to] as string,
          quantity: command.quantity,
          inTransit: command.inTransit,
          idempotencyKey: this.idempotencyKey('transfer', command.pool, client, serial),
          transferId: '',
        };
      case 'receive-transfer':
      case 'cancel-transfer':
      case 'read-transfer': {
        const id = this.picked(this.transfers, command.pick);
        return id === undefined ? undefined : { kind: command.kind, transferId: id };
      }
      case 'read-stock':
        return {
          kind: 'read-stock',
          productId: this.product(command.product),
          warehouseId: warehouses[command.warehouse] as string,
        };
      case 'read-product':
        return { kind: 'read-product-stock', productId: this.product(command.product) };
      case 'retry':
        return this.picked(this.keyed.get(command.what) ?? [], command.pick);
      case 'advance':
        throw new Error('advance is not a request');
    }
  }

  private adjustOf(
    command: Extract<Command, { kind: 'adjust' }>,
    client: number,
    serial: number,
  ): StockRequest {
    const productId = this.product(command.product);
    const warehouseId = warehouses[command.warehouse] as string;
    const lotId = lotIds[command.lot];
    const days = lotDays[command.day];
    const lot =
      lotId === undefined
        ? {}
        : { lot: days === undefined ? { lotId } : { lotId, expiresOn: dayFromNow(days) } };
    const expectedVersion = this.expectedVersion(command.cas, productId, warehouseId);
    return {
      kind: 'adjust',
      productId,
      warehouseId,
      delta: command.delta,
      reason: '',
      idempotencyKey:
        command.pool < 0 ? '' : this.idempotencyKey('adjust', command.pool, client, serial),
      ...(expectedVersion === undefined ? {} : { expectedVersion }),
      ...lot,
    };
  }

  async send(client: number, request: StockRequest): Promise<StockOperation> {
    this.inFlight += 1;
    this.concurrentMax = Math.max(this.concurrentMax, this.inFlight);
    let reply: TimedReply;
    try {
      reply = await timedCall(this.baseUrl, stockCallOf(request));
    } finally {
      this.inFlight -= 1;
    }
    if (reply.status === 503) throw new Error(`503 with no fault injected: ${reply.text}`);
    const output = observedStockReply(request, reply.status, reply.body, reply.replayed);
    const operation: StockOperation = {
      client,
      input: request,
      output,
      invokeMs: reply.invokeMs,
      responseMs: reply.responseMs,
    };
    this.operations.push(operation);
    if ('idempotencyKey' in request && request.idempotencyKey !== '') {
      this.keyed.set(request.kind, [...(this.keyed.get(request.kind) ?? []), request]);
    }
    if (output !== undefined) this.learn(request, output);
    return operation;
  }

  /** Ids, versions and the invariants of every stock body an answer carries; the tally. */
  private learn(request: StockRequest, output: ModelReply): void {
    count(this.tally, nameOf(request, output));
    if (!output.ok) return;
    if ('reservation' in output) {
      const hold = output.reservation;
      if (!this.productOfId.has(hold.id)) this.holds.push(hold.id);
      this.productOfId.set(hold.id, hold.productId);
      checkHoldLots(hold.quantity, hold.lots);
    }
    if ('transfer' in output) {
      const transfer = output.transfer;
      if (!this.productOfId.has(transfer.transferId)) this.transfers.push(transfer.transferId);
      this.productOfId.set(transfer.transferId, transfer.productId);
      checkHoldLots(transfer.quantity, transfer.lots);
    }
    for (const stock of stockBodiesOf(output)) {
      checkStockInvariants(stock);
      const key = `${stock.productId}/${stock.warehouseId}`;
      this.versions.set(key, Math.max(this.versions.get(key) ?? 0, stock.version));
    }
  }

  /** The product an operation belongs to (an id-only request: the one its id was issued for). */
  productOf(operation: StockOperation): string {
    const input = operation.input;
    if ('productId' in input) return input.productId;
    const id = 'reservationId' in input ? input.reservationId : input.transferId;
    const productId = this.productOfId.get(id);
    if (productId === undefined) throw new Error(`no product for ${JSON.stringify(input)}`);
    return productId;
  }

  /** Quiescent reads of everything the run made, so the final state joins the history. */
  async readEverything(client: number, check?: (operation: StockOperation) => void): Promise<void> {
    const requests: StockRequest[] = [];
    for (const productId of this.products) {
      requests.push({ kind: 'read-product-stock', productId });
      for (const warehouseId of warehouses) {
        requests.push({ kind: 'read-stock', productId, warehouseId });
      }
    }
    for (const reservationId of this.holds)
      requests.push({ kind: 'read-reservation', reservationId });
    for (const transferId of this.transfers) requests.push({ kind: 'read-transfer', transferId });
    for (const request of requests) {
      const operation = await this.send(client, request);
      check?.(operation);
    }
  }

  /**
   * The journal balances: each key's newest movement shows its counts now, and over the
   * product's keys on_hand + incoming is what adjusts and sets put in less what was sold.
   */
  async balanceMovements(): Promise<void> {
    for (const productId of this.products) {
      let heldNow = 0;
      let putIn = 0;
      for (const warehouseId of warehouses) {
        const stock = await get(this.baseUrl, `/v1/stock/${productId}/${warehouseId}`);
        if (stock.status === 404) continue;
        expect(stock.status, stock.text).toBe(200);
        const movements = await allMovements(this.baseUrl, productId, warehouseId);
        const newest = movements[0];
        expect(newest, `${productId}/${warehouseId}: newest movement`).toMatchObject({
          version: stock.body.version,
          on_hand: stock.body.on_hand,
          reserved: stock.body.reserved,
          incoming: stock.body.incoming,
        });
        expect(movements.length, `${productId}/${warehouseId}: one movement a version`).toBe(
          stock.body.version,
        );
        heldNow += (stock.body.on_hand as number) + (stock.body.incoming as number);
        for (const movement of movements) putIn += unitsPutIn(movement);
      }
      expect(heldNow, `${productId}: on_hand + incoming against the journal`).toBe(putIn);
    }
  }
}

interface Movement {
  readonly version: number;
  readonly type: string;
  readonly quantity: number;
}

/** Units a movement adds to the product as a whole (transfers only move them). */
function unitsPutIn(movement: Movement): number {
  if (movement.type === 'adjust' || movement.type === 'set') return movement.quantity;
  if (movement.type === 'confirm' || movement.type === 'lot_expired') return -movement.quantity;
  return 0;
}

async function allMovements(
  baseUrl: string,
  productId: string,
  warehouseId: string,
): Promise<Movement[]> {
  const movements: Movement[] = [];
  let before = '';
  for (;;) {
    const query = before === '' ? '?limit=1000' : `?limit=1000&before=${before}`;
    const page = await get(baseUrl, `/v1/stock/${productId}/${warehouseId}/movements${query}`);
    expect(page.status, page.text).toBe(200);
    movements.push(...(page.body.movements as Movement[]));
    if (page.body.next === null) return movements;
    before = encodeURIComponent(page.body.next as string);
  }
}

/** A tally name: the request's kind and variant, and its answer. */
function nameOf(request: StockRequest, output: ModelReply): string {
  let variant = '';
  if (request.kind === 'adjust') {
    variant = request.setOnHand === undefined ? '' : ' set';
    if (request.lot !== undefined) variant += ' lot';
    if (request.expectedVersion !== undefined) variant += ' cas';
  }
  if (request.kind === 'confirm' && request.quantity !== undefined) variant = ' partial';
  if (request.kind === 'transfer') variant = request.inTransit ? ' in transit' : ' direct';
  if (!output.ok) return `${request.kind}${variant} ${output.code}`;
  if ('reservation' in output && output.reservation.lots !== undefined) variant += ' lots';
  if ('reservation' in output && request.kind !== 'reserve') {
    variant += ` ${output.reservation.status}`;
  }
  if ('transfer' in output && output.transfer.lots !== undefined) variant += ' lots';
  return `${request.kind}${variant} ${output.replayed === true ? 'replayed' : 'ok'}`;
}

function stockBodiesOf(output: ModelReply): StockBody[] {
  if (!output.ok) return [];
  if ('stock' in output) return [output.stock];
  if ('transfer' in output) return [output.transfer.from, output.transfer.to];
  if ('productStock' in output) return [...output.productStock.warehouses];
  return [];
}

/** No oversell, lots never negative, and a key's named lots hold all of it. */
function checkStockInvariants(stock: StockBody): void {
  const { onHand, reserved, available } = stock;
  const incoming = stock.incoming ?? 0;
  const broken = (why: string) => new Error(`invariant broken (${why}): ${canonical(stock)}`);
  if (!(0 <= reserved && reserved <= onHand && available === onHand - reserved)) {
    throw broken('0 <= reserved <= on_hand, available = on_hand - reserved');
  }
  if (incoming < 0) throw broken('incoming >= 0');
  if (stock.lots === undefined) return;
  for (const lot of stock.lots) {
    if (!(0 <= lot.reserved && lot.reserved <= lot.onHand)) throw broken(`lot ${lot.lotId}`);
  }
  const sum = (field: 'onHand' | 'reserved') =>
    (stock.lots ?? []).reduce((total, lot) => total + lot[field], 0);
  if (sum('onHand') !== onHand || sum('reserved') !== reserved) throw broken('lots sum to the key');
}

/** The units a hold or transfer names lot by lot add up to its quantity, each above 0. */
function checkHoldLots(
  quantity: number,
  lots: readonly { lotId: string; quantity: number }[] | undefined,
): void {
  if (lots === undefined) return;
  const sum = lots.reduce((total, units) => total + units.quantity, 0);
  if (sum !== quantity || lots.some((units) => units.quantity <= 0)) {
    throw new Error(`lots of ${quantity} units: ${canonical(lots)}`);
  }
}

/** Every pattern names at least one kind of answer in the tally. */
function expectCoverage(seenIn: ReadonlyMap<string, number>, patterns: readonly RegExp[]): void {
  const seen = [...seenIn.keys()];
  for (const pattern of patterns) {
    const hits = seen.filter((name) => pattern.test(name)).length;
    expect(hits, `${String(pattern)} in ${canonical(seen.sort())}`).toBeGreaterThan(0);
  }
}

function newModel(): ReferenceLedger {
  return new ReferenceLedger({ onHandMax: 1_000_000_000_000, ttlSecondsMax }, 'eager', 'v1.1');
}

/**
 * Opening stock: an unnamed batch in the first warehouse, a dated lot in the second; with
 * `shipped`, two transfers in transit (one carrying the lot) for receives and cancels to race on.
 */
function openingCommands(products: number, shipped: boolean): Command[] {
  const opening: Command[] = [];
  for (let product = 0; product < products; product += 1) {
    const base = { kind: 'adjust' as const, product, pool: -1, cas: 'none' as const };
    opening.push({ ...base, warehouse: 0, delta: 6, lot: -1, day: 0 });
    opening.push({ ...base, warehouse: 1, delta: 5, lot: 1, day: 3 });
  }
  if (!shipped) return opening;
  for (let product = 0; product < products; product += 1) {
    const base = { kind: 'transfer' as const, product, quantity: 2, inTransit: true, pool: -1 };
    opening.push({ ...base, from: 0, to: 2 }, { ...base, from: 1, to: 0 });
  }
  return opening;
}

describe.runIf(await havePostgres())(
  'lots, transfers and sets over HTTP, against the model',
  () => {
    let database: TestDatabase;
    let ledger: LedgerProcess;
    const startedMs = Date.now();
    const totals = { runs: 0, operations: 0, concurrentMax: 0, exploredMax: 0 };

    beforeAll(async () => {
      database = await createDatabase();
      ledger = await startLedger({
        env: {
          DATABASE_URL: database.url,
          SHARDS: String(shards),
          LEDGER_PARTITIONS: String(partitions),
          LEDGER_TTL_SECONDS_MIN: '1',
          LEDGER_TTL_SECONDS_MAX: String(ttlSecondsMax),
        },
      });
    });

    afterAll(async () => {
      report({
        test: 'stock model over http (lots, transfers, set)',
        seconds: (Date.now() - startedMs) / 1000,
        counts: { ...totals },
      });
      await ledger?.stop();
      await database?.drop();
    });

    /** One request at a time, each answer checked against the model before the next is sent. */
    async function runSequential(commands: Command[], shipped = true): Promise<StockRun> {
      const productCount = 2;
      const run = new StockRun(ledger.baseUrl, productCount);
      const check = new SequentialCheck(newModel());
      const verify = (operation: StockOperation) => {
        const mismatch = check.check(operation);
        if (mismatch !== undefined)
          throw new Error(`the ledger and the model disagree:\n${mismatch}`);
      };
      for (const [serial, command] of [
        ...openingCommands(productCount, shipped),
        ...commands,
      ].entries()) {
        if (command.kind === 'advance') {
          await sleep(command.ms);
          continue;
        }
        const request = run.resolve(command, 0, serial);
        if (request !== undefined) verify(await run.send(0, request));
      }
      await run.readEverything(0, verify);
      await run.balanceMovements();
      totals.runs += 1;
      totals.operations += run.operations.length;
      return run;
    }

    /**
     * Clients interleaved by the scheduler, or in a burst all at once (the ledger interleaves
     * them itself); each product's history must be linearizable.
     */
    async function runConcurrent(
      scheduler: fc.Scheduler,
      burst: boolean,
      clients: Command[][],
    ): Promise<void> {
      const productCount = 2;
      const run = new StockRun(ledger.baseUrl, productCount);
      for (const [serial, command] of openingCommands(productCount, true).entries()) {
        await run.send(0, run.resolve(command, 0, serial) as StockRequest);
      }
      const client = async (id: number, commands: Command[]) => {
        for (const [serial, command] of commands.entries()) {
          // The scheduler decides which client moves next, and when each one hears its answer.
          if (!burst) await scheduler.schedule(Promise.resolve(), `client ${id} next`);
          if (command.kind === 'advance') {
            await sleep(command.ms);
            continue;
          }
          const request = run.resolve(command, id, 100 + serial);
          if (request === undefined) continue;
          const sent = run.send(id, request);
          await (burst ? sent : scheduler.schedule(sent, `client ${id} answer`));
        }
      };
      await scheduler.waitFor(
        Promise.all(clients.map((commands, index) => client(index + 1, commands))),
      );
      await run.readEverything(-1);
      for (const productId of run.products) {
        const history = run.operations.filter(
          (operation) => run.productOf(operation) === productId,
        );
        const result = checkLinearizable(history, stockSpec(newModel()), { exploredMax });
        if (result.verdict !== 'linearizable') {
          throw new Error(`${productId}: ${describeFailure(history, result, showOperation)}`);
        }
        totals.exploredMax = Math.max(totals.exploredMax, result.explored);
      }
      await run.balanceMovements();
      addTally(concurrentTally, run.tally);
      totals.runs += 1;
      totals.operations += run.operations.length;
      totals.concurrentMax = Math.max(totals.concurrentMax, run.concurrentMax);
    }

    // Soak: SOAK_STOCK_MODEL_MINUTES of runs, shared by the two properties.
    const minutes = knob('SOAK_STOCK_MODEL_MINUTES', 0, 10);
    function options<T>(runs: number, share: number): fc.Parameters<T> {
      const base = runOptions<T>(runs);
      if (minutes === 0) return base;
      return {
        ...base,
        numRuns: 1_000_000_000,
        interruptAfterTimeLimit: minutes * 60_000 * share,
        markInterruptAsFailure: false,
      };
    }
    // Room for shrinking a failure too: a run takes ~15 s, finding its smallest case longer.
    const timeoutMs = timeoutFor(Math.max(minutes * 60_000 * 0.5, 60_000));

    it(
      'answers every request one at a time as the model does',
      async () => {
        const plan = fc.oneof(
          commandsArbitrary(2, [15, 45], false),
          commandsArbitrary(2, [15, 45], true),
        );
        await fc.assert(
          fc.asyncProperty(plan, async (commands) => {
            addTally(tally, (await runSequential(commands)).tally);
          }),
          options<[Command[]]>(knob('STOCK_MODEL_HTTP_RUNS', 20, 0), 0.5),
        );
        // The runs reach the rules, not only the easy paths. Only outcomes that random plans of
        // this size reach nearly always are demanded here (a demand met by chance would make the
        // test flaky); the tour below meets the rarer ones (a cancel after a receive, say) every
        // time.
        expectCoverage(tally, [
          /^adjust lot( cas)? ok$/,
          /^adjust lot( cas)? validation_failed$/,
          /^adjust lot( cas)? insufficient_stock$/,
          /^adjust( lot)? cas version_conflict$/,
          /^adjust set( cas)? ok$/,
          /^adjust set cas version_conflict$/,
          /^reserve lots ok$/,
          /^reserve insufficient_stock$/,
          /^confirm .*CONFIRMED ok$/,
          /^release .*RELEASED ok$/,
          /^transfer .* lots ok$/,
          /^transfer .* insufficient_stock$/,
          /^(receive|cancel)-transfer( lots)? ok$/,
          /replayed$/,
        ]);
      },
      timeoutMs,
    );

    it('takes a fixed tour of the rules, every answer as the model gives it', async () => {
      const run = await runSequential(tourCommands(), false);
      expectCoverage(run.tally, tourReaches);
    });

    it('regression: a transfer to its own source is 422 validation_failed, whatever its key', async () => {
      // Found by this test: the model answered idempotency_key_reused for a transfer to its own
      // source under a key bound to another transfer of the product; the ledger checks the
      // warehouses in the HTTP layer, before any state, as it does every stateless check.
      const transfer = { kind: 'transfer' as const, product: 0, quantity: 1, inTransit: false };
      const run = await runSequential([
        { ...transfer, from: 0, to: 1, pool: 0 },
        { ...transfer, from: 0, to: 0, pool: 0 },
      ]);
      expect(run.tally.get('transfer direct ok')).toBe(1);
      expect(run.tally.get('transfer direct validation_failed')).toBe(1);
    });

    it(
      'explains every product history of interleaved clients by the model, in real-time order',
      async () => {
        const clients = fc
          .boolean()
          .chain((withClock) =>
            fc.array(commandsArbitrary(2, [4, 12], withClock), { minLength: 2, maxLength: 5 }),
          );
        await fc.assert(
          fc.asyncProperty(fc.scheduler(), fc.boolean(), clients, runConcurrent),
          options<[fc.Scheduler, boolean, Command[][]]>(
            knob('STOCK_MODEL_HTTP_CONCURRENT_RUNS', 12, 0),
            0.5,
          ),
        );
        expect(totals.concurrentMax, 'requests in flight at once').toBeGreaterThan(1);
        expectCoverage(concurrentTally, [
          /^adjust lot( cas)? ok$/,
          /^adjust set( cas)? ok$/,
          /^reserve lots ok$/,
          /^confirm .*CONFIRMED ok$/,
          /^transfer .* lots ok$/,
          /^receive-transfer( lots)? ok$/,
          /^cancel-transfer( lots)? ok$/,
        ]);
      },
      timeoutMs,
    );
  },
);

/**
 * A fixed sequence through the rules the random runs reach only sometimes (opening stock: 6
 * unnamed units in wa, 5 of lot L2 (5 days) in wb, for each product).
 */
function tourCommands(): Command[] {
  const adjust = { kind: 'adjust' as const, product: 0, pool: -1, cas: 'none' as const };
  const reserve = { kind: 'reserve' as const, product: 0, warehouse: 0, pool: -1 };
  const transfer = { kind: 'transfer' as const, product: 0 };
  const set = { kind: 'set' as const, product: 0, pool: -1 };
  return [
    // Lot L1 ends tomorrow: received, replayed, its date fixed; a past date refused.
    { ...adjust, warehouse: 0, delta: 4, lot: 0, day: 1, pool: 0 },
    { kind: 'retry', what: 'adjust', pick: 0 },
    { ...adjust, warehouse: 0, delta: 1, lot: 0, day: 2 },
    { ...adjust, warehouse: 0, delta: 1, lot: 2, day: 4 },
    // A two-day hold may not take L1 (it ends first), not even when there is enough without it;
    // a one-day hold takes it first.
    { ...reserve, quantity: 8, ttl: 3 },
    { ...reserve, quantity: 2, ttl: 3 },
    { ...reserve, quantity: 8, ttl: 2 },
    { kind: 'confirm', pick: 0, quantity: 3 },
    // A one-second hold, its key reused with another body, replayed, then expired.
    { ...reserve, quantity: 2, ttl: 0, pool: 0 },
    { ...reserve, quantity: 3, ttl: 0, pool: 0 },
    { kind: 'retry', what: 'reserve', pick: 1 },
    { kind: 'advance', ms: 1_200 },
    { kind: 'read-reservation', pick: 0 },
    { kind: 'release', pick: 0 },
    // In transit (received), direct (cannot be cancelled), in transit (cancelled), replayed.
    { ...transfer, from: 0, to: 1, quantity: 3, inTransit: true, pool: 1 },
    { ...transfer, from: 0, to: 2, quantity: 1, inTransit: false, pool: -1 },
    { kind: 'cancel-transfer', pick: 0 },
    { kind: 'receive-transfer', pick: 1 },
    { kind: 'cancel-transfer', pick: 1 },
    { ...transfer, from: 1, to: 0, quantity: 2, inTransit: true, pool: 2 },
    { kind: 'cancel-transfer', pick: 0 },
    { kind: 'receive-transfer', pick: 0 },
    { kind: 'retry', what: 'transfer', pick: 0 },
    // Compare-and-set: at the version seen, at a stale one, replayed; never below the holds.
    { ...set, warehouse: 2, onHand: 5, cas: 'seen', pool: 0 },
    { ...set, warehouse: 2, onHand: 7, cas: 'stale' },
    { kind: 'retry', what: 'adjust', pick: 0 },
    { ...reserve, quantity: 1, ttl: 1 },
    { ...set, warehouse: 0, onHand: 0, cas: 'none' },
    { ...adjust, warehouse: 1, delta: -1, lot: 2, day: 0 },
    // Version 0: the key must not exist yet.
    { ...set, product: 1, warehouse: 2, onHand: 2, cas: 'zero' },
    { ...adjust, product: 1, warehouse: 2, delta: 1, lot: -1, day: 0, cas: 'zero' },
    { kind: 'read-product', product: 0 },
  ];
}

/** What the tour must meet (each answer itself is checked against the model). */
const tourReaches = [
  /^adjust lot ok$/,
  /^adjust lot replayed$/,
  /^adjust lot validation_failed$/,
  /^reserve insufficient_stock$/,
  /^reserve lots ok$/,
  /^confirm partial lots CONFIRMED ok$/,
  /^reserve idempotency_key_reused$/,
  /^reserve lots replayed$/,
  /^read-reservation lots EXPIRED ok$/,
  /^release reservation_expired$/,
  /^transfer in transit lots ok$/,
  /^transfer direct lots ok$/,
  /^cancel-transfer transfer_received$/,
  /^receive-transfer lots ok$/,
  /^cancel-transfer lots ok$/,
  /^receive-transfer transfer_cancelled$/,
  /^transfer in transit lots replayed$/,
  /^adjust set cas ok$/,
  /^adjust set cas version_conflict$/,
  /^adjust set cas replayed$/,
  /^adjust set insufficient_stock$/,
  /^adjust lot insufficient_stock$/,
  /^adjust cas version_conflict$/,
];

function showOperation(operation: StockOperation): string {
  const span = `[${operation.invokeMs}, ${operation.responseMs}] client ${operation.client}`;
  return `${span} ${canonical(operation.input)} -> ${canonical(operation.output)}`;
}
