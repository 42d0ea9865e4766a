// Proves lots over a real server: adjusts naming lots (made on first use, dates fixed), the stock
// view's lots in FEFO order, holds taking units FEFO with their lots in the body, confirm and
// release by lot, carts' holds by lot, negative adjusts and sets by lot, transfers carrying lots,
// every bad input a 4xx that changes nothing,
// and all of it the same after kill -9 (the last test kills the ledger).
import { randomBytes } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { expectError, expectValidation } from '../helpers/expect-http.js';
import { get, newKey, post } from '../helpers/http.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { startLedger } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { freshProductIds } from '../helpers/stock-keys.js';

const newProduct = freshProductIds(randomBytes(3).toString('hex'));

/** The UTC date `days` from today, YYYY-MM-DD. */
const dayFromNow = (days: number): string =>
  new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

describe.runIf(await havePostgres())('lots and FEFO over HTTP', () => {
  const fixture = useLedger();
  const base = () => fixture.ledger.baseUrl;
  const stockOf = async (key: { product_id: string; warehouse_id: string }) => {
    const response = await get(base(), `/v1/stock/${key.product_id}/${key.warehouse_id}`);
    return response.status === 200 ? response.body : response.status;
  };
  const early = dayFromNow(5);
  const late = dayFromNow(10);

  /** 2 unnamed units, then lots L (late), E (early), D (no date). */
  async function stockedKey(name: string) {
    const key = { product_id: newProduct(name), warehouse_id: 'w1' };
    expect((await post(base(), '/v1/stock/adjust', { ...key, delta: 2 })).status).toBe(200);
    for (const [lot, delta] of [
      [{ lot_id: 'L', expires_on: late }, 4],
      [{ lot_id: 'E', expires_on: early }, 3],
      [{ lot_id: 'D' }, 1],
    ] as const) {
      const made = await post(base(), '/v1/stock/adjust', { ...key, delta, lot });
      expect(made.status, made.text).toBe(200);
    }
    return key;
  }

  it('shows the lots of a key in FEFO order; keys without lots show none', async () => {
    const key = await stockedKey('view');
    const view = (await stockOf(key)) as { lots: { received_at: string }[] };
    expect(view).toMatchObject({ on_hand: 10, reserved: 0, available: 10, version: 4 });
    expect(view.lots.map(({ received_at: _, ...lot }) => lot)).toEqual([
      { lot_id: 'E', on_hand: 3, reserved: 0, expires_on: early },
      { lot_id: 'L', on_hand: 4, reserved: 0, expires_on: late },
      { lot_id: '', on_hand: 2, reserved: 0 },
      { lot_id: 'D', on_hand: 1, reserved: 0 },
    ]);
    expect(Number.isNaN(Date.parse(view.lots[0]?.received_at ?? ''))).toBe(false);
    const plain = { product_id: newProduct('plain'), warehouse_id: 'w1' };
    const adjusted = await post(base(), '/v1/stock/adjust', { ...plain, delta: 3 });
    expect(adjusted.body).not.toHaveProperty('lots');
    expect(await stockOf(plain)).not.toHaveProperty('lots');
  });

  it('lists lots in stock pages and takes them from import lines', async () => {
    const key = await stockedKey('list');
    const lines = [
      { op: 'adjust', ...key, delta: 2, lot: { lot_id: 'I', expires_on: late } },
      { op: 'adjust', ...key, delta: 1, lot: { lot_id: 'E', expires_on: late } },
    ];
    const response = await fetch(`${base()}/v1/stock/import`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: lines.map((line) => JSON.stringify(line)).join('\n'),
    });
    const imported = (await response.json()) as { results: { status: number; error?: unknown }[] };
    expect(imported.results.map((result) => result.status)).toEqual([200, 422]);
    const page = await get(base(), `/v1/stock?product_id=${key.product_id}`);
    const items = (page.body as { items: { lots: { lot_id: string; on_hand: number }[] }[] }).items;
    expect(items[0]?.lots.map((lot) => [lot.lot_id, lot.on_hand])).toEqual([
      ['E', 3],
      ['L', 4],
      ['I', 2],
      ['', 2],
      ['D', 1],
    ]);
  });

  it('holds FEFO with lots in the body; confirm sells those units, release gives them back', async () => {
    const key = await stockedKey('hold');
    const reserve = (quantity: number) =>
      post(base(), '/v1/reserve', { ...key, quantity, idempotency_key: newKey('lots') });
    const first = await reserve(5);
    expect(first.status, first.text).toBe(200);
    expect(first.body.lots).toEqual([
      { lot_id: 'E', quantity: 3, expires_on: early },
      { lot_id: 'L', quantity: 2, expires_on: late },
    ]);
    const id = first.body.reservation_id as string;
    const read = await get(base(), `/v1/reservations/${id}`);
    expect(read.body.lots).toEqual(first.body.lots);
    const second = await reserve(3);
    expect(second.body.lots).toEqual([
      { lot_id: 'L', quantity: 2, expires_on: late },
      { lot_id: '', quantity: 1 },
    ]);
    // A partial confirm sells FEFO within the hold (E's 3, L's 1) and returns the rest.
    const sold = await post(base(), '/v1/confirm', { reservation_id: id, quantity: 4 });
    expect(sold.body).toMatchObject({ status: 'CONFIRMED', confirmed_quantity: 4 });
    expect(sold.body.lots).toEqual(first.body.lots);
    await post(base(), '/v1/release', { reservation_id: second.body.reservation_id });
    const lots = ((await stockOf(key)) as { lots: Record<string, unknown>[] }).lots;
    expect(lots.map((lot) => [lot.lot_id, lot.on_hand, lot.reserved])).toEqual([
      ['L', 3, 0],
      ['', 2, 0],
      ['D', 1, 0],
    ]);
  });

  it('takes units out by lot or FEFO, and sets the unnamed lot only', async () => {
    const key = await stockedKey('take');
    const hold = { ...key, quantity: 2, idempotency_key: newKey('take') };
    expect((await post(base(), '/v1/reserve', hold)).status).toBe(200);
    const short = await post(base(), '/v1/stock/adjust', {
      ...key,
      delta: -2,
      lot: { lot_id: 'E' },
    });
    expectError(short, 409, 'insufficient_stock');
    expect(short.body).toMatchObject({ error: { details: { available: 1 } } });
    const named = await post(base(), '/v1/stock/adjust', {
      ...key,
      delta: -1,
      lot: { lot_id: 'E' },
    });
    expect(named.body).toMatchObject({ on_hand: 9, reserved: 2 });
    const fefo = await post(base(), '/v1/stock/adjust', { ...key, delta: -3 });
    expect(fefo.body).toMatchObject({ on_hand: 6 });
    const setShort = await post(base(), '/v1/stock/set', { ...key, on_hand: 3 });
    expectError(setShort, 409, 'insufficient_stock');
    const set = await post(base(), '/v1/stock/set', { ...key, on_hand: 8 });
    expect(set.status, set.text).toBe(200);
    const lots = (set.body as { lots: Record<string, unknown>[] }).lots;
    expect(lots.map((lot) => [lot.lot_id, lot.on_hand, lot.reserved])).toEqual([
      ['E', 2, 2],
      ['L', 1, 0],
      ['', 4, 0],
      ['D', 1, 0],
    ]);
  });

  it('moves lots with transfers: direct ones arrive in their lots, cancelled ones go back', async () => {
    const key = await stockedKey('move');
    const transfer = (quantity: number, inTransit: boolean) =>
      post(base(), '/v1/transfers', {
        product_id: key.product_id,
        from_warehouse_id: 'w1',
        to_warehouse_id: 'w2',
        quantity,
        in_transit: inTransit,
        idempotency_key: newKey('move'),
      });
    const direct = await transfer(4, false);
    expect(direct.status, direct.text).toBe(200);
    expect(direct.body.lots).toEqual([
      { lot_id: 'E', quantity: 3, expires_on: early },
      { lot_id: 'L', quantity: 1, expires_on: late },
    ]);
    const to = direct.body.to as { lots: Record<string, unknown>[] };
    expect(to.lots.map((lot) => [lot.lot_id, lot.on_hand, lot.expires_on])).toEqual([
      ['E', 3, early],
      ['L', 1, late],
    ]);
    const shipped = await transfer(2, true);
    expect(shipped.body.lots).toEqual([{ lot_id: 'L', quantity: 2, expires_on: late }]);
    const id = shipped.body.transfer_id as string;
    const cancelled = await post(base(), `/v1/transfers/${id}/cancel`, {});
    expect(cancelled.body).toMatchObject({ status: 'CANCELLED', lots: shipped.body.lots });
    const from = (await stockOf(key)) as { on_hand: number; lots: Record<string, unknown>[] };
    expect(from.on_hand).toBe(6);
    expect(from.lots.map((lot) => [lot.lot_id, lot.on_hand])).toEqual([
      ['L', 3],
      ['', 2],
      ['D', 1],
    ]);
  });

  it('answers with bodies the OpenAPI document describes, lots included', async () => {
    const key = await stockedKey('openapi');
    const document = (await get(base(), '/openapi.json')).body as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
    };
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    formats.default(ajv);
    const schemaOf = (path: string, method: string) => {
      const response = document.paths[path]?.[method]?.responses['200'] as {
        content: { 'application/json': { schema: Record<string, unknown> } };
      };
      // Every property documented: a field the document does not name fails the check.
      return ajv.compile(closed(response.content['application/json'].schema));
    };
    const stock = schemaOf('/v1/stock/{product_id}/{warehouse_id}', 'get');
    const reservation = schemaOf('/v1/reserve', 'post');
    const transfer = schemaOf('/v1/transfers', 'post');
    const view = await get(base(), `/v1/stock/${key.product_id}/${key.warehouse_id}`);
    expect(stock(view.body), JSON.stringify(stock.errors)).toBe(true);
    const hold = await post(base(), '/v1/reserve', {
      ...key,
      quantity: 4,
      idempotency_key: newKey('oa'),
    });
    expect(hold.body.lots).toBeDefined();
    expect(reservation(hold.body), JSON.stringify(reservation.errors)).toBe(true);
    const moved = await post(base(), '/v1/transfers', {
      product_id: key.product_id,
      from_warehouse_id: 'w1',
      to_warehouse_id: 'w9',
      quantity: 2,
      idempotency_key: newKey('oa-transfer'),
    });
    expect(moved.body.lots).toBeDefined();
    expect(transfer(moved.body), JSON.stringify(transfer.errors)).toBe(true);
  });

  it('answers bad lots with a 4xx and changes nothing', async () => {
    const key = await stockedKey('bad');
    const before = await stockOf(key);
    const adjust = (lot: unknown, delta = 1) =>
      post(base(), '/v1/stock/adjust', { ...key, delta, lot });
    const cases: [unknown, string][] = [
      [{ lot_id: 'a/b' }, 'lot.lot_id'],
      [{ lot_id: '' }, 'lot.lot_id'],
      [{ lot_id: 'x'.repeat(65) }, 'lot.lot_id'],
      [{}, 'lot.lot_id'],
      [{ lot_id: 'N', expires_on: '2026-02-30' }, 'lot.expires_on'],
      [{ lot_id: 'N', expires_on: 'tomorrow' }, 'lot.expires_on'],
      // A date already past, and a date that would change.
      [{ lot_id: 'N', expires_on: dayFromNow(-2) }, 'lot.expires_on'],
      [{ lot_id: 'E', expires_on: late }, 'lot.expires_on'],
      [{ lot_id: 'D', expires_on: late }, 'lot.expires_on'],
    ];
    for (const [lot, field] of cases) expectValidation(await adjust(lot), field);
    expectError(await adjust({ lot_id: 'nope' }, -1), 409, 'insufficient_stock');
    expect(await stockOf(key)).toEqual(before);
  });

  it('keeps lots, holds by lot and keyed adjusts through kill -9', async () => {
    const key = await stockedKey('crash');
    const hold = { ...key, quantity: 4, idempotency_key: newKey('crash') };
    const held = await post(base(), '/v1/reserve', hold);
    const keyed = {
      ...key,
      delta: 2,
      lot: { lot_id: 'L' },
      idempotency_key: newKey('crash-adjust'),
    };
    const adjusted = await post(base(), '/v1/stock/adjust', keyed);
    expect(adjusted.status).toBe(200);
    // A cart's hold takes lots FEFO too, and its body lists them.
    const cart = await post(base(), '/v1/carts', {
      idempotency_key: newKey('crash-cart'),
      lines: [{ ...key, quantity: 2 }],
    });
    expect(cart.status, cart.text).toBe(200);
    const cartHolds = (cart.body as { holds: { lots: unknown }[] }).holds;
    expect(cartHolds[0]?.lots).toEqual([{ lot_id: 'L', quantity: 2, expires_on: late }]);
    const cartPath = `/v1/carts/${cart.body.cart_id as string}`;
    await post(base(), `${cartPath}/release`, {});
    const before = await stockOf(key);
    await fixture.ledger.kill();
    const restarted = await startLedger({ env: { DATABASE_URL: fixture.database.url } });
    try {
      const path = `/v1/stock/${key.product_id}/${key.warehouse_id}`;
      expect((await get(restarted.baseUrl, path)).body).toEqual(before);
      const replay = await post(restarted.baseUrl, '/v1/stock/adjust', keyed);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      const other = { ...keyed, lot: { lot_id: 'E' } };
      expectError(
        await post(restarted.baseUrl, '/v1/stock/adjust', other),
        422,
        'idempotency_key_reused',
      );
      const cartAgain = (await get(restarted.baseUrl, cartPath)).body as {
        holds: { lots: unknown; status: string }[];
      };
      expect(cartAgain.holds[0]).toMatchObject({ status: 'RELEASED', lots: cartHolds[0]?.lots });
      const again = await post(restarted.baseUrl, '/v1/reserve', hold);
      expect(again.body.lots).toEqual(held.body.lots);
      const id = held.body.reservation_id as string;
      const confirmed = await post(restarted.baseUrl, '/v1/confirm', { reservation_id: id });
      expect(confirmed.body).toMatchObject({ status: 'CONFIRMED', lots: held.body.lots });
      const after = (await get(restarted.baseUrl, path)).body as {
        lots: Record<string, unknown>[];
      };
      expect(after.lots.map((lot) => [lot.lot_id, lot.on_hand, lot.reserved])).toEqual([
        ['L', 5, 0],
        ['', 2, 0],
        ['D', 1, 0],
      ]);
    } finally {
      await restarted.stop();
    }
  });
});

/** The schema with every object closed to the properties it names. */
function closed(schema: unknown): Record<string, unknown> {
  if (Array.isArray(schema)) return schema.map(closed) as unknown as Record<string, unknown>;
  if (typeof schema !== 'object' || schema === null) return schema as Record<string, unknown>;
  const copy: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(schema)) {
    copy[name] = name === 'properties' ? mapValues(value, closed) : closed(value);
  }
  if ('properties' in copy) copy.additionalProperties = false;
  return copy;
}

function mapValues(value: unknown, each: (item: unknown) => unknown): Record<string, unknown> {
  const mapped: Record<string, unknown> = {};
  for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
    mapped[name] = each(item);
  }
  return mapped;
}
