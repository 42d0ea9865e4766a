// Proves v1.1 carts over a real server and Postgres: all or nothing, allocation, cart-wide changes.
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectError, expectValidation } from '../helpers/expect-http.js';
import { freshProductIds } from '../helpers/stock-keys.js';
import { partitionOf } from '../../src/router/index.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { get, newKey, post, request } from '../helpers/http.js';
import { sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

const partitions = 256;
const runTag = randomBytes(3).toString('hex');
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
// A well-formed cart id in partition 0 that the ledger never issued.
const unknownCartId = '0000aaaa-bbbb-4ccc-8ddd-eeeeffff0000';
const productId = freshProductIds(runTag, partitions);

interface Hold {
  readonly line: number;
  readonly reservation_id: string;
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly quantity: number;
  readonly status: string;
  readonly confirmed_quantity?: number;
}

interface Cart {
  readonly cart_id: string;
  readonly status: string;
  readonly created_at: string;
  readonly expires_at: string;
  readonly holds: readonly Hold[];
  readonly [field: string]: unknown;
}

/** A product id no other test uses; `partition`: one that hashes there. */

/** The count of carts placed with `scope` that were held (`result="ok"`). */
async function cartsPlaced(base: string, scope: 'single' | 'cross'): Promise<number> {
  const metrics = await request(base, 'GET', '/metrics');
  const series = `inventory_cart_attempts_total{result="ok",scope="${scope}"} `;
  const line = metrics.text.split('\n').find((candidate) => candidate.startsWith(series));
  return line === undefined ? 0 : Number(line.slice(series.length));
}

/** The requests the tests make again and again, each checking its own answer. */
function cartClient(base: () => string) {
  const client = {
    async stock(product: string, warehouse: string, delta: number): Promise<void> {
      const body = { product_id: product, warehouse_id: warehouse, delta };
      const response = await post(base(), '/v1/stock/adjust', body);
      expect(response.status, response.text).toBe(200);
    },
    async available(product: string): Promise<Record<string, number>> {
      const response = await get(base(), `/v1/products/${product}/stock`);
      if (response.status === 404) return {};
      expect(response.status, response.text).toBe(200);
      const warehouses = response.body.warehouses as { warehouse_id: string; available: number }[];
      return Object.fromEntries(warehouses.map((key) => [key.warehouse_id, key.available]));
    },
    async place(lines: unknown[], extra: Record<string, unknown> = {}): Promise<Cart> {
      const body = { idempotency_key: newKey('cart'), lines, ...extra };
      const response = await post(base(), '/v1/carts', body);
      expect(response.status, response.text).toBe(200);
      return response.body as unknown as Cart;
    },
    async read(cartId: string): Promise<Cart> {
      const response = await get(base(), `/v1/carts/${cartId}`);
      expect(response.status, response.text).toBe(200);
      return response.body as unknown as Cart;
    },
    async reservation(id: string): Promise<Record<string, unknown>> {
      const response = await get(base(), `/v1/reservations/${id}`);
      expect(response.status, response.text).toBe(200);
      return response.body;
    },
  };
  return client;
}

describe.runIf(await havePostgres())('carts over HTTP', () => {
  const fixture = useLedger();
  const base = () => fixture.ledger.baseUrl;
  const client = cartClient(base);

  describe('POST /v1/carts', () => {
    it('holds a cart whose lines all live in its home partition, scope single', async () => {
      const key = newKey('single-cart');
      const home = partitionOf(`cart\u0000${key}`, partitions);
      const [first, second] = [productId('home', home), productId('home', home)] as string[];
      await client.stock(first as string, 'w1', 5);
      await client.stock(second as string, 'w1', 5);
      const lines = [
        { product_id: first, warehouse_id: 'w1', quantity: 2 },
        { product_id: second, warehouse_id: 'w1', quantity: 3 },
      ];
      const response = await post(base(), '/v1/carts', { idempotency_key: key, lines });
      expect(response.status, response.text).toBe(200);
      const cart = response.body as unknown as Cart;
      expect(cart.cart_id).toMatch(uuidPattern);
      expect(Number.parseInt(cart.cart_id.slice(0, 4), 16)).toBe(home);
      expect(cart.holds.map((hold) => [hold.line, hold.quantity, hold.status])).toEqual([
        [0, 2, 'PENDING'],
        [1, 3, 'PENDING'],
      ]);
      expect(await client.available(first as string)).toEqual({ w1: 3 });
      expect(await client.available(second as string)).toEqual({ w1: 2 });
      expect(await cartsPlaced(base(), 'single')).toBeGreaterThan(0);
    });

    it('holds a cart across partitions with exactly the contract fields', async () => {
      const [first, second] = [productId('cross', 1), productId('cross', 2)] as [string, string];
      await client.stock(first, 'w1', 10);
      await client.stock(second, 'w2', 10);
      const lines = [
        { product_id: first, warehouse_id: 'w1', quantity: 4 },
        { product_id: second, warehouse_id: 'w2', quantity: 1 },
      ];
      const sentMs = Date.now();
      const cart = await client.place(lines, { buyer_id: 'buyer-7', reference: 'PO 42' });
      expect(Object.keys(cart).sort()).toEqual(
        ['buyer_id', 'cart_id', 'created_at', 'expires_at', 'holds', 'reference', 'status'].sort(),
      );
      expect(cart).toMatchObject({ status: 'PENDING', buyer_id: 'buyer-7', reference: 'PO 42' });
      const createdMs = Date.parse(cart.created_at);
      expect(Math.abs(createdMs - sentMs)).toBeLessThan(60_000);
      expect(Date.parse(cart.expires_at) - createdMs).toBe(600_000);
      expect(cart.holds).toEqual([
        expect.objectContaining({ line: 0, product_id: first, warehouse_id: 'w1', quantity: 4 }),
        expect.objectContaining({ line: 1, product_id: second, warehouse_id: 'w2', quantity: 1 }),
      ]);
      for (const hold of cart.holds) {
        expect(Object.keys(hold).sort()).toEqual(
          ['line', 'product_id', 'quantity', 'reservation_id', 'status', 'warehouse_id'].sort(),
        );
        // Every hold is a reservation of its own, carrying its cart and the cart's terms.
        expect(await client.reservation(hold.reservation_id)).toMatchObject({
          reservation_id: hold.reservation_id,
          status: 'PENDING',
          quantity: hold.quantity,
          cart_id: cart.cart_id,
          buyer_id: 'buyer-7',
          reference: 'PO 42',
        });
      }
      expect(await cartsPlaced(base(), 'cross')).toBeGreaterThan(0);
      const metrics = await request(base(), 'GET', '/metrics');
      expect(metrics.text).toMatch(/^inventory_cart_duration_seconds_bucket\{[^}]*result="ok"/m);
      // The shards' own: holds in doubt (none at rest: the decision settled them) and splits.
      expect(metrics.text).toMatch(/^ledger_cart_holds_in_doubt(\{[^}]*\})? 0$/m);
      expect(metrics.text).toMatch(/^inventory_cart_allocation_splits_total(\{[^}]*\})? \d+$/m);
    });

    it('holds nothing when a line is short and names every short line in details.lines', async () => {
      const fine = productId('short-fine', 3);
      const shortKey = productId('short-key', 4);
      const shortProduct = productId('short-product', 5);
      const never = productId('short-never', 6);
      await client.stock(fine, 'w1', 10);
      await client.stock(shortKey, 'w1', 2);
      await client.stock(shortProduct, 'w1', 1);
      await client.stock(shortProduct, 'w2', 2);
      const lines = [
        { product_id: fine, warehouse_id: 'w1', quantity: 5 },
        { product_id: shortKey, warehouse_id: 'w1', quantity: 3 },
        { product_id: shortProduct, quantity: 4 },
        { product_id: never, warehouse_id: 'nowhere', quantity: 1 },
        { product_id: never, quantity: 1 },
      ];
      const response = await post(base(), '/v1/carts', { idempotency_key: newKey('s'), lines });
      expectError(response, 409, 'insufficient_stock');
      expect((response.body.error as Record<string, unknown>).details).toEqual({
        lines: [
          { index: 1, product_id: shortKey, warehouse_id: 'w1', requested: 3, available: 2 },
          { index: 2, product_id: shortProduct, requested: 4, available: 3 },
          { index: 3, product_id: never, warehouse_id: 'nowhere', requested: 1, available: 0 },
          { index: 4, product_id: never, requested: 1, available: 0 },
        ],
      });
      expect(await client.available(fine)).toEqual({ w1: 10 });
      expect(await client.available(shortKey)).toEqual({ w1: 2 });
      expect(await client.available(shortProduct)).toEqual({ w1: 1, w2: 2 });
    });

    it('splits a line without warehouse over warehouse_priority first, then most available', async () => {
      const product = productId('allocate');
      await client.stock(product, 'w-a', 5);
      await client.stock(product, 'w-b', 10);
      await client.stock(product, 'w-c', 3);
      await client.stock(product, 'w-d', 10);
      const settings = await request(base(), 'PUT', `/v1/products/${product}/settings`, {
        warehouse_priority: ['w-c', 'w-zz', 'w-a'],
      });
      expect(settings.status, settings.text).toBe(200);
      const cart = await client.place([{ product_id: product, quantity: 17 }]);
      // w-c and w-a as listed (w-zz has no stock), then w-b before w-d (tie: by warehouse id).
      expect(cart.holds.map((hold) => [hold.line, hold.warehouse_id, hold.quantity])).toEqual([
        [0, 'w-c', 3],
        [0, 'w-a', 5],
        [0, 'w-b', 9],
      ]);
      expect(await client.available(product)).toEqual({ 'w-a': 0, 'w-b': 1, 'w-c': 0, 'w-d': 10 });
      const cleared = await request(base(), 'PUT', `/v1/products/${product}/settings`, {
        warehouse_priority: null,
      });
      expect(cleared.status, cleared.text).toBe(200);
      const unranked = await client.place([{ product_id: product, quantity: 11 }]);
      expect(unranked.holds.map((hold) => [hold.warehouse_id, hold.quantity])).toEqual([
        ['w-d', 10],
        ['w-b', 1],
      ]);
    });

    it('sums lines naming one stock key into one hold served by the first of them', async () => {
      const product = productId('summed');
      const other = productId('summed-other');
      await client.stock(product, 'w1', 6);
      await client.stock(other, 'w1', 6);
      const cart = await client.place([
        { product_id: product, warehouse_id: 'w1', quantity: 2 },
        { product_id: other, warehouse_id: 'w1', quantity: 1 },
        { product_id: product, warehouse_id: 'w1', quantity: 3 },
      ]);
      expect(cart.holds.map((hold) => [hold.line, hold.product_id, hold.quantity])).toEqual([
        [0, product, 5],
        [1, other, 1],
      ]);
      const short = await post(base(), '/v1/carts', {
        idempotency_key: newKey('summed-short'),
        lines: [
          { product_id: other, quantity: 3 },
          { product_id: other, quantity: 3 },
        ],
      });
      expectError(short, 409, 'insufficient_stock');
      expect(short.body).toMatchObject({
        error: {
          details: { lines: [{ index: 0, product_id: other, requested: 6, available: 5 }] },
        },
      });
    });

    it('replays the same key and body as first answered, and refuses another body', async () => {
      const product = productId('replay');
      await client.stock(product, 'w1', 10);
      const body = {
        idempotency_key: newKey('replay'),
        lines: [{ product_id: product, warehouse_id: 'w1', quantity: 3 }],
        ttl_seconds: 300,
      };
      const first = await post(base(), '/v1/carts', body);
      expect(first.status, first.text).toBe(200);
      expect(first.headers.get('idempotent-replayed')).toBeNull();
      const again = await post(base(), '/v1/carts', body);
      expect(again.status, again.text).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(await client.available(product)).toEqual({ w1: 7 });
      const others = [
        { ...body, ttl_seconds: 600 },
        { ...body, buyer_id: 'b' },
        { ...body, reference: 'r' },
        { ...body, lines: [{ product_id: product, warehouse_id: 'w1', quantity: 2 }] },
        { ...body, lines: [{ product_id: product, quantity: 3 }] },
      ];
      for (const other of others) {
        expectError(await post(base(), '/v1/carts', other), 422, 'idempotency_key_reused');
      }
      expect(await client.available(product)).toEqual({ w1: 7 });
    });

    it('binds its key only with a 200: a refused cart may be retried once stock came', async () => {
      const product = productId('retry');
      await client.stock(product, 'w1', 1);
      const body = {
        idempotency_key: newKey('retry'),
        lines: [{ product_id: product, quantity: 2 }],
      };
      expectError(await post(base(), '/v1/carts', body), 409, 'insufficient_stock');
      await client.stock(product, 'w1', 1);
      const placed = await post(base(), '/v1/carts', body);
      expect(placed.status, placed.text).toBe(200);
      expect(placed.headers.get('idempotent-replayed')).toBeNull();
      expect(await client.available(product)).toEqual({ w1: 0 });
    });
  });

  describe('a placed cart', () => {
    let first: string;
    let second: string;
    beforeAll(async () => {
      first = productId('placed-a', 7);
      second = productId('placed-b', 8);
      await client.stock(first, 'w1', 100);
      await client.stock(second, 'w1', 100);
    });

    const placeTwo = () =>
      client.place([
        { product_id: first, warehouse_id: 'w1', quantity: 4 },
        { product_id: second, warehouse_id: 'w1', quantity: 6 },
      ]);

    it('reads PENDING while a hold is pending, then CONFIRMED or RELEASED', async () => {
      const confirmed = await placeTwo();
      const [a, b] = confirmed.holds as [Hold, Hold];
      const releasedFirst = await post(base(), '/v1/release', { reservation_id: a.reservation_id });
      expect(releasedFirst.status, releasedFirst.text).toBe(200);
      const mixed = await client.read(confirmed.cart_id);
      expect(mixed.status).toBe('PENDING');
      expect(mixed.holds.map((hold) => hold.status)).toEqual(['RELEASED', 'PENDING']);
      const sold = await post(base(), '/v1/confirm', { reservation_id: b.reservation_id });
      expect(sold.status, sold.text).toBe(200);
      const done = await client.read(confirmed.cart_id);
      expect(done.status).toBe('CONFIRMED');
      expect(done.holds[1]).toMatchObject({ status: 'CONFIRMED', confirmed_quantity: 6 });

      const released = await placeTwo();
      const answer = await post(base(), `/v1/carts/${released.cart_id}/release`, undefined);
      expect(answer.status, answer.text).toBe(200);
      expect(answer.body).toMatchObject({ status: 'RELEASED' });
      expect((await client.read(released.cart_id)).status).toBe('RELEASED');
    });

    it('answers 404 for an unknown cart and for a cart id that is not a UUID', async () => {
      for (const id of [unknownCartId, 'not-a-uuid', `${unknownCartId}x`]) {
        expectError(await get(base(), `/v1/carts/${id}`), 404, 'not_found');
        for (const action of ['confirm', 'release']) {
          expectError(await post(base(), `/v1/carts/${id}/${action}`, {}), 404, 'not_found');
        }
        const extend = await post(base(), `/v1/carts/${id}/extend`, { ttl_seconds: 600 });
        expectError(extend, 404, 'not_found');
      }
    });

    it('confirms nothing when one hold was released: 409 naming that hold', async () => {
      const cart = await placeTwo();
      const [a, b] = cart.holds as [Hold, Hold];
      expect((await post(base(), '/v1/release', { reservation_id: b.reservation_id })).status).toBe(
        200,
      );
      const before = [await client.available(first), await client.available(second)];
      const response = await post(base(), `/v1/carts/${cart.cart_id}/confirm`, undefined);
      expectError(response, 409, 'reservation_released');
      expect(response.body).toMatchObject({
        error: { details: { reservation_id: b.reservation_id } },
      });
      expect(await client.reservation(a.reservation_id)).toMatchObject({ status: 'PENDING' });
      expect([await client.available(first), await client.available(second)]).toEqual(before);
    });

    it('confirms named holds for fewer units and the others in full, then replays', async () => {
      const cart = await placeTwo();
      const [a, b] = cart.holds as [Hold, Hold];
      const onHandBefore = await get(base(), `/v1/stock/${first}/w1`);
      const lines = [{ reservation_id: a.reservation_id, quantity: 1 }];
      const response = await post(base(), `/v1/carts/${cart.cart_id}/confirm`, { lines });
      expect(response.status, response.text).toBe(200);
      expect(response.body).toMatchObject({ cart_id: cart.cart_id, status: 'CONFIRMED' });
      expect((response.body as unknown as Cart).holds).toEqual([
        { ...a, status: 'CONFIRMED', confirmed_quantity: 1 },
        { ...b, status: 'CONFIRMED', confirmed_quantity: 6 },
      ]);
      const after = await get(base(), `/v1/stock/${first}/w1`);
      expect(after.body.on_hand).toBe((onHandBefore.body.on_hand as number) - 1);
      expect(after.body.reserved).toBe((onHandBefore.body.reserved as number) - 4);
      const again = await post(base(), `/v1/carts/${cart.cart_id}/confirm`, undefined);
      expect(again.status, again.text).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(response.body);
      expect((await get(base(), `/v1/stock/${first}/w1`)).body).toEqual(after.body);
    });

    it('refuses confirm lines naming a hold twice, a foreign hold or too many units', async () => {
      const cart = await placeTwo();
      const other = await placeTwo();
      const [a] = cart.holds as [Hold, Hold];
      const before = await client.available(first);
      const bad = [
        [
          { reservation_id: a.reservation_id, quantity: 1 },
          { reservation_id: a.reservation_id, quantity: 2 },
        ],
        [{ reservation_id: other.holds[0]?.reservation_id, quantity: 1 }],
        [{ reservation_id: a.reservation_id, quantity: 5 }],
        [{ reservation_id: a.reservation_id, quantity: 0 }],
        [{ reservation_id: 'nope', quantity: 1 }],
        'not an array',
      ];
      for (const lines of bad) {
        const response = await post(base(), `/v1/carts/${cart.cart_id}/confirm`, { lines });
        expectValidation(response, 'lines');
      }
      expect((await client.read(cart.cart_id)).holds.map((hold) => hold.status)).toEqual([
        'PENDING',
        'PENDING',
      ]);
      expect(await client.available(first)).toEqual(before);
    });

    it('releases every pending hold and leaves a confirmed one confirmed', async () => {
      const cart = await placeTwo();
      const [a, b] = cart.holds as [Hold, Hold];
      expect((await post(base(), '/v1/confirm', { reservation_id: a.reservation_id })).status).toBe(
        200,
      );
      const before = await client.available(second);
      const response = await post(base(), `/v1/carts/${cart.cart_id}/release`, undefined);
      expect(response.status, response.text).toBe(200);
      expect(response.body).toMatchObject({ status: 'CONFIRMED' });
      expect((response.body as unknown as Cart).holds.map((hold) => hold.status)).toEqual([
        'CONFIRMED',
        'RELEASED',
      ]);
      expect(await client.available(second)).toEqual({ w1: (before.w1 as number) + b.quantity });
      const again = await post(base(), `/v1/carts/${cart.cart_id}/release`, undefined);
      expect(again.status, again.text).toBe(200);
      expect(again.body).toEqual(response.body);
    });

    it('extends every pending hold and reports the earliest expires_at of them', async () => {
      const cart = await placeTwo();
      const sentMs = Date.now();
      const response = await post(base(), `/v1/carts/${cart.cart_id}/extend`, {
        ttl_seconds: 3600,
      });
      expect(response.status, response.text).toBe(200);
      const extended = response.body as unknown as Cart;
      expect(Date.parse(extended.expires_at)).toBeGreaterThanOrEqual(sentMs + 3_600_000 - 1000);
      // Each partition extends its holds at its own instant: the cart shows the earliest.
      const holdExpiries: number[] = [];
      for (const hold of extended.holds) {
        const reservation = await client.reservation(hold.reservation_id);
        holdExpiries.push(Date.parse(reservation.expires_at as string));
      }
      expect(Math.min(...holdExpiries)).toBe(Date.parse(extended.expires_at));
      expect(Math.min(...holdExpiries)).toBeGreaterThanOrEqual(sentMs + 3_600_000 - 1000);
      expect((await client.read(cart.cart_id)).expires_at).toBe(extended.expires_at);
      const badTtl = await post(base(), `/v1/carts/${cart.cart_id}/extend`, { ttl_seconds: 3601 });
      expectValidation(badTtl, 'ttl_seconds');
      expect((await client.read(cart.cart_id)).expires_at).toBe(extended.expires_at);
    });

    it('answers 409 reservation_not_pending to the extend of a cart with no pending hold', async () => {
      const cart = await placeTwo();
      expect((await post(base(), `/v1/carts/${cart.cart_id}/release`, undefined)).status).toBe(200);
      const response = await post(base(), `/v1/carts/${cart.cart_id}/extend`, { ttl_seconds: 600 });
      expectError(response, 409, 'reservation_not_pending');
      expect(response.body).toMatchObject({ error: { details: { status: 'RELEASED' } } });
    });
  });

  describe('bad input', () => {
    it('answers each bad cart with its 4xx and leaves the stock as it was', async () => {
      const product = productId('bad');
      await client.stock(product, 'w1', 50);
      const line = { product_id: product, warehouse_id: 'w1', quantity: 1 };
      const key = () => newKey('bad');
      const cases: [string, unknown, number, string][] = [
        ['no lines', { idempotency_key: key(), lines: [] }, 422, 'lines'],
        ['101 lines', { idempotency_key: key(), lines: Array(101).fill(line) }, 422, 'lines'],
        ['lines missing', { idempotency_key: key() }, 422, 'lines'],
        ['quantity 0', { idempotency_key: key(), lines: [{ ...line, quantity: 0 }] }, 422, 'lines'],
        [
          'quantity 1001',
          { idempotency_key: key(), lines: [{ ...line, quantity: 1001 }] },
          422,
          'lines',
        ],
        [
          'a slash in product_id',
          { idempotency_key: key(), lines: [{ ...line, product_id: 'a/b' }] },
          422,
          'lines',
        ],
        [
          'a null warehouse_id',
          { idempotency_key: key(), lines: [{ ...line, warehouse_id: null }] },
          422,
          'lines',
        ],
        ['a line that is no object', { idempotency_key: key(), lines: [line, 7] }, 422, 'lines'],
        [
          'a buyer id with a space',
          { idempotency_key: key(), lines: [line], buyer_id: 'a b' },
          422,
          'buyer_id',
        ],
        [
          'a reference not ASCII',
          { idempotency_key: key(), lines: [line], reference: 'café' },
          422,
          'reference',
        ],
        ['a short key', { idempotency_key: 'short', lines: [line] }, 422, 'idempotency_key'],
        ['ttl 59', { idempotency_key: key(), lines: [line], ttl_seconds: 59 }, 422, 'ttl_seconds'],
      ];
      for (const [name, body, status, field] of cases) {
        const response = await post(base(), '/v1/carts', body);
        expect(response.status, `${name}: ${response.text}`).toBe(status);
        expect(response.body, name).toMatchObject({ error: { details: { field } } });
      }
      expectError(await post(base(), '/v1/carts', '{"lines": ['), 400, 'malformed_json');
      const plain = await request(base(), 'POST', '/v1/carts', undefined, {
        'content-type': 'text/plain',
      });
      expectError(plain, 415, 'unsupported_media_type');
      expectError(await request(base(), 'GET', '/v1/carts'), 405, 'method_not_allowed');
      expect(await client.available(product)).toEqual({ w1: 50 });
    });

    it('ignores unknown fields, in the cart and in its lines', async () => {
      const product = productId('unknown-fields');
      await client.stock(product, 'w1', 5);
      const cart = await client.place(
        [{ product_id: product, warehouse_id: 'w1', quantity: 2, colour: 'red' }],
        { coupon: 'SAVE10' },
      );
      expect(cart.holds).toHaveLength(1);
      expect(cart).not.toHaveProperty('coupon');
    });

    it('accepts 100 lines, the default bound', async () => {
      const product = productId('hundred');
      await client.stock(product, 'w1', 100);
      const lines = Array.from({ length: 100 }, () => ({ product_id: product, quantity: 1 }));
      const cart = await client.place(lines);
      expect(cart.holds).toEqual([expect.objectContaining({ line: 0, quantity: 100 })]);
    });
  });
});

