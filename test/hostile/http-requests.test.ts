// Proves hostile but well-framed HTTP gets a contract 4xx and changes nothing: fast-check
// generates bodies (wrong types, huge, negative and fractional numbers, unicode, deep nesting,
// duplicate keys, truncated, oversized, not UTF-8), content types, headers, paths and methods,
// sent with fetch to the real server; after each, the watched key and hold are unchanged.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOptions } from '../helpers/fc-options.js';
import { havePostgres } from '../helpers/services.js';
import { knob, report } from '../helpers/soak.js';
import { WatchedLedger, expectContractError } from './watched-ledger.js';

const runs = knob('SOAK_HOSTILE_RUNS', 150, 5_000);
const clientErrors = new Set([400, 404, 405, 409, 413, 415, 422]);

type Route = '/v1/reserve' | '/v1/confirm' | '/v1/release' | '/v1/stock/adjust';
type Body = Record<string, unknown>;

const absent = Symbol('absent');
type Value = unknown;

/** Values that make each field invalid (never a valid value, so the request must be refused). */
const badStockId = fc.constantFrom<Value>(
  absent,
  '',
  'x'.repeat(65),
  'a/b',
  'a b',
  'ünïcödé',
  '😀',
  'a\u0000b',
  123,
  null,
  true,
  [],
  {},
);
const badQuantity = fc.oneof(
  fc.constantFrom<Value>(
    absent,
    0,
    -1,
    -0,
    1001,
    1.5,
    1e-7,
    1e308,
    2 ** 53,
    -(2 ** 53),
    '1',
    '1e3',
  ),
  fc.constantFrom<Value>(null, true, [], {}, [1], { value: 1 }),
  fc.double({ noInteger: true }),
  fc.integer({ min: 1001 }),
  fc.integer({ max: 0 }),
);
const badTtl = fc.constantFrom<Value>(59, 3601, 60.5, '600', null, -1, 0, 1e9, [], true);
const badIdempotencyKey = fc.oneof(
  fc.constantFrom<Value>(absent, 'short', 'x'.repeat(129), '\n'.repeat(16), 123, null, [], {}),
  fc
    .string({ unit: 'grapheme', minLength: 16, maxLength: 40 })
    .filter((text) => /[^\x20-\x7e]/.test(text)),
);
const badDelta = fc.constantFrom<Value>(
  -11, // below zero: 409
  -1_000_000_000,
  absent,
  0,
  1.5,
  2 ** 53,
  -(2 ** 53),
  1e10,
  '5',
  null,
  true,
  [],
);
const badReason = fc.constantFrom<Value>(
  123,
  'x'.repeat(501),
  '\ud800',
  '\udfff tail',
  {},
  [],
  true,
);
const badReservationId = fc.oneof(
  fc.constantFrom<Value>(absent, '', 'not-a-uuid', 123, null, [], {}, '0'.repeat(36)),
  fc.uuid(), // well-formed but never issued: 404
  fc.string({ unit: 'grapheme', maxLength: 50 }),
);
/** Fields that may come along and change nothing. */
const harmless = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 12 }).filter((key) => !knownFields.has(key)),
  fc.jsonValue({ maxDepth: 3 }),
  { maxKeys: 3 },
);
const knownFields = new Set([
  'product_id',
  'warehouse_id',
  'quantity',
  'ttl_seconds',
  'idempotency_key',
  'delta',
  'reason',
  'reservation_id',
  '__proto__',
]);

const invalidating: Record<Route, [string, fc.Arbitrary<Value>][]> = {
  '/v1/reserve': [
    ['product_id', badStockId],
    ['warehouse_id', badStockId],
    ['quantity', badQuantity],
    ['ttl_seconds', badTtl],
    ['idempotency_key', badIdempotencyKey],
  ],
  '/v1/stock/adjust': [
    ['product_id', badStockId],
    ['warehouse_id', badStockId],
    ['delta', badDelta],
    ['reason', badReason],
    ['idempotency_key', badIdempotencyKey.filter((value) => value !== absent)],
  ],
  '/v1/confirm': [['reservation_id', badReservationId]],
  '/v1/release': [['reservation_id', badReservationId]],
};

function validBody(route: Route, watched: WatchedLedger): Body {
  switch (route) {
    case '/v1/reserve':
      return { ...watched.stock, quantity: 1, ttl_seconds: 600, idempotency_key: 'k'.repeat(20) };
    case '/v1/stock/adjust':
      return { ...watched.stock, delta: 1, reason: 'hostile', idempotency_key: 'a'.repeat(20) };
    default:
      return { reservation_id: '00000000-0000-8000-8000-000000000000' };
  }
}

