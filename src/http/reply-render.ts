// Outcomes to HTTP answers, rendered once, here, on the HTTP thread: shards answer with values
// (src/shards/protocol.ts), never with text, so nothing is ever parsed back.
import type {
  CartView,
  LotUnits,
  LotView,
  ProductSettings,
  ProductStockView,
  ReservationView,
  StockView,
  TransferView,
} from '../actors/index.js';
import { errorObject, errorStatus, type ErrorDetails, type ErrorObject } from '../errors.js';
import { isoTime } from '../iso-time.js';
import type { ShardOutcome } from '../shards/index.js';

export interface RenderedReply {
  readonly status: number;
  readonly body: string;
  /** An earlier identical request's answer is being repeated (idempotent replay). */
  readonly replayed: boolean;
  /**
   * The retry-after header of a 503: what the refusal says (a shed reserve or cart sizes it
   * from its shard's backlog), else 1. Undefined for any other status.
   */
  readonly retryAfterSeconds: number | undefined;
}

/** The reservation body: v1 fields, then the v1.1 ones a hold has (never empty ones). */
function reservationObject(view: ReservationView): Record<string, unknown> {
  // The hot path's body (a plain PENDING hold) is one literal: no spreads on this thread.
  const body: Record<string, unknown> = {
    reservation_id: view.reservationId,
    status: view.status,
    product_id: view.productId,
    warehouse_id: view.warehouseId,
    quantity: view.quantity,
    expires_at: isoTime(view.expiresAtMs),
    created_at: isoTime(view.createdAtMs),
  };
  if (view.status === 'CONFIRMED')
    body.confirmed_quantity = view.confirmedQuantity ?? view.quantity;
  if (view.buyerId !== undefined && view.buyerId !== '') body.buyer_id = view.buyerId;
  if (view.reference !== undefined && view.reference !== '') body.reference = view.reference;
  if (view.cartId !== undefined && view.cartId !== '') body.cart_id = view.cartId;
  if (view.lots !== undefined) body.lots = lotUnitsObjects(view.lots);
  return body;
}

/** Units by lot, as a reservation and a transfer show them (the unnamed lot as ''). */
export function lotUnitsObjects(lots: readonly LotUnits[]): Record<string, unknown>[] {
  return lots.map((units) => ({
    lot_id: units.lotId,
    quantity: units.quantity,
    ...(units.expiresOn === undefined ? {} : { expires_on: units.expiresOn }),
  }));
}

/**
 * A hold's body. The plain hold (no field beyond v1's and not CONFIRMED: what a reserve answers)
 * is written as text at once, character for character what the object would stringify to;
 * building the literal and stringifying it took about 1.6 times as long
 * (bench/micro/hot-paths.ts, "renderOutcome"). Any other hold goes through the object.
 */
export function reservationJson(view: ReservationView): string {
  if (!plainHold(view)) return JSON.stringify(reservationObject(view));
  return (
    '{"reservation_id":' +
    JSON.stringify(view.reservationId) +
    ',"status":' +
    JSON.stringify(view.status) +
    ',"product_id":' +
    JSON.stringify(view.productId) +
    ',"warehouse_id":' +
    JSON.stringify(view.warehouseId) +
    ',"quantity":' +
    String(view.quantity) +
    ',"expires_at":"' +
    isoTime(view.expiresAtMs) +
    '","created_at":"' +
    isoTime(view.createdAtMs) +
    '"}'
  );
}

/**
 * What `reservationObject` renders with its seven v1 fields alone, and whose quantity prints as
 * JSON does (a finite number: `String` and JSON differ only for NaN and the infinities).
 */
function plainHold(view: ReservationView): boolean {
  return (
    view.status !== 'CONFIRMED' &&
    (view.buyerId === undefined || view.buyerId === '') &&
    (view.reference === undefined || view.reference === '') &&
    (view.cartId === undefined || view.cartId === '') &&
    view.lots === undefined &&
    Number.isFinite(view.quantity)
  );
}

/** A stock view; `incoming`: units of transfers in transit toward the key (not available). */
function stockObject(view: StockView): Record<string, unknown> {
  return {
    product_id: view.productId,
    warehouse_id: view.warehouseId,
    on_hand: view.onHand,
    reserved: view.reserved,
    available: view.available,
    incoming: view.incoming ?? 0,
    version: view.version,
    ...(view.reference === undefined ? {} : { reference: view.reference }),
    ...(view.lots === undefined ? {} : { lots: view.lots.map(lotObject) }),
  };
}

function lotObject(lot: LotView): Record<string, unknown> {
  return {
    lot_id: lot.lotId,
    on_hand: lot.onHand,
    reserved: lot.reserved,
    ...(lot.expiresOn === undefined ? {} : { expires_on: lot.expiresOn }),
    received_at: isoTime(lot.receivedAtMs),
  };
}

