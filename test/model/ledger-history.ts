// Observed ledger operations (HTTP answers turned into model replies) and the reference model
// as the sequential specification the linearizability checker searches with. The time an
// operation took effect is unknown within its interval; where it matters (a hold's expiry falls
// inside the interval, or a new hold's created_at names it) the spec tries each possibility.
import type { Operation, SequentialSpec } from './linearizability.js';
import {
  ReferenceLedger,
  replyMismatch,
  statusOfCode,
  type ModelErrorCode,
  type ModelLimits,
  type ModelReply,
  type ModelRequest,
} from './reference-ledger.js';

export type LedgerOperation = Operation<ModelRequest, ModelReply>;

export interface LedgerState {
  readonly ledger: ReferenceLedger;
  /** When the last operation of this order took effect: time runs forward along the order. */
  readonly clockMs: number;
}

const reservationKeys = [
  'created_at',
  'expires_at',
  'product_id',
  'quantity',
  'reservation_id',
  'status',
  'warehouse_id',
];
const stockKeys = [
  'available',
  'incoming',
  'on_hand',
  'product_id',
  'reserved',
  'version',
  'warehouse_id',
];

/** The body has exactly `keys`, give or take the v1.1 fields a plain hold may carry. */
function sameKeys(body: Record<string, unknown>, keys: readonly string[]): boolean {
  // A CONFIRMED hold names its sold units (all of them: the model has no partial confirm).
  const have = Object.keys(body)
    .filter((key) => key !== 'confirmed_quantity' || body[key] !== body.quantity)
    .sort();
  return have.length === keys.length && have.every((key, index) => key === keys[index]);
}

/**
 * An HTTP answer as a model reply; undefined for a 503 (nothing known: it may or may not have
 * happened). Throws on an answer outside the contract (unknown shape, status not matching code).
 * `replayed` undefined: the answer came to a retry after an attempt whose outcome was unknown,
 * so it may replay that attempt's effect; the model then accepts either.
 */
export function observedReply(
  status: number,
  body: Record<string, unknown>,
  replayed: boolean | undefined,
): ModelReply | undefined {
  if (status === 503) return undefined;
  if (status === 200 && sameKeys(body, reservationKeys)) {
    return {
      ok: true,
      replayed,
      reservation: {
        id: body.reservation_id as string,
        status: body.status as 'PENDING',
        productId: body.product_id as string,
        warehouseId: body.warehouse_id as string,
        quantity: body.quantity as number,
        createdAtMs: Date.parse(body.created_at as string),
        expiresAtMs: Date.parse(body.expires_at as string),
      },
    };
  }
  if (status === 200 && sameKeys(body, stockKeys)) {
    return {
      ok: true,
      replayed,
      stock: {
        productId: body.product_id as string,
        warehouseId: body.warehouse_id as string,
        onHand: body.on_hand as number,
        reserved: body.reserved as number,
        available: body.available as number,
        version: body.version as number,
      },
    };
  }
  const error = body.error as { code?: string; details?: { available?: unknown } } | undefined;
  const code = error?.code as ModelErrorCode | undefined;
  if (code === undefined || statusOfCode[code] !== status) {
    throw new Error(`answer outside the contract: ${status} ${JSON.stringify(body)}`);
  }
  const available = error?.details?.available;
  return typeof available === 'number' ? { ok: false, code, available } : { ok: false, code };
}

/**
 * The id the model should give a reserve's new hold (the one the ledger answered with) and the
 * instant it was made (its created_at).
 */
function withReservationId(operation: LedgerOperation, index: string): ModelRequest {
  const input = operation.input;
  if (input.kind !== 'reserve') return input;
  const output = operation.output;
  // Made by this request (or, answering a retry, maybe by its earlier attempt): the model mints
  // it. Made before the request was sent, it can only be another request's.
  if (output?.ok === true && 'reservation' in output && output.replayed !== true) {
    const { id, createdAtMs } = output.reservation;
    if (output.replayed === false || createdAtMs >= operation.invokeMs) {
      return { ...input, reservationId: id, createdAtMs };
    }
  }
  const id =
    output?.ok === true && 'reservation' in output ? output.reservation.id : `unseen-${index}`;
  return { ...input, reservationId: id };
}

