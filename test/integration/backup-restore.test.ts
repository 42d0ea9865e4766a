// Proves the backup procedure of docs/operations.md: `pg_dump` of a journal taken while the
// ledger serves, restored with `pg_restore` into an empty database, starts a ledger that answers
// every stock key, hold and transfer exactly as the original did at the dump (snapshot and journal
// tail both), and lacks what was acknowledged after the dump: the RPO of a dump is its age.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post } from '../helpers/http.js';
import { startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres, servicesRequired } from '../helpers/services.js';

const run = promisify(execFile);

/** pg_dump must be at least the server's major version; the CI machine has Debian's. */
async function havePgDump(): Promise<boolean> {
  if (!(await havePostgres())) return false;
  try {
    const { stdout } = await run('pg_dump', ['--version']);
    const database = await createDatabase('ledger_dumpcheck');
    try {
      const [row] = await database.query<{ v: string }>(
        "SELECT current_setting('server_version_num') AS v",
      );
      const server = Math.floor(Number(row?.v) / 10_000);
      const client = Number(/(\d+)\.\d+/.exec(stdout)?.[1]);
      if (client >= server) return true;
      if (servicesRequired) throw new Error(`pg_dump ${client} cannot dump a ${server} server`);
      return false;
    } finally {
      await database.drop();
    }
  } catch (error) {
    if (servicesRequired) throw error;
    return false;
  }
}

describe.runIf(await havePgDump())('a journal backed up with pg_dump and restored', () => {
  let original: TestDatabase;
  let restored: TestDatabase;
  let ledger: LedgerProcess | undefined;
  let fromBackup: LedgerProcess | undefined;
  const folder = mkdtempSync(join(tmpdir(), 'ledger-backup-'));

  beforeAll(async () => {
    original = await createDatabase();
    restored = await createDatabase();
    ledger = await startLedger({ env: { DATABASE_URL: original.url } });
  });

  afterAll(async () => {
    await fromBackup?.stop();
    await ledger?.stop();
    await original?.drop();
    await restored?.drop();
    rmSync(folder, { recursive: true, force: true });
  });

  it('answers as the original did at the dump, without what came after it', async () => {
    const base = (ledger as LedgerProcess).baseUrl;
    const keys = Array.from({ length: 6 }, (_, index) => ({
      product_id: `bk-${index % 3}`,
      warehouse_id: `w${index}`,
    }));
    for (const key of keys) {
      expect((await post(base, '/v1/stock/adjust', { ...key, delta: 50 })).status).toBe(200);
    }
    const holds: string[] = [];
    const hold = async (index: number): Promise<string> => {
      const key = keys[index % keys.length];
      const body = { ...key, quantity: 1 + (index % 4), idempotency_key: newKey('bk') };
      const answer = await post(base, '/v1/reserve', body);
      expect(answer.status).toBe(200);
      return (answer.body as { reservation_id: string }).reservation_id;
    };
    for (let index = 0; index < 20; index += 1) holds.push(await hold(index));
    // Half of the history lives in a snapshot, the rest in the journal's tail after it.
    expect((await post(base, '/v1/admin/snapshot', {})).status).toBe(200);
    for (let index = 20; index < 40; index += 1) holds.push(await hold(index));
    for (const id of holds.slice(0, 10)) {
      expect((await post(base, '/v1/confirm', { reservation_id: id })).status).toBe(200);
    }
    for (const id of holds.slice(10, 15)) {
      expect((await post(base, '/v1/release', { reservation_id: id })).status).toBe(200);
    }
    const transfer = await post(base, '/v1/transfers', {
      product_id: 'bk-0',
      from_warehouse_id: 'w0',
      to_warehouse_id: 'w3',
      quantity: 5,
      in_transit: true,
      idempotency_key: newKey('bk-transfer'),
    });
    expect(transfer.status).toBe(200);
    const transferId = (transfer.body as { transfer_id: string }).transfer_id;

    const stockAt = async (url: string) =>
      Promise.all(
        keys.map(
          async (key) => (await get(url, `/v1/stock/${key.product_id}/${key.warehouse_id}`)).body,
        ),
      );
    const holdsAt = async (url: string) =>
      Promise.all(holds.map(async (id) => (await get(url, `/v1/reservations/${id}`)).body));
    const atDump = { stock: await stockAt(base), holds: await holdsAt(base) };

    // The online backup: one consistent snapshot of every table, taken while the ledger serves.
    const file = join(folder, 'journal.dump');
    await run('pg_dump', ['--format=custom', `--file=${file}`, original.url]);
    // Acknowledged after the dump: a backup restored later cannot have it.
    const late = await post(base, '/v1/stock/adjust', { ...keys[1], delta: 7 });
    expect(late.status).toBe(200);

    await run('pg_restore', ['--no-owner', `--dbname=${restored.url}`, file]);
    fromBackup = await startLedger({ env: { DATABASE_URL: restored.url } });
    const again = fromBackup.baseUrl;
    expect(await stockAt(again)).toEqual(atDump.stock);
    expect(await holdsAt(again)).toEqual(atDump.holds);
    const moved = await get(again, `/v1/transfers/${transferId}`);
    expect(moved.body).toMatchObject({ status: 'IN_TRANSIT', quantity: 5 });
    expect((await get(again, '/v1/stock/bk-0/w3')).body).toMatchObject({ incoming: 5 });
    // And it goes on serving: a new hold and the transfer's arrival.
    const onward = await post(again, '/v1/reserve', {
      ...keys[2],
      quantity: 1,
      idempotency_key: newKey('bk-after'),
    });
    expect(onward.status).toBe(200);
    const received = await post(again, `/v1/transfers/${transferId}/receive`, {});
    expect(received.status).toBe(200);
  });
});