export function stockJson(view: StockView): string {
  return JSON.stringify(stockObject(view));
}

/** A page of the stock listing; `next` is the cursor of the page after, null on the last. */
export function stockPageJson(items: readonly StockView[], next: string | null): string {
  return JSON.stringify({ items: items.map(stockObject), next });
}

export function productStockJson(view: ProductStockView): string {
  return JSON.stringify({
    product_id: view.productId,
    on_hand: view.onHand,
    reserved: view.reserved,
    available: view.available,
    incoming: view.incoming ?? 0,
    warehouses: view.warehouses.map(stockObject),
  });
}

export function settingsJson(settings: ProductSettings): string {
  return JSON.stringify({
    max_per_buyer: settings.maxPerBuyer,
    limit_window_seconds: settings.limitWindowSeconds,
    warehouse_priority: settings.warehousePriority,
    low_stock_threshold: settings.lowStockThreshold,
  });
}

/** A cart (its `expires_at` as the coordinator worked it out: see cart-coordinator.ts). */
export function cartJson(cart: CartView): string {
  return JSON.stringify({
    cart_id: cart.cartId,
    status: cart.status,
    created_at: isoTime(cart.createdAtMs),
    expires_at: isoTime(cart.expiresAtMs),
    ...(cart.buyerId === '' ? {} : { buyer_id: cart.buyerId }),
    ...(cart.reference === '' ? {} : { reference: cart.reference }),
    holds: cart.holds.map((hold) => ({
      line: hold.line,
      reservation_id: hold.reservationId,
      product_id: hold.productId,
      warehouse_id: hold.warehouseId,
      quantity: hold.quantity,
      status: hold.status,
      ...(hold.status === 'CONFIRMED'
        ? { confirmed_quantity: hold.confirmedQuantity ?? hold.quantity }
        : {}),
      ...(hold.lots === undefined ? {} : { lots: lotUnitsObjects(hold.lots) }),
    })),
  });
}

/** A transfer, with both of its stock keys. */
export function transferJson(view: TransferView): string {
  return JSON.stringify({
    transfer_id: view.transferId,
    status: view.status,
    product_id: view.productId,
    from_warehouse_id: view.fromWarehouseId,
    to_warehouse_id: view.toWarehouseId,
    quantity: view.quantity,
    created_at: isoTime(view.createdAtMs),
    ...(view.receivedAtMs === undefined ? {} : { received_at: isoTime(view.receivedAtMs) }),
    ...(view.cancelledAtMs === undefined ? {} : { cancelled_at: isoTime(view.cancelledAtMs) }),
    ...(view.reason === undefined ? {} : { reason: view.reason }),
    ...(view.reference === undefined ? {} : { reference: view.reference }),
    ...(view.lots === undefined ? {} : { lots: lotUnitsObjects(view.lots) }),
    from: stockObject(view.from),
    to: stockObject(view.to),
  });
}

function successBody(outcome: ShardOutcome & { ok: true }): string {
  if ('reservation' in outcome) return reservationJson(outcome.reservation);
  if ('stock' in outcome) return stockJson(outcome.stock);
  if ('cart' in outcome) return cartJson(outcome.cart);
  if ('transfer' in outcome) return transferJson(outcome.transfer);
  if ('settings' in outcome) return settingsJson(outcome.settings);
  if ('productStock' in outcome) return productStockJson(outcome.productStock);
  return JSON.stringify(outcome);
}

/** The error object of a refusal: a body's `error`, or an import line's. */
export function errorOf(outcome: ShardOutcome & { ok: false }): ErrorObject {
  const details = 'details' in outcome ? outcome.details : undefined;
  return errorObject(outcome.code, outcome.message, details as ErrorDetails | undefined);
}

export function renderOutcome(outcome: ShardOutcome): RenderedReply {
  if (!outcome.ok) {
    const body = JSON.stringify({ error: errorOf(outcome) });
    const status = errorStatus(outcome.code);
    const given = 'retryAfterSeconds' in outcome ? outcome.retryAfterSeconds : undefined;
    const retryAfterSeconds = status === 503 ? (given ?? 1) : undefined;
    return { status, body, replayed: false, retryAfterSeconds };
  }
  return {
    status: 200,
    body: successBody(outcome),
    replayed: outcome.replayed,
    retryAfterSeconds: undefined,
  };
}

/** The result label of a reply for metrics: 'ok' or the error code. */
export function resultOf(outcome: ShardOutcome): string {
  return outcome.ok ? 'ok' : outcome.code;
}
