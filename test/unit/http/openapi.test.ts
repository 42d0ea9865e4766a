// Proves the OpenAPI document is complete: every route of the table (which the server registers
// its handlers from) with its method, every error code of the registry, and request schemas (and
// query parameters) that are the validator's own field specifications.
import { describe, expect, it } from 'vitest';
import { errorCodes, type ErrorCode } from '../../../src/errors.js';
import { openApiDocument } from '../../../src/http/openapi.js';
import { routes } from '../../../src/http/routes.js';
import { testValidator } from '../../helpers/validation.js';

const validator = testValidator();
const document = openApiDocument(validator.specs, '9.9.9') as {
  openapi: string;
  info: { version: string };
  paths: Record<string, Record<string, { responses: Record<string, { content?: unknown }> }>>;
};

function codesIn(value: unknown): Set<string> {
  const found = new Set<string>();
  JSON.stringify(value, (key, inner: unknown) => {
    if (key === 'enum' && Array.isArray(inner)) for (const code of inner) found.add(String(code));
    return inner;
  });
  return found;
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with the package version', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.version).toBe('9.9.9');
  });

  it('has every route with its method and the statuses of its errors', () => {
    for (const route of routes) {
      const operation = document.paths[route.path]?.[route.method];
      expect(operation, `${route.method} ${route.path}`).toBeDefined();
      for (const code of route.errors) {
        const status = String(errorCodes[code].status);
        expect(operation?.responses[status], `${route.path} ${code}`).toBeDefined();
        expect(codesIn(operation?.responses[status])).toContain(code);
      }
    }
    expect(Object.keys(document.paths)).toHaveLength(new Set(routes.map((r) => r.path)).size);
  });

  it('mentions every error code of the registry somewhere', () => {
    const all = codesIn(document.paths);
    for (const code of Object.keys(errorCodes) as ErrorCode[]) expect(all).toContain(code);
  });

  it('describes request bodies with the very schemas the validator enforces', () => {
    const reserve = document.paths['/v1/reserve']?.post as unknown as {
      requestBody: { content: { 'application/json': { schema: unknown } } };
    };
    expect(reserve.requestBody.content['application/json'].schema).toEqual(
      validator.specs.reserve.schema,
    );
  });

  it('documents v1.1: PUT settings, carts with their optional bodies, and the cart body', () => {
    const settings = document.paths['/v1/products/{product_id}/settings'];
    expect(Object.keys(settings ?? {}).sort()).toEqual(['get', 'put']);
    const place = document.paths['/v1/carts']?.post as unknown as {
      requestBody: { required: boolean; content: { 'application/json': { schema: unknown } } };
    };
    expect(place.requestBody.required).toBe(true);
    expect(place.requestBody.content['application/json'].schema).toEqual(
      validator.specs.cart.schema,
    );
    const confirm = document.paths['/v1/carts/{cart_id}/confirm']?.post as unknown as {
      requestBody: { required: boolean };
    };
    expect(confirm.requestBody.required).toBe(false);
  });

  it("documents the stock import: NDJSON lines, one choice per op with its route's fields", () => {
    const operation = document.paths['/v1/stock/import']?.post as unknown as {
      requestBody: { content: Record<string, { schema: { oneOf: Record<string, unknown>[] } }> };
      responses: Record<string, unknown>;
    };
    const lines = operation.requestBody.content['application/x-ndjson']?.schema.oneOf ?? [];
    const adjust = validator.specs.adjust.schema as { properties: object; required: string[] };
    expect(lines).toContainEqual({
      ...adjust,
      properties: { op: { const: 'adjust' }, ...adjust.properties },
      required: ['op', ...adjust.required],
    });
    const set = validator.specs.set.schema as { properties: object; required: string[] };
    expect(lines).toContainEqual({
      ...set,
      properties: { op: { const: 'set' }, ...set.properties },
      required: ['op', ...set.required],
    });
    expect(Object.keys(operation.responses).sort()).toEqual(
      ['200', '401', '403', '405', '413', '415', '429'].sort(),
    );
  });

  it('documents the stock listing: its query parameters as the validator reads them, its page', () => {
    const list = document.paths['/v1/stock']?.get as unknown as {
      parameters: { name: string; in: string; required: boolean; schema: unknown }[];
      responses: Record<string, { content: { 'application/json': { schema: unknown } } }>;
    };
    const properties = validator.specs.stockPage.schema.properties as Record<
      string,
      Record<string, unknown>
    >;
    expect(list.parameters.map(({ name, required }) => [name, required])).toEqual([
      ['product_id', false],
      ['after', false],
      ['limit', false],
    ]);
    for (const parameter of list.parameters) {
      const { description: _description, ...schema } = properties[parameter.name] ?? {};
      expect(parameter.in).toBe('query');
      expect(parameter.schema).toEqual(schema);
    }
    expect(properties.limit).toMatchObject({ minimum: 1, maximum: 1000, default: 100 });
    expect(list.responses['200']?.content['application/json'].schema).toMatchObject({
      required: ['items', 'next'],
    });
    expect(Object.keys(list.responses).sort()).toEqual([
      '200',
      '401',
      '403',
      '405',
      '422',
      '429',
      '503',
    ]);
  });
});
