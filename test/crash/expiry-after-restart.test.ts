// Proves holds come back onto the expiry schedule after a crash: a hold is made, the ledger is
// killed (SIGKILL) and stays down past the hold's expires_at; once restarted, without anyone
// naming the hold, its units return to available (a stock read does not expire holds by itself)
// and the expiry is journaled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post } from '../helpers/http.js';
import { sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { rebuildFromWal } from '../helpers/wal-rebuild.js';

describe.runIf(await havePostgres())('a hold whose time passes while the ledger is down', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess | undefined;
  const env = (): Record<string, string> => ({
    DATABASE_URL: database.url,
    LEDGER_TTL_SECONDS_MIN: '1',
  });

  beforeAll(async () => {
    database = await createDatabase();
  });

  afterAll(async () => {
    if (ledger !== undefined && ledger.child.exitCode === null) await ledger.kill();
    await database?.drop();
  });

  it('expires once the ledger is back, without being asked', async () => {
    ledger = await startLedger({ env: env() });
    const key = { product_id: 'ttl-sku', warehouse_id: 'ttl-wh' };
    const path = `/v1/stock/${key.product_id}/${key.warehouse_id}`;
    expect((await post(ledger.baseUrl, '/v1/stock/adjust', { ...key, delta: 5 })).status).toBe(200);
    const held = await post(ledger.baseUrl, '/v1/reserve', {
      ...key,
      quantity: 2,
      ttl_seconds: 2,
      idempotency_key: newKey('ttl'),
    });
    expect(held.status).toBe(200);
    const id = held.body.reservation_id as string;
    const expiresAtMs = Date.parse(held.body.expires_at as string);
    await ledger.kill();
    while (Date.now() < expiresAtMs + 500) await sleep(50);
    ledger = await startLedger({ env: env() });
    let stock = await get(ledger.baseUrl, path);
    for (const deadline = Date.now() + 20_000; Date.now() < deadline;) {
      if (stock.body.reserved === 0) break;
      await sleep(50);
      stock = await get(ledger.baseUrl, path);
    }
    expect(stock.body, 'the hold still holds its units').toMatchObject({
      on_hand: 5,
      reserved: 0,
      available: 5,
    });
    const truth = await rebuildFromWal(database);
    expect(truth.statuses.get(id), 'the expiry is in the journal').toBe('EXPIRED');
    expect((await get(ledger.baseUrl, `/v1/reservations/${id}`)).body.status).toBe('EXPIRED');
  }, 90_000);
});
