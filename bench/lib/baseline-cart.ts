// POST /v1/carts for the baselines (API.md "Additions (v1.1)", "Carts: several lines, all or
// nothing", and the team's choices in notes/cart-choices.md): validation, the summing of lines
// naming the same stock key, and the 200 / 409 / 422 bodies, shared so that the baselines differ
// only in how they hold the lines. Not implemented here: lines without warehouse_id (allocation
// over a product's warehouses: 501), purchase limits (the baselines keep no product settings,
// as a ledger whose products were never configured), and the /v1/carts/:id routes.

import type { Answer } from './baseline-answer.js';

/** The contract's defaults (API.md): lines per cart, units per line, hold TTL. */
const linesMax = 100;
const quantityMax = 1000;
const ttlSecondsMin = 60;
const ttlSecondsMax = 3600;
const ttlSecondsDefault = 600;
const identifierPattern = /^[A-Za-z0-9._:-]{1,64}$/;
const idempotencyKeyPattern = /^[\x20-\x7e]{16,128}$/;
const buyerIdPattern = /^[A-Za-z0-9._:@-]{1,128}$/;
const referencePattern = /^[\x20-\x7e]{1,256}$/;

/** One stock key's units in a cart: the cart's lines on that key summed. */
export interface CartHoldRequest {
  /** The 0-based position of the first line naming this key. */
  readonly line: number;
  readonly productId: string;
  readonly warehouseId: string;
  readonly quantity: number;
}

export interface CartRequest {
  readonly idempotencyKey: string;
  /** One per stock key, in order of first appearance (so also in order of `line`). */
  readonly holds: readonly CartHoldRequest[];
  readonly ttlSeconds: number;
  readonly buyerId: string | undefined;
  readonly reference: string | undefined;
  /**
   * The request as sent (lines in order, ttl, buyer_id, reference): a replay of the idempotency
   * key with another fingerprint is 422 idempotency_key_reused.
   */
  readonly fingerprint: string;
}

/** A cart answer as the contract gives it. */
export interface CartBody {
  readonly cart_id: string;
  readonly status: 'PENDING';
  readonly created_at: string;
  readonly expires_at: string;
  readonly buyer_id?: string;
  readonly reference?: string;
  readonly holds: readonly {
    readonly line: number;
    readonly reservation_id: string;
    readonly product_id: string;
    readonly warehouse_id: string;
    readonly quantity: number;
    readonly status: 'PENDING';
  }[];
}

const failure = (status: number, code: string, message: string, details?: object): Answer => ({
  status,
  body: { error: { code, message, ...(details ? { details } : {}) } },
});

const invalid = (field: string): Answer =>
  failure(422, 'validation_failed', `${field} is missing or out of range`, { field });

const isQuantity = (value: unknown): value is number =>
  Number.isInteger(value) && (value as number) >= 1 && (value as number) <= quantityMax;

type Line = { productId: string; warehouseId: string; quantity: number };

function validLine(raw: unknown, index: number): Line | Answer {
  const field = `lines[${index}]`;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return invalid(field);
  const {
    product_id: productId,
    warehouse_id: warehouseId,
    quantity,
  } = raw as Record<string, unknown>;
  if (typeof productId !== 'string' || !identifierPattern.test(productId)) {
    return invalid(`${field}.product_id`);
  }
  if (warehouseId === undefined) {
    return failure(501, 'not_implemented', 'this baseline needs warehouse_id on every line', {
      field: `${field}.warehouse_id`,
    });
  }
  if (typeof warehouseId !== 'string' || !identifierPattern.test(warehouseId)) {
    return invalid(`${field}.warehouse_id`);
  }
  if (!isQuantity(quantity)) return invalid(`${field}.quantity`);
  return { productId, warehouseId, quantity };
}

