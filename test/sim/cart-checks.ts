// The cart simulator's checks, against what the journal holds (LandedLedger) and never against a
// model: a cart answered 200 is already durable (its committed decision and every hold it names),
// a replay answers the cart that bound the key and makes nothing new, a refusal leaves nothing
// held, and once resolution has run every cart ever attempted is entirely there or not at all.
import type { CartHold, CartView, ReservationStatus } from '../../src/actors/index.js';
import { cartFingerprint, type CartRequest } from '../../src/router/index.js';
import type { ShardOutcome } from '../../src/shards/index.js';
import type { LandedLedger } from './landed-ledger.js';

export interface CartAttempt {
  readonly number: number;
  readonly request: CartRequest;
  readonly fingerprint: string;
  /** The id the coordinator minted for this attempt. */
  readonly cartId: string;
  readonly incarnation: number;
  /** The committed cart that durably bound the key when the attempt was sent, if any. */
  readonly boundBefore: string | undefined;
  /** 'ok', 'replayed' or the refusal's code; undefined while unanswered (or never answered). */
  answer: string | undefined;
}

/** An acknowledged cart, as the client knows it. */
export interface AckedCart {
  readonly cartId: string;
  readonly holds: readonly CartHold[];
}

const refusals = new Set([
  'insufficient_stock',
  'purchase_limit_exceeded',
  'idempotency_key_reused',
]);

export class CartChecks {
  readonly attempts: CartAttempt[] = [];
  readonly acked = new Map<string, AckedCart>();
  /** Cart id -> cart-abort answers that were not transient, and those that were. */
  private readonly aborts = new Map<string, { ok: number; transient: number }>();
  /** Trace ids of cart confirms refused: none of them may have sold anything. */
  private readonly refusedConfirms = new Set<string>();
  /** Cart confirms asked: trace id -> cart id. */
  private readonly cartConfirms = new Map<string, string>();

  constructor(
    private readonly ledger: LandedLedger,
    private readonly fail: (reason: string) => void,
    private readonly nowMs: () => number,
  ) {}

  attempt(request: CartRequest, cartId: string, incarnation: number): CartAttempt {
    const attempt: CartAttempt = {
      number: this.attempts.length + 1,
      request,
      fingerprint: cartFingerprint(request),
      cartId,
      incarnation,
      boundBefore: this.ledger.keys.get(request.idempotencyKey)?.cartId,
      answer: undefined,
    };
    this.attempts.push(attempt);
    return attempt;
  }

  abortAnswered(cartId: string, outcome: ShardOutcome): void {
    const counts = this.aborts.get(cartId) ?? { ok: 0, transient: 0 };
    if (!outcome.ok && (outcome.code === 'unavailable' || outcome.code === 'overloaded')) {
      counts.transient += 1;
    } else counts.ok += 1;
    this.aborts.set(cartId, counts);
  }

  /** The client's answer to a cart: checked at the moment it leaves. */
  placed(attempt: CartAttempt, outcome: ShardOutcome): void {
    const name = `cart ${attempt.request.traceId} (${attempt.request.idempotencyKey})`;
    if (!outcome.ok) {
      attempt.answer = outcome.code;
      this.refused(attempt, outcome.code, name);
      return;
    }
    if (!('cart' in outcome)) {
      this.fail(`${name} answered 200 without a cart: ${JSON.stringify(outcome)}`);
      return;
    }
    const cart = outcome.cart;
    attempt.answer = outcome.replayed ? 'replayed' : 'ok';
    const bound = this.ledger.keys.get(attempt.request.idempotencyKey);
    if (outcome.replayed) {
      if (bound?.cartId !== cart.cartId || bound.fingerprint !== attempt.fingerprint) {
        this.fail(`${name} replayed ${cart.cartId}, the key is bound to ${bound?.cartId}`);
      }
    } else if (cart.cartId !== attempt.cartId) {
      this.fail(`${name} answered cart ${cart.cartId}, minted ${attempt.cartId}`);
    } else if (attempt.boundBefore !== undefined) {
      this.fail(`${name} placed anew, its key bound to ${attempt.boundBefore} already`);
    }
    this.durableAtAnswer(name, cart, attempt.request);
    this.acked.set(cart.cartId, { cartId: cart.cartId, holds: cart.holds });
  }

