// The route table: every endpoint with its method, permission, body and possible errors. The
// server registers its handlers from it and the OpenAPI document is generated from it, so the
// two cannot drift apart.
import type { ErrorCode } from '../errors.js';
import type { Permission } from './auth.js';
import type { RequestSpecs } from './schemas.js';

export type RouteName =
  | 'reserve'
  | 'confirm'
  | 'release'
  | 'extend'
  | 'adjust'
  | 'setStock'
  | 'importStock'
  | 'getReservation'
  | 'getStock'
  | 'listStock'
  | 'getMovements'
  | 'putSettings'
  | 'getSettings'
  | 'getProductStock'
  | 'placeCart'
  | 'getCart'
  | 'confirmCart'
  | 'releaseCart'
  | 'extendCart'
  | 'transfer'
  | 'getTransfer'
  | 'receiveTransfer'
  | 'cancelTransfer'
  | 'snapshot'
  | 'cluster'
  | 'stream'
  | 'live'
  | 'ready'
  | 'metrics'
  | 'openapi'
  | 'ui'
  | 'uiAsset'
  | 'uiSummary';

export interface Route {
  readonly name: RouteName;
  readonly method: 'get' | 'post' | 'put';
  /** uWebSockets.js pattern. */
  readonly pattern: string;
  /** OpenAPI path template. */
  readonly path: string;
  readonly summary: string;
  /** Undefined: open to everyone (health, metrics, the document itself). */
  readonly permission: Permission | undefined;
  readonly body: keyof RequestSpecs | undefined;
  /** The query parameters it reads, described by this specification. */
  readonly query?: keyof RequestSpecs;
  /** The body may be left out altogether (an empty body counts as `{}`). */
  readonly bodyOptional?: boolean;
  /** A body of NDJSON lines, each an object naming its op (the stock import), not one object. */
  readonly bodyLines?: boolean;
  readonly response:
    | 'reservation'
    | 'stock'
    | 'import'
    | 'stockPage'
    | 'movementPage'
    | 'settings'
    | 'productStock'
    | 'cart'
    | 'transfer'
    | 'snapshot'
    | 'cluster'
    | 'health'
    | 'text'
    | 'document'
    | 'socket'
    | 'page'
    | 'asset'
    | 'uiSummary';
  readonly errors: readonly ErrorCode[];
}

const bodyErrors: ErrorCode[] = ['malformed_json', 'payload_too_large', 'unsupported_media_type'];
const guarded: ErrorCode[] = ['unauthenticated', 'forbidden', 'rate_limited'];
const shardErrors: ErrorCode[] = ['overloaded', 'unavailable'];
const oneCart = { response: 'cart', bodyOptional: false } as const;

