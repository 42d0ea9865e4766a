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

/** Units by lot, as a reservation and a transfer show them (the unnamed lot as ''). */
export function lotUnitsObjects(lots: readonly LotUnits[]): Record<string, unknown>[] {
  return lots.map((units) => ({
    lot_id: units.lotId,
    quantity: units.quantity,
    ...(units.expiresOn === undefined ? {} : { expires_on: units.expiresOn }),
  }));
}

/**
 * The reservation body: v1's fields, then the v1.1 ones a hold has (never empty ones), written as
 * text field by field, each value as JSON writes it. Every reserve answers one, and a literal of
 * the fields stringified took about 1.6 times as long (bench/micro/hot-paths.ts,
 * "renderOutcome").
 */
export function reservationJson(view: ReservationView): string {
  let body =
    '{"reservation_id":' +
    JSON.stringify(view.reservationId) +
    ',"status":' +
    JSON.stringify(view.status) +
    ',"product_id":' +
    JSON.stringify(view.productId) +
    ',"warehouse_id":' +
    JSON.stringify(view.warehouseId) +
    ',"quantity":' +
    JSON.stringify(view.quantity) +
    ',"expires_at":"' +
    isoTime(view.expiresAtMs) +
    '","created_at":"' +
    isoTime(view.createdAtMs) +
    '"';
  if (view.status === 'CONFIRMED') {
    body += ',"confirmed_quantity":' + JSON.stringify(view.confirmedQuantity ?? view.quantity);
  }
  if (view.buyerId !== undefined && view.buyerId !== '') {
    body += ',"buyer_id":' + JSON.stringify(view.buyerId);
  }
  if (view.reference !== undefined && view.reference !== '') {
    body += ',"reference":' + JSON.stringify(view.reference);
  }
  if (view.cartId !== undefined && view.cartId !== '') {
    body += ',"cart_id":' + JSON.stringify(view.cartId);
  }
  if (view.lots !== undefined) body += ',"lots":' + JSON.stringify(lotUnitsObjects(view.lots));
  return body + '}';
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
