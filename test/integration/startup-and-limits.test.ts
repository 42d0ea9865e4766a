// Proves the ledger refuses what it must at start (bad config, uWS fallback, a journal made with
// another partition count: exit 2 with a message naming the cause) and answers 503 overloaded
// with retry-after, changing nothing, when a shard's in-flight bound is reached.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post } from '../helpers/http.js';
import { mainScript, startLedger } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

function runToExit(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainScript], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe.runIf(await havePostgres())('start-up refusals and the in-flight bound', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createDatabase();
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('exits 2 naming the variable when a setting is invalid', async () => {
    const result = await runToExit({ DATABASE_URL: database.url, SHARDS: 'many' });
    expect(result.code).toBe(2);
    expect(result.output).toMatch(/config error: SHARDS must be an integer/);
  });

  it('refuses to run on the uWebSockets.js JavaScript fallback', async () => {
    const result = await runToExit({ DATABASE_URL: database.url, UWS_USE_FALLBACK: '1' });
    expect(result.code).toBe(2);
    expect(result.output).toMatch(/native binary did not load/);
  });

  it('refuses a journal created with another partition count', async () => {
    const first = await startLedger({
      env: { DATABASE_URL: database.url, LEDGER_PARTITIONS: '64' },
    });
    expect(await first.stop()).toBe(0);
    const result = await runToExit({ DATABASE_URL: database.url, LEDGER_PARTITIONS: '128' });
    expect(result.code).toBe(2);
    expect(result.output).toMatch(/LEDGER_PARTITIONS=128 but the journal was created with 64/);
    // Without an explicit count the journal's own count is used.
    const again = await startLedger({ env: { DATABASE_URL: database.url } });
    expect(again.output()).toMatch(/"partitions":64/);
    expect(await again.stop()).toBe(0);
  });

  it('refuses a second ledger on a journal another ledger is running on', async () => {
    const first = await startLedger({ env: { DATABASE_URL: database.url } });
    const second = await runToExit({
      DATABASE_URL: database.url,
      LEDGER_JOURNAL_CLAIM_WAIT_SECONDS: '1',
    });
    expect(second.code).toBe(2);
    expect(second.output).toMatch(/another ledger is running on this journal/);
    expect((await fetch(`${first.baseUrl}/health/ready`)).status).toBe(200);
    expect(await first.stop()).toBe(0);
  });

  it('answers 503 overloaded with retry-after beyond the in-flight bound, and does nothing', async () => {
    const ledger = await startLedger({
      env: { DATABASE_URL: database.url, SHARDS: '1', LEDGER_SHARD_INFLIGHT_MAX: '2' },
    });
    const stock = { product_id: 'bounded', warehouse_id: 'w' };
    expect((await post(ledger.baseUrl, '/v1/stock/adjust', { ...stock, delta: 1000 })).status).toBe(
      200,
    );
    const replies = await Promise.all(
      Array.from({ length: 200 }, () =>
        post(ledger.baseUrl, '/v1/reserve', {
          ...stock,
          quantity: 1,
          idempotency_key: newKey('ovl'),
        }),
      ),
    );
    const overloaded = replies.filter((reply) => reply.status === 503);
    const succeeded = replies.filter((reply) => reply.status === 200);
    expect(overloaded.length).toBeGreaterThan(0);
    expect(succeeded.length + overloaded.length).toBe(replies.length);
    for (const reply of overloaded) {
      expect(reply.body).toMatchObject({ error: { code: 'overloaded' } });
      // Sized by the backlog behind it (in flight and turned away lately): 1 to 3 s.
      expect(reply.headers.get('retry-after')).toMatch(/^[1-3]$/);
    }
    const read = await get(ledger.baseUrl, '/v1/stock/bounded/w');
    expect(read.body).toMatchObject({ reserved: succeeded.length, version: 1 + succeeded.length });
    expect(await ledger.stop()).toBe(0);
  });
});
