// Proves src/actors answers exactly as the contract's reference model does: random sequences of
// reserve / confirm / release / adjust / read / clock steps (fast-check) go to a PartitionState,
// swept before each batch as a shard does, and to the model; every answer, every stock view and
// the invariants are compared after each step, and a replay of the journal agrees at the end.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionState, type Command, type RetentionPolicy } from '../../src/actors/index.js';
import { RecordingPartition, modelReplyOf, reservationIdOf } from '../helpers/actor-fixtures.js';
import { runOptions } from '../helpers/fc-options.js';
import { knob, report, timeoutFor } from '../helpers/soak.js';
import {
  ReferenceLedger,
  replyMismatch,
  type ModelReply,
  type ModelRequest,
} from '../model/reference-ledger.js';

const t0 = 1_700_000_000_000;
const warehouseId = 'wh-1';
// Index 0 is the hot key; the last one is never stocked by the opening adjusts.
const products = ['hot-sku', 'sku-a', 'sku-b', 'ghost-sku'];
const unknownId = 'ffffffff-0000-8000-8000-000000000000';

type Step =
  | { kind: 'reserve'; key: number; quantity: number; ttlSeconds: number; idempotency: number }
  | { kind: 'retry-reserve'; pick: number; changeQuantity: boolean }
  | { kind: 'confirm' | 'release' | 'read-reservation'; pick: number; sweep: boolean }
  | {
      kind: 'adjust';
      key: number;
      delta: number;
      idempotency: number;
      reason: number;
      /** v1.1: a set (to |delta|) instead of an adjust, a reference, compare-and-set. */
      set: boolean;
      reference: boolean;
      /** none, the key's version (matches), one past it (conflicts), 0 (the key must not exist) */
      cas: 'none' | 'current' | 'stale' | 'zero';
    }
  | { kind: 'retry-adjust'; pick: number }
  | { kind: 'read-stock'; key: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'advance-to-expiry'; pick: number; early: boolean };

function stepArbitrary(hotWeight: number): fc.Arbitrary<Step> {
  const key = fc.oneof(
    { arbitrary: fc.constant(0), weight: hotWeight },
    { arbitrary: fc.integer({ min: 1, max: products.length - 1 }), weight: 1 },
  );
  const pick = fc.nat({ max: 1_000 });
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('reserve' as const),
        key,
        quantity: fc.integer({ min: 1, max: 12 }),
        ttlSeconds: fc.constantFrom(60, 61, 120, 600),
        idempotency: fc.integer({ min: -6, max: 3 }), // negative: a fresh key
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('retry-reserve' as const),
        pick,
        changeQuantity: fc.boolean(),
      }),
    },
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constantFrom('confirm' as const, 'release' as const, 'read-reservation' as const),
        pick,
        // A shard sweeps due holds before each batch; false: the actor must catch expiry itself.
        sweep: fc.boolean(),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('adjust' as const),
        key,
        delta: fc.integer({ min: -30, max: 80 }).filter((delta) => delta !== 0),
        idempotency: fc.integer({ min: -3, max: 2 }),
        reason: fc.nat({ max: 1 }),
        set: fc.boolean(),
        reference: fc.boolean(),
        cas: fc.constantFrom(
          'none' as const,
          'none' as const,
          'current' as const,
          'stale' as const,
          'zero' as const,
        ),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry-adjust' as const), pick }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('read-stock' as const), key }) },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('advance' as const),
        ms: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: 0, max: 200_000 })),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('advance-to-expiry' as const),
        pick,
        early: fc.boolean(),
      }),
    },
  );
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

function toCommand(request: ModelRequest, serial: number): Command {
  const traceId = `trace-${serial}`;
  switch (request.kind) {
    case 'reserve':
      return { ...request, requesterId: '', traceId };
    case 'adjust':
      return { ...request, actorId: '', traceId };
    case 'read-stock':
      return request;
    default:
      return { kind: request.kind, reservationId: request.reservationId, traceId };
  }
}