/** A body for `route` with one to three invalid fields, plus harmless extras. */
function mutatedBody(route: Route): fc.Arbitrary<(watched: WatchedLedger) => Body> {
  const mutation = fc.oneof(
    ...invalidating[route].map(([field, values]) =>
      values.map((value) => [field, value] as [string, Value]),
    ),
  );
  return fc
    .tuple(fc.array(mutation, { minLength: 1, maxLength: 3 }), harmless)
    .map(([mutations, extras]) => (watched: WatchedLedger) => {
      const body: Body = { ...extras, ...validBody(route, watched) };
      for (const [field, value] of mutations) {
        if (value === absent) delete body[field];
        else body[field] = value;
      }
      return body;
    });
}

const route = fc.constantFrom<Route>(
  '/v1/reserve',
  '/v1/confirm',
  '/v1/release',
  '/v1/stock/adjust',
);

/** Raw body texts that are not a valid request for any route. */
function rawBody(watched: WatchedLedger): fc.Arbitrary<string | Uint8Array> {
  const valid = JSON.stringify(validBody('/v1/stock/adjust', watched));
  // Refused by every route: no quantity, no reservation_id, and a zero delta.
  const refused = JSON.stringify({ ...validBody('/v1/stock/adjust', watched), delta: 0 });
  const nest = (depth: number, open: string, close: string, inner = '1') =>
    `${open.repeat(depth)}${inner}${close.repeat(depth)}`;
  return fc.oneof(
    // Truncated: a valid body cut short.
    fc.nat({ max: valid.length - 1 }).map((cut) => valid.slice(0, cut)),
    // Duplicate keys whose last value is invalid (JSON.parse keeps the last).
    fc
      .constantFrom('"delta":"x"', '"delta":0', '"product_id":""', '"delta":1.5')
      .map((last) => `${valid.slice(0, -1)},${last}}`),
    // Deep nesting, as arrays and as objects, inside and outside a valid-looking body.
    fc.integer({ min: 100, max: 12_000 }).map((depth) => nest(depth, '[', ']')),
    fc.integer({ min: 100, max: 3_000 }).map((depth) => nest(depth, '{"a":', '}')),
    fc
      .integer({ min: 50, max: 2_000 })
      .map((depth) => `${refused.slice(0, -1)},"x":${nest(depth, '[', ']')}}`),
    // Not an object at all.
    fc
      .jsonValue()
      .filter((value) => typeof value !== 'object' || value === null || Array.isArray(value))
      .map((value) => JSON.stringify(value)),
    fc.constantFrom(
      '',
      ' ',
      'null',
      'true',
      '[]',
      '"{}"',
      '\ufeff{}',

      'NaN',
      '{,}',
      "{'a':1}",
    ),
    // Random text and random bytes (often not UTF-8).
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.uint8Array({ minLength: 1, maxLength: 300 }),
    fc.constant(new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])), // {"\xff\xfe":1}
    // Over the 16 KiB limit.
    fc
      .integer({ min: 16_385, max: 40_000 })
      .map((size) => `${valid.slice(0, -1)},"pad":"${'x'.repeat(size)}"}`),
  );
}

const contentTypes = fc.constantFrom<string | undefined>(
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  undefined,
  'text/plain',
  'application/jsonp',
  'application/json-patch+json',
  'multipart/form-data; boundary=x',
  'application/x-www-form-urlencoded',
  '',
);

const standardMethods = new Set(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD']);
const methods = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...standardMethods) },
  {
    weight: 1,
    arbitrary: fc
      .stringMatching(/^[A-Z]{1,12}$/)
      .filter((method) => !['CONNECT', 'TRACE', 'TRACK'].includes(method)),
  },
);

function pathArbitrary(watched: WatchedLedger): fc.Arbitrary<string> {
  const known = fc.constantFrom(
    '/v1/reserve',
    '/v1/confirm',
    '/v1/release',
    '/v1/stock/adjust',
    '/v1/reservations/00000000-0000-8000-8000-000000000000',
    `/v1/reservations/${watched.holdId}`,
    watched.stockPath,
    '/health/live',
    '/health/ready',
    '/metrics',
  );
  const segment = fc.oneof(
    fc.constantFrom(
      'v1',
      'reserve',
      'confirm',
      'release',
      'stock',
      'adjust',
      'reservations',
      'health',
      'ready',
      'metrics',
      '..',
      '.',
      '',
      '%2F',
      '%00',
      '%E0%A4%A',
      '%ZZ',
      watched.stock.product_id,
    ),
    fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent),
    fc.stringMatching(/^[A-Za-z0-9._:-]{1,70}$/),
    fc.integer({ min: 100, max: 9_000 }).map((size) => 'p'.repeat(size)),
  );
  const made = fc
    .tuple(
      fc.array(segment, { minLength: 1, maxLength: 6 }),
      fc.option(fc.string({ maxLength: 30 }).map(encodeURIComponent)),
    )
    .map(([segments, query]) => `/${segments.join('/')}${query === null ? '' : `?${query}`}`);
  return fc.oneof(known, made);
}

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly body?: string | Uint8Array;
  readonly headers: Record<string, string>;
}

