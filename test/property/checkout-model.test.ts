// Proves the checkout answers as the reference model says: random sequences of carts (whole and
// two-phase, allocated, summed, replayed), cart reads/confirms/releases/extends, reserves with
// buyers and limits, partial confirms, extends, settings and clock steps go through the REAL cart
// coordinator to four partitions' actors, and to the model; every answer is compared, with the
// invariants and the model's stock after every step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PartitionState,
  type Command,
  type Outcome,
  type RetentionPolicy,
} from '../../src/actors/index.js';
import type { Clock } from '../../src/clock.js';
import { CartCoordinator, partitionOf, type CartRequest } from '../../src/router/index.js';
import type { ShardOutcome } from '../../src/shards/index.js';
import { modelReplyOf } from '../helpers/actor-fixtures.js';
import { runOptions } from '../helpers/fc-options.js';
import {
  ReferenceLedger,
  replyMismatch,
  type LedgerRequest,
  type ModelReply,
} from '../model/reference-ledger.js';

const t0 = 1_700_000_000_000;
const partitions = 4;
const products = ['p-0', 'p-1', 'p-2', 'p-3', 'p-4'];
const warehouses = ['w-a', 'w-b', 'w-c'];
const buyers = ['b-1', 'b-2'];
const ttlMax = 3600;
const retention: RetentionPolicy = {
  retainFinishedMs: 1e12,
  retainFinishedMax: 1e9,
  onHandMax: 1e12,
  holdLifetimeMaxMs: 3 * ttlMax * 1000,
};

type Step =
  | { kind: 'adjust'; product: number; warehouse: number; delta: number }
  | { kind: 'reserve'; product: number; warehouse: number; quantity: number; buyer: number }
  | { kind: 'confirm'; pick: number; quantity: number }
  | { kind: 'release' | 'read'; pick: number }
  | { kind: 'extend'; pick: number; ttlSeconds: number }
  | { kind: 'limit'; product: number; max: number | null; priority: boolean }
  | { kind: 'cart'; lines: CartLineStep[]; buyer: number; key: number; ttlSeconds: number }
  | { kind: 'read-cart' | 'release-cart'; pick: number }
  | { kind: 'confirm-cart'; pick: number; partial: number }
  | { kind: 'extend-cart'; pick: number; ttlSeconds: number }
  | { kind: 'product-stock'; product: number }
  | { kind: 'advance'; ms: number };

interface CartLineStep {
  product: number;
  warehouse: number;
  quantity: number;
}

