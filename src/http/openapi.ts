// The OpenAPI 3.1 document, generated from the route table, the request field specifications
// the validator enforces, and the error registry: served at /openapi.json.
import { errorCodes, type ErrorCode } from '../errors.js';
import { routes, type Route } from './routes.js';
import type { JsonSchema, RequestSpecs } from './schemas.js';

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
    status: { enum: ['PENDING', 'CONFIRMED', 'RELEASED', 'EXPIRED'] },
    product_id: { type: 'string' },
    warehouse_id: { type: 'string' },
    quantity: { type: 'integer', minimum: 1 },
    expires_at: { type: 'string', format: 'date-time' },
    created_at: { type: 'string', format: 'date-time' },
  },
};

const stockSchema: JsonSchema = {
  type: 'object',
  required: ['product_id', 'warehouse_id', 'on_hand', 'reserved', 'available', 'version'],
  properties: {
    product_id: { type: 'string' },
    warehouse_id: { type: 'string' },
    on_hand: { type: 'integer', minimum: 0 },
    reserved: { type: 'integer', minimum: 0 },
    available: { type: 'integer', minimum: 0 },
    version: { type: 'integer', minimum: 1 },
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
          details: { type: 'object' },
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
    case 'snapshot':
      return {
        '200': { description: 'Partitions snapshotted', content: json({ type: 'object' }) },
      };
    case 'health':
      return { '200': { description: 'OK', content: json({ type: 'object' }) } };
    case 'text':
      return { '200': { description: 'Prometheus text format', content: { 'text/plain': {} } } };
    case 'document':
      return { '200': { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } };
    case 'socket':
      return { '101': { description: 'Switching protocols to WebSocket' } };
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

function parameters(route: Route): unknown[] {
  const names = [...route.path.matchAll(/\{([a-z_]+)\}/g)].map((match) => match[1]);
  return names.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
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
    const pathParameters = parameters(route);
    if (pathParameters.length > 0) operation.parameters = pathParameters;
    if (route.body !== undefined) {
      operation.requestBody = { required: true, content: json(specs[route.body].schema) };
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
