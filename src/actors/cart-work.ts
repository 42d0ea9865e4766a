// What one partition does for a cart, in one actor turn per command: place its lines (whole, or
// prepared for the two-phase protocol), claim and decide at the cart's home, abort or settle the
// holds in doubt, and the cart-wide reads and changes of its holds. The coordinator that drives
// these across partitions lives on the HTTP thread (src/router/cart-coordinator.ts).
import { merged } from './merged.js';
import { assert, fail } from './assert.js';
import { homePartitionOf, type CartBook } from './cart-book.js';
import { planCart } from './cart-plan.js';
import type { Product } from './product-book.js';
import type { ActorResult, Reservation, StockActor } from './stock-actor.js';
import type { ApplyResult, Write } from './apply-result.js';
import type {
  CartCommand,
  CartConfirmDecisionCommand,
  CartConfirmRecord,
  CartHold,
  CartHoldsAction,
  CartHoldsCommand,
  CartPlaceCommand,
  CartRecord,
  CartTerms,
  CartView,
  Outcome,
  RetentionPolicy,
  StockRecord,
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
  /**
   * Bookkeeping after a stock record (retention, limits, carts in doubt); the record to journal
   * (with the lines it crossed, if any), undefined if the result made none.
   */
  readonly recorded: (actor: StockActor, result: ActorResult) => StockRecord | undefined;
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
      return merged(answer(cartOutcome(record, false)), { record });
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
      const outcome = cartOutcome(record, false);
      const confirmAttempt = work.carts.confirms.get(command.cartId)?.confirmed ?? '';
      if (confirmAttempt === '' || !outcome.ok || !('cart' in outcome)) return answer(outcome);
      return answer(merged(outcome, { cart: merged(outcome.cart, { confirmAttempt }) }));
    }
    case 'cart-holds':
      return holdsCommand(work, command, nowMs);
    case 'cart-confirm-decide':
    case 'cart-confirm-resolve':
      return confirmDecision(work, command, nowMs);
  }
}

/**
 * At the home: a confirm attempt's decision. `decide` journals `confirmed` unless the attempt
 * was aborted (or the cart is unknown, or another attempt already confirmed it); `resolve`
 * answers the decision and journals `aborted` when there is none, so no late decide can follow.
 */
function confirmDecision(
  work: CartWork,
  command: CartConfirmDecisionCommand,
  nowMs: number,
): ApplyResult {
  const { cartId, attempt, traceId } = command;
  const decisions = work.carts.confirms.get(cartId);
  if (decisions?.confirmed === attempt) return decision('committed');
  if (decisions?.aborted.has(attempt) === true) return decision('aborted');
  // A cart unknown here was never placed, or is too old to confirm: nothing can confirm it.
  if (work.carts.decided.get(cartId)?.decision !== 'committed') return decision('aborted');
  // Another attempt confirmed the cart already: this one never will (its pins are let go).
  const free = (decisions?.confirmed ?? '') === '';
  const step = command.kind === 'cart-confirm-decide' && free ? 'confirmed' : 'aborted';
  const record: CartConfirmRecord = {
    type: 'cart-confirm',
    cartId,
    attempt,
    step,
    holds: [],
    atMs: nowMs,
    traceId,
  };
  applyConfirmStep(work, record);
  return merged(decision(step === 'confirmed' ? 'committed' : 'aborted'), { record });
}

/** A confirm attempt's step, live or replayed: pins and unpins holds here, or decides. */
export function applyConfirmStep(work: CartWork, record: CartConfirmRecord): void {
  for (const { reservationId, quantity } of record.holds) {
    const hold = work.holdOf(reservationId);
    if (hold?.reservation.status !== 'PENDING') {
      fail(`cart confirm ${record.step} of hold ${reservationId}, which is not PENDING here`);
    }
    const { reservation } = hold;
    if (record.step === 'pinned') {
      if (reservation.pin !== undefined) fail(`hold ${reservationId} pinned twice`);
      reservation.pin = { attempt: record.attempt, quantity };
    } else {
      assert(reservation.pin?.attempt === record.attempt, 'an unpin of another attempt');
      reservation.pin = undefined;
    }
  }
  work.carts.confirmStep(record, homePartitionOf(record.cartId));
}