export const routes: readonly Route[] = [
  {
    name: 'reserve',
    method: 'post',
    pattern: '/v1/reserve',
    path: '/v1/reserve',
    summary: 'Hold stock for a buyer until confirmed, released or expired',
    permission: 'reserve',
    body: 'reserve',
    response: 'reservation',
    errors: [
      ...bodyErrors,
      ...guarded,
      'validation_failed',
      'idempotency_key_reused',
      'not_found',
      'purchase_limit_exceeded',
      'insufficient_stock',
      ...shardErrors,
    ],
  },
  {
    name: 'confirm',
    method: 'post',
    pattern: '/v1/confirm',
    path: '/v1/confirm',
    summary: 'Turn a hold into a sale, of all its units or fewer (idempotent)',
    permission: 'confirm',
    body: 'confirm',
    response: 'reservation',
    errors: [
      ...bodyErrors,
      ...guarded,
      'validation_failed',
      'not_found',
      'reservation_expired',
      'reservation_released',
      ...shardErrors,
    ],
  },
  {
    name: 'release',
    method: 'post',
    pattern: '/v1/release',
    path: '/v1/release',
    summary: 'Give a hold back (idempotent)',
    permission: 'release',
    body: 'reservation',
    response: 'reservation',
    errors: [
      ...bodyErrors,
      ...guarded,
      'validation_failed',
      'not_found',
      'reservation_expired',
      'reservation_confirmed',
      ...shardErrors,
    ],
  },
  {
    name: 'extend',
    method: 'post',
    pattern: '/v1/extend',
    path: '/v1/extend',
    summary: 'Give a PENDING hold a new expires_at = now + ttl_seconds',
    permission: 'reserve',
    body: 'extend',
    response: 'reservation',
    errors: [
      ...bodyErrors,
      ...guarded,
      'validation_failed',
      'not_found',
      'reservation_not_pending',
      ...shardErrors,
    ],
  },
  {
    name: 'adjust',
    method: 'post',
    pattern: '/v1/stock/adjust',
    path: '/v1/stock/adjust',
    summary: 'Change on_hand of a stock key (admin); creates the key',
    permission: 'adjust',
    body: 'adjust',
    response: 'stock',
    errors: [
      ...bodyErrors,
      ...guarded,
      'validation_failed',
      'idempotency_key_reused',
      'insufficient_stock',
      'version_conflict',
      ...shardErrors,
    ],
  },
  {
    name: 'setStock',
    method: 'post',
    pattern: '/v1/stock/set',
    path: '/v1/stock/set',
    summary: 'Set on_hand of a stock key (admin; a stock take, an ERP feed); creates the key',
    permission: 'adjust',
    body: 'set',
    response: 'stock',
    errors: [
      ...bodyErrors,
      ...guarded,
      'validation_failed',
      'idempotency_key_reused',
      'insufficient_stock',
      'version_conflict',
      ...shardErrors,
    ],
  },
  {
    name: 'importStock',
    method: 'post',
    pattern: '/v1/stock/import',
    path: '/v1/stock/import',
    summary:
      'Apply an NDJSON file of stock changes line by line (admin); each line is answered as ' +
      'its op alone would be',
    permission: 'admin',
    body: undefined,
    bodyLines: true,
    response: 'import',
    // Only the file as a whole: each line's own errors are in its result.
    errors: ['payload_too_large', 'unsupported_media_type', ...guarded],
  },
  {
    name: 'getReservation',
    method: 'get',
    pattern: '/v1/reservations/:id',
    path: '/v1/reservations/{reservation_id}',
    summary: 'A reservation with its current status',
    permission: 'read',
    body: undefined,
    response: 'reservation',
    errors: [...guarded, 'not_found', ...shardErrors],
  },
  {
    name: 'getStock',
    method: 'get',
    pattern: '/v1/stock/:product/:warehouse',
    path: '/v1/stock/{product_id}/{warehouse_id}',
    summary: 'A stock key: on_hand, reserved, available, version',
    permission: 'read',
    body: undefined,
    response: 'stock',
    errors: [...guarded, 'not_found', ...shardErrors],
  },
  {
    name: 'listStock',
    method: 'get',
    pattern: '/v1/stock',
    path: '/v1/stock',
    summary: 'Stock views in (product_id, warehouse_id) order, a page at a time',
    permission: 'read',
    body: undefined,
    query: 'stockPage',
    response: 'stockPage',
    errors: [...guarded, 'validation_failed', ...shardErrors],
  },
  {
    name: 'getMovements',
    method: 'get',
    pattern: '/v1/stock/:product/:warehouse/movements',
    path: '/v1/stock/{product_id}/{warehouse_id}/movements',
    summary: "A stock key's movements (every change), newest first, a page at a time",
    permission: 'read',
    body: undefined,
    query: 'movementPage',
    response: 'movementPage',
    errors: [...guarded, 'not_found', 'validation_failed', ...shardErrors],
  },
  ...productRoutes(),
  ...cartRoutes(),
  ...transferRoutes(),
  {
    name: 'snapshot',
    method: 'post',
    pattern: '/v1/admin/snapshot',
    path: '/v1/admin/snapshot',
    summary: 'Snapshot every changed partition now (admin; recovery gets faster)',
    permission: 'admin',
    body: undefined,
    response: 'snapshot',
    errors: [...guarded, 'unavailable'],
  },
  {
    name: 'cluster',
    method: 'get',
    pattern: '/v1/cluster',
    path: '/v1/cluster',
    summary: 'Who owns what: the nodes of the cluster and their partitions',
    permission: 'read',
    body: undefined,
    response: 'cluster',
    errors: [...guarded],
  },
  {
    name: 'stream',
    method: 'get',
    pattern: '/v1/stream',
    path: '/v1/stream',
    summary: 'WebSocket live stock feed: send {"subscribe":[{product_id, warehouse_id}]}',
    permission: 'read',
    body: undefined,
    response: 'socket',
    errors: ['unauthenticated', 'forbidden'],
  },
  {
    name: 'live',
    method: 'get',
    pattern: '/health/live',
    path: '/health/live',
    summary: 'Liveness: 200 while the process runs',
    permission: undefined,
    body: undefined,
    response: 'health',
    errors: [],
  },
  {
    name: 'ready',
    method: 'get',
    pattern: '/health/ready',
    path: '/health/ready',
    summary: 'Readiness: recovered, every shard answers, the journal answers',
    permission: undefined,
    body: undefined,
    response: 'health',
    errors: ['unavailable'],
  },
  {
    name: 'metrics',
    method: 'get',
    pattern: '/metrics',
    path: '/metrics',
    summary: 'Prometheus metrics of the ingress and every shard',
    permission: undefined,
    body: undefined,
    response: 'text',
    errors: ['unavailable'],
  },
  {
    name: 'openapi',
    method: 'get',
    pattern: '/openapi.json',
    path: '/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document',
    permission: undefined,
    body: undefined,
    response: 'document',
    errors: [],
  },
  ...uiRoutes(),
];