/** One run: the same requests at the same instants to the actor and to the model. */
class Comparison {
  readonly actor: RecordingPartition;
  readonly model: ReferenceLedger;
  nowMs = t0;
  steps = 0;
  private serial = 0;
  private readonly created: string[] = [];
  private readonly reserves: Extract<ModelRequest, { kind: 'reserve' }>[] = [];
  private readonly adjusts: Extract<ModelRequest, { kind: 'adjust' }>[] = [];
  /** How often each kind of answer came up, to show the runs reach every rule. */
  readonly tally = new Map<string, number>();
  /** Units ever put in by successful adjusts, per stock key. */
  private readonly putIn = new Map<string, number>();

  constructor(readonly retention: RetentionPolicy) {
    this.actor = new RecordingPartition(retention, 3);
    this.model = new ReferenceLedger({ onHandMax: retention.onHandMax });
  }

  perform(step: Step): void {
    this.steps += 1;
    switch (step.kind) {
      case 'advance':
        this.nowMs += step.ms;
        return;
      case 'advance-to-expiry': {
        const pending = this.model.pendingExpiries();
        const target = pending[step.pick % Math.max(pending.length, 1)];
        // To the very millisecond a hold expires, or the one before: where off-by-ones hide.
        if (target !== undefined) this.nowMs = Math.max(this.nowMs, target - (step.early ? 1 : 0));
        return;
      }
      case 'reserve':
        return this.send(this.reserveRequest(step), true);
      case 'retry-reserve': {
        const earlier = this.reserves[this.reserves.length - 1 - (step.pick % 8)];
        if (earlier === undefined) return;
        const quantity = earlier.quantity + (step.changeQuantity ? 1 : 0);
        return this.send({ ...earlier, quantity, reservationId: this.freshId() }, true);
      }
      case 'adjust':
        return this.send(this.adjustRequest(step), true);
      case 'retry-adjust': {
        const earlier = this.adjusts[this.adjusts.length - 1 - (step.pick % 8)];
        if (earlier !== undefined) this.send(earlier, true);
        return;
      }
      case 'read-stock':
        return this.send(
          { kind: 'read-stock', productId: products[step.key] ?? '', warehouseId },
          true,
        );
      default: {
        const recent = Math.min(this.created.length, 8);
        const id =
          step.pick % 13 === 12 || recent === 0
            ? unknownId
            : (this.created[this.created.length - 1 - (step.pick % recent)] as string);
        return this.send({ kind: step.kind, reservationId: id }, step.sweep);
      }
    }
  }

  private freshId(): string {
    this.serial += 1;
    return reservationIdOf(this.serial);
  }

  private reserveRequest(step: Extract<Step, { kind: 'reserve' }>): ModelRequest {
    const idempotencyKey =
      step.idempotency < 0
        ? `fresh-reserve-key-${this.serial + 1}`
        : `reserve-key-${step.idempotency}-padding`;
    return {
      kind: 'reserve',
      productId: products[step.key] ?? '',
      warehouseId,
      quantity: step.quantity,
      ttlSeconds: step.ttlSeconds,
      idempotencyKey,
      reservationId: this.freshId(),
    };
  }

  private adjustRequest(step: Extract<Step, { kind: 'adjust' }>): ModelRequest {
    const productId = products[step.key] ?? '';
    const version = this.model.stock(productId, warehouseId)?.version ?? 0;
    const expectedVersion = { none: undefined, current: version, stale: version + 1, zero: 0 }[
      step.cas
    ];
    return {
      kind: 'adjust',
      productId,
      warehouseId,
      delta: step.delta,
      ...(step.set ? { setOnHand: Math.abs(step.delta) } : {}),
      ...(expectedVersion === undefined ? {} : { expectedVersion }),
      reason: step.reason === 0 ? '' : 'cycle count',
      ...(step.reference ? { reference: 'PO-4711' } : {}),
      // Adjust keys never collide with reserve keys (see the report on cross-operation reuse).
      idempotencyKey: step.idempotency < 0 ? '' : `adjust-key-${step.idempotency}-padding`,
    };
  }