/** Lines naming the same stock key summed into one hold, on the first such line. */
export function summedHolds(lines: readonly Line[]): CartHoldRequest[] {
  const byKey = new Map<string, CartHoldRequest>();
  lines.forEach((line, index) => {
    // '/' is not in the id alphabet, so it cannot make two keys one.
    const name = `${line.productId}/${line.warehouseId}`;
    const held = byKey.get(name);
    byKey.set(name, {
      ...line,
      line: held?.line ?? index,
      quantity: line.quantity + (held?.quantity ?? 0),
    });
  });
  return [...byKey.values()];
}

function optionalText(value: unknown, pattern: RegExp): string | undefined | null {
  if (value === undefined) return undefined;
  return typeof value === 'string' && pattern.test(value) ? value : null;
}

/** The request, or the answer refusing it (422, or 501 for a line without warehouse_id). */
export function validCart(body: Record<string, unknown>): CartRequest | Answer {
  const { idempotency_key: idempotencyKey, lines: rawLines, ttl_seconds: ttl } = body;
  if (typeof idempotencyKey !== 'string' || !idempotencyKeyPattern.test(idempotencyKey)) {
    return invalid('idempotency_key');
  }
  if (!Array.isArray(rawLines) || rawLines.length < 1 || rawLines.length > linesMax) {
    return invalid('lines');
  }
  const lines: Line[] = [];
  for (const [index, raw] of rawLines.entries()) {
    const line = validLine(raw, index);
    if ('status' in line) return line;
    lines.push(line);
  }
  const ttlSeconds = (ttl ?? ttlSecondsDefault) as number;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < ttlSecondsMin || ttlSeconds > ttlSecondsMax) {
    return invalid('ttl_seconds');
  }
  const buyerId = optionalText(body.buyer_id, buyerIdPattern);
  if (buyerId === null) return invalid('buyer_id');
  const reference = optionalText(body.reference, referencePattern);
  if (reference === null) return invalid('reference');
  const sent = lines.map((line) => [line.productId, line.warehouseId, line.quantity]);
  return {
    idempotencyKey,
    holds: summedHolds(lines),
    ttlSeconds,
    buyerId,
    reference,
    fingerprint: JSON.stringify([sent, ttlSeconds, buyerId ?? null, reference ?? null]),
  };
}

/** The 200 body of a cart whose holds got these reservation ids (one per `request.holds`). */
export function cartBody(
  request: CartRequest,
  cart: { readonly id: string; readonly createdMs: number; readonly expiresMs: number },
  reservationIds: readonly string[],
): CartBody {
  return {
    cart_id: cart.id,
    status: 'PENDING',
    created_at: new Date(cart.createdMs).toISOString(),
    expires_at: new Date(cart.expiresMs).toISOString(),
    ...(request.buyerId === undefined ? {} : { buyer_id: request.buyerId }),
    ...(request.reference === undefined ? {} : { reference: request.reference }),
    holds: request.holds.map((hold, index) => ({
      line: hold.line,
      reservation_id: reservationIds[index] ?? '',
      product_id: hold.productId,
      warehouse_id: hold.warehouseId,
      quantity: hold.quantity,
      status: 'PENDING',
    })),
  };
}

/**
 * 409 insufficient_stock naming every short stock key: `shorts` pairs a position in
 * `request.holds` with what that key had available (0 for a key never stocked).
 */
export function shortCart(
  request: CartRequest,
  shorts: readonly { readonly hold: number; readonly available: number }[],
) {
  const lines = shorts.map(({ hold, available }) => {
    const asked = request.holds[hold];
    if (asked === undefined) throw new Error(`short hold ${hold} is not in the cart`);
    return {
      index: asked.line,
      product_id: asked.productId,
      warehouse_id: asked.warehouseId,
      requested: asked.quantity,
      available,
    };
  });
  return failure(409, 'insufficient_stock', 'not enough available for every line', { lines });
}

/**
 * The answer to a cart whose idempotency key is taken: the first 200 again if the request is the
 * same one, else 422 idempotency_key_reused.
 */
export function replayedCart(request: CartRequest, fingerprint: string, body: CartBody): Answer {
  if (fingerprint !== request.fingerprint) {
    return failure(422, 'idempotency_key_reused', 'same key, different request');
  }
  return { status: 200, body, replayed: true };
}