/** The live page: public files with no data in them, and the numbers they show (reader). */
function uiRoutes(): Route[] {
  return [
    {
      name: 'ui',
      method: 'get',
      pattern: '/ui',
      path: '/ui',
      summary: 'The live page: request rate and p99, hot keys live, sold-out keys, lags',
      permission: undefined,
      body: undefined,
      response: 'page',
      errors: [],
    },
    {
      name: 'uiAsset',
      method: 'get',
      pattern: '/ui/:asset',
      path: '/ui/{asset}',
      summary: "The live page's script (app.js) and style (app.css)",
      permission: undefined,
      body: undefined,
      response: 'asset',
      errors: ['not_found'],
    },
    {
      name: 'uiSummary',
      method: 'get',
      pattern: '/v1/ui/summary',
      path: '/v1/ui/summary',
      summary:
        'What the live page shows: reserve and cart rate and p99 over about the last minute, ' +
        'journal and event lag, hot keys and the sold-out ones',
      permission: 'read',
      body: undefined,
      response: 'uiSummary',
      errors: [...guarded, 'unavailable'],
    },
  ];
}

function productRoutes(): Route[] {
  const settings = {
    pattern: '/v1/products/:product/settings',
    path: '/v1/products/{product_id}/settings',
    response: 'settings',
  } as const;
  return [
    {
      ...settings,
      name: 'putSettings',
      method: 'put',
      summary: "Change a product's settings (admin): fields left out keep, null clears",
      permission: 'admin',
      body: 'settings',
      errors: [...bodyErrors, ...guarded, 'validation_failed', ...shardErrors],
    },
    {
      ...settings,
      name: 'getSettings',
      method: 'get',
      summary: "A product's settings (defaults for one never configured)",
      permission: 'read',
      body: undefined,
      errors: [...guarded, 'not_found', ...shardErrors],
    },
    {
      name: 'getProductStock',
      method: 'get',
      pattern: '/v1/products/:product/stock',
      path: '/v1/products/{product_id}/stock',
      summary: "A product's stock: sums over its stock keys, and each key",
      permission: 'read',
      body: undefined,
      response: 'productStock',
      errors: [...guarded, 'not_found', ...shardErrors],
    },
  ];
}

