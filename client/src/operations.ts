// Every ledger operation this client covers: the OpenAPI operationId, method, path template and
// the body fields it may send. A test reads GET /openapi.json of a running ledger and checks each
// entry against it, so the client and the contract cannot drift apart silently.

/**
 * How a request may be retried after it may have reached the ledger:
 * - `natural`: the operation is idempotent by nature (reads, confirm, release, extend, PUT);
 * - `keyed`: only when it carries an idempotency key (reserve, carts, adjust, set);
 * - `lines`: a stock import, only when every line carries its own idempotency key.
 */
export type ReplayNature = 'natural' | 'keyed' | 'lines';

export interface Operation {
  readonly operationId: string;
  readonly method: 'GET' | 'POST' | 'PUT';
  /** OpenAPI path template, `{name}` for a path parameter. */
  readonly path: string;
  /** Top-level body (or query) fields the client may send. */
  readonly fields: readonly string[];
  readonly replay: ReplayNature;
}

const stockKeyFields = ['product_id', 'warehouse_id'] as const;
const changeFields = ['reason', 'expected_version', 'reference', 'idempotency_key'] as const;

export const operations = {
  reserve: {
    operationId: 'reserve',
    method: 'POST',
    path: '/v1/reserve',
    fields: [
      ...stockKeyFields,
      'quantity',
      'idempotency_key',
      'ttl_seconds',
      'buyer_id',
      'reference',
    ],
    replay: 'keyed',
  },
  confirm: {
    operationId: 'confirm',
    method: 'POST',
    path: '/v1/confirm',
    fields: ['reservation_id', 'quantity'],
    replay: 'natural',
  },
  release: {
    operationId: 'release',
    method: 'POST',
    path: '/v1/release',
    fields: ['reservation_id'],
    replay: 'natural',
  },
  extend: {
    operationId: 'extend',
    method: 'POST',
    path: '/v1/extend',
    fields: ['reservation_id', 'ttl_seconds'],
    replay: 'natural',
  },
  getReservation: {
    operationId: 'getReservation',
    method: 'GET',
    path: '/v1/reservations/{reservation_id}',
    fields: [],
    replay: 'natural',
  },
  adjust: {
    operationId: 'adjust',
    method: 'POST',
    path: '/v1/stock/adjust',
    fields: [...stockKeyFields, 'delta', 'lot', ...changeFields],
    replay: 'keyed',
  },
  setStock: {
    operationId: 'setStock',
    method: 'POST',
    path: '/v1/stock/set',
    fields: [...stockKeyFields, 'on_hand', ...changeFields],
    replay: 'keyed',
  },
  importStock: {
    operationId: 'importStock',
    method: 'POST',
    path: '/v1/stock/import',
    fields: [],
    replay: 'lines',
  },
  getStock: {
    operationId: 'getStock',
    method: 'GET',
    path: '/v1/stock/{product_id}/{warehouse_id}',
    fields: [],
    replay: 'natural',
  },
  listStock: {
    operationId: 'listStock',
    method: 'GET',
    path: '/v1/stock',
    fields: ['product_id', 'after', 'limit'],
    replay: 'natural',
  },
  getMovements: {
    operationId: 'getMovements',
    method: 'GET',
    path: '/v1/stock/{product_id}/{warehouse_id}/movements',
    fields: ['before', 'limit'],
    replay: 'natural',
  },
  putSettings: {
    operationId: 'putSettings',
    method: 'PUT',
    path: '/v1/products/{product_id}/settings',
    fields: ['max_per_buyer', 'limit_window_seconds', 'warehouse_priority', 'low_stock_threshold'],
    replay: 'natural',
  },
  getSettings: {
    operationId: 'getSettings',
    method: 'GET',
    path: '/v1/products/{product_id}/settings',
    fields: [],
    replay: 'natural',
  },
  getProductStock: {
    operationId: 'getProductStock',
    method: 'GET',
    path: '/v1/products/{product_id}/stock',
    fields: [],
    replay: 'natural',
  },
  placeCart: {
    operationId: 'placeCart',
    method: 'POST',
    path: '/v1/carts',
    fields: ['idempotency_key', 'lines', 'ttl_seconds', 'buyer_id', 'reference'],
    replay: 'keyed',
  },
  getCart: {
    operationId: 'getCart',
    method: 'GET',
    path: '/v1/carts/{cart_id}',
    fields: [],
    replay: 'natural',
  },
  confirmCart: {
    operationId: 'confirmCart',
    method: 'POST',
    path: '/v1/carts/{cart_id}/confirm',
    fields: ['lines'],
    replay: 'natural',
  },
  releaseCart: {
    operationId: 'releaseCart',
    method: 'POST',
    path: '/v1/carts/{cart_id}/release',
    fields: [],
    replay: 'natural',
  },
  extendCart: {
    operationId: 'extendCart',
    method: 'POST',
    path: '/v1/carts/{cart_id}/extend',
    fields: ['ttl_seconds'],
    replay: 'natural',
  },
  snapshot: {
    operationId: 'snapshot',
    method: 'POST',
    path: '/v1/admin/snapshot',
    fields: [],
    replay: 'natural',
  },
  ready: {
    operationId: 'ready',
    method: 'GET',
    path: '/health/ready',
    fields: [],
    replay: 'natural',
  },
} as const satisfies Record<string, Operation>;

export type OperationName = keyof typeof operations;

/** The path of `operation` with its `{name}` parameters filled in (URI-encoded). */
export function operationPath(
  operation: Operation,
  parameters: Readonly<Record<string, string>> = {},
): string {
  return operation.path.replace(/\{([a-z_]+)\}/g, (_match, name: string) => {
    const value = parameters[name];
    if (value === undefined) throw new TypeError(`${operation.operationId}: ${name} is missing`);
    return encodeURIComponent(value);
  });
}
