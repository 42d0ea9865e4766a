// Request bodies to commands, through the field specifications of schemas.ts. A violation is a
// 422 naming the field, and nothing reaches a shard.
import { merged, type LotRequest, type ProductSettings } from '../actors/index.js';
import { movementPageItemsDefault, stockPageItemsDefault } from '../limits.js';
import type { CartRequest, RoutableCommand, StockKey, StockPageQuery } from '../router/index.js';
import {
  ValidationError,
  requestSpecs,
  reservationIdField,
  stockIdField,
  type AdjustBody,
  type RequestSpecs,
  type SetBody,
  type SettingsBody,
  type ValidationLimits,
} from './schemas.js';

export { ValidationError, type ValidationLimits };

type Body = Record<string, unknown>;

/** Who is asking: the token's subject when auth is on, else empty. */
export interface Caller {
  readonly subject: string;
}

/** A path names something that cannot exist (a cart id that is no UUID): 404, not 422. */
export class UnknownResource extends Error {
  override readonly name = 'UnknownResource';
}

export function stockId(value: unknown, field: string): string {
  return stockIdField.parse(value, field);
}

export function reservationId(value: unknown): string {
  return reservationIdField.parse(value, 'reservation_id');
}

/** A cart id from a path: a UUID (lower-cased), else the cart does not exist. */
export function cartId(value: string): string {
  try {
    return reservationIdField.parse(value, 'cart_id');
  } catch (error) {
    if (error instanceof ValidationError) throw new UnknownResource('No such cart.');
    throw error;
  }
}

/** A transfer id from a path: a UUID (lower-cased), else the transfer does not exist. */
export function transferId(value: string): string {
  try {
    return reservationIdField.parse(value, 'transfer_id');
  } catch (error) {
    if (error instanceof ValidationError) throw new UnknownResource('No such transfer.');
    throw error;
  }
}

/** What a cart confirm asks: hold id -> units sold (holds not named: all their units). */
export type CartQuantities = ReadonlyMap<string, number>;

export class RequestValidator {
  readonly specs: RequestSpecs;

  constructor(readonly limits: ValidationLimits) {
    this.specs = requestSpecs(limits);
  }

  /** How long a hold may live from its created_at: 3 x the largest TTL (API.md, extend). */
  get lifetimeMaxMs(): number {
    return 3 * this.limits.ttlSecondsMax * 1000;
  }

  reserve(body: Body, traceId: string, caller: Caller): RoutableCommand {
    const parsed = this.specs.reserve.parse(body);
    return {
      kind: 'reserve',
      productId: parsed.product_id as string,
      warehouseId: parsed.warehouse_id as string,
      quantity: parsed.quantity as number,
      idempotencyKey: parsed.idempotency_key as string,
      ttlSeconds: parsed.ttl_seconds ?? this.limits.ttlSecondsDefault,
      requesterId: caller.subject,
      traceId,
      // Only when sent: a hold without them stays a v1 hold, in the journal too.
      ...(parsed.buyer_id === undefined ? {} : { buyerId: parsed.buyer_id }),
      ...(parsed.reference === undefined ? {} : { reference: parsed.reference }),
    };
  }

  reservation(
    kind: 'confirm' | 'release',
    body: Body,
    traceId: string,
    caller: Caller,
  ): RoutableCommand {
    // Only with auth on: an anonymous caller adds nothing to the hot path's message.
    const subject = caller.subject === '' ? {} : { subject: caller.subject };
    if (kind === 'release') {
      const parsed = this.specs.reservation.parse(body);
      return { kind, reservationId: parsed.reservation_id as string, traceId, ...subject };
    }
    const parsed = this.specs.confirm.parse(body);
    return {
      kind,
      reservationId: parsed.reservation_id as string,
      traceId,
      ...(parsed.quantity === undefined ? {} : { quantity: parsed.quantity }),
      ...subject,
    };
  }

  extend(body: Body, traceId: string): RoutableCommand {
    const parsed = this.specs.extend.parse(body);
    return {
      kind: 'extend',
      reservationId: parsed.reservation_id as string,
      ttlSeconds: parsed.ttl_seconds as number,
      lifetimeMaxMs: this.lifetimeMaxMs,
      traceId,
    };
  }

  adjust(body: Body, traceId: string, caller: Caller): RoutableCommand {
    const parsed = this.specs.adjust.parse(body);
    const { lot } = parsed;
    const change =
      lot === undefined
        ? { delta: parsed.delta as number }
        : {
            delta: parsed.delta as number,
            lot: {
              lotId: lot.lot_id as string,
              ...(lot.expires_on === undefined ? {} : { expiresOn: lot.expires_on }),
            },
          };
    return stockChange(parsed, change, traceId, caller);
  }

  transfer(body: Body, traceId: string, caller: Caller): RoutableCommand {
    const parsed = this.specs.transfer.parse(body);
    const from = parsed.from_warehouse_id as string;
    const to = parsed.to_warehouse_id as string;
    if (from === to) {
      throw new ValidationError('to_warehouse_id', 'to_warehouse_id must differ from the source');
    }
    return {
      kind: 'transfer',
      productId: parsed.product_id as string,
      fromWarehouseId: from,
      toWarehouseId: to,
      quantity: parsed.quantity as number,
      inTransit: parsed.in_transit ?? false,
      idempotencyKey: parsed.idempotency_key as string,
      reason: parsed.reason ?? '',
      reference: parsed.reference ?? '',
      actorId: caller.subject,
      traceId,
    };
  }

