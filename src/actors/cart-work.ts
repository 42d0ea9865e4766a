// What one partition does for a cart, in one actor turn per command: place its lines (whole, or
// prepared for the two-phase protocol), claim and decide at the cart's home, abort or settle the
// holds in doubt, and the cart-wide reads and changes of its holds. The coordinator that drives
// these across partitions lives on the HTTP thread (src/router/cart-coordinator.ts).
import { assert } from './assert.js';
import type { CartBook } from './cart-book.js';
import { planCart } from './cart-plan.js';
import type { Product } from './product-book.js';
import type { ActorResult, Reservation, StockActor } from './stock-actor.js';
import type { ApplyResult, Write } from './apply-result.js';
import type {
  CartCommand,
  CartHold,
  CartHoldsCommand,
  CartPlaceCommand,
  CartRecord,
  CartTerms,
  CartView,
  Outcome,
  RetentionPolicy,
} from './types.js';

/** The partition as the cart code sees it. */
export interface CartWork {
  readonly partition: number;
  readonly carts: CartBook;
  readonly product: (productId: string) => Product | undefined;
  readonly actor: (productId: string, warehouseId: string) => StockActor | undefined;
  readonly holdOf: (
    reservationId: string,
  ) => { readonly actor: StockActor; readonly reservation: Reservation } | undefined;
  /** Bookkeeping after a stock record (retention, limits, carts in doubt). */
  readonly recorded: (actor: StockActor, result: ActorResult) => void;
  /** A cart record was applied (live or replayed). */
  readonly decided: (record: CartRecord) => void;
  readonly retention: RetentionPolicy;
  readonly buyersMax: number;
}

/** Carts being prepared at one home at once: a claim lives in memory for one request. */
export const cartClaimsMax = 100_000;

/** A hold's id, derived from its cart's: its partition first (routing), its number last. */
export function cartHoldId(cartId: string, partition: number, number: number): string {
  assert(number < 0x10000, 'a cart with over 65536 holds in one partition');
  const prefix = partition.toString(16).padStart(4, '0');
  return `${prefix}${cartId.slice(4, 32)}${number.toString(16).padStart(4, '0')}`;
}

export function cartCommand(work: CartWork, command: CartCommand, nowMs: number): ApplyResult {
  switch (command.kind) {
    case 'cart-place':
      return place(work, command, nowMs);
    case 'cart-begin':
      return begin(work, command.terms);
    case 'cart-decide': {
      const { cartId, idempotencyKey } = command.terms;
      // Resolved as aborted meanwhile, or the key's claim was lost (this shard restarted) and
      // another cart took the key: this one never commits; its coordinator releases its holds.
      if (work.carts.decided.has(cartId) || work.carts.keys.has(idempotencyKey)) {
        return decision('aborted');
      }
      const record = cartRecord(command.terms, 'committed', command.holds, nowMs, {
        createdAtMs: command.createdAtMs,
        expiresAtMs: command.expiresAtMs,
      });
      work.decided(record);
      return { ...answer(cartOutcome(record, false)), record };
    }
    case 'cart-resolve':
      return resolve(work, command.cartId, command.traceId, nowMs);
    case 'cart-abort':
      return abort(work, command.cartId, command.traceId, nowMs);
    case 'cart-settle':
      work.carts.inDoubt.delete(command.cartId);
      return decision('committed');
    case 'read-cart': {
      const record = work.carts.decided.get(command.cartId);
      if (record === undefined || record.decision !== 'committed') return notFound();
      return answer(cartOutcome(record, false));
    }
    case 'cart-holds':
      return holdsCommand(work, command, nowMs);
  }
}

/** Rebuilds a decision from the journal: the holds it names here must be there. */
export function replayCart(work: CartWork, record: CartRecord): void {
  for (const hold of record.holds) {
    if (hold.partition !== work.partition || record.decision !== 'committed') continue;
    assert(
      work.holdOf(hold.reservationId) !== undefined,
      () => `cart ${record.cartId} names hold ${hold.reservationId}, which is not here`,
    );
  }
  work.decided(record);
}

function begin(work: CartWork, terms: CartTerms): ApplyResult {
  const found = work.carts.lookup(terms);
  if (found !== 'new') return foundAnswer(found);
  if (!work.carts.claim(terms, cartClaimsMax)) {
    return answer(unavailable('Too many carts are being placed at once; retry shortly.'));
  }
  return decision('go');
}

function foundAnswer(found: Exclude<ReturnType<CartBook['lookup']>, 'new'>): ApplyResult {
  if (found === 'reused') {
    return answer({
      ok: false,
      code: 'idempotency_key_reused',
      details: { field: 'idempotency_key' },
    });
  }
  if (found === 'claimed' || found === 'decided') {
    return answer(unavailable('A cart with this idempotency key is being placed; retry shortly.'));
  }
  return answer(cartOutcome(found.replay, true));
}

