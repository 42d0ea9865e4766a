// Outcomes to HTTP answers, rendered once, here, on the HTTP thread: shards answer with values
// (src/shards/protocol.ts), never with text, so nothing is ever parsed back.
import type { ReservationView, StockView } from '../actors/index.js';
import { errorBody, errorStatus, type ErrorDetails } from '../errors.js';
import type { ShardOutcome } from '../shards/index.js';

export interface RenderedReply {
  readonly status: number;
  readonly body: string;
  /** An earlier identical request's answer is being repeated (idempotent replay). */
  readonly replayed: boolean;
}

export function reservationJson(view: ReservationView): string {
  return JSON.stringify({
    reservation_id: view.reservationId,
    status: view.status,
    product_id: view.productId,
    warehouse_id: view.warehouseId,
    quantity: view.quantity,
    expires_at: new Date(view.expiresAtMs).toISOString(),
    created_at: new Date(view.createdAtMs).toISOString(),
  });
}

export function stockJson(view: StockView): string {
  return JSON.stringify({
    product_id: view.productId,
    warehouse_id: view.warehouseId,
    on_hand: view.onHand,
    reserved: view.reserved,
    available: view.available,
    version: view.version,
  });
}

export function renderOutcome(outcome: ShardOutcome): RenderedReply {
  if (!outcome.ok) {
    const details = 'details' in outcome ? outcome.details : undefined;
    const body = errorBody(outcome.code, outcome.message, details as ErrorDetails | undefined);
    return { status: errorStatus(outcome.code), body, replayed: false };
  }
  const body =
    'reservation' in outcome
      ? reservationJson(outcome.reservation)
      : 'stock' in outcome
        ? stockJson(outcome.stock)
        : JSON.stringify(outcome);
  return { status: 200, body, replayed: outcome.replayed };
}

/** The result label of a reply for metrics: 'ok' or the error code. */
export function resultOf(outcome: ShardOutcome): string {
  return outcome.ok ? 'ok' : outcome.code;
}
