// End to end, over HTTP: a stock read sent after a reserve was answered sees that reserve, with
// many clients on one hot key at once, so that group commits carry many replies and changes.
// (Which of a shard's messages comes first is pinned by shard-durable-order.test.ts.)
import { describe, expect, it } from 'vitest';
import { get, newKey, post } from '../helpers/http.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { havePostgres } from '../helpers/services.js';

const warehouse = 'read-after-wh';

describe.runIf(await havePostgres())('a read after a reply', () => {
  const fixture = useLedger();

  it('sees every reserve answered before it was sent, with 16 clients on one key', async () => {
    const product = `read-after-${process.pid}`;
    const stocked = await post(fixture.ledger.baseUrl, '/v1/stock/adjust', {
      product_id: product,
      warehouse_id: warehouse,
      delta: 100_000,
    });
    expect(stocked.status).toBe(200);
    let answered = 0;
    const shortfalls: string[] = [];
    const client = async (index: number): Promise<void> => {
      for (let round = 0; round < 40; round += 1) {
        const reserve = await post(fixture.ledger.baseUrl, '/v1/reserve', {
          product_id: product,
          warehouse_id: warehouse,
          quantity: 1,
          ttl_seconds: 600,
          idempotency_key: newKey(`read-after-${index}-${round}`),
        });
        expect(reserve.status).toBe(200);
        answered += 1;
        // Every reserve answered so far, this one included, is in the stock the read shows.
        const seen = answered;
        const stock = await get(fixture.ledger.baseUrl, `/v1/stock/${product}/${warehouse}`);
        expect(stock.status).toBe(200);
        const reserved = stock.body.reserved as number;
        if (reserved < seen)
          shortfalls.push(`client ${index} round ${round}: ${reserved} < ${seen}`);
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, index) => client(index)));
    expect(shortfalls).toEqual([]);
    const end = await get(fixture.ledger.baseUrl, `/v1/stock/${product}/${warehouse}`);
    expect(end.body.reserved).toBe(16 * 40);
    expect(end.body.available).toBe(100_000 - 16 * 40);
  });
});