function place(work: CartWork, command: CartPlaceCommand, nowMs: number): ApplyResult {
  const { terms } = command;
  if (command.mode === 'whole') {
    const found = work.carts.lookup(terms);
    if (found !== 'new') return foundAnswer(found);
  }
  const plan = planCart(command.lines, {
    buyersMax: work.buyersMax,
    holdsMax: command.holdsMax,
    product: work.product,
    actor: work.actor,
    buyerId: terms.buyerId,
    nowMs,
  });
  if (!plan.ok && plan.code === 'overloaded') {
    return answer({ ok: false, code: 'overloaded', message: 'Too many buyers; retry later.' });
  }
  if (!plan.ok && plan.code === 'validation_failed') {
    const message = `the cart would need more than ${command.holdsMax} holds`;
    return answer({ ok: false, code: 'validation_failed', message, details: { field: 'lines' } });
  }
  if (!plan.ok) {
    const message =
      plan.code === 'insufficient_stock'
        ? 'Not every line of the cart can be held; nothing was held.'
        : 'The buyer would go over a product purchase limit; nothing was held.';
    const lines = plan.lines ?? [];
    return answer({ ok: false, code: plan.code, message, details: { lines } });
  }
  const writes: Write[] = [];
  const holds: CartHold[] = [];
  plan.holds.forEach(({ line, actor, quantity }, number) => {
    const reservationId = cartHoldId(terms.cartId, work.partition, number);
    const hold = { ...terms, idempotencyKey: '', quantity, reservationId };
    const result = actor.hold(hold, nowMs);
    work.recorded(actor, result);
    writes.push({ record: result.record as Write['record'], actor });
    const { productId, warehouseId } = actor;
    holds.push({
      line,
      partition: work.partition,
      reservationId,
      productId,
      warehouseId,
      quantity,
    });
  });
  const expiresAtMs = nowMs + terms.ttlSeconds * 1000;
  const times = { createdAtMs: nowMs, expiresAtMs };
  const record = cartRecord(terms, 'committed', holds, nowMs, times);
  if (command.mode === 'whole') {
    work.decided(record);
    writes.push({ record, actor: undefined });
  }
  const observed = plan.holds.map((hold) => hold.actor);
  return { ...answer(cartOutcome(record, false)), writes, observed };
}

function resolve(work: CartWork, cartId: string, traceId: string, nowMs: number): ApplyResult {
  const decided = work.carts.decided.get(cartId);
  if (decided !== undefined) return decision(decided.decision);
  const terms: CartTerms = {
    cartId,
    idempotencyKey: work.carts.claimedKey(cartId),
    fingerprint: '',
    ttlSeconds: 0,
    buyerId: '',
    reference: '',
    requesterId: '',
    traceId,
  };
  const record = cartRecord(terms, 'aborted', [], nowMs, {
    createdAtMs: nowMs,
    expiresAtMs: nowMs,
  });
  work.decided(record);
  return { ...decision('aborted'), record };
}

/** Releases this partition's holds of a cart that will not be (they were in doubt). */
function abort(work: CartWork, cartId: string, traceId: string, nowMs: number): ApplyResult {
  work.carts.unclaim(work.carts.claimedKey(cartId), cartId);
  const entry = work.carts.inDoubt.get(cartId);
  const writes: Write[] = [];
  for (const holdId of [...(entry?.holdIds ?? [])]) {
    const hold = work.holdOf(holdId);
    if (hold === undefined || hold.reservation.status !== 'PENDING') continue;
    const result = hold.actor.finish(hold.reservation, 'release', nowMs, traceId);
    work.recorded(hold.actor, result);
    if (result.record !== undefined) writes.push({ record: result.record, actor: hold.actor });
  }
  work.carts.inDoubt.delete(cartId);
  const observed = writes.map((write) => write.actor as StockActor);
  return { ...decision('aborted'), writes, observed };
}

function holdsCommand(work: CartWork, command: CartHoldsCommand, nowMs: number): ApplyResult {
  const found = command.reservationIds.map((id) => {
    const hold = work.holdOf(id);
    assert(hold?.reservation.cartId === command.cartId || hold === undefined, 'a foreign hold');
    return hold;
  });
  const held = found.filter((hold) => hold !== undefined);
  const observed = held.map((hold) => hold.actor);
  const action = command.action;
  const refusal = refuse(held, action.kind, nowMs);
  if (refusal !== undefined) return { ...answer(refusal), observed };
  const writes: Write[] = [];
  const change = (actor: StockActor, result: ActorResult): void => {
    work.recorded(actor, result);
    if (result.record !== undefined) writes.push({ record: result.record, actor });
  };
  for (const { actor, reservation } of held) {
    const pending = reservation.status === 'PENDING';
    if (action.kind === 'release' && pending) {
      change(actor, actor.finish(reservation, 'release', nowMs, command.traceId));
    } else if (action.kind === 'confirm' && pending) {
      const sold = action.quantities[reservation.id] ?? reservation.quantity;
      change(actor, actor.finish(reservation, 'confirm', nowMs, command.traceId, sold));
    } else if (action.kind === 'extend' && pending) {
      const { ttlSeconds, lifetimeMaxMs } = action;
      change(actor, actor.extend(reservation, ttlSeconds, lifetimeMaxMs, nowMs, command.traceId));
    } else if (action.kind === 'read' && pending && nowMs >= reservation.expiresAtMs) {
      change(actor, actor.finish(reservation, 'read', nowMs, command.traceId));
    } else if (action.kind === 'pin' && pending) {
      reservation.pinnedUntilMs = nowMs + action.pinMs;
    } else if (action.kind === 'unpin') {
      reservation.pinnedUntilMs = 0;
    }
  }
  return { ...answer(holdsOutcome(command.cartId, found)), writes, observed };
}