/** The instants within the interval at which the operation may have taken effect. */
function effectTimes(state: LedgerState, operation: LedgerOperation): number[] {
  let lowMs = Math.max(state.clockMs, operation.invokeMs);
  const highMs = operation.responseMs;
  const output = operation.output;
  if (operation.input.kind === 'reserve' && output?.ok === true && 'reservation' in output) {
    // A new hold was made at its created_at, inside the interval; it takes effect then or later
    // (once durable: a read in between need not see it), never before.
    const createdMs = output.reservation.createdAtMs;
    const inInterval = createdMs >= operation.invokeMs && createdMs <= highMs;
    if (output.replayed === false) {
      if (!inInterval) return [];
      lowMs = Math.max(lowMs, createdMs);
    } else if (output.replayed === undefined && inInterval) {
      // Made by one of its attempts, or by another request in the meantime: not before.
      lowMs = Math.max(lowMs, createdMs);
    }
  }
  if (lowMs > highMs) return [];
  // Only a hold's expiry changes answers over time: try the start and each expiry inside.
  const inside = state.ledger.pendingExpiries().filter((ms) => ms > lowMs && ms <= highMs);
  return [lowMs, ...new Set(inside.sort((a, b) => a - b))];
}

/** The model's reply, its `replayed` left open where the observation leaves it open. */
function either(reply: ModelReply, observed: ModelReply): ModelReply {
  return reply.ok && observed.ok && observed.replayed === undefined
    ? { ...reply, replayed: undefined }
    : reply;
}

export function ledgerSpec(
  limits?: ModelLimits,
): SequentialSpec<LedgerState, ModelRequest, ModelReply> {
  return {
    initial: { ledger: new ReferenceLedger(limits), clockMs: Number.NEGATIVE_INFINITY },
    step(state, operation) {
      const next: LedgerState[] = [];
      const request = withReservationId(operation, `${operation.client}-${operation.invokeMs}`);
      for (const atMs of effectTimes(state, operation)) {
        const ledger = state.ledger.clone();
        let reply: ModelReply;
        try {
          reply = ledger.apply(request, atMs);
        } catch {
          continue; // e.g. the ledger answered with an id it had already issued
        }
        const observed = operation.output;
        if (
          observed === undefined ||
          replyMismatch(either(reply, observed), observed) === undefined
        ) {
          next.push({ ledger, clockMs: atMs });
        }
      }
      return next;
    },
    key: (state) => `${state.clockMs}|${state.ledger.fingerprint()}`,
  };
}

/** One line per operation, for failure messages. */
export function showOperation(operation: LedgerOperation): string {
  const { input, output } = operation;
  const span = `[${operation.invokeMs}, ${operation.responseMs}] client ${operation.client}`;
  const answer = output === undefined ? '?' : JSON.stringify(output);
  return `${span} ${JSON.stringify(input)} -> ${answer}`;
}

export interface HttpCall {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly body?: Record<string, unknown>;
}

/** The API.md request that carries a model request (a reserve's id is the ledger's to mint). */
export function httpCallOf(request: ModelRequest): HttpCall {
  switch (request.kind) {
    case 'reserve':
      return {
        method: 'POST',
        path: '/v1/reserve',
        body: {
          product_id: request.productId,
          warehouse_id: request.warehouseId,
          quantity: request.quantity,
          idempotency_key: request.idempotencyKey,
          ttl_seconds: request.ttlSeconds,
        },
      };
    case 'confirm':
    case 'release':
      return {
        method: 'POST',
        path: `/v1/${request.kind}`,
        body: { reservation_id: request.reservationId },
      };
    case 'read-reservation':
      return { method: 'GET', path: `/v1/reservations/${request.reservationId}` };
    case 'adjust': {
      const body: Record<string, unknown> = {
        product_id: request.productId,
        warehouse_id: request.warehouseId,
        delta: request.delta,
      };
      if (request.reason !== '') body.reason = request.reason;
      if (request.idempotencyKey !== '') body.idempotency_key = request.idempotencyKey;
      return { method: 'POST', path: '/v1/stock/adjust', body };
    }
    case 'read-stock':
      return { method: 'GET', path: `/v1/stock/${request.productId}/${request.warehouseId}` };
  }
}
