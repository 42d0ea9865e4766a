// The stock requests of API.md beyond v1's reserve / confirm / release / adjust, as HTTP
// exchanges for the reference model: adjusts naming lots, sets (with or without
// expected_version), FEFO holds with their lots, partial confirms, transfers (direct or in
// transit) with their receive and cancel, and the reads of stock, holds, transfers and products.
// An HTTP answer becomes a model reply (strictly: a field the contract does not name is an
// error), and the model becomes a sequential specification for the linearizability checker,
// with a product as the unit (a transfer changes two keys of one product at once).
import type { TimedCall } from '../helpers/timed-http.js';
import type { Operation, SequentialSpec } from './linearizability.js';
import {
  ReferenceLedger,
  canonical,
  replyMismatch,
  statusOfCode,
  type LedgerRequest,
  type LotBody,
  type LotUnitsBody,
  type ModelErrorCode,
  type ModelErrorDetails,
  type ModelReply,
  type ProductStockBody,
  type ReservationBody,
  type StockBody,
  type TransferBody,
} from './reference-ledger.js';

/** The requests this history knows: every one names its product, or an id the ledger issued. */
export type StockRequest =
  | Extract<
      LedgerRequest,
      {
        kind:
          | 'adjust'
          | 'reserve'
          | 'confirm'
          | 'release'
          | 'read-reservation'
          | 'read-stock'
          | 'transfer'
          | 'receive-transfer'
          | 'cancel-transfer'
          | 'read-transfer';
      }
    >
  // Its model request also names the settings read, which this history leaves out.
  | { readonly kind: 'read-product-stock'; readonly productId: string };

export type StockOperation = Operation<StockRequest, ModelReply>;

export interface StockState {
  readonly ledger: ReferenceLedger;
  /** When the last operation of this order took effect: time runs forward along the order. */
  readonly clockMs: number;
}

/** The API.md request that carries a model request (ids the ledger mints are left out). */
export function stockCallOf(request: StockRequest): TimedCall {
  switch (request.kind) {
    case 'adjust':
      return adjustCallOf(request);
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
      return {
        method: 'POST',
        path: '/v1/confirm',
        body: {
          reservation_id: request.reservationId,
          ...(request.quantity === undefined ? {} : { quantity: request.quantity }),
        },
      };
    case 'release':
      return {
        method: 'POST',
        path: '/v1/release',
        body: { reservation_id: request.reservationId },
      };
    case 'read-reservation':
      return { method: 'GET', path: `/v1/reservations/${request.reservationId}` };
    case 'read-stock':
      return { method: 'GET', path: `/v1/stock/${request.productId}/${request.warehouseId}` };
    case 'transfer':
      return {
        method: 'POST',
        path: '/v1/transfers',
        body: {
          product_id: request.productId,
          from_warehouse_id: request.fromWarehouseId,
          to_warehouse_id: request.toWarehouseId,
          quantity: request.quantity,
          idempotency_key: request.idempotencyKey,
          in_transit: request.inTransit,
          ...optionalText('reason', request.reason),
          ...optionalText('reference', request.reference),
        },
      };
    case 'receive-transfer':
      return { method: 'POST', path: `/v1/transfers/${request.transferId}/receive` };
    case 'cancel-transfer':
      return { method: 'POST', path: `/v1/transfers/${request.transferId}/cancel` };
    case 'read-transfer':
      return { method: 'GET', path: `/v1/transfers/${request.transferId}` };
    case 'read-product-stock':
      return { method: 'GET', path: `/v1/products/${request.productId}/stock` };
  }
}

function optionalText(name: string, value: string | undefined): Record<string, string> {
  return value === undefined || value === '' ? {} : { [name]: value };
}

