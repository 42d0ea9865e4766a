// Proves `ledger migrate-partitions` on a real hash v1 journal in Postgres: the v2 ledger refuses
// the v1 journal naming the command; a refused or failed migration changes nothing; it moves
// every key to its product's partition with balances, holds and memos intact (verify: drift 0),
// old reservation ids still work through routes, retries replay, new lsns never repeat an old
// event id; and running it again does nothing.
import type { StockRecord } from '../../src/actors/index.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimJournal, decodeRecord } from '../../src/persistence/index.js';
import { partitionOf } from '../../src/router/index.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, post } from '../helpers/http.js';
import { mainScript, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { writeV1Journal, type V1Journal } from '../helpers/v1-journal.js';

const cli = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
const partitions = 8;

function run(script: string, args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; out: string; stdout: string }>((resolve) => {
    const child = spawn(process.execPath, [script, ...args], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out, stdout });
    });
  });
}

/** Everything the journal holds, as one comparable text (tables not created yet: absent). */
async function journalContents(database: TestDatabase): Promise<string> {
  const tables: Array<[table: string, sql: string]> = [
    ['ledger_wal', 'SELECT partition, lsn, md5(payload) FROM ledger_wal ORDER BY 1, 2'],
    ['ledger_snapshots', 'SELECT partition, lsn, md5(payload) FROM ledger_snapshots ORDER BY 1, 2'],
    ['ledger_meta', 'SELECT partitions, hash_version FROM ledger_meta'],
    ['ledger_event_cursors', 'SELECT partition, lsn FROM ledger_event_cursors ORDER BY 1'],
    ['ledger_reservation_routes', 'SELECT * FROM ledger_reservation_routes ORDER BY 1'],
    [
      'ledger_wal_archive',
      'SELECT hash_version, partition, lsn, md5(payload) FROM ledger_wal_archive ORDER BY 1, 2, 3',
    ],
  ];
  const contents: unknown[] = [];
  for (const [table, sql] of tables) {
    const [found] = await database.query<{ exists: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS exists',
      [table],
    );
    contents.push(found?.exists === true ? await database.query(sql) : 'absent');
  }
  return JSON.stringify(contents);
}

