// Fencing against a real Postgres: a journal write carries the lease epoch it was applied under,
// so once another node has taken the partition over, the old owner's write fails whole (LDG01,
// naming the partition) and writes nothing; and a lease is not taken over while a write under
// it is in progress (it is, once that write has committed, and the new owner's recovery reads
// it).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClusterLeases,
  JournalStore,
  leasesLostBy,
  migrate,
  openLayout,
} from '../../src/persistence/index.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

const row = (lsn: number, epoch: number) => ({
  partition: 0,
  lsn,
  payload: new Uint8Array([lsn]),
  epoch,
});

describe.runIf(await havePostgres())('cluster lease fencing', () => {
  let database: TestDatabase;
  const clients: pg.Client[] = [];
  const client = async () => {
    const opened = new pg.Client({ connectionString: database.url });
    await opened.connect();
    clients.push(opened);
    return opened;
  };

  beforeAll(async () => {
    database = await createDatabase('ledger_fencing');
    const setup = await client();
    await migrate(setup);
    await openLayout(setup, { partitions: 4, hashVersion: 2 }, true);
  });

  afterAll(async () => {
    for (const opened of clients) await opened.end().catch(() => undefined);
    await database?.drop();
  });

  it('refuses the old owner after a take-over, and never takes a lease over under a write', async () => {
    const leasesA = new ClusterLeases(await client(), 'node-a', 1);
    const leasesB = new ClusterLeases(await client(), 'node-b', 1);
    await leasesA.ensurePartitions(4);
    const storeA = new JournalStore(await client(), { node: 'node-a' });
    const writerB = await client();
    const storeB = new JournalStore(writerB, { node: 'node-b' });

    const [first] = await leasesA.acquire([0]);
    expect(first).toEqual({ partition: 0, epoch: 1 });
    await storeA.append([row(1, 1)]);
    // Live: nobody else takes it.
    expect(await leasesB.acquire([0])).toEqual([]);

    await sleep(1_200);
    expect(await leasesB.acquire([0])).toEqual([{ partition: 0, epoch: 2 }]);
    const refused = await storeA.append([row(2, 1)]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(leasesLostBy(refused)).toEqual([0]);
    // Nor may it cut rows past a gap it saw: they could be the new owner's by now.
    const cut = await storeA.cutTail(0, 0, [], 1).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(leasesLostBy(cut), String(cut)).toEqual([0]);
    expect(await database.query('SELECT lsn FROM ledger_wal WHERE partition = 0')).toHaveLength(1);
    // Renewal tells the old owner too.
    expect(await leasesA.renew([{ partition: 0, epoch: 1 }])).toEqual([]);
    await storeB.append([row(2, 2)]);

    // B's lease runs out while B is writing under it: A cannot take it over until B's write
    // has committed (and then reads it), and B's write cannot land after the take-over.
    await sleep(1_200);
    await writerB.query('BEGIN');
    await writerB.query(`SELECT ledger_fence('node-b', '{0}', '{2}')`);
    expect(await leasesA.acquire([0])).toEqual([]);
    await writerB.query(`INSERT INTO ledger_wal (partition, lsn, payload) VALUES (0, 3, '\\x03')`);
    await writerB.query('COMMIT');
    expect(await leasesA.acquire([0])).toEqual([{ partition: 0, epoch: 3 }]);
    const lsns = await database.query<{ lsn: string }>(
      'SELECT lsn FROM ledger_wal WHERE partition = 0 ORDER BY lsn',
    );
    expect(lsns.map((each) => Number(each.lsn))).toEqual([1, 2, 3]);
    // A record applied under a lease since lost is never written, even by a node that holds the
    // partition again under a newer epoch.
    const stale = await storeA.append([row(4, 1)]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(leasesLostBy(stale)).toEqual([0]);
    await storeA.append([row(4, 3)]);
  });
});