/** An adjust, or with `setOnHand` a set; both may carry expected_version. */
function adjustCallOf(request: Extract<StockRequest, { kind: 'adjust' }>): TimedCall {
  const body: Record<string, unknown> = {
    product_id: request.productId,
    warehouse_id: request.warehouseId,
    ...(request.setOnHand === undefined
      ? { delta: request.delta }
      : { on_hand: request.setOnHand }),
    ...(request.expectedVersion === undefined ? {} : { expected_version: request.expectedVersion }),
    ...optionalText('reason', request.reason),
    ...optionalText('reference', request.reference),
    ...optionalText('idempotency_key', request.idempotencyKey),
  };
  if (request.lot !== undefined) {
    const { lotId, expiresOn } = request.lot;
    body.lot = { lot_id: lotId, ...(expiresOn === undefined ? {} : { expires_on: expiresOn }) };
  }
  const path = request.setOnHand === undefined ? '/v1/stock/adjust' : '/v1/stock/set';
  return { method: 'POST', path, body };
}

/** Thrown for an answer the contract does not allow, whatever the model says. */
export class OutsideContract extends Error {}

type Json = Record<string, unknown>;

/** The body has the required fields and no others but the optional ones. */
function shaped(body: unknown, required: readonly string[], optional: readonly string[]): Json {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new OutsideContract(`not an object: ${JSON.stringify(body)}`);
  }
  const json = body as Json;
  const missing = required.filter((name) => !(name in json));
  const extra = Object.keys(json).filter(
    (name) => !required.includes(name) && !optional.includes(name),
  );
  if (missing.length > 0 || extra.length > 0) {
    throw new OutsideContract(
      `fields missing [${missing.join(', ')}], unknown [${extra.join(', ')}]: ${JSON.stringify(body)}`,
    );
  }
  return json;
}

function timeOf(text: unknown): number {
  const ms = typeof text === 'string' ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) throw new OutsideContract(`not a time: ${JSON.stringify(text)}`);
  return ms;
}

function lotUnitsOf(list: unknown): LotUnitsBody[] {
  if (!Array.isArray(list)) throw new OutsideContract(`lots not a list: ${JSON.stringify(list)}`);
  return list.map((item) => {
    const units = shaped(item, ['lot_id', 'quantity'], ['expires_on']);
    return {
      lotId: units.lot_id as string,
      quantity: units.quantity as number,
      ...(units.expires_on === undefined ? {} : { expiresOn: units.expires_on as string }),
    };
  });
}

function lotViewsOf(list: unknown): LotBody[] {
  if (!Array.isArray(list)) throw new OutsideContract(`lots not a list: ${JSON.stringify(list)}`);
  return list.map((item) => {
    const lot = shaped(item, ['lot_id', 'on_hand', 'reserved', 'received_at'], ['expires_on']);
    return {
      lotId: lot.lot_id as string,
      onHand: lot.on_hand as number,
      reserved: lot.reserved as number,
      ...(lot.expires_on === undefined ? {} : { expiresOn: lot.expires_on as string }),
      receivedAtMs: timeOf(lot.received_at),
    };
  });
}

const stockFields = [
  'product_id',
  'warehouse_id',
  'on_hand',
  'reserved',
  'available',
  'incoming',
  'version',
];

/** A stock view as the model writes it: `incoming` left out while 0. */
export function stockBodyOf(body: unknown): StockBody {
  const stock = shaped(body, stockFields, ['reference', 'lots']);
  const incoming = stock.incoming as number;
  return {
    productId: stock.product_id as string,
    warehouseId: stock.warehouse_id as string,
    onHand: stock.on_hand as number,
    reserved: stock.reserved as number,
    available: stock.available as number,
    version: stock.version as number,
    ...(incoming === 0 ? {} : { incoming }),
    ...(stock.reference === undefined ? {} : { reference: stock.reference as string }),
    ...(stock.lots === undefined ? {} : { lots: lotViewsOf(stock.lots) }),
  };
}