describe.runIf(await havePostgres())('ledger migrate-partitions', () => {
  let database: TestDatabase;
  let journal: V1Journal;
  let env: Record<string, string>;
  let baseLsn = 0;
  let ledger: LedgerProcess | undefined;

  beforeAll(async () => {
    database = await createDatabase();
    journal = await writeV1Journal(database.url, partitions, `mig-${process.pid}`);
    env = { DATABASE_URL: database.url };
    // Events were in use: every partition published, but one is a record behind.
    const heads = await database.query<{ partition: number; lsn: string }>(
      'SELECT partition, max(lsn) AS lsn FROM ledger_wal GROUP BY partition ORDER BY partition',
    );
    for (const [index, head] of heads.entries()) {
      await database.query('INSERT INTO ledger_event_cursors (partition, lsn) VALUES ($1, $2)', [
        head.partition,
        Number(head.lsn) - (index === 0 ? 1 : 0),
      ]);
    }
  });

  afterAll(async () => {
    await ledger?.stop();
    await database?.drop();
  });

  it('refuses to start the v2 ledger on the v1 journal, naming the command (exit 2)', async () => {
    const before = JSON.parse(await journalContents(database)) as unknown[];
    expect(before.slice(4)).toStrictEqual(['absent', 'absent']);
    const refused = await run(mainScript, [], env);
    expect(refused.code).toBe(2);
    expect(refused.out).toContain('partition hash version 1 (by stock key)');
    expect(refused.out).toContain('npm run ledger -- migrate-partitions --database-url');
    expect(refused.out).toContain('nothing was changed');
    // The journal is as it was; the start only added this version's (empty) tables.
    const after = JSON.parse(await journalContents(database)) as unknown[];
    expect(after.slice(0, 4)).toStrictEqual(before.slice(0, 4));
    expect(after.slice(4)).toStrictEqual([[], []]);
  });

  it('refuses while a ledger holds the journal, and while events are unpublished, changing nothing', async () => {
    const before = await journalContents(database);
    const owner = new pg.Client({ connectionString: database.url });
    await owner.connect();
    await claimJournal(owner, 0, () => undefined);
    const locked = await run(cli, ['migrate-partitions'], env);
    await owner.end();
    expect(locked.code).toBe(1);
    expect(locked.out).toContain('a ledger is running on this journal');

    const lagging = await run(cli, ['migrate-partitions', '--database-url', database.url], {});
    expect(lagging.code).toBe(1);
    expect(lagging.out).toContain('1 journal records in 1 partitions were never published');
    expect(lagging.out).toContain('--discard-unpublished-events');
    expect(lagging.out).toContain('nothing was changed');
    expect(await journalContents(database)).toBe(before);
  });

  it('rolls back everything when it fails, before or after its writes, so it can be rerun', async () => {
    const [head] = await database.query<{ partition: number; lsn: string }>(
      'SELECT partition, max(lsn) AS lsn FROM ledger_wal GROUP BY partition ORDER BY 1 LIMIT 1',
    );
    const gapLsn = Number(head?.lsn) + 2;
    const [row] = await database.query<{ payload: Buffer }>(
      'SELECT payload FROM ledger_wal WHERE partition = $1 ORDER BY lsn DESC LIMIT 1',
      [head?.partition],
    );
    await database.query('INSERT INTO ledger_wal (partition, lsn, payload) VALUES ($1, $2, $3)', [
      head?.partition,
      gapLsn,
      row?.payload,
    ]);
    const before = await journalContents(database);
    const failed = await run(cli, ['migrate-partitions', '--discard-unpublished-events'], env);
    expect(failed.code).toBe(1);
    expect(failed.out).toContain('journal gap');
    expect(failed.out).toContain('rolled back, nothing was changed');
    expect(await journalContents(database)).toBe(before);
    await database.query('DELETE FROM ledger_wal WHERE partition = $1 AND lsn = $2', [
      head?.partition,
      gapLsn,
    ]);

    // A failure after its writes began: the WAL archived and deleted, the new snapshots and
    // cursors written, then the hash version's update fails.
    await database.query(`CREATE FUNCTION fail_meta() RETURNS trigger LANGUAGE plpgsql AS
      $$ BEGIN RAISE EXCEPTION 'injected failure at the last write'; END $$`);
    await database.query(
      'CREATE TRIGGER fail_meta BEFORE UPDATE ON ledger_meta FOR EACH ROW EXECUTE FUNCTION fail_meta()',
    );
    const intact = await journalContents(database);
    const late = await run(cli, ['migrate-partitions', '--discard-unpublished-events'], env);
    expect(late.code).toBe(1);
    expect(late.out).toContain('injected failure at the last write; rolled back');
    expect(await journalContents(database)).toBe(intact);
    await database.query('DROP TRIGGER fail_meta ON ledger_meta');
    await database.query('DROP FUNCTION fail_meta()');
  });

  it('migrates: archives the v1 WAL, snapshots every partition at one base lsn, routes moved holds', async () => {
    const migrated = await run(cli, ['migrate-partitions', '--discard-unpublished-events'], env);
    expect(migrated.code, migrated.out).toBe(0);
    const summary = JSON.parse(migrated.stdout) as Record<string, number | boolean>;
    expect(summary).toMatchObject({
      migrated: true,
      from_hash_version: 1,
      to_hash_version: 2,
      partitions,
      keys: journal.keys.length,
      reservations: journal.keys.length * 3,
      pending_reservations: journal.keys.length,
      archived_wal_rows: journal.walRows,
      discarded_events: 1,
    });
    expect(summary.routes).toBeGreaterThan(0);
    expect(summary.duration_ms).toEqual(expect.any(Number));
    baseLsn = summary.base_lsn as number;
    expect(baseLsn).toBe(journal.highestLsn + 1);

    const [meta] = await database.query<{ hash_version: number }>('SELECT * FROM ledger_meta');
    expect(meta?.hash_version).toBe(2);
    expect(await database.query('SELECT 1 FROM ledger_wal')).toHaveLength(0);
    const snapshots = await database.query<{ lsn: string }>('SELECT lsn FROM ledger_snapshots');
    expect(snapshots.map((row) => Number(row.lsn))).toStrictEqual(
      new Array<number>(partitions).fill(baseLsn),
    );
    const cursors = await database.query<{ lsn: string }>('SELECT lsn FROM ledger_event_cursors');
    expect(cursors.map((row) => Number(row.lsn))).toStrictEqual(
      new Array<number>(partitions).fill(baseLsn),
    );
    const [archived] = await database.query<{ rows: string }>(
      'SELECT count(*) AS rows FROM ledger_wal_archive WHERE hash_version = 1',
    );
    expect(Number(archived?.rows)).toBe(journal.walRows);
    const [route] = await database.query<{ partition: number }>(
      'SELECT partition FROM ledger_reservation_routes WHERE reservation_id = $1',
      [journal.movedPending.reservationId],
    );
    expect(route?.partition).toBe(partitionOf(journal.movedPending.productId, partitions));
  });

  it('does nothing the second time', async () => {
    const before = await journalContents(database);
    const again = await run(cli, ['migrate-partitions'], env);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already uses partition hash version 2');
    expect(await journalContents(database)).toBe(before);
  });

  it('serves the migrated journal: drift 0, retries replay, old ids work through their routes', async () => {
    ledger = await startLedger({ env });
    const base = ledger.baseUrl;
    const verified = await run(cli, ['verify'], { ...env, LEDGER_URL: base });
    expect(verified.out).toContain(`"keys_checked":${journal.keys.length},"drift":0`);

    const hold = journal.movedPending;
    const retried = await post(base, '/v1/reserve', {
      product_id: hold.productId,
      warehouse_id: hold.warehouseId,
      quantity: hold.quantity,
      idempotency_key: hold.idempotencyKey,
      ttl_seconds: hold.ttlSeconds,
    });
    expect(retried.status).toBe(200);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(retried.body.reservation_id).toBe(hold.reservationId);

    const { productId, warehouseId, delta, reason, idempotencyKey } = journal.keyedAdjust;
    const adjustAgain = await post(base, '/v1/stock/adjust', {
      product_id: productId,
      warehouse_id: warehouseId,
      delta,
      reason,
      idempotency_key: idempotencyKey,
    });
    expect(adjustAgain.status).toBe(200);
    expect(adjustAgain.headers.get('idempotent-replayed')).toBe('true');

    const confirmed = await post(base, '/v1/confirm', { reservation_id: hold.reservationId });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body.status).toBe('CONFIRMED');
    const earlier = await get(base, `/v1/reservations/${journal.movedConfirmedId}`);
    expect(earlier.body.status).toBe('CONFIRMED');
  });

  it('puts every warehouse of a product in one partition, with lsns after the base', async () => {
    const base = (ledger as LedgerProcess).baseUrl;
    for (const key of journal.keys) {
      const adjusted = await post(base, '/v1/stock/adjust', { ...key, delta: 1, reason: 'after' });
      expect(adjusted.status).toBe(200);
    }
    const rows = await database.query<{ partition: number; lsn: string; payload: Buffer }>(
      'SELECT partition, lsn, payload FROM ledger_wal ORDER BY partition, lsn',
    );
    expect(rows.length).toBe(journal.keys.length + 1); // the adjusts and the confirm
    const partitionsOfProduct = new Map<string, Set<number>>();
    for (const row of rows) {
      // A new event id <partition>-<lsn> can never be one published before the migration.
      expect(Number(row.lsn)).toBeGreaterThan(baseLsn);
      const record = decodeRecord(row.payload) as StockRecord;
      expect(row.partition).toBe(partitionOf(record.productId, partitions));
      const seen = partitionsOfProduct.get(record.productId) ?? new Set<number>();
      partitionsOfProduct.set(record.productId, seen.add(row.partition));
    }
    expect([...partitionsOfProduct.values()].map((set) => set.size)).toStrictEqual([1, 1, 1]);
  });

  it('recovers the migrated journal after a restart (snapshot at the base lsn + tail)', async () => {
    expect(await (ledger as LedgerProcess).stop()).toBe(0);
    ledger = await startLedger({ env });
    const verified = await run(cli, ['verify'], { ...env, LEDGER_URL: ledger.baseUrl });
    expect(verified.out).toContain(`"keys_checked":${journal.keys.length},"drift":0`);
    const moved = await get(
      ledger.baseUrl,
      `/v1/reservations/${journal.movedPending.reservationId}`,
    );
    expect(moved.body.status).toBe('CONFIRMED');
  });
});