  /** Like a shard's batch: sweep due holds (unless told not to), then apply the command. */
  send(request: ModelRequest, sweep: boolean): void {
    if (request.kind === 'reserve') this.reserves.push(request);
    if (request.kind === 'adjust') this.adjusts.push(request);
    if (sweep) this.sweep();
    const before =
      request.kind === 'adjust'
        ? (this.model.stock(request.productId, request.warehouseId)?.onHand ?? 0)
        : 0;
    const expected = this.model.apply(request, this.nowMs);
    const result = this.actor.apply(toCommand(request, this.steps), this.nowMs);
    const actual = modelReplyOf(result.outcome);
    const mismatch = replyMismatch(expected, actual);
    if (mismatch !== undefined) {
      throw new Error(
        `step ${this.steps} at +${this.nowMs - t0} ms, ${JSON.stringify(request)}: ${mismatch}`,
      );
    }
    this.count(request, expected, result.record?.type === 'expired');
    if (expected.ok && 'reservation' in expected && expected.replayed === false) {
      this.created.push(expected.reservation.id);
    }
    if (request.kind === 'adjust' && expected.ok && expected.replayed === false) {
      const key = `${request.productId}/${request.warehouseId}`;
      const change = 'stock' in expected ? expected.stock.onHand - before : 0;
      this.putIn.set(key, (this.putIn.get(key) ?? 0) + Math.max(change, 0));
    }
    // A sweep makes the actor's state whole again: then every stock key must agree.
    if (sweep) this.compareStocks();
    this.checkInvariants();
  }

  private count(request: ModelRequest, reply: ModelReply, expiredByActor: boolean): void {
    const answer = reply.ok ? (reply.replayed === true ? 'replayed' : 'ok') : reply.code;
    // Expired by the request itself (no sweep ran first): the actor's own expiry check.
    const name = `${request.kind} ${answer}${expiredByActor ? ' (expired on the spot)' : ''}`;
    this.tally.set(name, (this.tally.get(name) ?? 0) + 1);
  }

  /** What a shard does before each batch: expire every hold that is due. */
  sweep(): void {
    const due = [...this.actor.state.pendingReservations()].filter(
      (hold) => hold.expiresAtMs <= this.nowMs,
    );
    for (const hold of due) this.actor.expire(hold.id, this.nowMs);
  }

  compareStocks(state: PartitionState = this.actor.state, label = 'live'): void {
    for (const productId of products) {
      const expected = JSON.stringify(this.model.stock(productId, warehouseId));
      const actual = JSON.stringify(
        state.actors.get(`${productId}\u0000${warehouseId}`)?.stockView(),
      );
      if (expected !== actual) {
        throw new Error(
          `${label} stock of ${productId} after step ${this.steps}: ` +
            `expected ${expected}, got ${actual}`,
        );
      }
    }
  }

  checkInvariants(): void {
    for (const actor of this.actor.state.actors.values()) {
      const { onHand, reserved, productId } = actor;
      check(0 <= reserved && reserved <= onHand, `${productId}: 0 <= ${reserved} <= ${onHand}`);
      check(actor.stockView().available === onHand - reserved, `${productId}: available`);
      // Holds never released or expired fit in what was put in.
      let held = 0;
      for (const hold of actor.reservations?.values() ?? []) {
        if (hold.status === 'PENDING' || hold.status === 'CONFIRMED') held += hold.quantity;
      }
      const putIn = this.putIn.get(`${productId}/${actor.warehouseId}`) ?? 0;
      check(held <= putIn, `${productId}: holds of ${held} units exceed the ${putIn} put in`);
    }
  }

