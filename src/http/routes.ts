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
  | 'adjust'
  | 'getReservation'
  | 'getStock'
  | 'snapshot'
  | 'stream'
  | 'live'
  | 'ready'
  | 'metrics'
  | 'openapi';

export interface Route {
  readonly name: RouteName;
  readonly method: 'get' | 'post';
  /** uWebSockets.js pattern. */
  readonly pattern: string;
  /** OpenAPI path template. */
  readonly path: string;
  readonly summary: string;
  /** Undefined: open to everyone (health, metrics, the document itself). */
  readonly permission: Permission | undefined;
  readonly body: keyof RequestSpecs | undefined;
  readonly response:
    'reservation' | 'stock' | 'snapshot' | 'health' | 'text' | 'document' | 'socket';
  readonly errors: readonly ErrorCode[];
}

const bodyErrors: ErrorCode[] = ['malformed_json', 'payload_too_large', 'unsupported_media_type'];
const guarded: ErrorCode[] = ['unauthenticated', 'forbidden', 'rate_limited'];
const shardErrors: ErrorCode[] = ['overloaded', 'unavailable'];

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
      'insufficient_stock',
      ...shardErrors,
    ],
  },
  {
    name: 'confirm',
    method: 'post',
    pattern: '/v1/confirm',
    path: '/v1/confirm',
    summary: 'Turn a hold into a sale (idempotent)',
    permission: 'confirm',
    body: 'reservation',
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
      ...shardErrors,
    ],
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
];