  private refused(attempt: CartAttempt, code: string, name: string): void {
    const bound = this.ledger.keys.get(attempt.request.idempotencyKey);
    if (code === 'idempotency_key_reused' && bound?.fingerprint === attempt.fingerprint) {
      this.fail(`${name} answered idempotency_key_reused, bound with the same body`);
    } else if (code === 'idempotency_key_reused' && bound === undefined) {
      this.fail(`${name} answered idempotency_key_reused, the key is bound in no journal record`);
    }
    if (attempt.boundBefore !== undefined && code !== 'idempotency_key_reused') {
      if (refusals.has(code)) this.fail(`${name} refused ${code}, its key was bound`);
    }
    if (!refusals.has(code)) return;
    if (this.ledger.committed(attempt.cartId) !== undefined) {
      this.fail(`${name} refused ${code}, but cart ${attempt.cartId} is committed`);
    }
    if ((this.aborts.get(attempt.cartId)?.transient ?? 0) > 0) return;
    for (const id of this.ledger.cartHolds.get(attempt.cartId) ?? []) {
      const hold = this.ledger.holds.get(id);
      // A due hold is not released by the abort: it expires, in a write perhaps still in flight.
      if (hold?.status === 'PENDING' && hold.record.expiresAtMs > this.nowMs()) {
        this.fail(`${name} refused ${code}, its hold ${id} still PENDING in the journal`);
      }
    }
  }

  /** Ack => durable: the committed decision and every hold it names have landed. */
  private durableAtAnswer(name: string, cart: CartView, request: CartRequest): void {
    const decision = this.ledger.committed(cart.cartId);
    if (decision === undefined) {
      this.fail(`${name} answered 200 (cart ${cart.cartId}) before its decision was durable`);
      return;
    }
    const named = decision.holds.map((hold) => hold.reservationId).join(',');
    const answered = cart.holds.map((hold) => hold.reservationId).join(',');
    if (named !== answered) this.fail(`${name}: holds answered ${answered}, committed ${named}`);
    for (const hold of cart.holds) {
      const landed = this.ledger.holds.get(hold.reservationId);
      if (landed?.record.cartId !== cart.cartId) {
        this.fail(`${name} answered 200 before its hold ${hold.reservationId} was durable`);
      }
    }
    const uncovered = linesUncovered(request, decision.holds);
    if (uncovered !== undefined) this.fail(`${name}: ${uncovered}`);
  }

  /** A hold's state as an answer reported it: a settled state must have landed already. */
  holdReported(what: string, reservationId: string, status: ReservationStatus): void {
    const landed = this.ledger.holds.get(reservationId);
    if (landed === undefined) {
      this.fail(`${what} answered ${reservationId} ${status}, a hold not in the journal`);
    } else if (status !== 'PENDING' && landed.status !== status) {
      this.fail(`${what} answered ${reservationId} ${status}, the journal has ${landed.status}`);
    }
  }

  /** A cart confirm was asked (answered or not, its holds are confirmed all or none). */
  cartConfirmed(cartId: string, traceId: string): void {
    this.cartConfirms.set(traceId, cartId);
  }

  /** A cart-wide read, confirm or release answered. */
  cartAnswered(what: string, cartId: string, traceId: string, outcome: ShardOutcome): void {
    if (!outcome.ok) {
      if (outcome.code === 'not_found') this.fail(`${what} of acked cart ${cartId}: not_found`);
      if (what === 'confirm' && outcome.code.startsWith('reservation_')) {
        this.refusedConfirms.add(traceId);
        this.noneSoldBy(traceId);
      }
      return;
    }
    if (!('cart' in outcome)) {
      this.fail(`${what} of ${cartId} answered without a cart`);
      return;
    }
    if (this.ledger.committed(cartId) === undefined) {
      this.fail(`${what} of ${cartId} answered 200, no committed decision in the journal`);
    }
    for (const hold of outcome.cart.holds) {
      this.holdReported(`${what} of cart ${cartId}`, hold.reservationId, hold.status);
      if (what === 'confirm' && hold.status !== 'CONFIRMED') {
        this.fail(
          `confirm of cart ${cartId} answered 200 with ${hold.reservationId} ${hold.status}`,
        );
      }
    }
  }

  private noneSoldBy(traceId: string): void {
    for (const [id, hold] of this.ledger.holds) {
      if (hold.status === 'CONFIRMED' && hold.endedBy === traceId) {
        this.fail(`cart confirm ${traceId} was refused, yet confirmed ${id}`);
      }
    }
  }

