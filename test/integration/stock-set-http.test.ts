// Proves stock sync over a real server: POST /v1/stock/set (the count itself, journaled as the
// difference, never below what is held), expected_version on set and adjust (compare-and-set,
// 0 for "must not exist yet"), reference echoed, idempotent retries, every bad input a 4xx that
// changes nothing, and all of it still there after kill -9 (the last test kills the ledger).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectError, expectValidation } from '../helpers/expect-http.js';
import { get, newKey, post } from '../helpers/http.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { startLedger } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { freshProductIds } from '../helpers/stock-keys.js';

const newProduct = freshProductIds(randomBytes(3).toString('hex'));

describe.runIf(await havePostgres())('stock set and compare-and-set over HTTP', () => {
  const fixture = useLedger();
  const base = () => fixture.ledger.baseUrl;
  const stockOf = async (key: { product_id: string; warehouse_id: string }) => {
    const response = await get(base(), `/v1/stock/${key.product_id}/${key.warehouse_id}`);
    return response.status === 200 ? response.body : response.status;
  };

  it('sets the count, creating the key, and answers the stock view with the reference', async () => {
    const key = { product_id: newProduct('set'), warehouse_id: 'w1' };
    const set = await post(base(), '/v1/stock/set', { ...key, on_hand: 40, reference: 'ST-1' });
    expect(set.status, set.text).toBe(200);
    expect(set.body).toEqual({
      ...key,
      on_hand: 40,
      reserved: 0,
      available: 40,
      incoming: 0,
      version: 1,
      reference: 'ST-1',
    });
    const hold = { ...key, quantity: 15, idempotency_key: newKey('set') };
    expect((await post(base(), '/v1/reserve', hold)).status).toBe(200);
    // The count counts held units too: down to what is held, never below.
    const down = await post(base(), '/v1/stock/set', { ...key, on_hand: 15 });
    expect(down.body).toMatchObject({ on_hand: 15, reserved: 15, available: 0, version: 3 });
    const below = await post(base(), '/v1/stock/set', { ...key, on_hand: 14 });
    expectError(below, 409, 'insufficient_stock');
    expect(below.body).toMatchObject({ error: { details: { available: 0 } } });
    // A set that finds the count right is still journaled (a stock take happened).
    const same = await post(base(), '/v1/stock/set', { ...key, on_hand: 15 });
    expect(same.body).toMatchObject({ on_hand: 15, version: 4 });
    expect(await stockOf(key)).toMatchObject({ on_hand: 15, reserved: 15, version: 4 });
  });

  it('compares versions on set and adjust: 409 version_conflict names the current one', async () => {
    const key = { product_id: newProduct('cas'), warehouse_id: 'w1' };
    // 0: the key must not exist yet. A second feed with 0 finds it there.
    const first = await post(base(), '/v1/stock/set', { ...key, on_hand: 10, expected_version: 0 });
    expect(first.body).toMatchObject({ on_hand: 10, version: 1 });
    const again = await post(base(), '/v1/stock/set', { ...key, on_hand: 99, expected_version: 0 });
    expectError(again, 409, 'version_conflict');
    expect(again.body).toMatchObject({ error: { details: { version: 1 } } });
    const adjust = await post(base(), '/v1/stock/adjust', {
      ...key,
      delta: 5,
      expected_version: 1,
    });
    expect(adjust.body).toMatchObject({ on_hand: 15, version: 2 });
    const stale = await post(base(), '/v1/stock/adjust', { ...key, delta: 5, expected_version: 1 });
    expectError(stale, 409, 'version_conflict');
    expect(stale.body).toMatchObject({ error: { details: { version: 2 } } });
    // A key never stocked is at version 0: any other expectation conflicts, and creates nothing.
    const ghost = { product_id: newProduct('ghost'), warehouse_id: 'w1' };
    const missing = await post(base(), '/v1/stock/set', {
      ...ghost,
      on_hand: 1,
      expected_version: 3,
    });
    expectError(missing, 409, 'version_conflict');
    expect(missing.body).toMatchObject({ error: { details: { version: 0 } } });
    expect(await stockOf(ghost)).toBe(404);
    expect(await stockOf(key)).toMatchObject({ on_hand: 15, version: 2 });
  });

  it('answers bad input with a 4xx and changes nothing', async () => {
    const key = { product_id: newProduct('bad'), warehouse_id: 'w1' };
    expect((await post(base(), '/v1/stock/set', { ...key, on_hand: 5 })).status).toBe(200);
    const cases: [Record<string, unknown>, string][] = [
      [{ ...key, on_hand: -1 }, 'on_hand'],
      [{ ...key, on_hand: 1.5 }, 'on_hand'],
      [{ ...key, on_hand: '7' }, 'on_hand'],
      [{ ...key }, 'on_hand'],
      [{ ...key, on_hand: 1, expected_version: -1 }, 'expected_version'],
      [{ ...key, on_hand: 1, reference: '' }, 'reference'],
      [{ product_id: 'a/b', warehouse_id: 'w1', on_hand: 1 }, 'product_id'],
    ];
    for (const [body, field] of cases) {
      expectValidation(await post(base(), '/v1/stock/set', body), field);
    }
    expectValidation(
      await post(base(), '/v1/stock/adjust', { ...key, delta: 1, expected_version: 'x' }),
      'expected_version',
    );
    expect(await stockOf(key)).toMatchObject({ on_hand: 5, version: 1 });
  });
  it('replays a keyed set with the same body, refuses the key with another, and keeps it all', async () => {
    const key = { product_id: newProduct('idem'), warehouse_id: 'w1' };
    const body = { ...key, on_hand: 25, idempotency_key: newKey('set'), reference: 'ERP-1' };
    const first = await post(base(), '/v1/stock/set', body);
    expect(first.status).toBe(200);
    expect((await post(base(), '/v1/stock/adjust', { ...key, delta: -5 })).status).toBe(200);
    // The retry changes nothing: the nightly feed that is sent twice does not undo the day.
    const retry = await post(base(), '/v1/stock/set', body);
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    expect(await stockOf(key)).toMatchObject({ on_hand: 20 });
    for (const changed of [{ on_hand: 26 }, { reference: 'ERP-2' }, { expected_version: 1 }]) {
      expectError(
        await post(base(), '/v1/stock/set', { ...body, ...changed }),
        422,
        'idempotency_key_reused',
      );
    }
    // After kill -9, the set, its version and its key are all still there.
    await fixture.ledger.kill();
    const restarted = await startLedger({ env: { DATABASE_URL: fixture.database.url } });
    try {
      const read = await get(restarted.baseUrl, `/v1/stock/${key.product_id}/${key.warehouse_id}`);
      expect(read.body).toMatchObject({ on_hand: 20, version: 2 });
      const replay = await post(restarted.baseUrl, '/v1/stock/set', body);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body).toEqual(first.body);
    } finally {
      await restarted.stop();
    }
  });
});
