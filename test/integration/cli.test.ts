// Proves the operator CLI against a real node and journal: verify reports 0 drift after a load
// and a kill -9, and finds drift it is shown; stock and snapshot work; bad usage exits 2.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRecord } from '../../src/persistence/index.js';
import { partitionOf } from '../../src/router/index.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { newKey, post } from '../helpers/http.js';
import { startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

const cli = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

function ledgerCli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe.runIf(await havePostgres())('the ledger CLI', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess;
  let env: Record<string, string>;

  beforeAll(async () => {
    database = await createDatabase();
    ledger = await startLedger({ env: { DATABASE_URL: database.url } });
    env = { LEDGER_URL: ledger.baseUrl, DATABASE_URL: database.url };
  });

  afterAll(async () => {
    await ledger?.stop();
    await database?.drop();
  });

  it('verifies 0 drift after a load and a kill -9, then reads stock and forces snapshots', async () => {
    const keys = Array.from({ length: 8 }, (_, index) => ({
      product_id: `cli-${index}`,
      warehouse_id: 'w',
    }));
    for (const key of keys) await post(ledger.baseUrl, '/v1/stock/adjust', { ...key, delta: 30 });
    await Promise.all(
      Array.from({ length: 120 }, (_, index) =>
        post(ledger.baseUrl, '/v1/reserve', {
          ...keys[index % keys.length],
          quantity: 1 + (index % 3),
          idempotency_key: newKey('cli'),
        }),
      ),
    );
    await ledger.kill();
    ledger = await startLedger({ env: { DATABASE_URL: database.url } });
    env = { LEDGER_URL: ledger.baseUrl, DATABASE_URL: database.url };

    const verified = await ledgerCli(['verify'], env);
    expect(verified.out).toContain('"keys_checked":8,"drift":0');
    expect(verified.code).toBe(0);

    const read = await ledgerCli(['stock', 'cli-0', 'w'], env);
    expect(read.code).toBe(0);
    expect(JSON.parse(read.out)).toMatchObject({ product_id: 'cli-0', on_hand: 30 });
    expect((await ledgerCli(['stock', 'nope', 'w'], env)).code).toBe(3);

    // The history of cli-0: its adjust and 15 holds (every 8th of the 120), newest first.
    const newest = await ledgerCli(['history', 'cli-0', 'w', '--limit', '10'], env);
    expect(newest.code).toBe(0);
    const lines = newest.out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as object);
    expect(lines).toHaveLength(11);
    const versions = lines.slice(0, 10).map((line) => (line as { version: number }).version);
    expect(versions).toEqual([16, 15, 14, 13, 12, 11, 10, 9, 8, 7]);
    const next = (lines[10] as { next: string }).next;
    const older = await ledgerCli(['history', 'cli-0', 'w', '--before', next], env);
    const rest = older.out
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as object);
    expect(rest.map((line) => (line as { version: number }).version)).toEqual([6, 5, 4, 3, 2, 1]);
    expect(rest[5]).toMatchObject({ type: 'adjust', quantity: 30, on_hand: 30 });
    expect((await ledgerCli(['history', 'nope', 'w'], env)).code).toBe(3);
    expect((await ledgerCli(['history', 'cli-0', 'w', '--limit', '0'], env)).code).toBe(2);

    const snapped = await ledgerCli(['snapshot'], env);
    expect(snapped.code).toBe(0);
    expect(JSON.parse(snapped.out)).toMatchObject({ partitions: expect.any(Number) });
  });

  it('reports drift when the journal holds a change the node never applied', async () => {
    // Written behind the node's back: the journal now says cli-7 has 5 more units.
    const partition = partitionOf('cli-7', 256);
    const [head] = await database.query<{ lsn: string }>(
      'SELECT max(lsn) AS lsn FROM ledger_wal WHERE partition = $1',
      [partition],
    );
    const response = await fetch(`${ledger.baseUrl}/v1/stock/cli-7/w`);
    const current = (await response.json()) as {
      on_hand: number;
      reserved: number;
      version: number;
    };
    const record = encodeRecord({
      type: 'adjusted',
      productId: 'cli-7',
      warehouseId: 'w',
      version: current.version + 1,
      atMs: Date.now(),
      traceId: 'behind-the-back',
      delta: 5,
      onHand: current.on_hand + 5,
      reserved: current.reserved,
      reason: '',
      idempotencyKey: '',
      actorId: 'test',
    });
    await database.query('INSERT INTO ledger_wal (partition, lsn, payload) VALUES ($1, $2, $3)', [
      partition,
      Number(head?.lsn) + 1,
      record,
    ]);
    const verified = await ledgerCli(['verify'], env);
    expect(verified.code).toBe(4);
    expect(verified.out).toContain('"drift":1');
    expect(verified.out).toContain('cli-7/w');
  });

  it('exits 2 with usage on a bad command or missing arguments', async () => {
    expect((await ledgerCli(['frobnicate'], env)).code).toBe(2);
    expect((await ledgerCli(['stock', 'only-one'], env)).code).toBe(2);
    expect((await ledgerCli(['history', 'only-one'], env)).code).toBe(2);
    const bare = await ledgerCli([], env);
    expect(bare.code).toBe(2);
    expect(bare.out).toContain('usage: ledger');
  });
});
