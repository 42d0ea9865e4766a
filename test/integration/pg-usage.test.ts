// Proves the ledger never queues a query behind another on one Postgres connection (pg warns
// "Calling client.query() when the client is already executing a query", and pg 9 will refuse
// it): under concurrent writes with readiness probes pinging every shard's journal connection,
// a real ledger prints no such warning, nor any other deprecation warning.
import { describe, expect, it } from 'vitest';
import { get, newKey, post } from '../helpers/http.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { havePostgres } from '../helpers/services.js';

describe.runIf(await havePostgres())('the ledger on its Postgres connections', () => {
  const fixture = useLedger({ LOG_LEVEL: 'info' });

  it('never issues a query on a busy connection, probes or not', async () => {
    const base = fixture.ledger.baseUrl;
    const key = { product_id: 'pg-usage', warehouse_id: 'wh' };
    expect((await post(base, '/v1/stock/adjust', { ...key, delta: 100_000 })).status).toBe(200);
    let probing = true;
    let probes = 0;
    const probe = (async () => {
      while (probing) {
        await get(base, '/health/ready');
        probes += 1;
      }
    })();
    const client = async () => {
      for (let index = 0; index < 150; index += 1) {
        const reply = await post(base, '/v1/reserve', {
          ...key,
          quantity: 1,
          idempotency_key: newKey('pg'),
        });
        expect(reply.status).toBe(200);
      }
    };
    await Promise.all(Array.from({ length: 16 }, client));
    probing = false;
    await probe;
    expect(probes).toBeGreaterThan(0);
    await fixture.ledger.stop();
    expect(fixture.ledger.output()).not.toMatch(/already executing a query|DeprecationWarning/);
  }, 120_000);
});
