// Proves `ledger history-backfill` writes back exactly the movements a journal's changes had: a
// real ledger journals adjusts, holds, confirms, releases, lots and transfers; its movement rows
// are kept aside and deleted (a journal from a version before movements), one partition's WAL is
// trimmed below a snapshot; the command, run on the stopped journal, must restore every row the
// WAL still reaches equal to the original (counts, time, subject, payload), refuse while a ledger
// runs, and find nothing to do when run again.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/router/index.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { newKey, post } from '../helpers/http.js';
import { startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

const cli = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
const partitions = 256;

function ledgerCli(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => resolve({ code, out, err }));
  });
}

interface MovementRow {
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly version: string;
  readonly at: Date;
  readonly on_hand: string;
  readonly reserved: string;
  readonly incoming: string;
  readonly subject: string | null;
  readonly payload: Buffer;
}

describe.runIf(await havePostgres())('ledger history-backfill', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess | undefined;
  const movements = () =>
    database.query<MovementRow>(
      `SELECT product_id, warehouse_id, version, at, on_hand, reserved, incoming, subject, payload
       FROM ledger_movements ORDER BY product_id, warehouse_id, version`,
    );

  beforeAll(async () => {
    database = await createDatabase();
    ledger = await startLedger({ env: { DATABASE_URL: database.url } });
  });

  afterAll(async () => {
    await ledger?.stop();
    await database?.drop();
  });

  async function send(path: string, body: Record<string, unknown>): Promise<unknown> {
    const reply = await post((ledger as LedgerProcess).baseUrl, path, body);
    expect(reply.status, `${path}: ${reply.text}`).toBe(200);
    return reply.body;
  }

  /** Every kind of movement on a few keys: adjusts, sets, lots, holds and their ends, transfers. */
  async function changes(product: string): Promise<void> {
    const key = { product_id: product, warehouse_id: 'w1' };
    await send('/v1/stock/adjust', { ...key, delta: 10 });
    await send('/v1/stock/adjust', { ...key, delta: 4, lot: { lot_id: 'L1' } });
    const holds = [];
    for (let index = 0; index < 3; index += 1) {
      holds.push(
        (await send('/v1/reserve', { ...key, quantity: 2, idempotency_key: newKey('bf') })) as {
          reservation_id: string;
        },
      );
    }
    await send('/v1/confirm', { reservation_id: holds[0]?.reservation_id });
    await send('/v1/release', { reservation_id: holds[1]?.reservation_id });
    await send('/v1/stock/set', { ...key, on_hand: 12 });
    await send('/v1/transfers', {
      product_id: product,
      from_warehouse_id: 'w1',
      to_warehouse_id: 'w2',
      quantity: 3,
      in_transit: true,
      idempotency_key: newKey('bf-transfer'),
    });
  }

  it('writes back every movement the WAL reaches, equal to the original, once', async () => {
    const base = (ledger as LedgerProcess).baseUrl;
    const products = ['bf-a', 'bf-b', 'bf-c'];
    // The trimmed partition holds bf-a alone.
    expect(new Set(products.map((product) => partitionOf(product, partitions))).size).toBe(3);
    for (const product of products) await changes(product);
    expect((await post(base, '/v1/admin/snapshot', {})).status).toBe(200);
    const trimmed = partitionOf('bf-a', partitions);
    const [snapshot] = await database.query<{ lsn: string }>(
      'SELECT max(lsn) AS lsn FROM ledger_snapshots WHERE partition = $1',
      [trimmed],
    );
    expect(snapshot?.lsn).not.toBeNull();
    // After the snapshot: more changes, which a trimmed WAL still holds.
    for (const product of products) {
      await send('/v1/stock/adjust', { product_id: product, warehouse_id: 'w1', delta: 1 });
    }
    const refusedWhileRunning = await ledgerCli(['history-backfill'], {
      DATABASE_URL: database.url,
    });
    expect(refusedWhileRunning.code, refusedWhileRunning.err).toBe(1);
    expect(refusedWhileRunning.err).toMatch(/a ledger is running/);
    expect(await ledger?.stop()).toBe(0);
    ledger = undefined;

    const original = await movements();
    expect(original.length).toBeGreaterThan(3 * 10);
    // One product's partition had its WAL trimmed up to that snapshot, as the WAL trim does (the
    // stop's snapshot, after it, is newer).
    await database.query('DELETE FROM ledger_wal WHERE partition = $1 AND lsn <= $2', [
      trimmed,
      snapshot?.lsn,
    ]);
    // A journal from before movements: none at all.
    await database.query('DELETE FROM ledger_movements');

    const run = await ledgerCli(['history-backfill'], { DATABASE_URL: database.url });
    expect(run.code, run.err).toBe(0);
    const summary = JSON.parse(run.out) as Record<string, number>;
    const restored = await movements();
    // bf-a's changes before its snapshot went with the trimmed WAL: only w1's last one is back.
    const reachable = original.filter(
      (row) => row.product_id !== 'bf-a' || (row.warehouse_id === 'w1' && row.version === '10'),
    );
    expect(restored).toEqual(reachable);
    expect(summary).toMatchObject({
      movements_written: restored.length,
      partitions_from_snapshot: 1,
      partitions_skipped: 0,
      older_than_retention: 0,
    });

    const again = await ledgerCli(['history-backfill'], { DATABASE_URL: database.url });
    expect(again.code, again.err).toBe(0);
    expect(JSON.parse(again.out)).toMatchObject({ movements_written: 0 });
    expect(await movements()).toEqual(restored);
  });
});