/** Rebuilds a decision from the journal: the holds it names here must be there. */
export function replayCart(work: CartWork, record: CartRecord): void {
  for (const hold of record.holds) {
    if (hold.partition !== work.partition || record.decision !== 'committed') continue;
    if (work.holdOf(hold.reservationId) === undefined) {
      fail(`cart ${record.cartId} names hold ${hold.reservationId}, which is not here`);
    }
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
    holdEndMs: nowMs + terms.ttlSeconds * 1000,
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
    const hold = merged(terms, { idempotencyKey: '', quantity, reservationId });
    const record = work.recorded(actor, actor.hold(hold, nowMs));
    writes.push({ record: record as Write['record'], actor });
    const { productId, warehouseId } = actor;
    const lots = record?.type === 'reserved' ? record.lots : undefined;
    holds.push({
      line,
      partition: work.partition,
      reservationId,
      productId,
      warehouseId,
      quantity,
      ...(lots === undefined ? {} : { lots }),
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
  return merged(answer(cartOutcome(record, false)), { writes, observed });
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
  return merged(decision('aborted'), { record });
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
    const record = work.recorded(hold.actor, result);
    if (record !== undefined) writes.push({ record, actor: hold.actor });
  }
  work.carts.inDoubt.delete(cartId);
  const observed = writes.map((write) => write.actor as StockActor);
  return merged(decision('aborted'), { writes, observed });
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
  const refusal = refuse(held, action, nowMs);
  if (refusal !== undefined) return merged(answer(refusal), { observed });
  const writes: Write[] = [];
  const change = (actor: StockActor, result: ActorResult): void => {
    const record = work.recorded(actor, result);
    if (record !== undefined) writes.push({ record, actor });
  };
  const { traceId } = command;
  if (action.kind === 'pin' || action.kind === 'unpin') {
    const record = pinRecord(work, command.cartId, held, action, nowMs, traceId);
    if (record !== undefined) {
      applyConfirmStep(work, record);
      writes.push({ record, actor: undefined });
    }
    return merged(answer(holdsOutcome(command.cartId, found, false)), { writes, observed });
  }
  // The attempt's trace id, even when the resolver finishes it.
  const pinned = work.carts.pinned.get(command.cartId);
  // Confirming what an attempt pinned takes every hold it pinned here, named or not (the
  // resolver names none).
  const targets =
    action.kind === 'confirm-pinned' && pinned !== undefined
      ? [...new Set([...held.map((hold) => hold.reservation.id), ...pinned.holdIds])].map((id) =>
          work.holdOf(id),
        )
      : held;
  for (const target of targets) {
    if (target === undefined) continue;
    const { actor, reservation } = target;
    if (reservation.status !== 'PENDING') continue;
    if (action.kind === 'release') {
      change(actor, actor.finish(reservation, 'release', nowMs, traceId));
    } else if (action.kind === 'confirm') {
      const sold = action.quantities[reservation.id] ?? reservation.quantity;
      change(actor, actor.finish(reservation, 'confirm', nowMs, traceId, sold));
    } else if (action.kind === 'confirm-pinned') {
      const pin = reservation.pin;
      if (pin?.attempt !== action.attempt || pinned === undefined) continue;
      change(actor, actor.finish(reservation, 'confirm', nowMs, pinned.traceId, pin.quantity));
    } else if (action.kind === 'extend') {
      const { ttlSeconds, lifetimeMaxMs } = action;
      change(actor, actor.extend(reservation, ttlSeconds, lifetimeMaxMs, nowMs, traceId));
    } else if (nowMs >= reservation.expiresAtMs && reservation.pin === undefined) {
      change(actor, actor.finish(reservation, 'read', nowMs, traceId));
    }
  }
  // A confirm that found nothing PENDING changed nothing: it answers as a replay.
  const confirms = action.kind === 'confirm' || action.kind === 'confirm-pinned';
  const replayed = confirms && writes.length === 0;
  return merged(answer(holdsOutcome(command.cartId, found, replayed)), { writes, observed });
}

/**
 * The record of a pin (the PENDING holds not pinned yet, with the units each sells) or of an
 * unpin (the holds the attempt pinned); undefined when there is nothing to do.
 */
function pinRecord(
  work: CartWork,
  cartId: string,
  held: readonly { readonly reservation: Reservation }[],
  action: Extract<CartHoldsAction, { kind: 'pin' | 'unpin' }>,
  nowMs: number,
  traceId: string,
): CartConfirmRecord | undefined {
  const holds: CartConfirmRecord['holds'][number][] = [];
  const { attempt } = action;
  const ids =
    action.kind === 'pin'
      ? held.map((hold) => hold.reservation.id)
      : // An unpin lets go of every hold the attempt pinned here, named or not.
        [...(work.carts.pinned.get(cartId)?.holdIds ?? [])];
  for (const id of ids) {
    const reservation = work.holdOf(id)?.reservation;
    if (reservation?.status !== 'PENDING') continue;
    if (action.kind === 'pin' && reservation.pin === undefined) {
      const quantity = action.quantities[id] ?? reservation.quantity;
      holds.push({ reservationId: id, quantity });
    } else if (action.kind === 'unpin' && reservation.pin?.attempt === attempt) {
      holds.push({ reservationId: id, quantity: reservation.pin.quantity });
    }
  }
  if (holds.length === 0) return undefined;
  const step = action.kind === 'pin' ? 'pinned' : 'unpinned';
  return { type: 'cart-confirm', cartId, attempt, step, holds, atMs: nowMs, traceId };
}

/**
 * Checks a cart-wide action against every hold before doing anything, so it is all or nothing
 * in this partition. A hold pinned by a confirm attempt refuses everything but that attempt's
 * own steps (503, retry shortly); a pin or a confirm needs every hold PENDING (not due) or
 * CONFIRMED.
 */
function refuse(
  held: readonly { readonly actor: StockActor; readonly reservation: Reservation }[],
  action: CartHoldsAction,
  nowMs: number,
): Outcome | undefined {
  const kind = action.kind;
  if (kind === 'read' || kind === 'confirm-pinned' || kind === 'unpin') return undefined;
  for (const { reservation } of held) {
    const pending = reservation.status === 'PENDING';
    const pin = pending ? reservation.pin : undefined;
    if (pin !== undefined && (kind !== 'pin' || pin.attempt !== action.attempt)) {
      return unavailable('The cart is being confirmed; retry shortly.');
    }
    if (kind !== 'pin' && kind !== 'confirm') continue;
    const expired =
      reservation.status === 'EXPIRED' ||
      (pending && pin === undefined && nowMs >= reservation.expiresAtMs);
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
  replayed: boolean,
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
      ...(reservation.lots === undefined ? {} : { lots: reservation.lots }),
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
  return { ok: true, cart: view, replayed };
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
    holds: record.holds.map((hold) => merged(hold, { status: 'PENDING' as const })),
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