function cartRoutes(): Route[] {
  return [
    {
      ...oneCart,
      name: 'placeCart',
      method: 'post',
      pattern: '/v1/carts',
      path: '/v1/carts',
      summary: 'Hold every line of a cart, or none (idempotent)',
      permission: 'reserve',
      body: 'cart',
      errors: [
        ...bodyErrors,
        ...guarded,
        'validation_failed',
        'idempotency_key_reused',
        'purchase_limit_exceeded',
        'insufficient_stock',
        ...shardErrors,
      ],
    },
    {
      ...oneCart,
      name: 'getCart',
      method: 'get',
      pattern: '/v1/carts/:cart',
      path: '/v1/carts/{cart_id}',
      summary: 'A cart with the current status of every hold',
      permission: 'read',
      body: undefined,
      errors: [...guarded, 'not_found', ...shardErrors],
    },
    ...cartChangeRoutes(),
  ];
}

/** What can be done to a placed cart, as a whole. */
function cartChangeRoutes(): Route[] {
  return [
    {
      ...oneCart,
      name: 'confirmCart',
      method: 'post',
      pattern: '/v1/carts/:cart/confirm',
      path: '/v1/carts/{cart_id}/confirm',
      summary: 'Confirm every PENDING hold of a cart, all or nothing (idempotent)',
      permission: 'confirm',
      body: 'cartConfirm',
      bodyOptional: true,
      errors: [
        ...bodyErrors,
        ...guarded,
        'validation_failed',
        'not_found',
        'reservation_expired',
        'reservation_released',
        ...shardErrors,
      ],
    },
    {
      ...oneCart,
      name: 'releaseCart',
      method: 'post',
      pattern: '/v1/carts/:cart/release',
      path: '/v1/carts/{cart_id}/release',
      summary: 'Release every PENDING hold of a cart',
      permission: 'release',
      // No fields; a body sent anyway must still be JSON (it is read, then ignored).
      body: undefined,
      bodyOptional: true,
      errors: [...bodyErrors, ...guarded, 'not_found', ...shardErrors],
    },
    {
      ...oneCart,
      name: 'extendCart',
      method: 'post',
      pattern: '/v1/carts/:cart/extend',
      path: '/v1/carts/{cart_id}/extend',
      summary: 'Give every PENDING hold of a cart expires_at = now + ttl_seconds',
      permission: 'reserve',
      body: 'cartExtend',
      errors: [
        ...bodyErrors,
        ...guarded,
        'validation_failed',
        'not_found',
        'reservation_not_pending',
        ...shardErrors,
      ],
    },
  ];
}

function transferRoutes(): Route[] {
  const oneTransfer = { response: 'transfer', permission: 'admin', body: undefined } as const;
  const change = { ...oneTransfer, method: 'post', bodyOptional: true } as const;
  return [
    {
      ...oneTransfer,
      name: 'transfer',
      method: 'post',
      pattern: '/v1/transfers',
      path: '/v1/transfers',
      summary: 'Move unheld units of a product between warehouses (admin; idempotent)',
      body: 'transfer',
      errors: [
        ...bodyErrors,
        ...guarded,
        'validation_failed',
        'idempotency_key_reused',
        'not_found',
        'insufficient_stock',
        ...shardErrors,
      ],
    },
    {
      ...oneTransfer,
      name: 'getTransfer',
      method: 'get',
      pattern: '/v1/transfers/:transfer',
      path: '/v1/transfers/{transfer_id}',
      summary: 'A transfer with its current status and both stock keys',
      permission: 'read',
      errors: [...guarded, 'not_found', ...shardErrors],
    },
    {
      ...change,
      name: 'receiveTransfer',
      pattern: '/v1/transfers/:transfer/receive',
      path: '/v1/transfers/{transfer_id}/receive',
      summary: 'A transfer in transit arrives: incoming becomes on_hand (idempotent)',
      errors: [...bodyErrors, ...guarded, 'not_found', 'transfer_cancelled', ...shardErrors],
    },
    {
      ...change,
      name: 'cancelTransfer',
      pattern: '/v1/transfers/:transfer/cancel',
      path: '/v1/transfers/{transfer_id}/cancel',
      summary: 'A transfer in transit goes back to its source (idempotent)',
      errors: [...bodyErrors, ...guarded, 'not_found', 'transfer_received', ...shardErrors],
    },
  ];
}

/** Every method a path pattern answers (the `allow` header of a 405). */
export function methodsOf(pattern: string): string[] {
  return routes.filter((route) => route.pattern === pattern).map((r) => r.method.toUpperCase());
}
