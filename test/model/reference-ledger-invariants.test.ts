// Proves the reference model keeps API.md's invariants under random sequences of every request
// it knows (carts, settings, partial confirms, extends), in both expiry timings: for every stock
// key 0 <= reserved <= on_hand, and reserved is the sum of the PENDING holds on it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runOptions } from '../helpers/fc-options.js';
import {
  ReferenceLedger,
  type CartLine,
  type ExpiryTiming,
  type LedgerRequest,
} from './reference-ledger.js';

const t0 = 1_700_000_000_000;
const products = ['p0', 'p1', 'p2'];
const warehouses = ['w0', 'w1', 'w2'];
const buyers = ['b0', 'b1', undefined];

const productOf = fc.nat({ max: products.length - 1 }).map((i) => products[i] as string);
const warehouseOf = fc.nat({ max: warehouses.length - 1 }).map((i) => warehouses[i] as string);
const buyerOf = fc.nat({ max: buyers.length - 1 }).map((i) => buyers[i]);
const keyNumber = fc.nat({ max: 3 });
const pick = fc.nat({ max: 1000 });

const lineOf: fc.Arbitrary<CartLine> = fc.record(
  { productId: productOf, warehouseId: warehouseOf, quantity: fc.integer({ min: 1, max: 6 }) },
  { requiredKeys: ['productId', 'quantity'] },
);

const advance = fc.record({ kind: fc.constant('advance' as const), ms: fc.nat({ max: 90_000 }) });
const sweep = fc.record({
  kind: fc.constant('sweep' as const),
  max: fc.integer({ min: 1, max: 4 }),
});
const adjust = fc.record({
  kind: fc.constant('adjust' as const),
  productId: productOf,
  warehouseId: warehouseOf,
  delta: fc.integer({ min: -6, max: 12 }).filter((delta) => delta !== 0),
});
const reserve = fc.record({
  kind: fc.constant('reserve' as const),
  productId: productOf,
  warehouseId: warehouseOf,
  quantity: fc.integer({ min: 1, max: 6 }),
  buyerId: buyerOf,
  ttlSeconds: fc.integer({ min: 60, max: 120 }),
  key: keyNumber,
});
const onHold = fc.record({
  kind: fc.constantFrom('confirm' as const, 'release' as const, 'extend' as const),
  pick,
  quantity: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  ttlSeconds: fc.integer({ min: 60, max: 3600 }),
});
const putSettings = fc.record({
  kind: fc.constant('put-settings' as const),
  productId: productOf,
  maxPerBuyer: fc.option(fc.integer({ min: 1, max: 10 }), { nil: undefined }),
  limitWindowSeconds: fc.option(fc.integer({ min: 60, max: 600 }), { nil: undefined }),
  warehousePriority: fc.option(fc.subarray(warehouses), { nil: undefined }),
});
const newCart = fc.record({
  kind: fc.constant('cart' as const),
  lines: fc.array(lineOf, { minLength: 1, maxLength: 4 }),
  buyerId: buyerOf,
  ttlSeconds: fc.integer({ min: 60, max: 120 }),
  key: keyNumber,
});
const onCart = fc.record({
  kind: fc.constantFrom(
    'read-cart' as const,
    'confirm-cart' as const,
    'release-cart' as const,
    'extend-cart' as const,
  ),
  pick,
  partial: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  ttlSeconds: fc.integer({ min: 60, max: 3600 }),
});
const readProduct = fc.record({
  kind: fc.constant('read-product-stock' as const),
  productId: productOf,
});

/** A step: a request with its ids still to pick (they depend on what came before). */
const step = fc.oneof(
  { weight: 2, arbitrary: advance },
  { weight: 1, arbitrary: sweep },
  { weight: 4, arbitrary: adjust },
  { weight: 3, arbitrary: reserve },
  { weight: 3, arbitrary: onHold },
  { weight: 1, arbitrary: putSettings },
  { weight: 3, arbitrary: newCart },
  { weight: 4, arbitrary: onCart },
  { weight: 1, arbitrary: readProduct },
);

type Step = typeof step extends fc.Arbitrary<infer T> ? T : never;

/** Runs steps against one model, minting fresh ids and picking among those seen. */
class Run {
  readonly ledger: ReferenceLedger;
  nowMs = t0;
  private serial = 0;
  private readonly holdIds: string[] = [];
  private readonly cartIds: string[] = [];

  constructor(
    timing: ExpiryTiming,
    readonly tally: Map<string, number>,
  ) {
    this.ledger = new ReferenceLedger({ onHandMax: 1_000_000 }, timing, 'v1.1');
  }