  /**
   * After resolution has run (nothing in flight, nothing in doubt): every cart ever attempted is
   * entirely there (committed, every hold it names landed once, none released by an abort) or
   * not at all (no hold of it PENDING, none sold); an acknowledged cart is committed.
   */
  settled(why: string): void {
    for (const attempt of this.attempts) {
      const { cartId } = attempt;
      const name = `after ${why}: cart ${attempt.request.traceId} (${cartId}, ${attempt.answer})`;
      const decision = this.ledger.decisions.get(cartId);
      const committed = decision?.decision === 'committed';
      const holds = this.ledger.cartHolds.get(cartId) ?? [];
      const acked = attempt.answer === 'ok';
      if (acked && !committed) this.fail(`${name} was acknowledged, is ${decision?.decision}`);
      if (refusals.has(attempt.answer ?? '') && committed) this.fail(`${name} refused, committed`);
      const nothingNew =
        attempt.answer === 'replayed' || attempt.answer === 'idempotency_key_reused';
      if (nothingNew && (decision !== undefined || holds.length > 0)) {
        this.fail(`${name} made records, though its key was bound`);
      }
      for (const id of holds) {
        const hold = this.ledger.holds.get(id);
        if (hold === undefined) continue;
        if (!committed && (hold.status === 'PENDING' || hold.status === 'CONFIRMED')) {
          this.fail(
            `${name} is ${decision?.decision ?? 'undecided'}, its hold ${id} ${hold.status}`,
          );
        }
        const byAbort = hold.endedBy === '' || hold.endedBy === decision?.traceId;
        if (committed && hold.status === 'RELEASED' && byAbort) {
          this.fail(`${name} is committed, its hold ${id} was released by an abort`);
        }
      }
    }
    for (const traceId of this.refusedConfirms) this.noneSoldBy(traceId);
    this.confirmsWhole(why);
  }

  /**
   * After resolution: a cart confirm, answered or lost in a crash, confirmed every hold of its
   * cart or none (a hold confirmed before it, alone or by another confirm, counts as confirmed);
   * and no hold is left pinned.
   */
  private confirmsWhole(why: string): void {
    for (const [traceId, cartId] of this.cartConfirms) {
      const holds = (this.ledger.cartHolds.get(cartId) ?? []).map((id) =>
        this.ledger.holds.get(id),
      );
      if (!holds.some((hold) => hold?.status === 'CONFIRMED' && hold.endedBy === traceId)) continue;
      const left = holds.find((hold) => hold?.status !== 'CONFIRMED');
      if (left !== undefined) {
        this.fail(
          `after ${why}: cart confirm ${traceId} of ${cartId} confirmed a part, ` +
            `${left?.record.reservationId ?? 'a hold'} is ${left?.status ?? 'missing'}`,
        );
      }
    }
    for (const [id, hold] of this.ledger.holds) {
      if (hold.pinnedBy !== '') this.fail(`after ${why}: ${id} still pinned by ${hold.pinnedBy}`);
    }
  }
}

/**
 * Whether the holds cover the request's lines exactly: lines naming one stock key summed into one
 * hold on it, lines of one product without a warehouse summed and allocated over its keys.
 */
export function linesUncovered(
  request: CartRequest,
  holds: readonly CartHold[],
): string | undefined {
  const wanted = new Map<string, { index: number; quantity: number }>();
  request.lines.forEach((line, index) => {
    const key = `${line.productId}/${line.warehouseId}`;
    const summed = wanted.get(key);
    if (summed === undefined) wanted.set(key, { index, quantity: line.quantity });
    else summed.quantity += line.quantity;
  });
  const byLine = new Map<number, number>();
  for (const hold of holds) {
    const line = request.lines[hold.line];
    const named = line?.warehouseId ?? '';
    if (line === undefined || line.productId !== hold.productId) {
      return `hold ${hold.reservationId} serves line ${hold.line} with ${hold.productId}`;
    }
    if (named !== '' && named !== hold.warehouseId) {
      return `hold ${hold.reservationId} of line ${hold.line} on ${hold.warehouseId}, not ${named}`;
    }
    byLine.set(hold.line, (byLine.get(hold.line) ?? 0) + hold.quantity);
  }
  for (const [key, { index, quantity }] of wanted) {
    const held = byLine.get(index) ?? 0;
    if (held !== quantity) return `lines of ${key} (first ${index}) want ${quantity}, hold ${held}`;
  }
  if (byLine.size !== wanted.size) return `holds serve ${byLine.size} lines, ${wanted.size} wanted`;
  return undefined;
}
