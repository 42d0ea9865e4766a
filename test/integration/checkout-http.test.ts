// Proves v1.1 reserve, confirm, extend, product settings and product stock over a real server.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { expectError, expectValidation } from '../helpers/expect-http.js';
import { freshProductIds } from '../helpers/stock-keys.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { get, newKey, post, request, type JsonResponse } from '../helpers/http.js';
import { loggedLine, sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

const runTag = randomBytes(3).toString('hex');
const unknownReservationId = '00000000-0000-4000-8000-000000000000';
const defaultSettings = {
  max_per_buyer: null,
  limit_window_seconds: 86_400,
  warehouse_priority: null,
  low_stock_threshold: null,
};
const newProduct = freshProductIds(runTag);

interface StockKey {
  readonly product_id: string;
  readonly warehouse_id: string;
}

/** The requests the tests make again and again, each checking its own answer. */
function checkoutClient(base: () => string) {
  return {
    async stocked(tag: string, onHand: number, warehouse = 'w1'): Promise<StockKey> {
      const key = { product_id: newProduct(tag), warehouse_id: warehouse };
      const response = await post(base(), '/v1/stock/adjust', { ...key, delta: onHand });
      expect(response.status, response.text).toBe(200);
      return key;
    },
    async reserve(key: StockKey, quantity: number, extra: Record<string, unknown> = {}) {
      const body = { ...key, quantity, idempotency_key: newKey('co'), ...extra };
      const response = await post(base(), '/v1/reserve', body);
      expect(response.status, response.text).toBe(200);
      return response.body as Record<string, unknown> & { reservation_id: string };
    },
    async stock(key: StockKey): Promise<Record<string, unknown>> {
      const response = await get(base(), `/v1/stock/${key.product_id}/${key.warehouse_id}`);
      expect(response.status, response.text).toBe(200);
      return response.body;
    },
    settings(productId: string, body: unknown): Promise<JsonResponse> {
      return request(base(), 'PUT', `/v1/products/${productId}/settings`, body);
    },
  };
}

describe.runIf(await havePostgres())('v1.1 checkout over HTTP', () => {
  const fixture = useLedger();
  const base = () => fixture.ledger.baseUrl;
  const client = checkoutClient(base);

  describe('buyer_id and reference', () => {
    it('echoes them in every body of the hold, and leaves them out when not sent', async () => {
      const key = await client.stocked('echo', 10);
      const held = await client.reserve(key, 2, { buyer_id: 'b.1:x@y-z_', reference: 'Order #7' });
      expect(held).toMatchObject({ buyer_id: 'b.1:x@y-z_', reference: 'Order #7' });
      expect(held).not.toHaveProperty('cart_id');
      const read = await get(base(), `/v1/reservations/${held.reservation_id}`);
      expect(read.body).toEqual(held);
      const released = await post(base(), '/v1/release', { reservation_id: held.reservation_id });
      expect(released.body).toEqual({ ...held, status: 'RELEASED' });

      const plain = await client.reserve(key, 1);
      expect(Object.keys(plain).sort()).toEqual(
        [
          'created_at',
          'expires_at',
          'product_id',
          'quantity',
          'reservation_id',
          'status',
          'warehouse_id',
        ].sort(),
      );
    });

    it('replays a reserve only with the same buyer_id and reference', async () => {
      const key = await client.stocked('echo-replay', 10);
      const body = { ...key, quantity: 1, idempotency_key: newKey('r'), buyer_id: 'b1' };
      const first = await post(base(), '/v1/reserve', body);
      expect(first.status, first.text).toBe(200);
      const again = await post(base(), '/v1/reserve', body);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(first.body);
      for (const other of [{ buyer_id: 'b2' }, { reference: 'r' }, { buyer_id: undefined }]) {
        const reused = await post(base(), '/v1/reserve', { ...body, ...other });
        expectError(reused, 422, 'idempotency_key_reused');
      }
      expect(await client.stock(key)).toMatchObject({ reserved: 1 });
    });
  });

  describe('purchase limits', () => {
    it('refuses a buyer past max_per_buyer; confirmed units count, released ones do not', async () => {
      const key = await client.stocked('limit', 100);
      const other = { ...key, warehouse_id: 'w2' };
      expect((await post(base(), '/v1/stock/adjust', { ...other, delta: 100 })).status).toBe(200);
      expect((await client.settings(key.product_id, { max_per_buyer: 5 })).status).toBe(200);
      const buyer = { buyer_id: 'limited-buyer' };
      const first = await client.reserve(key, 3, buyer);
      const over = await post(base(), '/v1/reserve', {
        ...other,
        quantity: 3,
        idempotency_key: newKey('over'),
        ...buyer,
      });
      expectError(over, 409, 'purchase_limit_exceeded');
      expect(over.body).toMatchObject({ error: { details: { limit: 5, held: 3 } } });
      // A partial sale counts its sold units only: 1 held now, so 4 more fit.
      const sold = await post(base(), '/v1/confirm', {
        reservation_id: first.reservation_id,
        quantity: 1,
      });
      expect(sold.status, sold.text).toBe(200);
      const second = await client.reserve(other, 4, buyer);
      const full = await post(base(), '/v1/reserve', {
        ...key,
        quantity: 1,
        idempotency_key: newKey('full'),
        ...buyer,
      });
      expect(full.body).toMatchObject({ error: { details: { limit: 5, held: 5 } } });
      await post(base(), '/v1/release', { reservation_id: second.reservation_id });
      await client.reserve(key, 4, buyer);
      // Another buyer, and a request without a buyer, are not limited by this buyer's holds.
      await client.reserve(key, 5, { buyer_id: 'someone-else' });
      await client.reserve(key, 50);
    });

    it('checks the limit before stock, and per product over all lines of a cart', async () => {
      const key = await client.stocked('limit-first', 2);
      expect((await client.settings(key.product_id, { max_per_buyer: 3 })).status).toBe(200);
      const both = await post(base(), '/v1/reserve', {
        ...key,
        quantity: 4,
        idempotency_key: newKey('both'),
        buyer_id: 'b',
      });
      expectError(both, 409, 'purchase_limit_exceeded');
      const cart = await post(base(), '/v1/carts', {
        idempotency_key: newKey('limit-cart'),
        buyer_id: 'b',
        lines: [
          { product_id: key.product_id, warehouse_id: 'w1', quantity: 1 },
          { product_id: key.product_id, quantity: 3 },
        ],
      });
      expectError(cart, 409, 'purchase_limit_exceeded');
      expect((cart.body.error as Record<string, unknown>).details).toEqual({
        lines: [{ index: 0, product_id: key.product_id, requested: 4, limit: 3, held: 0 }],
      });
      expect(await client.stock(key)).toMatchObject({ on_hand: 2, reserved: 0 });
    });
  });

  describe('POST /v1/confirm with quantity', () => {
    it('sells fewer units than held, returns the rest, and replays the first answer', async () => {
      const key = await client.stocked('partial', 10);
      const held = await client.reserve(key, 5);
      const before = await client.stock(key);
      const response = await post(base(), '/v1/confirm', {
        reservation_id: held.reservation_id,
        quantity: 2,
      });
      expect(response.status, response.text).toBe(200);
      expect(response.body).toEqual({
        ...held,
        status: 'CONFIRMED',
        quantity: 5,
        confirmed_quantity: 2,
      });
      expect(await client.stock(key)).toMatchObject({
        on_hand: (before.on_hand as number) - 2,
        reserved: (before.reserved as number) - 5,
        available: 8,
      });
      for (const quantity of [4, undefined, 5]) {
        const again = await post(base(), '/v1/confirm', {
          reservation_id: held.reservation_id,
          quantity,
        });
        expect(again.status, again.text).toBe(200);
        expect(again.headers.get('idempotent-replayed')).toBe('true');
        expect(again.body).toEqual(response.body);
      }
      expect(await client.stock(key)).toMatchObject({ on_hand: 8, reserved: 0 });
    });

    it('reports confirmed_quantity equal to quantity on a full sale', async () => {
      const key = await client.stocked('full-sale', 10);
      const held = await client.reserve(key, 3);
      const sold = await post(base(), '/v1/confirm', { reservation_id: held.reservation_id });
      expect(sold.body).toEqual({ ...held, status: 'CONFIRMED', confirmed_quantity: 3 });
    });

    it('refuses a quantity above the held one or out of range, changing nothing', async () => {
      const key = await client.stocked('partial-bad', 10);
      const held = await client.reserve(key, 3);
      const before = await client.stock(key);
      for (const quantity of [4, 0, -1, 1.5, '2', 1001]) {
        const response = await post(base(), '/v1/confirm', {
          reservation_id: held.reservation_id,
          quantity,
        });
        expectValidation(response, 'quantity');
      }
      expect(await client.stock(key)).toEqual(before);
      const read = await get(base(), `/v1/reservations/${held.reservation_id}`);
      expect(read.body).toMatchObject({ status: 'PENDING' });
    });
  });

  describe('POST /v1/extend', () => {
    it('moves expires_at of a pending hold to now + ttl_seconds without a new version', async () => {
      const key = await client.stocked('extend', 10);
      const held = await client.reserve(key, 1, { ttl_seconds: 60 });
      const before = await client.stock(key);
      const sentMs = Date.now();
      const response = await post(base(), '/v1/extend', {
        reservation_id: held.reservation_id,
        ttl_seconds: 3600,
      });
      expect(response.status, response.text).toBe(200);
      const expiresMs = Date.parse(response.body.expires_at as string);
      expect(expiresMs).toBeGreaterThanOrEqual(sentMs + 3_600_000 - 1000);
      expect(expiresMs).toBeLessThanOrEqual(Date.now() + 3_600_000 + 1000);
      expect(response.body).toEqual({ ...held, expires_at: response.body.expires_at });
      expect(await client.stock(key)).toEqual(before);
      const read = await get(base(), `/v1/reservations/${held.reservation_id}`);
      expect(read.body).toEqual(response.body);
    });

    it('answers 409 reservation_not_pending with the status, 404 and 422 as due', async () => {
      const key = await client.stocked('extend-409', 10);
      const released = await client.reserve(key, 1);
      await post(base(), '/v1/release', { reservation_id: released.reservation_id });
      const confirmed = await client.reserve(key, 1);
      await post(base(), '/v1/confirm', { reservation_id: confirmed.reservation_id });
      for (const [held, status] of [
        [released, 'RELEASED'],
        [confirmed, 'CONFIRMED'],
      ] as const) {
        const response = await post(base(), '/v1/extend', {
          reservation_id: held.reservation_id,
          ttl_seconds: 600,
        });
        expectError(response, 409, 'reservation_not_pending');
        expect(response.body).toMatchObject({ error: { details: { status } } });
      }
      const unknown = { reservation_id: unknownReservationId, ttl_seconds: 600 };
      expectError(await post(base(), '/v1/extend', unknown), 404, 'not_found');
      const pending = await client.reserve(key, 1);
      const before = await get(base(), `/v1/reservations/${pending.reservation_id}`);
      for (const ttl of [59, 3601, undefined, '600', 1.5]) {
        const body = { reservation_id: pending.reservation_id, ttl_seconds: ttl };
        expectValidation(await post(base(), '/v1/extend', body), 'ttl_seconds');
      }
      expectValidation(
        await post(base(), '/v1/extend', { reservation_id: 'x', ttl_seconds: 600 }),
        'reservation_id',
      );
      expect((await get(base(), `/v1/reservations/${pending.reservation_id}`)).body).toEqual(
        before.body,
      );
    });
  });

  describe('product settings', () => {
    it('answers the defaults for a product never configured', async () => {
      const response = await get(base(), `/v1/products/${newProduct('never')}/settings`);
      expect(response.status, response.text).toBe(200);
      expect(response.body).toEqual(defaultSettings);
    });

    it('merges a PUT: left out keeps, null clears, the window goes back to its default', async () => {
      const product = newProduct('settings');
      const steps: [Record<string, unknown>, Record<string, unknown>][] = [
        [{ max_per_buyer: 10 }, { ...defaultSettings, max_per_buyer: 10 }],
        [
          { low_stock_threshold: 0, limit_window_seconds: 60 },
          {
            ...defaultSettings,
            max_per_buyer: 10,
            low_stock_threshold: 0,
            limit_window_seconds: 60,
          },
        ],
        [
          { warehouse_priority: ['w2', 'w1'], max_per_buyer: null },
          {
            ...defaultSettings,
            low_stock_threshold: 0,
            limit_window_seconds: 60,
            warehouse_priority: ['w2', 'w1'],
          },
        ],
        [
          {},
          {
            ...defaultSettings,
            low_stock_threshold: 0,
            limit_window_seconds: 60,
            warehouse_priority: ['w2', 'w1'],
          },
        ],
        [
          { limit_window_seconds: null, warehouse_priority: null, unknown_field: 1 },
          { ...defaultSettings, low_stock_threshold: 0 },
        ],
        [
          { low_stock_threshold: null, max_per_buyer: 1_000_000 },
          { ...defaultSettings, max_per_buyer: 1_000_000 },
        ],
      ];
      for (const [body, expected] of steps) {
        const response = await client.settings(product, body);
        expect(response.status, `${JSON.stringify(body)}: ${response.text}`).toBe(200);
        expect(response.body).toEqual(expected);
        expect((await get(base(), `/v1/products/${product}/settings`)).body).toEqual(expected);
      }
    });

    it('refuses bad settings with 422 naming the field, changing nothing', async () => {
      const product = newProduct('settings-bad');
      expect((await client.settings(product, { max_per_buyer: 7 })).status).toBe(200);
      const cases: [Record<string, unknown>, string][] = [
        [{ max_per_buyer: 0 }, 'max_per_buyer'],
        [{ max_per_buyer: 1_000_001 }, 'max_per_buyer'],
        [{ max_per_buyer: '5' }, 'max_per_buyer'],
        [{ limit_window_seconds: 59 }, 'limit_window_seconds'],
        [{ limit_window_seconds: 2_592_001 }, 'limit_window_seconds'],
        [{ warehouse_priority: ['w1', 'w1'] }, 'warehouse_priority'],
        [{ warehouse_priority: ['w/1'] }, 'warehouse_priority'],
        [{ warehouse_priority: 'w1' }, 'warehouse_priority'],
        [
          { warehouse_priority: Array.from({ length: 33 }, (_, i) => `w${i}`) },
          'warehouse_priority',
        ],
        [{ low_stock_threshold: -1 }, 'low_stock_threshold'],
        [{ low_stock_threshold: 0.5 }, 'low_stock_threshold'],
        [{ max_per_buyer: 3, low_stock_threshold: -1 }, 'low_stock_threshold'],
      ];
      for (const [body, field] of cases) {
        expectValidation(await client.settings(product, body), field);
      }
      const fine = Array.from({ length: 32 }, (_, i) => `w${i}`);
      expect((await client.settings(product, { warehouse_priority: fine })).status).toBe(200);
      expect((await get(base(), `/v1/products/${product}/settings`)).body).toEqual({
        ...defaultSettings,
        max_per_buyer: 7,
        warehouse_priority: fine,
      });
      expectValidation(await client.settings('bad%20id', {}), 'product_id');
      expectError(await client.settings(product, '[]'), 400, 'malformed_json');
      expectError(await get(base(), '/v1/products/bad%20id/settings'), 404, 'not_found');
    });
  });

  describe('GET /v1/products/:product_id/stock', () => {
    it('sums over the stock keys and lists them in warehouse_id order, incoming 0', async () => {
      const key = await client.stocked('product-stock', 10, 'w-b');
      await post(base(), '/v1/stock/adjust', { ...key, warehouse_id: 'w-a', delta: 4 });
      await post(base(), '/v1/stock/adjust', { ...key, warehouse_id: 'W-c', delta: 1 });
      await client.reserve(key, 3);
      const response = await get(base(), `/v1/products/${key.product_id}/stock`);
      expect(response.status, response.text).toBe(200);
      const view = (warehouse: string, onHand: number, reserved: number) => ({
        product_id: key.product_id,
        warehouse_id: warehouse,
        on_hand: onHand,
        reserved,
        available: onHand - reserved,
        incoming: 0,
        version: expect.any(Number),
      });
      expect(response.body).toEqual({
        product_id: key.product_id,
        on_hand: 15,
        reserved: 3,
        available: 12,
        incoming: 0,
        warehouses: [view('W-c', 1, 0), view('w-a', 4, 0), view('w-b', 10, 3)],
      });
      expect(await client.stock(key)).toEqual(view('w-b', 10, 3));
    });

    it('answers 404 for a product without a stock key or with an impossible id', async () => {
      expectError(await get(base(), `/v1/products/${newProduct('none')}/stock`), 404, 'not_found');
      expectError(await get(base(), '/v1/products/a%2Fb/stock'), 404, 'not_found');
      expectError(await get(base(), '/v1/products/a/b/stock'), 404, 'not_found');
    });
  });

  it('answers each bad reserve with 422 naming the field and holds nothing', async () => {
    const key = await client.stocked('bad-reserve', 10);
    const cases: [Record<string, unknown>, string][] = [
      [{ buyer_id: 'a b' }, 'buyer_id'],
      [{ buyer_id: '' }, 'buyer_id'],
      [{ buyer_id: 'b'.repeat(129) }, 'buyer_id'],
      [{ buyer_id: 'é' }, 'buyer_id'],
      [{ reference: '' }, 'reference'],
      [{ reference: 'r'.repeat(257) }, 'reference'],
      [{ reference: 'tab\there' }, 'reference'],
      [{ reference: 5 }, 'reference'],
    ];
    for (const [extra, field] of cases) {
      const body = { ...key, quantity: 1, idempotency_key: newKey('bad'), ...extra };
      expectValidation(await post(base(), '/v1/reserve', body), field);
    }
    const edges = { buyer_id: 'b'.repeat(128), reference: `${'~'.repeat(255)} `, colour: 'red' };
    const fine = await client.reserve(key, 1, edges);
    expect(fine).toMatchObject({ buyer_id: edges.buyer_id, reference: edges.reference });
    expect(fine).not.toHaveProperty('colour');
    expect(await client.stock(key)).toMatchObject({ on_hand: 10, reserved: 1 });
  });
});

describe.runIf(await havePostgres())('extending two-second holds', () => {
  const fixture = useLedger({
    LEDGER_TTL_SECONDS_MIN: '1',
    LEDGER_TTL_SECONDS_MAX: '2',
    LEDGER_TTL_SECONDS_DEFAULT: '2',
    LEDGER_EXPIRY_SWEEP_MS: '50',
  });
  const base = () => fixture.ledger.baseUrl;
  const client = checkoutClient(base);

  it('extends up to 3 x the TTL maximum from created_at, and answers 422 beyond', async () => {
    const key = await client.stocked('cap', 5);
    const held = await client.reserve(key, 1);
    const createdMs = Date.parse(held.created_at as string);
    const extend = () =>
      post(base(), '/v1/extend', { reservation_id: held.reservation_id, ttl_seconds: 2 });
    let last: JsonResponse | undefined;
    for (const atMs of [1500, 3000]) {
      await sleep(createdMs + atMs - Date.now());
      last = await extend();
      expect(last.status, last.text).toBe(200);
    }
    await sleep(createdMs + 4300 - Date.now());
    expectValidation(await extend(), 'ttl_seconds');
    const read = await get(base(), `/v1/reservations/${held.reservation_id}`);
    expect(read.body).toEqual(last?.body);
  });

  it('expires a due hold first and answers 409 reservation_not_pending EXPIRED', async () => {
    const key = await client.stocked('due', 5);
    const held = await client.reserve(key, 2, { ttl_seconds: 1 });
    await sleep(1200);
    const response = await post(base(), '/v1/extend', {
      reservation_id: held.reservation_id,
      ttl_seconds: 2,
    });
    expectError(response, 409, 'reservation_not_pending');
    expect(response.body).toMatchObject({ error: { details: { status: 'EXPIRED' } } });
    expect(await client.stock(key)).toMatchObject({ on_hand: 5, reserved: 0, available: 5 });
  });
});

const secret = 'checkout-secret-of-at-least-32-bytes!';

async function token(role: string): Promise<string> {
  return new SignJWT({ roles: [role] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(`${role}-user`)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 300)
    .sign(new TextEncoder().encode(secret));
}

describe.runIf(await havePostgres())('v1.1 roles', () => {
  const fixture = useLedger({ LEDGER_JWT_SECRET: secret });
  const base = () => fixture.ledger.baseUrl;

  it('lets checkout place carts and extend, admin change settings, and reader only read', async () => {
    const [admin, checkout, reader] = await Promise.all(['admin', 'checkout', 'reader'].map(token));
    const as = (jwt: string | undefined) => ({ authorization: `Bearer ${jwt}` });
    const product = newProduct('roles');
    const stock = { product_id: product, warehouse_id: 'w1', delta: 5 };
    expect((await post(base(), '/v1/stock/adjust', stock, as(admin))).status).toBe(200);
    const settings = `/v1/products/${product}/settings`;
    const cart = () => ({
      idempotency_key: newKey('roles'),
      lines: [{ product_id: product, quantity: 1 }],
    });
    expect((await request(base(), 'PUT', settings, {}, as(checkout))).status).toBe(403);
    expect((await request(base(), 'PUT', settings, {}, as(reader))).status).toBe(403);
    expect((await request(base(), 'PUT', settings, {}, as(admin))).status).toBe(200);
    expect((await post(base(), '/v1/carts', cart(), as(reader))).status).toBe(403);
    const placed = await post(base(), '/v1/carts', cart(), as(checkout));
    expect(placed.status, placed.text).toBe(200);
    expect((await post(base(), '/v1/carts', cart(), as(admin))).status).toBe(200);
    const holds = placed.body.holds as { reservation_id: string }[];
    const extend = { reservation_id: holds[0]?.reservation_id, ttl_seconds: 600 };
    expect((await post(base(), '/v1/extend', extend, as(reader))).status).toBe(403);
    expect((await post(base(), '/v1/extend', extend, as(checkout))).status).toBe(200);
    const cartPath = `/v1/carts/${placed.body.cart_id as string}`;
    for (const action of ['confirm', 'release', 'extend']) {
      const body = action === 'extend' ? { ttl_seconds: 600 } : {};
      expect((await post(base(), `${cartPath}/${action}`, body, as(reader))).status).toBe(403);
    }
    for (const path of [cartPath, settings, `/v1/products/${product}/stock`]) {
      expect((await get(base(), path, as(reader))).status).toBe(200);
      expect((await get(base(), path)).status).toBe(401);
    }
    expect((await post(base(), `${cartPath}/confirm`, {}, as(checkout))).status).toBe(200);
    // A settings change leaves an audit line naming the admin who made it.
    await loggedLine(
      () => fixture.ledger.output(),
      /"audit":"product.settings".*"subject":"admin-user"/,
    );
  });
});
