// The OpenAPI 3.1 document, generated from the route table, the request field specifications
// the validator enforces, and the error registry: served at /openapi.json.
import { errorCodes, type ErrorCode } from '../errors.js';
import { routes, type Route } from './routes.js';
import type { JsonSchema, RequestSpecs } from './schemas.js';
import { importOps } from './stock-import.js';

const status = { enum: ['PENDING', 'CONFIRMED', 'RELEASED', 'EXPIRED'] };
const dateTime = { type: 'string', format: 'date-time' };
const count = { type: 'integer', minimum: 0 };

const lotId = { type: 'string', description: "The lot; '' for the key's unnamed lot" };
const expiresOn = {
  type: 'string',
  format: 'date',
  description: 'Sellable until the end of this day (UTC); absent for a lot without a date',
};

/** Units by lot (a hold's, a transfer's), in FEFO order. */
const lotUnitsSchema: JsonSchema = {
  type: 'array',
  description:
    'On a stock key with named lots: the units, lot by lot, in FEFO order (earliest ' +
    'expires_on first, lots without a date last, ties by first receipt)',
  items: {
    type: 'object',
    required: ['lot_id', 'quantity'],
    properties: { lot_id: lotId, quantity: { type: 'integer', minimum: 1 }, expires_on: expiresOn },
  },
};

const reservationSchema: JsonSchema = {
  type: 'object',
  required: [
    'reservation_id',
    'status',
    'product_id',
    'warehouse_id',
    'quantity',
    'expires_at',
    'created_at',
  ],
  properties: {
    reservation_id: { type: 'string', format: 'uuid' },
    status,
    product_id: { type: 'string' },
    warehouse_id: { type: 'string' },
    quantity: { type: 'integer', minimum: 1 },
    confirmed_quantity: {
      type: 'integer',
      minimum: 1,
      description: 'Units sold (CONFIRMED holds only); less than quantity after a partial sale',
    },
    expires_at: dateTime,
    created_at: dateTime,
    buyer_id: { type: 'string', description: 'When the hold was made with one' },
    reference: { type: 'string', description: 'When the hold was made with one' },
    cart_id: { type: 'string', format: 'uuid', description: "A cart's hold: its cart" },
    lots: lotUnitsSchema,
  },
};

const stockProperties = {
  on_hand: count,
  reserved: count,
  available: count,
  incoming: {
    ...count,
    description:
      'Units of transfers in transit toward this stock: not on hand, not available; they ' +
      'move to on_hand when the transfer is received, and leave when it is cancelled',
  },
};

const stockSchema: JsonSchema = {
  type: 'object',
  required: [
    'product_id',
    'warehouse_id',
    'on_hand',
    'reserved',
    'available',
    'incoming',
    'version',
  ],
  properties: {
    product_id: { type: 'string' },
    warehouse_id: { type: 'string' },
    ...stockProperties,
    version: { type: 'integer', minimum: 1 },
    reference: { type: 'string', description: 'The answer of an adjust or set that carried one' },
    lots: {
      type: 'array',
      description: 'A stock key with named lots: its lots with units, in FEFO order',
      items: {
        type: 'object',
        required: ['lot_id', 'on_hand', 'reserved', 'received_at'],
        properties: {
          lot_id: lotId,
          on_hand: count,
          reserved: count,
          expires_on: expiresOn,
          received_at: { ...dateTime, description: 'When the lot first received units here' },
        },
      },
    },
  },
};

const productStockSchema: JsonSchema = {
  type: 'object',
  required: ['product_id', 'on_hand', 'reserved', 'available', 'incoming', 'warehouses'],
  properties: {
    product_id: { type: 'string' },
    ...stockProperties,
    warehouses: { type: 'array', items: stockSchema, description: 'In warehouse_id order' },
  },
};

const stockPageSchema: JsonSchema = {
  type: 'object',
  required: ['items', 'next'],
  properties: {
    items: {
      type: 'array',
      items: stockSchema,
      description: 'In (product_id, warehouse_id) order',
    },
    next: {
      type: ['string', 'null'],
      description: 'Pass as `after` for the page after this one; null on the last page',
    },
  },
};

const movementTypes = [
  'reserve',
  'confirm',
  'release',
  'expire',
  'adjust',
  'set',
  'transfer_out',
  'transfer_in',
  'transfer_incoming',
  'transfer_cancel',
  'lot_expired',
];

