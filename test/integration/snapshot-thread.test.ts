// Snapshots written from a thread of their own (SnapshotThread): the row lands as sent, the
// payload is handed over (not copied), and a write that cannot land fails (the shard's writer
// then drops the snapshot and the thread). In the real ledger each shard's thread is started
// once the shard is ready, so the first snapshot starts no thread (and no thread's start-up
// lands in the load that filled the journal), and a stop ends it unused.
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JournalStore, SnapshotThread, migrate } from '../../src/persistence/index.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { post } from '../helpers/http.js';
import { useRestartableLedger } from '../helpers/ledger-fixture.js';
import { sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

describe.runIf(await havePostgres())('the snapshot thread', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createDatabase();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await migrate(client);
    await client.end();
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('writes the rows it is given, handing their blocks over', async () => {
    const thread = new SnapshotThread(database.url);
    // As the encoder gives them: whole blocks, then a view of the last one's start.
    const blocks = [1_500_000, 1_500_000, 2_000_000].map((length, block) => {
      const bytes = Buffer.allocUnsafeSlow(length);
      for (let index = 0; index < length; index += 1) bytes[index] = (index + block) % 251;
      return bytes;
    });
    const [first, second, third] = blocks as [Buffer, Buffer, Buffer];
    const last = third.subarray(0, 1_000_000);
    const expected = Buffer.concat([first, second, last]);
    await thread.writeSnapshot({ partition: 4, lsn: 17, blocks: [first, second, last] });
    // Whole blocks are transferred (the shard's copy is gone); the view is copied, its buffer
    // left alone.
    expect(blocks.map((block) => block.byteLength)).toStrictEqual([0, 0, 2_000_000]);
    // A view of a larger buffer alone.
    const shared = Buffer.from([9, 9, 1, 2, 3, 9]);
    await thread.writeSnapshot({ partition: 5, lsn: 3, blocks: [shared.subarray(2, 5)] });
    expect([...shared]).toStrictEqual([9, 9, 1, 2, 3, 9]);
    await thread.close();

    const store = await JournalStore.connect(database.url, { onError: () => undefined });
    const rows = await store.latestSnapshots([4, 5]);
    await store.close();
    expect(rows.get(4)?.lsn).toBe(17);
    expect(Buffer.from(rows.get(4)?.payload ?? []).equals(expected)).toBe(true);
    expect([...(rows.get(5)?.payload ?? [])]).toStrictEqual([1, 2, 3]);
  });

  it('fails a write that cannot land, and closes all the same', async () => {
    const url = new URL(database.url);
    url.pathname = '/no_such_database_here';
    const thread = new SnapshotThread(url.toString());
    const row = { partition: 1, lsn: 1, blocks: [Buffer.from([1])] };
    await expect(thread.writeSnapshot(row)).rejects.toThrow();
    await thread.close();
  });
});

describe.runIf(await havePostgres())("a ledger's snapshot threads", () => {
  const { start } = useRestartableLedger();

  /** The process's threads, once their number has held for 600 ms (threads start lazily). */
  async function settledThreads(pid: number): Promise<number> {
    let last = -1;
    let sameSince = Date.now();
    for (;;) {
      const now = readdirSync(`/proc/${pid}/task`).length;
      if (now !== last) [last, sameSince] = [now, Date.now()];
      else if (Date.now() - sameSince >= 600) return now;
      await sleep(50);
    }
  }

  it('are started once the shards are ready: the first snapshots start none', async () => {
    const ledger = await start({ SHARDS: '2' });
    try {
      const pid = ledger.child.pid as number;
      // Both shards hold stock, so both write a snapshot below.
      for (const product of ['snap-a', 'snap-b', 'snap-c', 'snap-d', 'snap-e', 'snap-f']) {
        const stock = { product_id: product, warehouse_id: 'w', delta: 5 };
        expect((await post(ledger.baseUrl, '/v1/stock/adjust', stock)).status).toBe(200);
      }
      const before = await settledThreads(pid);
      const snapshot = await post(ledger.baseUrl, '/v1/admin/snapshot', {});
      expect(snapshot.status).toBe(200);
      expect(await settledThreads(pid)).toBe(before);
    } finally {
      // Stopped even after a failure: the next test's ledger needs the journal's lock.
      expect(await ledger.stop()).toBe(0);
    }
  }, 60_000);

  it('end with the ledger when no snapshot ever took them', async () => {
    const ledger = await start({ SHARDS: '2' });
    await settledThreads(ledger.child.pid as number);
    expect(await ledger.stop()).toBe(0);
  }, 60_000);
});