  /** A set is an adjust whose change the actor works out from the count asked for. */
  set(body: Body, traceId: string, caller: Caller): RoutableCommand {
    const parsed = this.specs.set.parse(body);
    return stockChange(parsed, { delta: 0, setOnHand: parsed.on_hand as number }, traceId, caller);
  }

  /** A settings PUT: only the fields sent are changes (null kept as null: it clears). */
  settings(productId: string, body: Body, traceId: string, caller: Caller): RoutableCommand {
    const product = stockId(productId, 'product_id');
    const parsed: Partial<SettingsBody> = this.specs.settings.parse(body);
    const changes: { -readonly [K in keyof ProductSettings]?: ProductSettings[K] } = {};
    if (parsed.max_per_buyer !== undefined) changes.maxPerBuyer = parsed.max_per_buyer;
    if (parsed.limit_window_seconds !== undefined) {
      // null resets the window to its default (the actor's merge does that).
      changes.limitWindowSeconds = parsed.limit_window_seconds as number;
    }
    if (parsed.warehouse_priority !== undefined) {
      changes.warehousePriority = parsed.warehouse_priority;
    }
    if (parsed.low_stock_threshold !== undefined) {
      changes.lowStockThreshold = parsed.low_stock_threshold;
    }
    return { kind: 'put-settings', productId: product, changes, actorId: caller.subject, traceId };
  }

  cart(body: Body, traceId: string, caller: Caller): CartRequest {
    const parsed = this.specs.cart.parse(body);
    const lines = (parsed.lines ?? []).map((line) => ({
      productId: line.product_id as string,
      warehouseId: line.warehouse_id ?? '',
      quantity: line.quantity as number,
    }));
    return {
      idempotencyKey: parsed.idempotency_key as string,
      lines,
      ttlSeconds: parsed.ttl_seconds ?? this.limits.ttlSecondsDefault,
      buyerId: parsed.buyer_id ?? '',
      reference: parsed.reference ?? '',
      requesterId: caller.subject,
      traceId,
    };
  }

  /** A cart confirm's partial quantities; a hold named twice is refused (field `lines`). */
  cartConfirm(body: Body): CartQuantities {
    const parsed = this.specs.cartConfirm.parse(body);
    const quantities = new Map<string, number>();
    for (const line of parsed.lines ?? []) {
      const id = line.reservation_id as string;
      if (quantities.has(id)) throw new ValidationError('lines', `lines names ${id} twice`);
      quantities.set(id, line.quantity as number);
    }
    return quantities;
  }

  cartExtend(body: Body): number {
    return this.specs.cartExtend.parse(body).ttl_seconds as number;
  }

  /** A movement history's key (path) and query string; unknown parameters are ignored. */
  movementPage(key: StockKey, query: string): MovementPageQuery {
    const parsed = this.specs.movementPage.parse(queryParameters(query));
    return merged(key, {
      beforeVersion: parsed.before,
      limit: parsed.limit ?? movementPageItemsDefault,
    });
  }

  /** The stock listing's query string (without `?`); unknown parameters are ignored. */
  stockPage(query: string): StockPageQuery {
    const parsed = this.specs.stockPage.parse(queryParameters(query));
    return {
      productId: parsed.product_id,
      after: parsed.after,
      limit: parsed.limit ?? stockPageItemsDefault,
    };
  }
}

/** What a page of a key's movement history asks. */
export interface MovementPageQuery {
  readonly productId: string;
  readonly warehouseId: string;
  readonly beforeVersion: number | undefined;
  readonly limit: number;
}

/**
 * A query string's parameters by name. A name given twice keeps all its values, which no
 * parameter's check accepts (which one was meant cannot be known).
 */
function queryParameters(query: string): Body {
  // No prototype: a parameter named `__proto__` is just a name.
  const parameters = Object.create(null) as Record<string, string | string[]>;
  for (const [name, value] of new URLSearchParams(query)) {
    const known = parameters[name];
    parameters[name] = known === undefined ? value : [known, value].flat();
  }
  return parameters;
}

/** What an adjust and a set share: the key, the compare-and-set, why, and who. */
function stockChange(
  parsed: Partial<AdjustBody | SetBody>,
  change: { readonly delta: number; readonly setOnHand?: number; readonly lot?: LotRequest },
  traceId: string,
  caller: Caller,
): RoutableCommand {
  return {
    kind: 'adjust',
    productId: parsed.product_id as string,
    warehouseId: parsed.warehouse_id as string,
    ...change,
    ...(parsed.expected_version === undefined ? {} : { expectedVersion: parsed.expected_version }),
    reason: parsed.reason ?? '',
    reference: parsed.reference ?? '',
    idempotencyKey: parsed.idempotency_key ?? '',
    actorId: caller.subject,
    traceId,
  };
}
