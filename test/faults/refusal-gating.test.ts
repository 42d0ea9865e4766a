// Proves a refusal waits for what it saw, like a success does: with Postgres stalled (a TCP
// proxy), a reserve takes the last unit and waits for its write; a second reserve is refused
// because of it; then the journal connection is cut, so the first is never durable. The refusal
// must not have been sent (it depended on a hold that vanished): both get 503, and afterwards the
// unit is there to sell. A shard that released refusals at once would answer the 409 first.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post, type JsonResponse } from '../helpers/http.js';
import { sleep, startLedger, waitReady, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

/** The shard's in-flight gauge, from /metrics. */
async function inFlight(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const match = /^ledger_shard_queue_depth\{shard="0"\} (\d+)/m.exec(text);
  return Number(match?.[1] ?? 0);
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting until ${what}`);
}

describe.runIf(await havePostgres())('a refusal that saw an unacknowledged hold', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let ledger: LedgerProcess;

  beforeAll(async () => {
    database = await createDatabase();
    proxy = await TcpProxy.start();
    ledger = await startLedger({ env: { DATABASE_URL: proxy.urlFor(database.url), SHARDS: '1' } });
  });

  afterAll(async () => {
    if (ledger !== undefined && ledger.child.exitCode === null) await ledger.kill();
    await proxy?.close();
    await database?.drop();
  });

  it('is never sent when that hold is lost to a failed write', async () => {
    const key = { product_id: 'gate-sku', warehouse_id: 'gate-wh' };
    expect((await post(ledger.baseUrl, '/v1/stock/adjust', { ...key, delta: 1 })).status).toBe(200);
    proxy.stall();
    const reserve = () =>
      post(ledger.baseUrl, '/v1/reserve', { ...key, quantity: 1, idempotency_key: newKey('g') });
    const answers: { first?: JsonResponse; second?: JsonResponse } = {};
    const first = reserve().then((answer) => (answers.first = answer));
    await until(
      'the first reserve is in its shard',
      async () => (await inFlight(ledger.baseUrl)) >= 1,
    );
    const second = reserve().then((answer) => (answers.second = answer));
    await until(
      'the second reserve is in its shard (or answered)',
      async () => answers.second !== undefined || (await inFlight(ledger.baseUrl)) >= 2,
    );
    // Whatever the shard decided for the second, it decided it on the first's unwritten hold.
    await sleep(300);
    const earlySecond = answers.second?.status;
    proxy.dropAll();
    proxy.heal();
    await Promise.all([first, second]);
    expect(answers.first?.status, 'the hold was never written').toBe(503);
    expect(earlySecond, 'an answer that waited on nothing durable').toBeUndefined();
    expect(answers.second?.status, 'the refusal saw a hold that vanished').toBe(503);
    await waitReady(ledger.baseUrl, 30_000, ledger.output);
    const stock = await get(ledger.baseUrl, `/v1/stock/${key.product_id}/${key.warehouse_id}`);
    expect(stock.body).toMatchObject({ on_hand: 1, reserved: 0, available: 1 });
    expect((await reserve()).status).toBe(200);
  }, 90_000);
});
