// Proves /metrics counts what happened: after a known sequence of requests on the real server,
// the reservation counters, the latency histogram's count, the journal's batch sizes and the
// per-key stock gauge hold exactly the expected values, merged across shard workers.
import { describe, expect, it } from 'vitest';
import { get, newKey, post } from '../helpers/http.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { havePostgres } from '../helpers/services.js';

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe.runIf(await havePostgres())('metrics after known traffic', () => {
  const fixture = useLedger();

  it('counts every reserve by result and every journal record, and shows the key stock', async () => {
    const stock = { product_id: 'metered', warehouse_id: 'w' };
    expect(
      (await post(fixture.ledger.baseUrl, '/v1/stock/adjust', { ...stock, delta: 5 })).status,
    ).toBe(200);
    const reserve = (quantity: number) =>
      post(fixture.ledger.baseUrl, '/v1/reserve', {
        ...stock,
        quantity,
        idempotency_key: newKey('met'),
      });
    for (let index = 0; index < 4; index += 1) expect((await reserve(1)).status).toBe(200);
    expect((await reserve(2)).status).toBe(409);
    expect((await reserve(3)).status).toBe(409);
    expect((await reserve(0)).status).toBe(422);
    const held = await reserve(1);
    expect(held.status).toBe(200);
    expect(
      (
        await post(fixture.ledger.baseUrl, '/v1/release', {
          reservation_id: held.body.reservation_id,
        })
      ).status,
    ).toBe(200);

    const text = (await get(fixture.ledger.baseUrl, '/metrics')).text;
    expect(sample(text, 'inventory_reservation_attempts_total{result="ok"}')).toBe(5);
    expect(sample(text, 'inventory_reservation_attempts_total{result="insufficient_stock"}')).toBe(
      2,
    );
    expect(sample(text, 'inventory_reservation_attempts_total{result="validation_failed"}')).toBe(
      1,
    );
    expect(sample(text, 'inventory_reservation_duration_seconds_count{result="ok"}')).toBe(5);
    // 1 adjust + 5 holds + 1 release were journaled, over however many group commits.
    expect(sample(text, 'ledger_journal_batch_size_sum')).toBe(7);
    expect(sample(text, 'ledger_journal_flush_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'inventory_available_stock{product_id="metered",warehouse_id="w"}')).toBe(
      1,
    );
    expect(sample(text, 'inventory_oversell_incidents_total')).toBe(0);
    expect(sample(text, 'ledger_shard_queue_depth{shard="0"}')).toBe(0);
    expect(sample(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
  });
});
