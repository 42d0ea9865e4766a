// Proves the typed client against a real ledger (built server, real Postgres): every method
// once, refusals as LedgerError with the right code, and the client's routes and body fields
// checked against the ledger's own GET /openapi.json, so the two cannot drift apart silently.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  LedgerClient,
  LedgerError,
  isIdempotencyKeyReused,
  isInsufficientStock,
  isNotFound,
  isReservationConfirmed,
  isVersionConflict,
  ledgerErrorCodes,
  operations,
  type Operation,
} from '../../client/src/index.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { havePostgres } from '../helpers/services.js';

const runTag = randomBytes(3).toString('hex');
let productCounter = 0;
const newProduct = (tag: string) => `c-${tag}-${runTag}-${(productCounter += 1)}`;
const unknownId = '00000000-0000-4000-8000-000000000000';

/** The rejection of `promise`, which must be a LedgerError. */
async function refusal(promise: Promise<unknown>): Promise<LedgerError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(LedgerError);
  return error as LedgerError;
}

interface OpenApiOperation {
  operationId: string;
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }>;
}
interface JsonSchema {
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: string[];
}

describe.runIf(await havePostgres())('the typed client against a real ledger', () => {
  const fixture = useLedger();
  const client = () => new LedgerClient({ baseUrl: fixture.ledger.baseUrl });

  it('covers only routes the ledger documents, with the fields the ledger documents', async () => {
    const response = await fetch(`${fixture.ledger.baseUrl}/openapi.json`);
    const document = (await response.json()) as {
      paths: Record<string, Record<string, OpenApiOperation>>;
    };
    for (const operation of Object.values(operations) as Operation[]) {
      const documented = document.paths[operation.path]?.[operation.method.toLowerCase()];
      expect(documented?.operationId, `${operation.method} ${operation.path}`).toBe(
        operation.operationId,
      );
      const schema = documented?.requestBody?.content['application/json']?.schema;
      const names = [
        ...Object.keys(schema?.properties ?? {}),
        ...(documented?.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      ];
      // Every field the client may send is documented; every required one the client can send.
      for (const field of operation.fields) expect(names, operation.operationId).toContain(field);
      for (const field of schema?.required ?? []) {
        expect(operation.fields, operation.operationId).toContain(field);
      }
      if (operation.operationId === 'importStock') {
        expect(Object.keys(documented?.requestBody?.content ?? {})).toEqual([
          'application/x-ndjson',
        ]);
      }
    }
  });

  it('knows every error code the ledger documents', async () => {
    const text = await (await fetch(`${fixture.ledger.baseUrl}/openapi.json`)).text();
    const documented = new Set<string>();
    JSON.parse(text, (key: string, value: unknown) => {
      if (key === 'code' && typeof value === 'object' && value !== null && 'enum' in value) {
        for (const code of (value as { enum: string[] }).enum) documented.add(code);
      }
      return value;
    });
    expect(documented.size).toBeGreaterThan(10);
    expect(
      [...documented].filter((code) => !(ledgerErrorCodes as readonly string[]).includes(code)),
    ).toEqual([]);
  });

  it('adjusts, sets, reads, lists and imports stock', async () => {
    const ledger = client();
    const product = newProduct('stock');
    const adjusted = await ledger.adjust({ product_id: product, warehouse_id: 'w1', delta: 10 });
    expect(adjusted).toMatchObject({ on_hand: 10, reserved: 0, available: 10, version: 1 });
    const set = await ledger.setStock({
      product_id: product,
      warehouse_id: 'w1',
      on_hand: 7,
      expected_version: 1,
      reference: 'take-1',
    });
    expect(set).toMatchObject({ on_hand: 7, version: 2, reference: 'take-1' });
    expect(await ledger.getStock(product, 'w1')).toMatchObject({ on_hand: 7, version: 2 });
    const imported = await ledger.importStock([
      {
        op: 'adjust',
        product_id: product,
        warehouse_id: 'w2',
        delta: 3,
        idempotency_key: `imp-${product}`,
      },
      { op: 'set', product_id: product, warehouse_id: 'w3', on_hand: 4 },
    ]);
    expect(imported).toMatchObject({ applied: 2, failed: 0 });
    expect(imported.results.map((result) => result.stock?.on_hand)).toEqual([3, 4]);
    const page = await ledger.listStock({ product_id: product, limit: 2 });
    expect(page.items.map((item) => item.warehouse_id)).toEqual(['w1', 'w2']);
    expect(page.next).not.toBeNull();
    const all = [];
    for await (const item of ledger.listAllStock({ product_id: product, limit: 1 })) all.push(item);
    expect(all.map((item) => item.warehouse_id)).toEqual(['w1', 'w2', 'w3']);
    expect(await ledger.getProductStock(product)).toMatchObject({ on_hand: 14, available: 14 });
    const newest = await ledger.movements(product, 'w1', { limit: 1 });
    expect(newest.movements).toMatchObject([{ version: 2, type: 'set', quantity: -3, on_hand: 7 }]);
    const older = await ledger.movements(product, 'w1', { before: newest.next ?? '' });
    expect(older).toMatchObject({ movements: [{ version: 1, type: 'adjust' }], next: null });
  });

  it('reserves, extends, confirms, releases and reads reservations', async () => {
    const ledger = client();
    const product = newProduct('hold');
    await ledger.adjust({ product_id: product, warehouse_id: 'w1', delta: 10 });
    const key = { product_id: product, warehouse_id: 'w1' };
    const first = await ledger.reserve({ ...key, quantity: 3, buyer_id: 'buyer-1' });
    expect(first).toMatchObject({ status: 'PENDING', quantity: 3, buyer_id: 'buyer-1' });
    const extended = await ledger.extend({
      reservation_id: first.reservation_id,
      ttl_seconds: 120,
    });
    expect(Date.parse(extended.expires_at) - Date.now()).toBeLessThanOrEqual(121_000);
    const confirmed = await ledger.confirm({ reservation_id: first.reservation_id, quantity: 2 });
    expect(confirmed).toMatchObject({ status: 'CONFIRMED', confirmed_quantity: 2 });
    const second = await ledger.reserve({ ...key, quantity: 1 });
    expect((await ledger.release({ reservation_id: second.reservation_id })).status).toBe(
      'RELEASED',
    );
    expect(await ledger.getReservation(first.reservation_id)).toMatchObject({
      status: 'CONFIRMED',
    });
    expect(await ledger.getStock(product, 'w1')).toMatchObject({ on_hand: 8, reserved: 0 });
  });

  it('reuses a caller-given idempotency key as the same operation', async () => {
    const ledger = client();
    const product = newProduct('key');
    await ledger.adjust({ product_id: product, warehouse_id: 'w1', delta: 5 });
    const idempotencyKey = ledger.newIdempotencyKey();
    expect(idempotencyKey.length).toBeGreaterThanOrEqual(16);
    const request = { product_id: product, warehouse_id: 'w1', quantity: 2 };
    const first = await ledger.reserve(request, { idempotencyKey });
    const again = await ledger.reserve(request, { idempotencyKey });
    expect(again.reservation_id).toBe(first.reservation_id);
    expect((await ledger.getStock(product, 'w1')).reserved).toBe(2);
    const reused = await refusal(ledger.reserve({ ...request, quantity: 1 }, { idempotencyKey }));
    expect(isIdempotencyKeyReused(reused)).toBe(true);
    expect(reused.status).toBe(422);
  });

  it('places, reads, extends, confirms and releases carts', async () => {
    const ledger = client();
    const [first, second] = [newProduct('cart'), newProduct('cart')] as [string, string];
    await ledger.adjust({ product_id: first, warehouse_id: 'w1', delta: 5 });
    await ledger.adjust({ product_id: second, warehouse_id: 'w2', delta: 5 });
    const lines = [
      { product_id: first, warehouse_id: 'w1', quantity: 2 },
      { product_id: second, quantity: 1 },
    ];
    const cart = await ledger.placeCart({ lines, reference: 'order-1' });
    expect(cart.holds.map((hold) => [hold.warehouse_id, hold.status])).toEqual([
      ['w1', 'PENDING'],
      ['w2', 'PENDING'],
    ]);
    expect((await ledger.getCart(cart.cart_id)).reference).toBe('order-1');
    expect((await ledger.extendCart(cart.cart_id, { ttl_seconds: 300 })).status).toBe('PENDING');
    const confirmed = await ledger.confirmCart(cart.cart_id);
    expect(confirmed.holds.every((hold) => hold.status === 'CONFIRMED')).toBe(true);
    const other = await ledger.placeCart({ lines: [{ product_id: first, quantity: 1 }] });
    const released = await ledger.releaseCart(other.cart_id);
    expect(released.holds.map((hold) => hold.status)).toEqual(['RELEASED']);
    expect(await ledger.getProductStock(first)).toMatchObject({ on_hand: 3, reserved: 0 });
  });

  it('reads and changes product settings, snapshots and reports readiness', async () => {
    const ledger = client();
    const product = newProduct('settings');
    await ledger.adjust({ product_id: product, warehouse_id: 'w1', delta: 1 });
    const changed = await ledger.putSettings(product, { max_per_buyer: 4 });
    expect(changed).toMatchObject({ max_per_buyer: 4, limit_window_seconds: 86_400 });
    expect(await ledger.getSettings(product)).toEqual(changed);
    expect(typeof (await ledger.snapshot()).partitions).toBe('number');
    expect(await ledger.ready()).toMatchObject({ status: 'ready' });
  });

  it('turns refusals into LedgerError with the code, status, message and details', async () => {
    const ledger = client();
    const product = newProduct('refused');
    await ledger.adjust({ product_id: product, warehouse_id: 'w1', delta: 2 });
    const short = await refusal(
      ledger.reserve({ product_id: product, warehouse_id: 'w1', quantity: 3 }),
    );
    expect(isInsufficientStock(short)).toBe(true);
    expect(short).toMatchObject({ status: 409, code: 'insufficient_stock', attempts: 1 });
    expect(short.details).toMatchObject({ available: 2 });
    expect(short.message.length).toBeGreaterThan(0);
    expect(short.traceId).toBeTruthy();
    const missing = await refusal(ledger.getReservation(unknownId));
    expect(isNotFound(missing)).toBe(true);
    const conflict = await refusal(
      ledger.setStock({ product_id: product, warehouse_id: 'w1', on_hand: 1, expected_version: 9 }),
    );
    expect(isVersionConflict(conflict)).toBe(true);
    expect(conflict.details).toMatchObject({ version: 1 });
    const hold = await ledger.reserve({ product_id: product, warehouse_id: 'w1', quantity: 1 });
    await ledger.confirm({ reservation_id: hold.reservation_id });
    const late = await refusal(ledger.release({ reservation_id: hold.reservation_id }));
    expect(isReservationConfirmed(late)).toBe(true);
    const invalid = await refusal(
      ledger.reserve({ product_id: 'bad id!', warehouse_id: 'w1', quantity: 1 }),
    );
    expect(invalid).toMatchObject({ status: 422, code: 'validation_failed' });
    expect(invalid.details).toMatchObject({ field: 'product_id' });
  });
});