const index = (max: number) => fc.nat({ max: max - 1 });
const pick = fc.nat({ max: 1000 });

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('adjust' as const),
    product: index(products.length),
    warehouse: index(warehouses.length),
    delta: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({
    kind: fc.constant('reserve' as const),
    product: index(products.length),
    warehouse: index(warehouses.length),
    quantity: fc.integer({ min: 1, max: 4 }),
    buyer: fc.integer({ min: -1, max: buyers.length - 1 }),
  }),
  fc.record({
    kind: fc.constant('confirm' as const),
    pick,
    quantity: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({ kind: fc.constantFrom('release' as const, 'read' as const), pick }),
  fc.record({ kind: fc.constant('extend' as const), pick, ttlSeconds: fc.constantFrom(60, 3600) }),
  fc.record({
    kind: fc.constant('limit' as const),
    product: index(products.length),
    max: fc.option(fc.integer({ min: 1, max: 6 }), { nil: null }),
    priority: fc.boolean(),
  }),
  {
    arbitrary: fc.record({
      kind: fc.constant('cart' as const),
      lines: fc.array(
        fc.record({
          product: index(products.length),
          warehouse: fc.integer({ min: -1, max: warehouses.length - 1 }),
          quantity: fc.integer({ min: 1, max: 4 }),
        }),
        { minLength: 1, maxLength: 5 },
      ),
      buyer: fc.integer({ min: -1, max: buyers.length - 1 }),
      key: fc.integer({ min: -3, max: 2 }), // negative: a fresh key; else one of three, reused
      ttlSeconds: fc.constantFrom(60, 600),
    }),
    weight: 4,
  },
  fc.record({ kind: fc.constantFrom('read-cart' as const, 'release-cart' as const), pick }),
  fc.record({ kind: fc.constant('confirm-cart' as const), pick, partial: fc.nat({ max: 2 }) }),
  fc.record({
    kind: fc.constant('extend-cart' as const),
    pick,
    ttlSeconds: fc.constantFrom(60, 3600),
  }),
  fc.record({ kind: fc.constant('product-stock' as const), product: index(products.length) }),
  fc.record({
    kind: fc.constant('advance' as const),
    ms: fc.constantFrom(1, 1000, 59_000, 700_000),
  }),
);

/** Four partitions' actors behind the real coordinator, and the model beside them. */
class Checkout {
  nowMs = t0;
  readonly states = Array.from({ length: partitions }, (_, p) => new PartitionState(p, retention));
  readonly model = new ReferenceLedger({ onHandMax: 1e12, ttlSecondsMax: ttlMax }, 'swept', 'v1.1');
  readonly holds: string[] = [];
  readonly carts: string[] = [];
  placed = 0;
  private serial = 0;
  private readonly clock: Clock = {
    now: () => this.nowMs,
    monotonic: () => this.nowMs,
    defer: (task) => task(),
    sleep: () => Promise.resolve(),
  };
  readonly coordinator = new CartCoordinator({
    transport: {
      partitions,
      partitionOfProduct: (productId) => partitionOf(productId, partitions),
      dispatchTo: (partition, command, callback) =>
        callback({ id: 0, outcome: this.apply(partition, command) }),
    },
    clock: this.clock,
    mintCartId: (home) => this.mintId(home),
    mintAttempt: (home) => this.mintId(home),
  });

  mintId(partition: number): string {
    this.serial += 1;
    const serial = this.serial.toString(16).padStart(8, '0');
    return `${partition.toString(16).padStart(4, '0')}0000-0000-8000-8000-${serial}0000`;
  }

  apply(partition: number, command: Command): Outcome {
    const outcome = (this.states[partition] as PartitionState).apply(command, this.nowMs).outcome;
    for (const state of this.states) {
      for (const actor of state.actors.values()) actor.checkInvariants();
    }
    return outcome;
  }

  /** The sweep a shard runs before every batch, and the model's. */
  sweep(): void {
    const due: { id: string; at: number }[] = [];
    for (const state of this.states) {
      for (const hold of state.pendingReservations()) {
        if (hold.expiresAtMs <= this.nowMs) due.push({ id: hold.id, at: hold.expiresAtMs });
      }
    }
    due.sort((a, b) => a.at - b.at || (a.id < b.id ? -1 : 1));
    for (const { id } of due) {
      (this.states[Number.parseInt(id.slice(0, 4), 16)] as PartitionState).expire(id, this.nowMs);
    }
    this.model.sweep(this.nowMs, Number.MAX_SAFE_INTEGER);
  }
}

function run(checkout: Checkout, step: Step): { actor: Outcome; model: ModelReply } | undefined {
  if (step.kind === 'advance') {
    checkout.nowMs += step.ms;
    return undefined;
  }
  checkout.sweep();
  switch (step.kind) {
    case 'cart':
      return cart(checkout, step);
    case 'read-cart':
    case 'release-cart':
    case 'confirm-cart':
    case 'extend-cart':
      return cartWide(checkout, step);
    default:
      return single(checkout, step);
  }
}

function single(checkout: Checkout, step: Step): { actor: Outcome; model: ModelReply } {
  const { command, request, partition } = singleRequest(checkout, step);
  const actor = checkout.apply(partition, command);
  if (command.kind === 'reserve' && actor.ok) checkout.holds.push(command.reservationId);
  return { actor, model: checkout.model.apply(request, checkout.nowMs) };
}

function singleRequest(
  checkout: Checkout,
  step: Step,
): { command: Command; request: LedgerRequest; partition: number } {
  const held =
    checkout.holds[('pick' in step ? step.pick : 0) % Math.max(1, checkout.holds.length)];
  const heldId = held ?? '0000ffff-0000-8000-8000-000000000000';
  const heldPartition = Number.parseInt(heldId.slice(0, 4), 16);
  switch (step.kind) {
    case 'adjust': {
      const [productId, warehouseId] = keyOf(step.product, step.warehouse);
      const fields = { productId, warehouseId, delta: step.delta, reason: '', idempotencyKey: '' };
      const command: Command = { kind: 'adjust', ...fields, actorId: '', traceId: '' };
      return {
        command,
        request: { kind: 'adjust', ...fields },
        partition: partitionOf(productId, partitions),
      };
    }
    case 'reserve': {
      const [productId, warehouseId] = keyOf(step.product, step.warehouse);
      const partition = partitionOf(productId, partitions);
      const reservationId = checkout.mintId(partition);
      const buyer = step.buyer < 0 ? {} : { buyerId: buyers[step.buyer] as string };
      const fields = {
        productId,
        warehouseId,
        quantity: step.quantity,
        idempotencyKey: `reserve-${reservationId}`,
        ttlSeconds: 600,
        reservationId,
        ...buyer,
      };
      const command: Command = { kind: 'reserve', ...fields, requesterId: '', traceId: '' };
      return { command, request: { kind: 'reserve', ...fields }, partition };
    }
    case 'confirm': {
      const quantity = step.quantity === 0 ? {} : { quantity: step.quantity };
      const command: Command = { kind: 'confirm', reservationId: heldId, traceId: '', ...quantity };
      return {
        command,
        request: { kind: 'confirm', reservationId: heldId, ...quantity },
        partition: heldPartition,
      };
    }
    case 'release':
    case 'read': {
      const kind = step.kind === 'read' ? 'read-reservation' : 'release';
      const command: Command = { kind, reservationId: heldId, traceId: '' };
      return { command, request: { kind, reservationId: heldId }, partition: heldPartition };
    }
    case 'extend': {
      const fields = { reservationId: heldId, ttlSeconds: step.ttlSeconds };
      const lifetimeMaxMs = 3 * ttlMax * 1000;
      const command: Command = { kind: 'extend', ...fields, lifetimeMaxMs, traceId: '' };
      return { command, request: { kind: 'extend', ...fields }, partition: heldPartition };
    }
    case 'limit': {
      const productId = products[step.product] as string;
      const priority = step.priority ? ['w-c', 'w-a'] : null;
      const changes = { maxPerBuyer: step.max, warehousePriority: priority };
      const command: Command = {
        kind: 'put-settings',
        productId,
        changes,
        actorId: '',
        traceId: '',
      };
      const request: LedgerRequest = { kind: 'put-settings', productId, ...changes };
      return { command, request, partition: partitionOf(productId, partitions) };
    }
    case 'product-stock': {
      const productId = products[step.product] as string;
      const command: Command = { kind: 'read-product-stock', productId };
      return { command, request: command, partition: partitionOf(productId, partitions) };
    }
    default:
      throw new Error(`not a single-key step: ${step.kind}`);
  }
}

function keyOf(product: number, warehouse: number): [string, string] {
  return [products[product] as string, warehouses[warehouse] as string];
}

function cart(
  checkout: Checkout,
  step: Extract<Step, { kind: 'cart' }>,
): { actor: Outcome; model: ModelReply } {
  const lines = step.lines.map((line) => ({
    productId: products[line.product] as string,
    warehouseId: line.warehouse < 0 ? '' : (warehouses[line.warehouse] as string),
    quantity: line.quantity,
  }));
  const idempotencyKey =
    step.key < 0
      ? `cart-fresh-${checkout.carts.length}-${checkout.nowMs}`
      : `cart-shared-${step.key}`;
  const buyerId = step.buyer < 0 ? '' : (buyers[step.buyer] as string);
  const request: CartRequest = {
    idempotencyKey,
    lines,
    ttlSeconds: step.ttlSeconds,
    buyerId,
    reference: '',
    requesterId: '',
    traceId: '',
  };
  let actor: ShardOutcome | undefined;
  checkout.coordinator.place(request, (outcome) => (actor = outcome));
  if (actor === undefined || (!actor.ok && actor.code === 'overloaded')) {
    throw new Error(`the coordinator gave no answer: ${JSON.stringify(actor)}`);
  }
  const placed = actor.ok && 'cart' in actor ? actor.cart : undefined;
  if (placed !== undefined && actor.ok && !actor.replayed) checkout.carts.push(placed.cartId);
  if (placed !== undefined) checkout.placed += 1;
  const model = checkout.model.apply(
    {
      kind: 'cart',
      idempotencyKey,
      lines: lines.map(({ warehouseId, ...line }) =>
        warehouseId === '' ? line : { ...line, warehouseId },
      ),
      ttlSeconds: step.ttlSeconds,
      ...(buyerId === '' ? {} : { buyerId }),
      cartId: placed?.cartId ?? 'ffff0000-0000-8000-8000-000000000000',
      reservationIds: placed?.holds.map((hold) => hold.reservationId) ?? [],
    },
    checkout.nowMs,
  );
  return { actor: actor as Outcome, model };
}

function cartWide(
  checkout: Checkout,
  step: Extract<Step, { kind: 'read-cart' | 'release-cart' | 'confirm-cart' | 'extend-cart' }>,
): { actor: Outcome; model: ModelReply } {
  const cartId =
    checkout.carts[step.pick % Math.max(1, checkout.carts.length)] ??
    '0001ffff-0000-8000-8000-000000000000';
  let actor: ShardOutcome | undefined;
  const done = (outcome: ShardOutcome) => (actor = outcome);
  const { coordinator, model, nowMs } = checkout;
  let reply: ModelReply;
  if (step.kind === 'read-cart') {
    coordinator.readCart(cartId, '', done);
    reply = model.apply({ kind: 'read-cart', cartId }, nowMs);
  } else if (step.kind === 'release-cart') {
    coordinator.releaseCart(cartId, '', done);
    reply = model.apply({ kind: 'release-cart', cartId }, nowMs);
  } else if (step.kind === 'extend-cart') {
    coordinator.extendCart(cartId, step.ttlSeconds, 3 * ttlMax * 1000, '', done);
    reply = model.apply({ kind: 'extend-cart', cartId, ttlSeconds: step.ttlSeconds }, nowMs);
  } else {
    // A partial confirm names one hold of the cart (as the model knows it) with one unit.
    const known = model.apply({ kind: 'read-cart', cartId }, nowMs);
    const hold =
      known.ok && 'cart' in known
        ? known.cart.holds[(step as { partial: number }).partial - 1]
        : undefined;
    const lines = hold === undefined ? [] : [{ reservationId: hold.reservationId, quantity: 1 }];
    const quantities = new Map(lines.map((line) => [line.reservationId, line.quantity]));
    coordinator.confirmCart(cartId, quantities, '', done);
    reply = model.apply(
      { kind: 'confirm-cart', cartId, ...(lines.length > 0 ? { lines } : {}) },
      nowMs,
    );
  }
  if (actor === undefined) throw new Error('the coordinator gave no answer');
  return { actor: actor as Outcome, model: reply };
}

/**
 * Stock versions are left out of the comparison: a two-phase cart refused by one partition
 * after another prepared its lines moved that key's version twice (the hold, then its release,
 * both journaled), which the model, knowing no partitions, cannot tell. The units always agree.
 */
function withoutVersions(reply: ModelReply): ModelReply {
  return JSON.parse(
    JSON.stringify(reply, (key, value: unknown) => (key === 'version' ? undefined : value)),
  ) as ModelReply;
}

describe('the checkout against the reference model', () => {
  it('answers every step as the model does, through the real coordinator', () => {
    let placed = 0;
    fc.assert(
      fc.property(fc.array(stepArbitrary, { minLength: 1, maxLength: 60 }), (steps) => {
        const checkout = new Checkout();
        // Every key but the last product's starts stocked, so carts have something to take.
        for (let product = 0; product < products.length - 1; product += 1) {
          for (let warehouse = 0; warehouse < warehouses.length; warehouse += 1) {
            run(checkout, { kind: 'adjust', product, warehouse, delta: 6 });
          }
        }
        for (const [number, step] of steps.entries()) {
          const answers = run(checkout, step);
          if (answers === undefined) continue;
          const mismatch = replyMismatch(
            withoutVersions(answers.model),
            withoutVersions(modelReplyOf(answers.actor, true)),
          );
          if (mismatch !== undefined) {
            throw new Error(`step ${number} ${JSON.stringify(step)}: ${mismatch}`);
          }
        }
        placed += checkout.placed;
        for (const state of checkout.states) {
          for (const actor of state.actors.values()) {
            const model = checkout.model.stock(actor.productId, actor.warehouseId);
            expect(`${actor.onHand}/${actor.reserved}`).toBe(`${model?.onHand}/${model?.reserved}`);
          }
        }
      }),
      runOptions(300),
    );
    // The runs reach the rules: carts get placed, not only refused.
    expect(placed).toBeGreaterThan(100);
  });
});