  perform(action: Step): void {
    if (action.kind === 'advance') this.nowMs += action.ms;
    else if (action.kind === 'sweep') this.ledger.sweep(this.nowMs, action.max);
    else {
      const request = this.requestOf(action);
      const reply = this.ledger.apply(request, this.nowMs);
      const answer = reply.ok ? 'ok' : reply.code;
      const name = `${request.kind} ${answer}`;
      this.tally.set(name, (this.tally.get(name) ?? 0) + 1);
      if (reply.ok && 'reservation' in reply) this.holdIds.push(reply.reservation.id);
      if (reply.ok && 'cart' in reply) this.cartIds.push(reply.cart.cartId);
    }
    this.checkInvariants();
  }

  private fresh(prefix: string): string {
    this.serial += 1;
    return `${prefix}-${this.serial}`;
  }

  private requestOf(action: Exclude<Step, { kind: 'advance' | 'sweep' }>): LedgerRequest {
    switch (action.kind) {
      case 'adjust':
        return { ...action, reason: '', idempotencyKey: '' };
      case 'reserve': {
        const { key, ...fields } = action;
        const reservationId = this.fresh('hold');
        return { ...fields, idempotencyKey: `reserve-key-${key}`, reservationId };
      }
      case 'confirm':
      case 'release':
      case 'extend': {
        const reservationId = this.holdIds[action.pick % (this.holdIds.length || 1)] ?? 'unknown';
        if (action.kind === 'release') return { kind: 'release', reservationId };
        if (action.kind === 'extend') return { ...action, reservationId };
        return { kind: 'confirm', reservationId, quantity: action.quantity };
      }
      case 'put-settings':
      case 'read-product-stock':
        return action;
      case 'cart': {
        const { key, ...fields } = action;
        const reservationIds = Array.from({ length: 12 }, () => this.fresh('cart-hold'));
        const cartId = this.fresh('cart');
        return { ...fields, idempotencyKey: `cart-key-${key}`, cartId, reservationIds };
      }
      default:
        return this.cartRequestOf(action);
    }
  }

  private cartRequestOf(
    action: Extract<Step, { kind: 'read-cart' | 'confirm-cart' | 'release-cart' | 'extend-cart' }>,
  ): LedgerRequest {
    const cartId = this.cartIds[action.pick % (this.cartIds.length || 1)] ?? 'unknown';
    if (action.kind === 'extend-cart') return { ...action, cartId };
    if (action.kind !== 'confirm-cart' || action.partial === undefined) {
      return { kind: action.kind, cartId };
    }
    const read = this.ledger.apply({ kind: 'read-cart', cartId }, this.nowMs);
    const first = read.ok && 'cart' in read ? read.cart.holds[0] : undefined;
    const lines =
      first === undefined ? [] : [{ reservationId: first.reservationId, quantity: action.partial }];
    return { kind: 'confirm-cart', cartId, lines };
  }

  checkInvariants(): void {
    const pending = new Map<string, number>();
    for (const hold of this.ledger.reservations()) {
      if (hold.status !== 'PENDING') continue;
      const name = `${hold.productId}/${hold.warehouseId}`;
      pending.set(name, (pending.get(name) ?? 0) + hold.quantity);
    }
    for (const { productId, warehouseId } of this.ledger.stockKeys()) {
      const stock = this.ledger.stock(productId, warehouseId);
      const name = `${productId}/${warehouseId}`;
      if (stock === undefined) throw new Error(`${name} listed but not found`);
      const { onHand, reserved, available } = stock;
      if (!(0 <= reserved && reserved <= onHand)) {
        throw new Error(`${name}: 0 <= ${reserved} <= ${onHand} broken at +${this.nowMs - t0} ms`);
      }
      if (available !== onHand - reserved) throw new Error(`${name}: available ${available}`);
      if (reserved !== (pending.get(name) ?? 0)) {
        throw new Error(`${name}: reserved ${reserved}, PENDING holds ${pending.get(name) ?? 0}`);
      }
    }
  }
}

describe('the reference ledger under random requests', () => {
  it('keeps 0 <= reserved <= on_hand, and reserved the sum of PENDING holds, on every key', () => {
    const tally = new Map<string, number>();
    fc.assert(
      fc.property(
        fc.constantFrom<ExpiryTiming>('eager', 'swept'),
        fc.array(
          adjust.map((action) => ({ ...action, delta: action.delta + 6 })),
          { maxLength: 9 },
        ),
        fc.array(step, { minLength: 1, maxLength: 80, size: 'max' }),
        (timing, stocking, steps) => {
          const run = new Run(timing, tally);
          // Stock first, so that most holds and carts meet some.
          for (const action of [...stocking, ...steps]) run.perform(action);
        },
      ),
      runOptions(300),
    );
    // The runs reach the rules they are meant to exercise.
    for (const name of [
      'cart ok',
      'cart insufficient_stock',
      'cart purchase_limit_exceeded',
      'confirm-cart ok',
      'confirm-cart reservation_expired',
      'extend reservation_not_pending',
      'reserve purchase_limit_exceeded',
    ]) {
      expect(tally.get(name) ?? 0, `${name} in ${JSON.stringify([...tally])}`).toBeGreaterThan(0);
    }
  });
});