/**
 * Checks a cart-wide action against every hold before doing anything, so it is all or nothing
 * in this partition: a pin needs every hold PENDING (not due) or CONFIRMED; release and extend
 * wait while a confirm has the holds pinned.
 */
function refuse(
  held: readonly { readonly actor: StockActor; readonly reservation: Reservation }[],
  kind: CartHoldsCommand['action']['kind'],
  nowMs: number,
): Outcome | undefined {
  for (const { reservation } of held) {
    const pending = reservation.status === 'PENDING';
    const pinned = pending && reservation.pinnedUntilMs > nowMs;
    if ((kind === 'release' || kind === 'extend') && pinned) {
      return unavailable('The cart is being confirmed; retry shortly.');
    }
    // A confirm comes after its pins: a pin that lapsed meanwhile confirms nothing here.
    if (kind === 'confirm' && pending && !pinned) {
      return unavailable('The cart confirm took too long; nothing was confirmed here, retry.');
    }
    if (kind !== 'pin') continue;
    const expired =
      reservation.status === 'EXPIRED' || (pending && !pinned && nowMs >= reservation.expiresAtMs);
    if (expired || reservation.status === 'RELEASED') {
      return {
        ok: false,
        code: expired ? 'reservation_expired' : 'reservation_released',
        details: { reservation_id: reservation.id },
      };
    }
  }
  return undefined;
}

function holdsOutcome(
  cartId: string,
  found: readonly ({ readonly actor: StockActor; readonly reservation: Reservation } | undefined)[],
): Outcome {
  const holds: CartView['holds'][number][] = [];
  for (const hold of found) {
    if (hold === undefined) continue;
    const { actor, reservation } = hold;
    holds.push({
      line: -1,
      partition: -1,
      reservationId: reservation.id,
      productId: actor.productId,
      warehouseId: actor.warehouseId,
      quantity: reservation.quantity,
      status: reservation.status,
      ...(reservation.status === 'CONFIRMED'
        ? { confirmedQuantity: reservation.confirmedQuantity }
        : {}),
      expiresAtMs: reservation.expiresAtMs,
    });
  }
  const view: CartView = {
    cartId,
    status: 'PENDING',
    createdAtMs: 0,
    expiresAtMs: 0,
    buyerId: '',
    reference: '',
    holds,
  };
  return { ok: true, cart: view, replayed: false };
}

function cartRecord(
  terms: CartTerms,
  decided: CartRecord['decision'],
  holds: readonly CartHold[],
  nowMs: number,
  times: { readonly createdAtMs: number; readonly expiresAtMs: number },
): CartRecord {
  return {
    type: 'cart',
    cartId: terms.cartId,
    decision: decided,
    idempotencyKey: terms.idempotencyKey,
    fingerprint: terms.fingerprint,
    createdAtMs: times.createdAtMs,
    expiresAtMs: times.expiresAtMs,
    buyerId: terms.buyerId,
    reference: terms.reference,
    requesterId: terms.requesterId,
    holds,
    atMs: nowMs,
    traceId: terms.traceId,
  };
}

/** The cart as decided, every hold PENDING (as first answered). */
function cartOutcome(record: CartRecord, replayed: boolean): Outcome {
  const cart: CartView = {
    cartId: record.cartId,
    status: 'PENDING',
    createdAtMs: record.createdAtMs,
    expiresAtMs: record.expiresAtMs,
    buyerId: record.buyerId,
    reference: record.reference,
    holds: record.holds.map((hold) => ({ ...hold, status: 'PENDING' as const })),
  };
  return { ok: true, cart, replayed };
}

function decision(value: 'go' | 'committed' | 'aborted'): ApplyResult {
  return answer({ ok: true, decision: value, replayed: false });
}

function unavailable(message: string): Outcome {
  return { ok: false, code: 'unavailable', message };
}

function notFound(): ApplyResult {
  return answer({ ok: false, code: 'not_found', message: 'No such cart.' });
}

function answer(outcome: Outcome): ApplyResult {
  return { outcome, record: undefined, actor: undefined };
}