describe.runIf(await havePostgres())('carts with two-second holds', () => {
  const fixture = useLedger({
    LEDGER_TTL_SECONDS_MIN: '1',
    LEDGER_TTL_SECONDS_MAX: '2',
    LEDGER_TTL_SECONDS_DEFAULT: '2',
    LEDGER_EXPIRY_SWEEP_MS: '50',
  });
  const base = () => fixture.ledger.baseUrl;
  const client = cartClient(base);

  it('extends a cart up to 3 x the TTL maximum from its created_at, and not beyond', async () => {
    const [first, second] = [productId('cap-a', 9), productId('cap-b', 10)];
    await client.stock(first, 'w1', 5);
    await client.stock(second, 'w1', 5);
    const cart = await client.place([
      { product_id: first, warehouse_id: 'w1', quantity: 1 },
      { product_id: second, warehouse_id: 'w1', quantity: 1 },
    ]);
    const createdMs = Date.parse(cart.created_at);
    const extend = () => post(base(), `/v1/carts/${cart.cart_id}/extend`, { ttl_seconds: 2 });
    for (const atMs of [1500, 3000]) {
      await sleep(createdMs + atMs - Date.now());
      const response = await extend();
      expect(response.status, response.text).toBe(200);
    }
    const extended = await client.read(cart.cart_id);
    await sleep(createdMs + 4300 - Date.now());
    // Now + 2 s is past created_at + 6 s: refused, and no hold moved.
    expectValidation(await extend(), 'ttl_seconds');
    const after = await client.read(cart.cart_id);
    expect(after.expires_at).toBe(extended.expires_at);
    expect(after.holds.map((hold) => hold.status)).toEqual(['PENDING', 'PENDING']);
  });

  it('reads EXPIRED once every hold expired, and confirms nothing', async () => {
    const product = productId('expired');
    await client.stock(product, 'w1', 5);
    await client.stock(product, 'w2', 5);
    const cart = await client.place([{ product_id: product, quantity: 7 }], { ttl_seconds: 1 });
    expect(cart.holds).toHaveLength(2);
    await sleep(1500);
    const read = await client.read(cart.cart_id);
    expect(read.status).toBe('EXPIRED');
    expect(read.holds.map((hold) => hold.status)).toEqual(['EXPIRED', 'EXPIRED']);
    const confirm = await post(base(), `/v1/carts/${cart.cart_id}/confirm`, undefined);
    expectError(confirm, 409, 'reservation_expired');
    expect(confirm.body).toMatchObject({
      error: { details: { reservation_id: cart.holds[0]?.reservation_id } },
    });
    expect(await client.available(product)).toEqual({ w1: 5, w2: 5 });
  });
});
