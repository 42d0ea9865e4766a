// Proves no oversell under contention: 300 concurrent reserves race for 100 units of one key on
// the real server (real Postgres journal); exactly 100 win and the stock reads 100/100/0.
import { describe, expect, it } from 'vitest';
import { get, newKey, post } from '../helpers/http.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { havePostgres } from '../helpers/services.js';

describe.runIf(await havePostgres())('concurrent reserves on one hot key', () => {
  const fixture = useLedger();

  it('lets exactly 100 of 300 concurrent one-unit reserves succeed on 100 units', async () => {
    const stock = { product_id: 'hot-sku', warehouse_id: 'wh-1' };
    const adjusted = await post(fixture.ledger.baseUrl, '/v1/stock/adjust', {
      ...stock,
      delta: 100,
    });
    expect(adjusted.status).toBe(200);

    const attempts = await Promise.all(
      Array.from({ length: 300 }, () =>
        post(fixture.ledger.baseUrl, '/v1/reserve', {
          ...stock,
          quantity: 1,
          idempotency_key: newKey('race'),
        }),
      ),
    );
    const statuses = attempts.map((attempt) => attempt.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(100);
    expect(statuses.filter((status) => status === 409)).toHaveLength(200);
    for (const attempt of attempts.filter((a) => a.status === 409)) {
      expect(attempt.body).toMatchObject({
        error: { code: 'insufficient_stock', details: { available: 0 } },
      });
    }
    const ids = new Set(attempts.filter((a) => a.status === 200).map((a) => a.body.reservation_id));
    expect(ids.size).toBe(100);

    const read = await get(fixture.ledger.baseUrl, '/v1/stock/hot-sku/wh-1');
    expect(read.body).toMatchObject({ on_hand: 100, reserved: 100, available: 0, version: 101 });
  });
});