function reservationBodyOf(body: unknown): ReservationBody {
  const hold = shaped(
    body,
    [
      'reservation_id',
      'status',
      'product_id',
      'warehouse_id',
      'quantity',
      'created_at',
      'expires_at',
    ],
    ['confirmed_quantity', 'lots'],
  );
  return {
    id: hold.reservation_id as string,
    status: hold.status as ReservationBody['status'],
    productId: hold.product_id as string,
    warehouseId: hold.warehouse_id as string,
    quantity: hold.quantity as number,
    createdAtMs: timeOf(hold.created_at),
    expiresAtMs: timeOf(hold.expires_at),
    ...(hold.confirmed_quantity === undefined
      ? {}
      : { confirmedQuantity: hold.confirmed_quantity as number }),
    ...(hold.lots === undefined ? {} : { lots: lotUnitsOf(hold.lots) }),
  };
}

function transferBodyOf(body: unknown): TransferBody {
  const transfer = shaped(
    body,
    [
      'transfer_id',
      'status',
      'product_id',
      'from_warehouse_id',
      'to_warehouse_id',
      'quantity',
      'created_at',
      'from',
      'to',
    ],
    ['received_at', 'cancelled_at', 'reason', 'reference', 'lots'],
  );
  return {
    transferId: transfer.transfer_id as string,
    status: transfer.status as TransferBody['status'],
    productId: transfer.product_id as string,
    fromWarehouseId: transfer.from_warehouse_id as string,
    toWarehouseId: transfer.to_warehouse_id as string,
    quantity: transfer.quantity as number,
    createdAtMs: timeOf(transfer.created_at),
    ...(transfer.received_at === undefined ? {} : { receivedAtMs: timeOf(transfer.received_at) }),
    ...(transfer.cancelled_at === undefined
      ? {}
      : { cancelledAtMs: timeOf(transfer.cancelled_at) }),
    ...(transfer.reason === undefined ? {} : { reason: transfer.reason as string }),
    ...(transfer.reference === undefined ? {} : { reference: transfer.reference as string }),
    ...(transfer.lots === undefined ? {} : { lots: lotUnitsOf(transfer.lots) }),
    from: stockBodyOf(transfer.from),
    to: stockBodyOf(transfer.to),
  };
}

function productStockBodyOf(body: unknown): ProductStockBody {
  const product = shaped(
    body,
    ['product_id', 'on_hand', 'reserved', 'available', 'incoming', 'warehouses'],
    [],
  );
  if (!Array.isArray(product.warehouses)) throw new OutsideContract('warehouses not a list');
  return {
    productId: product.product_id as string,
    onHand: product.on_hand as number,
    reserved: product.reserved as number,
    available: product.available as number,
    incoming: product.incoming as number,
    warehouses: product.warehouses.map(stockBodyOf),
  };
}

/** A refusal: its code must be the contract's for the status; details as the model gives them. */
function refusalOf(status: number, body: Json): ModelReply {
  const error = shaped(body.error, ['code', 'message'], ['details']);
  const code = error.code as ModelErrorCode;
  if (statusOfCode[code] !== status) {
    throw new OutsideContract(`${status} with code ${String(error.code)}`);
  }
  const { available, ...rest } = (error.details ?? {}) as Json;
  return {
    ok: false,
    code,
    ...(typeof available === 'number' ? { available } : {}),
    ...(Object.keys(rest).length === 0 ? {} : { details: rest as ModelErrorDetails }),
  };
}

/**
 * An HTTP answer to `request` as a model reply; undefined for a 503 (nothing known). Throws
 * OutsideContract for a shape or status the contract does not allow for that request.
 */
export function observedStockReply(
  request: StockRequest,
  status: number,
  body: Json,
  replayed: boolean,
): ModelReply | undefined {
  if (status === 503) return undefined;
  if (status !== 200) return refusalOf(status, body);
  switch (request.kind) {
    case 'adjust':
    case 'read-stock':
      return { ok: true, replayed, stock: stockBodyOf(body) };
    case 'reserve':
    case 'confirm':
    case 'release':
    case 'read-reservation':
      return { ok: true, replayed, reservation: reservationBodyOf(body) };
    case 'transfer':
    case 'receive-transfer':
    case 'cancel-transfer':
    case 'read-transfer':
      return { ok: true, replayed, transfer: transferBodyOf(body) };
    case 'read-product-stock':
      return { ok: true, replayed, productStock: productStockBodyOf(body) };
  }
}

