// Proves the newcomer path: with no DATABASE_URL the ledger runs its own embedded Postgres under
// LEDGER_DATA_DIR, keeps data across a clean restart and a SIGKILL, and leaves no Postgres behind.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { get, post } from '../helpers/http.js';
import { sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';

function postmasterPid(dataDir: string): number | undefined {
  const file = path.join(dataDir, 'pg', 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  return Number(readFileSync(file, 'utf8').split('\n')[0]);
}

function alive(pid: number): boolean {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return !/^State:\s+Z/m.test(status); // a zombie has exited
  } catch {
    return false;
  }
}

describe('the embedded Postgres default', () => {
  let dataDir = '';
  let ledger: LedgerProcess | undefined;

  afterAll(async () => {
    if (ledger !== undefined && ledger.child.exitCode === null) await ledger.stop();
    if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
  });

  it('starts without DATABASE_URL, survives restarts and a SIGKILL, and cleans up on SIGTERM', async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'ledger-embedded-'));
    const env = { LEDGER_DATA_DIR: dataDir, SHARDS: '1' };
    ledger = await startLedger({ env, timeoutMs: 120_000 });
    const stock = { product_id: 'emb-sku', warehouse_id: 'wh-1' };
    expect((await post(ledger.baseUrl, '/v1/stock/adjust', { ...stock, delta: 7 })).status).toBe(
      200,
    );
    const firstPid = postmasterPid(dataDir);
    expect(firstPid).toBeDefined();

    expect(await ledger.stop()).toBe(0);
    expect(alive(firstPid as number)).toBe(false);
    expect(postmasterPid(dataDir)).toBeUndefined();

    ledger = await startLedger({ env, timeoutMs: 120_000 });
    expect((await get(ledger.baseUrl, '/v1/stock/emb-sku/wh-1')).body).toMatchObject({
      on_hand: 7,
    });
    expect((await post(ledger.baseUrl, '/v1/stock/adjust', { ...stock, delta: 3 })).status).toBe(
      200,
    );
    const orphan = postmasterPid(dataDir) as number;
    await ledger.kill();
    // The embedded server outlives a SIGKILLed parent; the next start must still come up.
    ledger = await startLedger({ env, timeoutMs: 120_000 });
    expect(alive(orphan)).toBe(false);
    expect((await get(ledger.baseUrl, '/v1/stock/emb-sku/wh-1')).body).toMatchObject({
      on_hand: 10,
    });
    const lastPid = postmasterPid(dataDir) as number;

    expect(await ledger.stop()).toBe(0);
    await sleep(50);
    expect(alive(lastPid)).toBe(false);
    expect(postmasterPid(dataDir)).toBeUndefined();
  });
});
