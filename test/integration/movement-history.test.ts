// Proves the movement history over a real server on real Postgres: every change of a key is one
// movement (each type, its fields, its version, the counts after it, the caller), newest first;
// cursor paging covers every movement exactly once; unknown keys, bad parameters and missing
// roles get their 4xx; the history survives kill -9 (read from the journal, not from memory);
// and day tables older than the retention are dropped at start, with the default's old rows.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { expectError, expectValidation } from '../helpers/expect-http.js';
import { get, newKey, post, type JsonResponse } from '../helpers/http.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { sleep, startLedger } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { freshProductIds } from '../helpers/stock-keys.js';

const newProduct = freshProductIds(randomBytes(3).toString('hex'));
const secret = 'movement-history-secret-of-32-bytes-at-least';

async function token(roles: string[], subject: string): Promise<string> {
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(secret));
}

type Movement = Record<string, unknown> & { version: number; type: string };

describe.runIf(await havePostgres())('movement history over HTTP', () => {
  const env = { LEDGER_JWT_SECRET: secret, LEDGER_TTL_SECONDS_MIN: '1' };
  const fixture = useLedger(env);
  let baseUrl = '';
  const base = () => baseUrl || fixture.ledger.baseUrl;
  const headers: Record<string, Record<string, string>> = {};
  const as = async (role: string, subject: string) => {
    headers[role] ??= { authorization: `Bearer ${await token([role], subject)}` };
    return headers[role] as Record<string, string>;
  };
  const admin = () => as('admin', 'alice');
  const checkout = () => as('checkout', 'bob');
  const reader = () => as('reader', 'carol');
  const call = async (path: string, body: unknown, who = admin()): Promise<JsonResponse> => {
    const response = await post(base(), path, body, await who);
    expect(response.status, `${path}: ${response.text}`).toBe(200);
    return response;
  };
  const history = async (product: string, warehouse: string, query = '') => {
    const path = `/v1/stock/${product}/${warehouse}/movements${query}`;
    return get(base(), path, await reader());
  };
  const allMovements = async (product: string, warehouse: string): Promise<Movement[]> => {
    const page = await history(product, warehouse, '?limit=1000');
    expect(page.status, page.text).toBe(200);
    expect(page.body.next).toBeNull();
    return page.body.movements as Movement[];
  };

  it('gives every change of a key as one movement, newest first, with its fields', async () => {
    const product = newProduct('kinds');
    const key = { product_id: product, warehouse_id: 'w1' };
    await call('/v1/stock/adjust', { ...key, delta: 20, reason: 'receipt', reference: 'PO-1' });
    await call('/v1/stock/set', { ...key, on_hand: 25, reason: 'count', reference: 'ST-1' });
    const hold = { ...key, quantity: 3, buyer_id: 'buyer-1', reference: 'ORDER-1' };
    const first = await call('/v1/reserve', { ...hold, idempotency_key: newKey('h1') }, checkout());
    const firstId = String(first.body.reservation_id);
    await call('/v1/confirm', { reservation_id: firstId, quantity: 2 }, checkout());
    const second = await call('/v1/reserve', {
      ...key,
      quantity: 4,
      idempotency_key: newKey('h2'),
    });
    await call('/v1/release', { reservation_id: String(second.body.reservation_id) });
    const cartLine = { ...key, quantity: 3 };
    const cart = await call('/v1/carts', { idempotency_key: newKey('cart'), lines: [cartLine] });
    const cartHold = (cart.body.holds as Record<string, unknown>[])[0] as Record<string, unknown>;
    await call(`/v1/carts/${String(cart.body.cart_id)}/confirm`, {}, checkout());
    const movements = await allMovements(product, 'w1');
    const versions = movements.map((movement) => movement.version);
    expect(versions).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    const [cartSold, carted, released, reserved2, confirmed, reserved1, set, adjusted] = movements;
    // A cart's confirm names its caller too (the cart was placed by another one).
    expect(cartSold).toMatchObject({
      type: 'confirm',
      quantity: 3,
      on_hand: 20,
      reserved: 0,
      cart_id: cart.body.cart_id,
      reservation_id: cartHold.reservation_id,
      subject: 'bob',
    });
    expect(adjusted).toMatchObject({ type: 'adjust', quantity: 20, on_hand: 20, reserved: 0 });
    expect(adjusted).toMatchObject({ reason: 'receipt', reference: 'PO-1', subject: 'alice' });
    expect(set).toMatchObject({ type: 'set', quantity: 5, on_hand: 25, reference: 'ST-1' });
    expect(reserved1).toMatchObject({
      type: 'reserve',
      quantity: 3,
      on_hand: 25,
      reserved: 3,
      incoming: 0,
      reservation_id: firstId,
      buyer_id: 'buyer-1',
      reference: 'ORDER-1',
      subject: 'bob',
    });
    // A partial confirm: the units sold; the rest went back to available.
    expect(confirmed).toMatchObject({ type: 'confirm', quantity: 2, on_hand: 23, reserved: 0 });
    expect(confirmed).toMatchObject({ reservation_id: firstId, subject: 'bob' });
    expect(reserved2).toMatchObject({
      type: 'reserve',
      quantity: 4,
      reserved: 4,
      subject: 'alice',
    });
    expect(released).toMatchObject({ type: 'release', quantity: 4, reserved: 0, on_hand: 23 });
    expect(carted).toMatchObject({
      type: 'reserve',
      quantity: 3,
      reserved: 3,
      cart_id: cart.body.cart_id,
      reservation_id: cartHold.reservation_id,
    });
    for (const movement of movements) {
      expect(typeof movement.trace_id).toBe('string');
      expect(Date.parse(String(movement.at))).not.toBeNaN();
    }
  });

  it('journals an expiry as an expire movement, without a subject', async () => {
    const product = newProduct('expire');
    const key = { product_id: product, warehouse_id: 'w1' };
    await call('/v1/stock/adjust', { ...key, delta: 5 });
    const body = { ...key, quantity: 2, ttl_seconds: 1, idempotency_key: newKey('exp') };
    const hold = await call('/v1/reserve', body);
    let movements = await allMovements(product, 'w1');
    for (let tries = 0; tries < 100 && movements[0]?.type !== 'expire'; tries += 1) {
      await sleep(100);
      movements = await allMovements(product, 'w1');
    }
    expect(movements[0]).toMatchObject({
      version: 3,
      type: 'expire',
      quantity: 2,
      on_hand: 5,
      reserved: 0,
      reservation_id: hold.body.reservation_id,
    });
    expect(movements[0]).not.toHaveProperty('subject');
  });

  it('writes both ends of direct and in-transit transfers, received or cancelled', async () => {
    const product = newProduct('transfer');
    await call('/v1/stock/adjust', { product_id: product, warehouse_id: 'w1', delta: 30 });
    const transfer = (fields: Record<string, unknown>) => ({
      product_id: product,
      from_warehouse_id: 'w1',
      to_warehouse_id: 'w2',
      quantity: 5,
      idempotency_key: newKey('transfer'),
      ...fields,
    });
    const direct = await call('/v1/transfers', transfer({ reason: 'rebalance', reference: 'T1' }));
    const shipped = await call('/v1/transfers', transfer({ in_transit: true }));
    await call(`/v1/transfers/${String(shipped.body.transfer_id)}/receive`, {});
    const cancelled = await call('/v1/transfers', transfer({ in_transit: true, quantity: 4 }));
    await call(`/v1/transfers/${String(cancelled.body.transfer_id)}/cancel`, {});
    const source = await allMovements(product, 'w1');
    const destination = await allMovements(product, 'w2');
    expect(source.map((movement) => movement.type)).toEqual([
      'transfer_cancel',
      'transfer_out',
      'transfer_out',
      'transfer_out',
      'adjust',
    ]);
    expect(source[3]).toMatchObject({
      version: 2,
      quantity: 5,
      on_hand: 25,
      transfer_id: direct.body.transfer_id,
      reason: 'rebalance',
      reference: 'T1',
      subject: 'alice',
    });
    expect(source[0]).toMatchObject({ version: 5, quantity: 4, on_hand: 20 });
    expect(destination.map((movement) => [movement.version, movement.type])).toEqual([
      [5, 'transfer_cancel'],
      [4, 'transfer_incoming'],
      [3, 'transfer_in'],
      [2, 'transfer_incoming'],
      [1, 'transfer_in'],
    ]);
    expect(destination[3]).toMatchObject({ on_hand: 5, incoming: 5 });
    expect(destination[2]).toMatchObject({ on_hand: 10, incoming: 0 });
    expect(destination[1]).toMatchObject({ on_hand: 10, incoming: 4 });
    expect(destination[0]).toMatchObject({ on_hand: 10, incoming: 0, quantity: 4 });
  });

  it('pages with cursors: every movement exactly once, newest first', async () => {
    const product = newProduct('pages');
    const key = { product_id: product, warehouse_id: 'w1' };
    for (let change = 1; change <= 23; change += 1) {
      await call('/v1/stock/adjust', { ...key, delta: change });
    }
    const seen: number[] = [];
    let query = '?limit=5';
    for (let pages = 0; pages < 10; pages += 1) {
      const page = await history(product, 'w1', query);
      expect(page.status, page.text).toBe(200);
      const movements = page.body.movements as Movement[];
      expect(movements.length).toBeLessThanOrEqual(5);
      seen.push(...movements.map((movement) => movement.version));
      if (page.body.next === null) break;
      expect(typeof page.body.next).toBe('string');
      query = `?limit=5&before=${encodeURIComponent(String(page.body.next))}`;
    }
    expect(seen).toEqual(Array.from({ length: 23 }, (_, index) => 23 - index));
    const defaultPage = await history(product, 'w1');
    expect((defaultPage.body.movements as Movement[]).length).toBe(23);
  });

  it('packs a burst on one key into rows of its group commits, and pages them exactly', async () => {
    const product = newProduct('burst');
    const key = { product_id: product, warehouse_id: 'w1' };
    await call('/v1/stock/adjust', { ...key, delta: 1000 });
    // Sent at once, so that group commits carry many of the key's changes; callers alternate.
    const holds = 150;
    const replies = await Promise.all(
      Array.from({ length: holds }, (_, index) =>
        call(
          '/v1/reserve',
          { ...key, quantity: 1 + (index % 3), idempotency_key: newKey('burst') },
          index % 2 === 0 ? checkout() : admin(),
        ),
      ),
    );
    const subjectOf = new Map(
      replies.map((reply, index) => [reply.body.reservation_id, index % 2 === 0 ? 'bob' : 'alice']),
    );
    const rows = await fixture.database.query<{ rows: number; packed: number }>(
      `SELECT count(*)::int AS rows, count(later)::int AS packed FROM ledger_movements
       WHERE product_id = $1`,
      [product],
    );
    // Fewer rows than movements: some rows packed several (the grouping this test is about).
    expect(rows[0]?.packed).toBeGreaterThan(0);
    expect(rows[0]?.rows).toBeLessThan(holds + 1);
    const whole = await allMovements(product, 'w1');
    expect(whole.map((movement) => movement.version)).toEqual(
      Array.from({ length: holds + 1 }, (_, index) => holds + 1 - index),
    );
    // Each movement keeps its own counts and caller, in version order.
    let reserved = 0;
    for (const movement of whole.slice(0, holds).reverse()) {
      reserved += Number(movement.quantity);
      expect(movement).toMatchObject({ type: 'reserve', on_hand: 1000, reserved });
      expect(movement.subject).toBe(subjectOf.get(movement.reservation_id));
    }
    // Pages that end inside a row give each movement once, the same as the whole.
    for (const limit of [1, 7, 40]) {
      const paged: Movement[] = [];
      let query = `?limit=${limit}`;
      for (let pages = 0; pages < holds + 2; pages += 1) {
        const page = await history(product, 'w1', query);
        expect(page.status, page.text).toBe(200);
        const movements = page.body.movements as Movement[];
        expect(movements.length).toBeLessThanOrEqual(limit);
        paged.push(...movements);
        if (page.body.next === null) break;
        query = `?limit=${limit}&before=${encodeURIComponent(String(page.body.next))}`;
      }
      expect(paged).toEqual(whole);
    }
  });

  it('answers unknown keys 404, bad parameters 422, and wants a token with a role', async () => {
    const product = newProduct('bad');
    await call('/v1/stock/adjust', { product_id: product, warehouse_id: 'w1', delta: 1 });
    expectError(await history(product, 'w9'), 404, 'not_found');
    expectError(await history('no-such-product', 'w1'), 404, 'not_found');
    expectError(await history('bad%2Fid', 'w1'), 404, 'not_found');
    for (const limit of ['0', '1001', 'abc', '1.5', '-1']) {
      expectValidation(await history(product, 'w1', `?limit=${limit}`), 'limit');
    }
    for (const before of ['x', 'dj', 'djA', '%2F%2F', 'v1']) {
      expectValidation(await history(product, 'w1', `?before=${before}`), 'before');
    }
    const path = `/v1/stock/${product}/w1/movements`;
    expectError(await get(base(), path), 401, 'unauthenticated');
    const nobody = { authorization: `Bearer ${await token([], 'nobody')}` };
    expectError(await get(base(), path, nobody), 403, 'forbidden');
    expect((await get(base(), path, await checkout())).status).toBe(200);
  });

  it('keeps every acknowledged change after kill -9, and drops days older than retention', async () => {
    const product = newProduct('crash');
    const key = { product_id: product, warehouse_id: 'w1' };
    for (let change = 1; change <= 10; change += 1) {
      await call('/v1/stock/adjust', { ...key, delta: change });
    }
    const before = await allMovements(product, 'w1');
    expect(before).toHaveLength(10);
    // A day table far older than the retention, with a row, and an old row in the default.
    await fixture.database.query(
      `CREATE TABLE ledger_movements_p20200101 PARTITION OF ledger_movements
       FOR VALUES FROM ('2020-01-01T00:00:00Z') TO ('2020-01-02T00:00:00Z')`,
    );
    const old = `INSERT INTO ledger_movements (product_id, warehouse_id, version, at, on_hand,
                   reserved, incoming, payload) VALUES ('old', 'w1', 1, $1, 0, 0, 0, '\\x00')`;
    await fixture.database.query(old, ['2020-01-01T12:00:00Z']);
    await fixture.database.query(old, ['2019-06-01T12:00:00Z']);
    const inDefault = `SELECT count(*)::int AS n FROM ledger_movements_default`;
    expect(await fixture.database.query<{ n: number }>(inDefault)).toEqual([{ n: 1 }]);
    await fixture.ledger.kill();
    const restarted = await startLedger({ env: { DATABASE_URL: fixture.database.url, ...env } });
    baseUrl = restarted.baseUrl;
    try {
      expect(await allMovements(product, 'w1')).toEqual(before);
      const tables = await fixture.database.query<{ name: string }>(
        `SELECT relname AS name FROM pg_class WHERE relname = 'ledger_movements_p20200101'`,
      );
      expect(tables).toEqual([]);
      expect(await fixture.database.query<{ n: number }>(inDefault)).toEqual([{ n: 0 }]);
      const after = await call('/v1/stock/adjust', { ...key, delta: 1 });
      expect(after.body.version).toBe(11);
      expect((await allMovements(product, 'w1'))[0]).toMatchObject({ version: 11, on_hand: 56 });
    } finally {
      await restarted.stop();
      baseUrl = '';
    }
  });
});