/** The product whose history an operation belongs to, when the request names it. */
export function productOfRequest(request: StockRequest): string | undefined {
  return 'productId' in request ? request.productId : undefined;
}

/**
 * The request as the model must apply it: a new hold or transfer gets the id the ledger answered
 * with (and a hold the instant it names as its created_at); one refused gets an id never issued.
 */
function withIssuedIds(operation: StockOperation, index: string): StockRequest {
  const { input, output } = operation;
  if (input.kind === 'reserve') {
    if (output?.ok === true && 'reservation' in output) {
      const { id, createdAtMs } = output.reservation;
      return output.replayed === false
        ? { ...input, reservationId: id, createdAtMs }
        : { ...input, reservationId: id };
    }
    return { ...input, reservationId: `unseen-hold-${index}` };
  }
  if (input.kind === 'transfer') {
    const id =
      output?.ok === true && 'transfer' in output
        ? output.transfer.transferId
        : `unseen-transfer-${index}`;
    return { ...input, transferId: id };
  }
  return input;
}

/** Every `...AtMs` time an answer names (a lot received, a hold or transfer made or finished). */
function timesNamed(value: unknown, into: number[] = []): number[] {
  if (Array.isArray(value)) for (const item of value) timesNamed(item, into);
  else if (value !== null && typeof value === 'object') {
    for (const [name, field] of Object.entries(value)) {
      if (name.endsWith('AtMs') && typeof field === 'number') into.push(field);
      else timesNamed(field, into);
    }
  }
  return into;
}

/** A way the model may apply an operation: the request (with its stamp) and when. */
interface Effect {
  readonly request: StockRequest;
  readonly atMs: number;
}

/** Requests whose change the ledger stamps with an instant its answer may show. */
function isStamped(request: StockRequest): boolean {
  const kind = request.kind;
  return (
    kind === 'adjust' ||
    kind === 'transfer' ||
    kind === 'receive-transfer' ||
    kind === 'cancel-transfer'
  );
}

/**
 * The ways the operation may have taken effect within its interval: at its start or at a hold's
 * expiry inside it (answers change then). A change is stamped with the instant the ledger made
 * it (a lot received, a transfer made, received or cancelled), which the answer may show and
 * which may come before the change takes effect (once durable): each time the answer names
 * inside the interval is tried as its stamp, the change taking effect then or later.
 */
function effectsOf(state: StockState, operation: StockOperation, request: StockRequest): Effect[] {
  let lowMs = Math.max(state.clockMs, operation.invokeMs);
  const highMs = operation.responseMs;
  const output = operation.output;
  if (request.kind === 'reserve' && output?.ok === true && 'reservation' in output) {
    // A new hold was made at its created_at, inside the interval; it took effect then or later.
    const createdMs = output.reservation.createdAtMs;
    if (output.replayed === false) {
      if (createdMs < operation.invokeMs || createdMs > highMs) return [];
      lowMs = Math.max(lowMs, createdMs);
    }
  }
  const stamps: (number | undefined)[] = [undefined];
  if (isStamped(request) && output !== undefined) {
    const named = timesNamed(output).filter((ms) => ms >= operation.invokeMs && ms <= highMs);
    stamps.push(...new Set(named));
  }
  const effects: Effect[] = [];
  for (const stampMs of stamps) {
    const fromMs = Math.max(lowMs, stampMs ?? lowMs);
    if (fromMs > highMs) continue;
    const stamped = stampMs === undefined ? request : { ...request, atMs: stampMs };
    const expiries = state.ledger.pendingExpiries().filter((ms) => ms > fromMs && ms <= highMs);
    for (const atMs of [fromMs, ...new Set(expiries.sort((a, b) => a - b))]) {
      effects.push({ request: stamped, atMs });
    }
  }
  return effects;
}

