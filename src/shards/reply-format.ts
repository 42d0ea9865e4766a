// Outcomes to HTTP answers, built on the shard thread so the ingress thread only writes bytes.
import type { Outcome, ReservationView, StockView } from '../actors/index.js';
import { errorBody, errorStatus, type ErrorCode } from '../errors.js';
import type { ShardReply } from './protocol.js';

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

export function formatReply(id: number, outcome: Outcome): ShardReply {
  if (!outcome.ok) {
    const body = errorBody(outcome.code, outcome.message, outcome.details);
    return { id, status: errorStatus(outcome.code), body, replayed: false };
  }
  const body =
    'reservation' in outcome ? reservationJson(outcome.reservation) : stockJson(outcome.stock);
  return { id, status: 200, body, replayed: outcome.replayed };
}

export function errorReply(id: number, code: ErrorCode, message?: string): ShardReply {
  return {
    id,
    status: errorStatus(code),
    body: errorBody(code, message),
    replayed: false,
  };
}