const movementSchema: JsonSchema = {
  type: 'object',
  required: ['version', 'type', 'quantity', 'on_hand', 'reserved', 'incoming', 'at'],
  properties: {
    version: { type: 'integer', minimum: 1, description: "The key's version after the change" },
    type: { type: 'string', enum: movementTypes },
    quantity: {
      type: 'integer',
      description: 'Units moved; signed for adjust and set (the change of on_hand)',
    },
    on_hand: { type: 'integer', description: 'After the change' },
    reserved: { type: 'integer', description: 'After the change' },
    incoming: { type: 'integer', description: 'After the change' },
    at: { type: 'string', format: 'date-time' },
    reservation_id: { type: 'string' },
    cart_id: { type: 'string' },
    transfer_id: { type: 'string' },
    lots: {
      type: 'array',
      items: {
        type: 'object',
        required: ['lot_id', 'quantity'],
        properties: { lot_id: { type: 'string' }, quantity: { type: 'integer' } },
      },
    },
    buyer_id: { type: 'string' },
    reason: { type: 'string' },
    reference: { type: 'string' },
    subject: { type: 'string', description: "The caller's token subject" },
    trace_id: { type: 'string' },
  },
};

const movementPageSchema: JsonSchema = {
  type: 'object',
  required: ['movements', 'next'],
  properties: {
    movements: { type: 'array', items: movementSchema, description: 'Newest first' },
    next: {
      type: ['string', 'null'],
      description: 'Pass as `before` for the older page after this one; null on the last page',
    },
  },
};

const nullableInteger = { type: ['integer', 'null'] };

const settingsSchema: JsonSchema = {
  type: 'object',
  required: ['max_per_buyer', 'limit_window_seconds', 'warehouse_priority', 'low_stock_threshold'],
  properties: {
    max_per_buyer: nullableInteger,
    limit_window_seconds: { type: 'integer' },
    warehouse_priority: { type: ['array', 'null'], items: { type: 'string' } },
    low_stock_threshold: nullableInteger,
  },
};

const cartSchema: JsonSchema = {
  type: 'object',
  required: ['cart_id', 'status', 'created_at', 'expires_at', 'holds'],
  properties: {
    cart_id: { type: 'string', format: 'uuid' },
    status,
    created_at: dateTime,
    expires_at: { ...dateTime, description: 'The latest expires_at of its PENDING holds' },
    buyer_id: { type: 'string' },
    reference: { type: 'string' },
    holds: {
      type: 'array',
      items: {
        type: 'object',
        required: ['line', 'reservation_id', 'product_id', 'warehouse_id', 'quantity', 'status'],
        properties: {
          line: { ...count, description: 'The (first) line this hold serves, 0-based' },
          reservation_id: { type: 'string', format: 'uuid' },
          product_id: { type: 'string' },
          warehouse_id: { type: 'string' },
          quantity: { type: 'integer', minimum: 1 },
          status,
          confirmed_quantity: { type: 'integer', minimum: 1, description: 'CONFIRMED holds' },
          lots: lotUnitsSchema,
        },
      },
    },
  },
};