/**
 * The answer of the HTTP layer's stateless checks, which come before any state is looked at
 * (the model is given valid requests only): a transfer to its own source is 422
 * validation_failed naming to_warehouse_id, even under an idempotency key bound to another body.
 */
export function refusedByHttpLayer(request: StockRequest): ModelReply | undefined {
  if (request.kind === 'transfer' && request.fromWarehouseId === request.toWarehouseId) {
    return { ok: false, code: 'validation_failed', details: { field: 'to_warehouse_id' } };
  }
  return undefined;
}

/** The model as the specification of one product's history (or of several, sequentially). */
export function stockSpec(
  ledger: ReferenceLedger,
): SequentialSpec<StockState, StockRequest, ModelReply> {
  return {
    initial: { ledger, clockMs: Number.NEGATIVE_INFINITY },
    step(state, operation) {
      const refusal = refusedByHttpLayer(operation.input);
      if (refusal !== undefined) {
        const observed = operation.output;
        const explained = observed === undefined || replyMismatch(refusal, observed) === undefined;
        return explained ? [state] : [];
      }
      const next: StockState[] = [];
      const request = withIssuedIds(operation, `${operation.client}-${operation.invokeMs}`);
      for (const effect of effectsOf(state, operation, request)) {
        const ledger = state.ledger.clone();
        let reply: ModelReply;
        try {
          reply = ledger.apply(effect.request, effect.atMs);
        } catch {
          continue; // e.g. the ledger answered with an id it had already issued
        }
        const observed = operation.output;
        if (observed === undefined || replyMismatch(reply, observed) === undefined) {
          next.push({ ledger, clockMs: effect.atMs });
        }
      }
      return next;
    },
    key: (state) => `${state.clockMs}|${state.ledger.fingerprint()}`,
  };
}

/**
 * Checks one operation at a time, in the order they were sent one after another: every state
 * the model may be in (when an operation took effect within its interval is not known exactly)
 * is carried forward; an answer no state explains is a mismatch, described by the model's
 * answer at the interval's start.
 */
export class SequentialCheck {
  private readonly spec: SequentialSpec<StockState, StockRequest, ModelReply>;
  private states: StockState[];

  constructor(ledger: ReferenceLedger) {
    this.spec = stockSpec(ledger);
    this.states = [this.spec.initial];
  }

  /** One state the model may be in now (for ids, expiries and final comparisons). */
  get ledger(): ReferenceLedger {
    return (this.states[0] as StockState).ledger;
  }

  /** Undefined if the model explains the answer, else why not. */
  check(operation: StockOperation): string | undefined {
    const next = new Map<string, StockState>();
    for (const state of this.states) {
      for (const after of this.spec.step(state, operation)) next.set(this.spec.key(after), after);
    }
    if (next.size > 0) {
      this.states = [...next.values()];
      return undefined;
    }
    return this.explain(operation);
  }

  private explain(operation: StockOperation): string {
    const state = this.states[0] as StockState;
    const request = withIssuedIds(operation, 'explain');
    // The earliest way it may have taken effect (a new hold: at its created_at).
    const effect = effectsOf(state, operation, request)[0] ?? {
      request,
      atMs: Math.max(state.clockMs, operation.invokeMs),
    };
    let expected: string;
    try {
      const refusal = refusedByHttpLayer(request);
      expected = canonical(refusal ?? state.ledger.clone().apply(effect.request, effect.atMs));
    } catch (error) {
      expected = `the model refused the request: ${String(error)}`;
    }
    return [
      `request ${canonical(operation.input)} [${operation.invokeMs}, ${operation.responseMs}]`,
      `model   ${expected}`,
      `ledger  ${canonical(operation.output)}`,
    ].join('\n');
  }
}