  /** At the end: every hold reads as the model says, and a replay of the journal agrees. */
  finish(): void {
    this.sweep();
    this.model.apply({ kind: 'read-stock', productId: products[0] ?? '', warehouseId }, this.nowMs);
    this.compareStocks();
    const replayed = new PartitionState(3, this.retention);
    for (const record of this.actor.records) replayed.replay(record);
    this.compareStocks(replayed, 'replayed');
    for (const expected of this.model.reservations()) {
      const read = this.actor.apply(
        { kind: 'read-reservation', reservationId: expected.id, traceId: 't' },
        this.nowMs,
      );
      expect(modelReplyOf(read.outcome)).toMatchObject({ reservation: expected });
    }
  }
}

const roomy = (onHandMax: number): RetentionPolicy => ({
  retainFinishedMs: 10 * 365 * 86_400_000,
  retainFinishedMax: 1_000_000,
  onHandMax,
});

interface Counter {
  runs: number;
  steps: number;
  readonly tally: Map<string, number>;
}

function modelProperty(hotWeight: number, counter: Counter) {
  const units = fc.integer({ min: 1, max: 60 });
  const opening = fc.tuple(units, units, units);
  const plan = fc.array(stepArbitrary(hotWeight), { minLength: 1, maxLength: 100, size: 'max' });
  return fc.property(fc.constantFrom(150, 1_000_000), opening, plan, (onHandMax, stock, steps) => {
    const run = new Comparison(roomy(onHandMax));
    stock.forEach((delta, key) => {
      run.send(
        {
          kind: 'adjust',
          productId: products[key] ?? '',
          warehouseId,
          delta,
          reason: '',
          idempotencyKey: '',
        },
        true,
      );
    });
    for (const step of steps) run.perform(step);
    run.finish();
    counter.runs += 1;
    counter.steps += run.steps;
    for (const [name, count] of run.tally)
      counter.tally.set(name, (counter.tally.get(name) ?? 0) + count);
  });
}

const essentialAnswers = [
  'reserve ok',
  'reserve replayed',
  'reserve idempotency_key_reused',
  'reserve insufficient_stock',
  'reserve not_found',
  'confirm ok',
  'confirm reservation_released',
  'confirm reservation_expired',
  'confirm reservation_expired (expired on the spot)',
  'release ok',
  'release reservation_confirmed',
  'release reservation_expired',
  'read-reservation ok (expired on the spot)',
  'adjust replayed',
  'adjust idempotency_key_reused',
  'adjust insufficient_stock',
  'adjust validation_failed',
  'adjust version_conflict',
  'read-stock not_found',
];

// CI: a fixed number of runs. Soak: as many as fit in SOAK_MODEL_MINUTES (10 by default).
const runs = knob('MODEL_ACTOR_RUNS', 500, 1_000_000_000);
const minutes = knob('SOAK_MODEL_MINUTES', 0, 10);

function assertFor(property: fc.IProperty<[number, [number, number, number], Step[]]>): void {
  const base = runOptions<[number, [number, number, number], Step[]]>(runs);
  const limitMs = minutes * 60_000 * 0.5; // two properties share the time
  fc.assert(
    property,
    limitMs > 0
      ? { ...base, interruptAfterTimeLimit: limitMs, markInterruptAsFailure: false }
      : base,
  );
}

describe('src/actors against the reference model', () => {
  const counter: Counter = { runs: 0, steps: 0, tally: new Map() };
  const startedMs = Date.now();

  it(
    'answers every request as the model does, across several stock keys',
    () => assertFor(modelProperty(2, counter)),
    timeoutFor(minutes * 30_000),
  );

  it(
    'answers every request as the model does when nearly all go to one hot key',
    () => {
      assertFor(modelProperty(20, counter));
      // Runs that never reach a rule cannot catch its bugs: each one must have come up.
      if (process.env.FC_PATH === undefined) {
        const missing = essentialAnswers.filter((name) => !counter.tally.has(name));
        expect(missing, 'answers the random runs never produced').toEqual([]);
      }
      report({
        test: 'model vs actor',
        seconds: (Date.now() - startedMs) / 1000,
        counts: {
          runs: counter.runs,
          steps: counter.steps,
          expiries: counter.tally.get('confirm reservation_expired') ?? 0,
        },
      });
    },
    timeoutFor(minutes * 30_000),
  );
});