const transferSchema: JsonSchema = {
  type: 'object',
  required: [
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
  properties: {
    transfer_id: { type: 'string', format: 'uuid' },
    status: { enum: ['IN_TRANSIT', 'RECEIVED', 'CANCELLED'] },
    product_id: { type: 'string' },
    from_warehouse_id: { type: 'string' },
    to_warehouse_id: { type: 'string' },
    quantity: { type: 'integer', minimum: 1 },
    created_at: dateTime,
    received_at: { ...dateTime, description: 'RECEIVED transfers' },
    cancelled_at: { ...dateTime, description: 'CANCELLED transfers' },
    reason: { type: 'string', description: 'When the transfer was made with one' },
    reference: { type: 'string', description: 'When the transfer was made with one' },
    lots: { ...lotUnitsSchema, description: 'From a source with named lots: the units moved' },
    from: { ...stockSchema, description: 'The source key (as first answered, on a replay)' },
    to: { ...stockSchema, description: 'The destination key (as first answered, on a replay)' },
  },
};

const importSchema: JsonSchema = {
  type: 'object',
  required: ['applied', 'failed', 'results'],
  properties: {
    applied: { ...count, description: 'Lines answered 200 (replays of an idempotency key too)' },
    failed: { ...count, description: 'Lines answered otherwise' },
    results: {
      type: 'array',
      description: 'One per line that is not blank, in line order',
      items: {
        type: 'object',
        required: ['line', 'status'],
        properties: {
          line: { type: 'integer', minimum: 1, description: 'Its line in the file, from 1' },
          status: { type: 'integer', description: 'The status the line alone would have had' },
          error: {
            type: 'object',
            description: 'The error object the line alone would have had (not 200)',
          },
          stock: { ...stockSchema, description: 'The stock key after the line (200)' },
          replayed: {
            const: true,
            description: 'An earlier request with its idempotency key was answered again',
          },
        },
      },
    },
  },
};

const nullableNumber = { type: ['number', 'null'] };

const rateSchema: JsonSchema = {
  type: 'object',
  required: ['requests', 'per_second', 'p99_seconds'],
  description: 'Over window_seconds; all null while there is no window yet',
  properties: {
    requests: { type: ['integer', 'null'] },
    per_second: nullableNumber,
    p99_seconds: { ...nullableNumber, description: 'From the histogram buckets; null with none' },
  },
};

const keyProperties = { product_id: { type: 'string' }, warehouse_id: { type: 'string' } };
const keySchema: JsonSchema = {
  type: 'object',
  required: ['product_id', 'warehouse_id'],
  properties: keyProperties,
};

const clusterSchema: JsonSchema = {
  type: 'object',
  required: ['node_id', 'nodes', 'partitions'],
  properties: {
    node_id: { type: 'string' },
    nodes: {
      type: 'array',
      items: {
        type: 'object',
        required: ['node_id', 'partitions', 'ready'],
        properties: {
          node_id: { type: 'string' },
          partitions: { type: 'integer', minimum: 0 },
          ready: { type: 'boolean' },
        },
      },
    },
    partitions: { type: 'integer', minimum: 1 },
  },
};

const uiSummarySchema: JsonSchema = {
  type: 'object',
  required: [
    'at',
    'window_seconds',
    'reserve',
    'carts',
    'journal',
    'events',
    'hot_keys',
    'sold_out',
  ],
  properties: {
    at: dateTime,
    window_seconds: {
      ...nullableNumber,
      description: 'The span the rates cover: up to 60 s back; null until 1 s has passed',
    },
    reserve: rateSchema,
    carts: rateSchema,
    journal: {
      type: 'object',
      required: ['in_flight', 'flushes', 'flush_p99_seconds'],
      properties: {
        in_flight: { ...count, description: 'Requests sent to the shards, not yet answered' },
        flushes: { type: ['integer', 'null'], description: 'Group commits in the window' },
        flush_p99_seconds: nullableNumber,
      },
    },
    events: {
      type: ['object', 'null'],
      description: 'null when event publishing is off',
      required: ['connected', 'lag_records', 'lag_seconds'],
      properties: {
        connected: { type: 'boolean' },
        lag_records: count,
        lag_seconds: { type: 'number', minimum: 0 },
      },
    },
    hot_keys: {
      type: 'array',
      description: 'The most changed stock keys (LEDGER_METRICS_HOT_KEYS), most changed first',
      items: {
        ...keySchema,
        required: ['product_id', 'warehouse_id', 'available'],
        properties: { ...keyProperties, available: { type: 'integer' } },
      },
    },
    sold_out: { type: 'array', items: keySchema, description: 'Hot keys with nothing available' },
  },
};

function errorSchema(codes: readonly ErrorCode[]): JsonSchema {
  return {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { enum: codes },
          message: { type: 'string' },
          details: {
            type: 'object',
            description:
              '`field` (422: the top-level body field or the query parameter at fault), ' +
              '`available` (409 ' +
              'insufficient_stock), `limit` and `held` (409 purchase_limit_exceeded), ' +
              '`reservation_id` (409 of a cart confirm), `status` (409 reservation_not_pending), ' +
              "`version` (409 version_conflict: the key's version now), " +
              '`lines` (409 of a cart: one entry per short or over-limit line)',
          },
        },
      },
    },
  };
}

const json = (schema: JsonSchema) => ({ 'application/json': { schema } });

