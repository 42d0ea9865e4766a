// Proves every endpoint, status and error row of API.md against the real server over a socket.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post, request, type JsonResponse } from '../helpers/http.js';
import { sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const rfc3339UtcPattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const snakeCasePattern = /^[a-z][a-z0-9]*(_[a-z0-9]+)*$/;
const reservationFields = [
  'created_at',
  'expires_at',
  'product_id',
  'quantity',
  'reservation_id',
  'status',
  'warehouse_id',
];
const stockFields = [
  'available',
  'incoming',
  'on_hand',
  'product_id',
  'reserved',
  'version',
  'warehouse_id',
];
// A well-formed UUID that the ledger never issued.
const unknownReservationId = '00000000-0000-4000-8000-000000000000';

const runTag = randomBytes(3).toString('hex');
let keyCounter = 0;

interface StockKey {
  readonly product_id: string;
  readonly warehouse_id: string;
}

/** A stock key no other test uses. */
function uniqueKey(tag: string): StockKey {
  keyCounter += 1;
  return { product_id: `${tag}-${runTag}-${keyCounter}`, warehouse_id: 'wh-1' };
}

function stockPath(key: StockKey): string {
  return `/v1/stock/${key.product_id}/${key.warehouse_id}`;
}

/** fetch with an exact body and exact headers: no content-type is added for a byte body. */
async function raw(
  baseUrl: string,
  method: string,
  path: string,
  body: string | Uint8Array | undefined,
  headers: Record<string, string> = {},
): Promise<JsonResponse> {
  const response = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = {};
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

/** The contract's error shape, status and code, and a trace id, all at once. */
function expectError(response: JsonResponse, status: number, code: string): void {
  const summary = `${response.status} ${response.text}`;
  expect(response.status, summary).toBe(status);
  expect(response.headers.get('x-trace-id'), summary).toBeTruthy();
  expect(Object.keys(response.body), summary).toEqual(['error']);
  const error = response.body.error as Record<string, unknown>;
  expect(error.code, summary).toBe(code);
  expect(error.code, summary).toMatch(snakeCasePattern);
  expect(typeof error.message, summary).toBe('string');
  expect((error.message as string).length, summary).toBeGreaterThan(0);
  for (const field of Object.keys(error)) expect(['code', 'message', 'details']).toContain(field);
  if (error.details !== undefined) expect(typeof error.details, summary).toBe('object');
}

function expectValidation(response: JsonResponse, field: string): void {
  expectError(response, 422, 'validation_failed');
  expect(response.body, response.text).toMatchObject({ error: { details: { field } } });
}

function expectReservationShape(body: Record<string, unknown>): void {
  // A CONFIRMED hold also says how many units were sold (v1.1).
  const sold = body.status === 'CONFIRMED' ? ['confirmed_quantity'] : [];
  expect(Object.keys(body).sort()).toEqual([...reservationFields, ...sold].sort());
  expect(body.reservation_id).toMatch(uuidPattern);
  expect(body.created_at).toMatch(rfc3339UtcPattern);
  expect(body.expires_at).toMatch(rfc3339UtcPattern);
}

describe.runIf(await havePostgres())('the ledger HTTP API', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess;
  let base: string;

  beforeAll(async () => {
    database = await createDatabase();
    ledger = await startLedger({ env: { DATABASE_URL: database.url } });
    base = ledger.baseUrl;
  });

  afterAll(async () => {
    await ledger?.stop();
    await database?.drop();
  });

  async function stocked(tag: string, onHand: number): Promise<StockKey> {
    const key = uniqueKey(tag);
    const adjusted = await post(base, '/v1/stock/adjust', { ...key, delta: onHand });
    expect(adjusted.status, adjusted.text).toBe(200);
    return key;
  }

  async function reserve(key: StockKey, quantity: number, extra: Record<string, unknown> = {}) {
    const body = { ...key, quantity, idempotency_key: newKey('http'), ...extra };
    const response = await post(base, '/v1/reserve', body);
    expect(response.status, response.text).toBe(200);
    return response.body as Record<string, unknown> & { reservation_id: string };
  }

  async function readStock(key: StockKey): Promise<Record<string, unknown>> {
    const response = await get(base, stockPath(key));
    expect(response.status, response.text).toBe(200);
    return response.body;
  }

  describe('POST /v1/stock/adjust', () => {
    it('adds and removes stock and answers with the stock and a growing version', async () => {
      const key = uniqueKey('adjust');
      const added = await post(base, '/v1/stock/adjust', { ...key, delta: 10, reason: 'inbound' });
      expect(added.status, added.text).toBe(200);
      expect(added.headers.get('x-trace-id')).toBeTruthy();
      expect(Object.keys(added.body).sort()).toEqual(stockFields);
      expect(added.body).toMatchObject({ ...key, on_hand: 10, reserved: 0, available: 10 });
      expect(Number.isInteger(added.body.version)).toBe(true);

      const removed = await post(base, '/v1/stock/adjust', { ...key, delta: -3 });
      expect(removed.status, removed.text).toBe(200);
      expect(removed.body).toMatchObject({ ...key, on_hand: 7, reserved: 0, available: 7 });
      expect(removed.body.version as number).toBeGreaterThan(added.body.version as number);

      expect(await readStock(key)).toEqual(removed.body);
    });

    it.each([
      ['zero', 0],
      ['a fraction', 1.5],
      ['a numeric string', '5'],
      ['missing', undefined],
    ])('rejects a delta that is %s with 422 naming delta', async (_name, delta) => {
      const key = await stocked('adjust-delta', 5);
      const before = await readStock(key);
      const response = await post(base, '/v1/stock/adjust', { ...key, delta });
      expectValidation(response, 'delta');
      expect(await readStock(key)).toEqual(before);
    });

    it('rejects malformed stock ids on adjust with 422 naming the field', async () => {
      const bad = { product_id: 'has space', warehouse_id: 'wh-1', delta: 1 };
      expectValidation(await post(base, '/v1/stock/adjust', bad), 'product_id');
      const badWarehouse = { product_id: 'ok', warehouse_id: 'x'.repeat(65), delta: 1 };
      expectValidation(await post(base, '/v1/stock/adjust', badWarehouse), 'warehouse_id');
    });

    it('refuses to take on_hand below zero with 409 insufficient_stock', async () => {
      const key = await stocked('adjust-neg', 4);
      const response = await post(base, '/v1/stock/adjust', { ...key, delta: -5 });
      expectError(response, 409, 'insufficient_stock');
      expect(response.body).toMatchObject({ error: { details: { available: 4 } } });
      expect(await readStock(key)).toMatchObject({ on_hand: 4, reserved: 0, available: 4 });
    });

    it('refuses to take on_hand below reserved with 409 insufficient_stock', async () => {
      const key = await stocked('adjust-res', 10);
      await reserve(key, 6);
      const response = await post(base, '/v1/stock/adjust', { ...key, delta: -5 });
      expectError(response, 409, 'insufficient_stock');
      expect(response.body).toMatchObject({ error: { details: { available: 4 } } });
      expect(await readStock(key)).toMatchObject({ on_hand: 10, reserved: 6, available: 4 });
      const exact = await post(base, '/v1/stock/adjust', { ...key, delta: -4 });
      expect(exact.status, exact.text).toBe(200);
      expect(exact.body).toMatchObject({ on_hand: 6, reserved: 6, available: 0 });
    });

    it('replays an adjust with the same idempotency key and applies it only once', async () => {
      const key = uniqueKey('adjust-idem');
      const body = { ...key, delta: 7, reason: 'po-1', idempotency_key: newKey('adjust') };
      const first = await post(base, '/v1/stock/adjust', body);
      expect(first.status, first.text).toBe(200);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const again = await post(base, '/v1/stock/adjust', body);
      expect(again.status, again.text).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(await readStock(key)).toEqual(first.body);

      const reused = await post(base, '/v1/stock/adjust', { ...body, delta: 8 });
      expectError(reused, 422, 'idempotency_key_reused');
      expect(await readStock(key)).toEqual(first.body);
    });
  });

  describe('POST /v1/reserve', () => {
    it('holds stock and answers with exactly the reservation fields', async () => {
      const key = await stocked('reserve', 10);
      const sentMs = Date.now();
      const response = await post(base, '/v1/reserve', {
        ...key,
        quantity: 3,
        idempotency_key: newKey('reserve'),
      });
      expect(response.status, response.text).toBe(200);
      expect(response.headers.get('x-trace-id')).toBeTruthy();
      expect(response.headers.get('idempotent-replayed')).toBeNull();
      const body = response.body;
      expectReservationShape(body);
      expect(body).toMatchObject({ ...key, status: 'PENDING', quantity: 3 });
      const createdMs = Date.parse(body.created_at as string);
      expect(Date.parse(body.expires_at as string) - createdMs).toBe(600_000);
      expect(Math.abs(createdMs - sentMs)).toBeLessThan(60_000);
      expect(await readStock(key)).toMatchObject({ on_hand: 10, reserved: 3, available: 7 });
    });

    it('sets expires_at from ttl_seconds', async () => {
      const key = await stocked('reserve-ttl', 10);
      const body = await reserve(key, 1, { ttl_seconds: 120 });
      const lifetimeMs =
        Date.parse(body.expires_at as string) - Date.parse(body.created_at as string);
      expect(lifetimeMs).toBe(120_000);
    });

    it('accepts the edges of every range', async () => {
      const key = { product_id: `A-z.0:9_${runTag}`.padEnd(64, 'x'), warehouse_id: 'W' };
      const adjusted = await post(base, '/v1/stock/adjust', { ...key, delta: 2000 });
      expect(adjusted.status, adjusted.text).toBe(200);
      const edges = [
        { quantity: 1000, idempotency_key: 'k'.repeat(16), ttl_seconds: 60 },
        { quantity: 1, idempotency_key: `${'~'.repeat(127)}!`, ttl_seconds: 3600 },
        { quantity: 1, idempotency_key: ' printable ascii key ' },
      ];
      for (const edge of edges) {
        const response = await post(base, '/v1/reserve', { ...key, ...edge });
        expect(response.status, `${JSON.stringify(edge)}: ${response.text}`).toBe(200);
      }
      expect(await readStock(key)).toMatchObject({ on_hand: 2000, reserved: 1002 });
    });

    it('replays the same body with the same key without a second hold', async () => {
      const key = await stocked('reserve-idem', 10);
      const request = { ...key, quantity: 4, idempotency_key: newKey('replay') };
      const first = await post(base, '/v1/reserve', request);
      expect(first.status, first.text).toBe(200);
      const again = await post(base, '/v1/reserve', request);
      expect(again.status, again.text).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(await readStock(key)).toMatchObject({ on_hand: 10, reserved: 4, available: 6 });
    });

    it('rejects the same key with a different quantity as idempotency_key_reused', async () => {
      const key = await stocked('reserve-reuse', 10);
      const request = { ...key, quantity: 2, idempotency_key: newKey('reuse') };
      expect((await post(base, '/v1/reserve', request)).status).toBe(200);
      const reused = await post(base, '/v1/reserve', { ...request, quantity: 3 });
      expectError(reused, 422, 'idempotency_key_reused');
      expect(await readStock(key)).toMatchObject({ on_hand: 10, reserved: 2, available: 8 });
    });

    it('refuses more than is available with 409 insufficient_stock', async () => {
      const key = await stocked('reserve-short', 5);
      await reserve(key, 2);
      const response = await post(base, '/v1/reserve', {
        ...key,
        quantity: 4,
        idempotency_key: newKey('short'),
      });
      expectError(response, 409, 'insufficient_stock');
      expect(response.body).toMatchObject({ error: { details: { available: 3 } } });
      expect(await readStock(key)).toMatchObject({ on_hand: 5, reserved: 2, available: 3 });
    });

    it('answers 404 not_found for a stock key that was never stocked', async () => {
      const key = uniqueKey('never');
      const response = await post(base, '/v1/reserve', {
        ...key,
        quantity: 1,
        idempotency_key: newKey('never'),
      });
      expectError(response, 404, 'not_found');
      expectError(await get(base, stockPath(key)), 404, 'not_found');
    });

    describe('validation', () => {
      let key: StockKey;
      beforeAll(async () => {
        key = await stocked('reserve-valid', 100);
      });

      const idCases: [string, unknown][] = [
        ['empty', ''],
        ['65 characters long', 'a'.repeat(65)],
        ['containing a space', 'a b'],
        ['containing unicode', 'café'],
        ['a number', 123],
        ['missing', undefined],
      ];
      const cases: [string, string, unknown][] = [
        ...idCases.map(([name, value]): [string, string, unknown] => ['product_id', name, value]),
        ...idCases.map(([name, value]): [string, string, unknown] => ['warehouse_id', name, value]),
        ['quantity', 'zero', 0],
        ['quantity', 'negative', -1],
        ['quantity', '1001', 1001],
        ['quantity', 'a fraction', 1.5],
        ['quantity', 'a string', '1'],
        ['quantity', 'missing', undefined],
        ['idempotency_key', '15 characters long', 'k'.repeat(15)],
        ['idempotency_key', '129 characters long', 'k'.repeat(129)],
        ['idempotency_key', 'non-ASCII', 'clé-'.repeat(8)],
        ['idempotency_key', 'carrying a control character', `${'k'.repeat(16)}\n`],
        ['idempotency_key', 'a number', 1234567890123456],
        ['idempotency_key', 'missing', undefined],
        ['ttl_seconds', '59', 59],
        ['ttl_seconds', '3601', 3601],
        ['ttl_seconds', 'a fraction', 1.5],
        ['ttl_seconds', 'a string', '600'],
      ];

      it.each(cases)('rejects %s %s with 422 naming the field', async (field, _name, value) => {
        const body: Record<string, unknown> = {
          ...key,
          quantity: 1,
          idempotency_key: newKey('valid'),
          ttl_seconds: 600,
        };
        body[field] = value;
        expectValidation(await post(base, '/v1/reserve', body), field);
      });

      afterAll(async () => {
        expect(await readStock(key)).toMatchObject({ on_hand: 100, reserved: 0, available: 100 });
      });
    });
  });

  describe('POST /v1/confirm and /v1/release', () => {
    it('confirms a hold into a sale, idempotently', async () => {
      const key = await stocked('confirm', 10);
      const held = await reserve(key, 3);
      const confirmed = await post(base, '/v1/confirm', { reservation_id: held.reservation_id });
      expect(confirmed.status, confirmed.text).toBe(200);
      expect(confirmed.body).toMatchObject({ ...held, status: 'CONFIRMED' });
      expectReservationShape(confirmed.body);
      expect(await readStock(key)).toMatchObject({ on_hand: 7, reserved: 0, available: 7 });

      const again = await post(base, '/v1/confirm', { reservation_id: held.reservation_id });
      expect(again.status, again.text).toBe(200);
      expect(again.body).toMatchObject({
        reservation_id: held.reservation_id,
        status: 'CONFIRMED',
      });
      expect(await readStock(key)).toMatchObject({ on_hand: 7, reserved: 0, available: 7 });

      const read = await get(base, `/v1/reservations/${held.reservation_id}`);
      expect(read.status, read.text).toBe(200);
      expect(read.body).toEqual(confirmed.body);
    });

    it('releases a hold back to available, idempotently', async () => {
      const key = await stocked('release', 10);
      const held = await reserve(key, 4);
      const released = await post(base, '/v1/release', { reservation_id: held.reservation_id });
      expect(released.status, released.text).toBe(200);
      expect(released.body).toMatchObject({ ...held, status: 'RELEASED' });
      expectReservationShape(released.body);
      expect(await readStock(key)).toMatchObject({ on_hand: 10, reserved: 0, available: 10 });

      const again = await post(base, '/v1/release', { reservation_id: held.reservation_id });
      expect(again.status, again.text).toBe(200);
      expect(again.body).toMatchObject({ reservation_id: held.reservation_id, status: 'RELEASED' });
      expect(await readStock(key)).toMatchObject({ on_hand: 10, reserved: 0, available: 10 });

      const read = await get(base, `/v1/reservations/${held.reservation_id}`);
      expect(read.status, read.text).toBe(200);
      expect(read.body).toEqual(released.body);
    });

    it('refuses to confirm a released reservation with 409 reservation_released', async () => {
      const key = await stocked('confirm-released', 10);
      const held = await reserve(key, 2);
      const released = await post(base, '/v1/release', { reservation_id: held.reservation_id });
      expect(released.status, released.text).toBe(200);
      const response = await post(base, '/v1/confirm', { reservation_id: held.reservation_id });
      expectError(response, 409, 'reservation_released');
      expect(await readStock(key)).toMatchObject({ on_hand: 10, reserved: 0, available: 10 });
    });

    it('refuses to release a confirmed reservation with 409 reservation_confirmed', async () => {
      const key = await stocked('release-confirmed', 10);
      const held = await reserve(key, 2);
      const confirmed = await post(base, '/v1/confirm', { reservation_id: held.reservation_id });
      expect(confirmed.status, confirmed.text).toBe(200);
      const response = await post(base, '/v1/release', { reservation_id: held.reservation_id });
      expectError(response, 409, 'reservation_confirmed');
      expect(await readStock(key)).toMatchObject({ on_hand: 8, reserved: 0, available: 8 });
    });

    it.each(['/v1/confirm', '/v1/release'])(
      'answers %s of an unknown reservation with 404 not_found',
      async (path) => {
        expectError(
          await post(base, path, { reservation_id: unknownReservationId }),
          404,
          'not_found',
        );
      },
    );

    it.each(['/v1/confirm', '/v1/release'])(
      'answers %s of a malformed reservation id with 422 naming reservation_id',
      async (path) => {
        for (const reservationId of ['not-a-uuid', '', 42, null, undefined]) {
          const response = await post(base, path, { reservation_id: reservationId });
          expectValidation(response, 'reservation_id');
        }
      },
    );
  });

  describe('GET reads', () => {
    it('reads a reservation with its current status', async () => {
      const key = await stocked('read', 5);
      const held = await reserve(key, 1);
      const read = await get(base, `/v1/reservations/${held.reservation_id}`);
      expect(read.status, read.text).toBe(200);
      expect(read.body).toEqual(held);
    });

    it('answers 404 not_found for an unknown or malformed reservation id', async () => {
      for (const id of [unknownReservationId, 'not-a-uuid', '12345']) {
        expectError(await get(base, `/v1/reservations/${id}`), 404, 'not_found');
      }
    });

    it('reads stock and answers 404 not_found for a key never stocked', async () => {
      const key = await stocked('read-stock', 9);
      expect(await readStock(key)).toMatchObject({ ...key, on_hand: 9, reserved: 0, available: 9 });
      expectError(await get(base, stockPath(uniqueKey('unstocked'))), 404, 'not_found');
    });
  });

  describe('request bodies', () => {
    const malformed: [string, string | Uint8Array][] = [
      ['invalid JSON', '{"product_id": nope}'],
      ['a JSON array', '[{"quantity": 1}]'],
      ['null', 'null'],
      ['a number', '42'],
      ['a string', '"text"'],
      ['truncated JSON', '{"product_id": "p", "quantity": 1'],
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
      ['empty', ''],
    ];

    it.each(malformed)('answers a body that is %s with 400 malformed_json', async (_name, body) => {
      for (const path of ['/v1/reserve', '/v1/stock/adjust', '/v1/confirm']) {
        const response = await raw(base, 'POST', path, body, {
          'content-type': 'application/json',
        });
        expectError(response, 400, 'malformed_json');
      }
    });

    it('answers a body over 16 KiB with 413 payload_too_large', async () => {
      const key = await stocked('too-large', 5);
      const prefix = JSON.stringify({ ...key, delta: 1, padding: '' }).slice(0, -2);
      const sized = (bytes: number) => `${prefix}${'x'.repeat(bytes - prefix.length - 2)}"}`;
      const over = await post(base, '/v1/stock/adjust', sized(16_385));
      expectError(over, 413, 'payload_too_large');
      const huge = await post(base, '/v1/stock/adjust', sized(1024 * 1024));
      expectError(huge, 413, 'payload_too_large');
      expect(sized(16_384)).toHaveLength(16_384);
      const atLimit = await post(base, '/v1/stock/adjust', sized(16_384));
      expect(atLimit.status, atLimit.text).not.toBe(413);
    });

    it('answers a non-JSON or missing content-type with 415 unsupported_media_type', async () => {
      const key = await stocked('media', 5);
      const body = JSON.stringify({ ...key, quantity: 1, idempotency_key: newKey('media') });
      const plain = await raw(base, 'POST', '/v1/reserve', body, { 'content-type': 'text/plain' });
      expectError(plain, 415, 'unsupported_media_type');
      const missing = await raw(base, 'POST', '/v1/reserve', new TextEncoder().encode(body));
      expectError(missing, 415, 'unsupported_media_type');
      const lookalike = await raw(base, 'POST', '/v1/reserve', body, {
        'content-type': 'application/jsonp',
      });
      expectError(lookalike, 415, 'unsupported_media_type');
      expect(await readStock(key)).toMatchObject({ on_hand: 5, reserved: 0 });
    });

    it('accepts application/json with a charset parameter', async () => {
      const key = await stocked('charset', 5);
      const body = JSON.stringify({ ...key, quantity: 1, idempotency_key: newKey('charset') });
      const response = await raw(base, 'POST', '/v1/reserve', body, {
        'content-type': 'application/json; charset=utf-8',
      });
      expect(response.status, response.text).toBe(200);
      expect(response.body).toMatchObject({ status: 'PENDING', quantity: 1 });
    });
  });

  describe('routing', () => {
    it('answers an unknown route with 404 not_found', async () => {
      for (const [method, path] of [
        ['GET', '/'],
        ['GET', '/v1/nope'],
        ['POST', '/v1/nope'],
        ['GET', '/v1/stock/only-product'],
        ['GET', '/v2/reserve'],
      ] as const) {
        expectError(await request(base, method, path), 404, 'not_found');
      }
    });

    it('answers a known path with the wrong method with 405 and an allow header', async () => {
      for (const [method, path, allowed] of [
        ['GET', '/v1/reserve', 'POST'],
        ['PUT', '/v1/confirm', 'POST'],
        ['DELETE', '/v1/release', 'POST'],
        ['GET', '/v1/stock/adjust', 'POST'],
        ['DELETE', '/v1/stock/a/b', 'GET'],
        ['POST', '/v1/stock/a/b', 'GET'],
        ['PATCH', `/v1/reservations/${unknownReservationId}`, 'GET'],
        ['POST', '/health/live', 'GET'],
        ['POST', '/metrics', 'GET'],
      ] as const) {
        const response = await request(base, method, path);
        expectError(response, 405, 'method_not_allowed');
        expect(response.headers.get('allow'), `${method} ${path}`).toMatch(
          new RegExp(`\\b${allowed}\\b`),
        );
      }
    });
  });

  describe('trace ids', () => {
    it('puts an x-trace-id on every response and generates distinct ones', async () => {
      const responses = await Promise.all([
        get(base, '/health/live'),
        get(base, '/health/ready'),
        raw(base, 'GET', '/metrics', undefined),
        get(base, '/v1/nope'),
        request(base, 'GET', '/v1/reserve'),
        post(base, '/v1/reserve', '['),
        post(base, '/v1/reserve', {}),
        get(base, `/v1/reservations/${unknownReservationId}`),
      ]);
      const traceIds = responses.map((response) => response.headers.get('x-trace-id'));
      for (const traceId of traceIds) expect(traceId).toMatch(/^\S+$/);
      expect(new Set(traceIds).size).toBe(responses.length);
    });

    it("echoes the request's own x-trace-id on successes and errors", async () => {
      const key = await stocked('trace', 5);
      const cases: (() => Promise<JsonResponse>)[] = [
        () => get(base, '/health/live', { 'x-trace-id': 'trace-live-1' }),
        () => get(base, stockPath(key), { 'x-trace-id': 'trace-stock-2' }),
        () =>
          post(
            base,
            '/v1/reserve',
            { ...key, quantity: 1, idempotency_key: newKey('trace') },
            {
              'x-trace-id': 'trace-reserve-3',
            },
          ),
        () => post(base, '/v1/reserve', { ...key }, { 'x-trace-id': 'trace-invalid-4' }),
        () => get(base, '/v1/nope', { 'x-trace-id': 'trace-route-5' }),
      ];
      for (const [index, send] of cases.entries()) {
        const response = await send();
        expect(response.headers.get('x-trace-id')).toMatch(new RegExp(`^trace-.*-${index + 1}$`));
      }
    });

    it("uses a W3C traceparent's trace id when no x-trace-id is given, never an invalid one", async () => {
      const key = await stocked('traceparent', 5);
      const traceId = '0af7651916cd43dd8448eb211c80319c';
      const traceparent = `00-${traceId}-b7ad6b7169203331-01`;
      const traced = await get(base, stockPath(key), { traceparent });
      expect(traced.headers.get('x-trace-id')).toBe(traceId);
      // A later version's traceparent may carry more fields; its trace id is still read.
      const later = await get(base, stockPath(key), {
        traceparent: `cc-${traceId}-b7ad6b7169203331-01-x`,
      });
      expect(later.headers.get('x-trace-id')).toBe(traceId);
      const both = await get(base, stockPath(key), { traceparent, 'x-trace-id': 'trace-own-1' });
      expect(both.headers.get('x-trace-id')).toBe('trace-own-1');
      const refused = await post(base, '/v1/reserve', { ...key }, { traceparent });
      expect(refused.status).toBe(422);
      expect(refused.headers.get('x-trace-id')).toBe(traceId);
      for (const invalid of [
        `ff-${traceId}-b7ad6b7169203331-01`,
        `00-${'0'.repeat(32)}-b7ad6b7169203331-01`,
        `00-${traceId}-${'0'.repeat(16)}-01`,
        `00-${traceId.toUpperCase()}-b7ad6b7169203331-01`,
        `00-${traceId}-b7ad6b7169203331-01-extra`,
      ]) {
        const answer = await get(base, stockPath(key), { traceparent: invalid });
        expect(answer.headers.get('x-trace-id'), invalid).not.toBe(traceId);
        expect(answer.headers.get('x-trace-id'), invalid).toMatch(/^\S+$/);
      }
    });
  });

  describe('operational endpoints', () => {
    it('answers /health/live and /health/ready with 200 once started', async () => {
      const live = await get(base, '/health/live');
      expect(live.status, live.text).toBe(200);
      const ready = await get(base, '/health/ready');
      expect(ready.status, ready.text).toBe(200);
    });

    it('serves Prometheus metrics with every required family and no oversell', async () => {
      const key = await stocked('metrics', 5);
      await reserve(key, 1);
      const response = await raw(base, 'GET', '/metrics', undefined);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      for (const family of [
        'inventory_reservation_attempts_total',
        'inventory_reservation_duration_seconds',
        'inventory_available_stock',
        'inventory_oversell_incidents_total',
        'ledger_journal_flush_duration_seconds',
        'ledger_journal_batch_size',
        'ledger_shard_queue_depth',
      ]) {
        expect(response.text).toMatch(new RegExp(`^# TYPE ${family} `, 'm'));
      }
      expect(response.text).toMatch(/^inventory_oversell_incidents_total(\{[^}]*\})? 0$/m);
      expect(response.text).toMatch(/^inventory_reservation_attempts_total\{[^}]*result=/m);
      expect(response.text).toMatch(/^inventory_reservation_duration_seconds_bucket\{/m);
      expect(response.text).toMatch(/^ledger_shard_queue_depth\{[^}]*shard=/m);
      expect(response.text).toContain(`product_id="${key.product_id}"`);
    });
  });

  it('changes nothing on bad input and keeps serving', async () => {
    const key = await stocked('bad-batch', 10);
    const held = await reserve(key, 3);
    const confirmedHold = await reserve(key, 1);
    const sold = await post(base, '/v1/confirm', { reservation_id: confirmedHold.reservation_id });
    expect(sold.status, sold.text).toBe(200);
    const before = await readStock(key);
    const reused = { ...key, quantity: 1, idempotency_key: newKey('batch') };
    expect((await post(base, '/v1/reserve', reused)).status).toBe(200);
    const afterGood = await readStock(key);

    const bad: (() => Promise<JsonResponse>)[] = [
      () => post(base, '/v1/reserve', { ...reused, quantity: 2 }),
      () => post(base, '/v1/reserve', { ...key, quantity: 7, idempotency_key: newKey('b') }),
      () => post(base, '/v1/reserve', { ...key, quantity: 0, idempotency_key: newKey('b') }),
      () => post(base, '/v1/reserve', { ...key, quantity: 1, idempotency_key: 'short' }),
      () => post(base, '/v1/stock/adjust', { ...key, delta: -100 }),
      () => post(base, '/v1/stock/adjust', { ...key, delta: 0 }),
      () => post(base, '/v1/stock/adjust', { ...key, delta: 1, reason: 'r'.repeat(20_000) }),
      () => post(base, '/v1/release', { reservation_id: confirmedHold.reservation_id }),
      () => post(base, '/v1/confirm', { reservation_id: unknownReservationId }),
      () => post(base, '/v1/confirm', { reservation_id: 'nope' }),
      () => post(base, '/v1/reserve', `{"product_id":"${key.product_id}"`),
      () => raw(base, 'POST', '/v1/stock/adjust', JSON.stringify({ ...key, delta: 5 })),
      () => request(base, 'DELETE', stockPath(key)),
      () => request(base, 'PUT', '/v1/stock/adjust', { ...key, delta: 5 }),
    ];
    const responses = await Promise.all(bad.map((send) => send()));
    for (const response of responses) {
      expect(response.status, response.text).toBeGreaterThanOrEqual(400);
      expect(response.status, response.text).toBeLessThan(500);
    }
    expect(await readStock(key)).toEqual(afterGood);
    expect(afterGood).toMatchObject({
      on_hand: before.on_hand,
      reserved: (before.reserved as number) + 1,
    });

    const read = await get(base, `/v1/reservations/${held.reservation_id}`);
    expect(read.body).toMatchObject({ status: 'PENDING' });
    expect((await get(base, '/health/ready')).status).toBe(200);
    await reserve(key, 1);
  });
});

describe.runIf(await havePostgres())('a ledger with one-second reservations', () => {
  it('expires a pending reservation on its own and returns its stock', async () => {
    const database = await createDatabase();
    const ledger = await startLedger({
      env: {
        DATABASE_URL: database.url,
        LEDGER_TTL_SECONDS_MIN: '1',
        LEDGER_EXPIRY_SWEEP_MS: '50',
      },
    });
    try {
      const key = { product_id: `expiry-${runTag}`, warehouse_id: 'wh-1' };
      const adjusted = await post(ledger.baseUrl, '/v1/stock/adjust', { ...key, delta: 5 });
      expect(adjusted.status, adjusted.text).toBe(200);
      const held = await post(ledger.baseUrl, '/v1/reserve', {
        ...key,
        quantity: 2,
        idempotency_key: newKey('expiry'),
        ttl_seconds: 1,
      });
      expect(held.status, held.text).toBe(200);
      const lifetimeMs =
        Date.parse(held.body.expires_at as string) - Date.parse(held.body.created_at as string);
      expect(lifetimeMs).toBe(1000);
      const pending = await get(ledger.baseUrl, stockPath(key));
      expect(pending.body).toMatchObject({ on_hand: 5, reserved: 2, available: 3 });

      await sleep(1500);
      // The stock is read before anything names the reservation: expiry needs no request.
      const stock = await get(ledger.baseUrl, stockPath(key));
      expect(stock.body).toMatchObject({ on_hand: 5, reserved: 0, available: 5 });
      const id = held.body.reservation_id as string;
      const read = await get(ledger.baseUrl, `/v1/reservations/${id}`);
      expect(read.status, read.text).toBe(200);
      expect(read.body).toEqual({ ...held.body, status: 'EXPIRED' });
      const confirm = await post(ledger.baseUrl, '/v1/confirm', { reservation_id: id });
      expectError(confirm, 409, 'reservation_expired');
      expect((await get(ledger.baseUrl, stockPath(key))).body).toMatchObject(stock.body);
    } finally {
      await ledger.stop();
      await database.drop();
    }
  });

  it('drains and exits with code 0 on SIGTERM', async () => {
    const database = await createDatabase();
    try {
      const ledger = await startLedger({ env: { DATABASE_URL: database.url } });
      const key = { product_id: `sigterm-${runTag}`, warehouse_id: 'wh-1' };
      const adjusted = await post(ledger.baseUrl, '/v1/stock/adjust', { ...key, delta: 1 });
      expect(adjusted.status, adjusted.text).toBe(200);
      expect(await ledger.stop()).toBe(0);
      await expect(fetch(`${ledger.baseUrl}/health/live`)).rejects.toThrow();
    } finally {
      await database.drop();
    }
  });
});