describe.runIf(await havePostgres())('hostile requests over HTTP', () => {
  let watched: WatchedLedger;
  const statuses = new Map<number, number>();
  const startedMs = Date.now();

  beforeAll(async () => {
    watched = await WatchedLedger.start(`requests-${process.pid}`);
  });

  afterAll(async () => {
    report({
      test: 'hostile requests (fetch)',
      seconds: (Date.now() - startedMs) / 1000,
      counts: Object.fromEntries([...statuses].map(([status, count]) => [`http ${status}`, count])),
    });
    await watched?.stop();
  });

  /**
   * Sends one request; the answer must be a contract 4xx (or a 200 for a harmless read). uWS
   * hangs up on request lines it does not parse (methods outside the standard ones): no answer
   * is acceptable there, as long as the server stays up (checked after every request).
   */
  async function expectRefused(sent: Sent, readsMayPass = false): Promise<void> {
    const init: RequestInit = { method: sent.method, headers: sent.headers };
    if (sent.body !== undefined && !['GET', 'HEAD'].includes(sent.method)) init.body = sent.body;
    let response: Response;
    try {
      response = await fetch(`${watched.baseUrl}${sent.path}`, init);
    } catch (error) {
      if (!(error instanceof TypeError) || standardMethods.has(sent.method)) throw error;
      statuses.set(0, (statuses.get(0) ?? 0) + 1);
      return;
    }
    const text = await response.text();
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    const context = `${sent.method} ${sent.path.slice(0, 120)} -> ${response.status}`;
    expect(response.headers.get('x-trace-id'), `${context}: x-trace-id`).toMatch(/^\S+$/);
    const harmlessRead = readsMayPass && ['GET', 'HEAD'].includes(sent.method);
    if (response.status === 200 && harmlessRead) return;
    expect(clientErrors.has(response.status), `${context}: ${text.slice(0, 300)}`).toBe(true);
    if (sent.method !== 'HEAD') expectContractError(response.status, text, context);
  }

  it('refuses bodies with invalid fields with a contract 4xx and changes nothing', async () => {
    const property = fc.asyncProperty(
      route.chain((path) => mutatedBody(path).map((build) => ({ path, build }))),
      async ({ path, build }) => {
        const body = JSON.stringify(build(watched));
        const headers = { 'content-type': 'application/json' };
        await watched.around(`after POST ${path} ${body.slice(0, 200)}`, () =>
          expectRefused({ method: 'POST', path, body, headers }),
        );
      },
    );
    await fc.assert(property, runOptions(runs * 2));
  }, 120_000);

  it('refuses malformed, cut, nested, huge and non-UTF-8 bodies, any content type', async () => {
    const property = fc.asyncProperty(
      route,
      rawBody(watched),
      contentTypes,
      async (path, body, type) => {
        const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type };
        const shown = typeof body === 'string' ? body.slice(0, 200) : `${body.length} bytes`;
        await watched.around(`after POST ${path} ${shown}`, () =>
          expectRefused({ method: 'POST', path, body, headers }),
        );
      },
    );
    await fc.assert(property, runOptions(runs));
  }, 120_000);

  it('answers odd paths, methods and headers with a contract 4xx, or a plain read', async () => {
    const header = fc.tuple(
      fc
        .stringMatching(/^[a-z][a-z0-9-]{0,30}$/)
        .filter(
          (name) =>
            ![
              'content-length',
              'transfer-encoding',
              'host',
              'connection',
              'keep-alive',
              'upgrade',
              'expect',
              'te',
              'trailer',
            ].includes(name),
        ),
      fc.oneof(
        fc.stringMatching(/^[\x21-\x7e ]{0,100}$/),
        fc.integer({ min: 1, max: 6_000 }).map((size) => 'v'.repeat(size)),
      ),
    );
    const property = fc.asyncProperty(
      methods,
      pathArbitrary(watched),
      fc.array(header, { maxLength: 8 }),
      rawBody(watched),
      async (method, path, headerList, body) => {
        const headers = Object.fromEntries(headerList);
        await watched.around(`after ${method} ${path.slice(0, 120)}`, () =>
          expectRefused({ method, path, headers, body }, true),
        );
      },
    );
    await fc.assert(property, runOptions(runs));
    await watched.expectServing();
  }, 120_000);
});