function successResponse(route: Route): Record<string, unknown> {
  switch (route.response) {
    case 'reservation':
      return { '200': { description: 'The reservation', content: json(reservationSchema) } };
    case 'stock':
      return { '200': { description: 'The stock key', content: json(stockSchema) } };
    case 'import':
      return {
        '200': { description: 'Every line with its own result', content: json(importSchema) },
      };
    case 'stockPage':
      return { '200': { description: 'A page of stock views', content: json(stockPageSchema) } };
    case 'movementPage':
      return {
        '200': { description: 'A page of movements', content: json(movementPageSchema) },
      };
    case 'settings':
      return { '200': { description: 'The whole settings', content: json(settingsSchema) } };
    case 'productStock':
      return { '200': { description: 'The product', content: json(productStockSchema) } };
    case 'cart':
      return { '200': { description: 'The cart', content: json(cartSchema) } };
    case 'transfer':
      return { '200': { description: 'The transfer', content: json(transferSchema) } };
    case 'snapshot':
      return {
        '200': { description: 'Partitions snapshotted', content: json({ type: 'object' }) },
      };
    case 'cluster':
      return { '200': { description: 'The cluster', content: json(clusterSchema) } };
    case 'health':
      return { '200': { description: 'OK', content: json({ type: 'object' }) } };
    case 'text':
      return { '200': { description: 'Prometheus text format', content: { 'text/plain': {} } } };
    case 'document':
      return { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } };
    case 'socket':
      return { '101': { description: 'Switching protocols to WebSocket' } };
    case 'page':
      return { '200': { description: 'The page (no data)', content: { 'text/html': {} } } };
    case 'asset':
      return {
        '200': {
          description: 'The file',
          content: { 'text/javascript': {}, 'text/css': {} },
        },
      };
    case 'uiSummary':
      return { '200': { description: 'The summary', content: json(uiSummarySchema) } };
  }
}

/** Groups a route's error codes by status: one response per status, codes listed in its schema. */
function errorResponses(route: Route): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of [...route.errors, 'method_not_allowed' as const]) {
    const status = errorCodes[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, unknown> = {};
  for (const [status, codes] of byStatus) {
    responses[String(status)] = {
      description: codes.join(', '),
      content: json(errorSchema(codes)),
    };
  }
  return responses;
}

function parameters(route: Route, specs: RequestSpecs): unknown[] {
  const names = [...route.path.matchAll(/\{([a-z_]+)\}/g)].map((match) => match[1]);
  const path = names.map((name) => ({
    name,
    in: 'path',
    required: true,
    schema: { type: 'string' },
  }));
  if (route.query === undefined) return path;
  const query = specs[route.query].schema as {
    properties: Record<string, { description: string }>;
    required: string[];
  };
  const inQuery = Object.entries(query.properties).map(([name, { description, ...schema }]) => ({
    name,
    in: 'query',
    required: query.required.includes(name),
    description,
    schema,
  }));
  return [...path, ...inQuery];
}

/** One line of a stock import: `op` and the body of the route it names. */
function importLineSchema(specs: RequestSpecs): JsonSchema {
  const choices = [...importOps].map(([op, name]) => {
    const body = routes.find((route) => route.name === name)?.body;
    if (body === undefined) throw new Error(`import op ${op}: route ${name} has no body`);
    const schema = specs[body].schema as { properties: object; required: readonly string[] };
    return {
      ...schema,
      properties: { op: { const: op }, ...schema.properties },
      required: ['op', ...schema.required],
    };
  });
  return {
    oneOf: choices,
    description:
      'Each line one JSON object; the lines are applied one by one, each as its op alone ' +
      'would be. Blank lines are skipped.',
  };
}

export function openApiDocument(specs: RequestSpecs, version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const operation: Record<string, unknown> = {
      operationId: route.name,
      summary: route.summary,
      responses: { ...successResponse(route), ...errorResponses(route) },
    };
    if (route.permission === undefined) operation.security = [];
    else operation['x-required-permission'] = route.permission;
    const routeParameters = parameters(route, specs);
    if (routeParameters.length > 0) operation.parameters = routeParameters;
    if (route.body !== undefined) {
      const required = route.bodyOptional !== true;
      operation.requestBody = { required, content: json(specs[route.body].schema) };
    }
    if (route.bodyLines === true) {
      const content = { 'application/x-ndjson': { schema: importLineSchema(specs) } };
      operation.requestBody = { required: true, content };
    }
    paths[route.path] = { ...paths[route.path], [route.method]: operation };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Inventory ledger', version },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
