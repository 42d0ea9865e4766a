// Proves an acknowledgement waits for a flushed commit even on a database whose default is
// `synchronous_commit = off`: the journal's connections raise it to `on` for themselves (any other
// value is the operator's and kept), as do the offline tools', a reserve still answers, and the
// ledger says at start what it found. Real Postgres, real ledger process; fsync and
// full_page_writes are the server's, so their messages are proven on the settings alone.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  commitDurably,
  durabilityProblems,
  durabilitySettings,
  JournalStore,
} from '../../src/persistence/index.js';
import { onOfflineJournal } from '../../src/operations/offline-journal.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { newKey, post } from '../helpers/http.js';
import { startLedger } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

describe("what Postgres's settings say of an acknowledgement", () => {
  const safe = { fsync: 'on', fullPageWrites: 'on', synchronousCommit: 'on' };

  it('finds nothing to say of the defaults, nor of local or remote_apply', () => {
    expect(durabilityProblems(safe)).toStrictEqual([]);
    expect(durabilityProblems({ ...safe, synchronousCommit: 'local' })).toStrictEqual([]);
    expect(durabilityProblems({ ...safe, synchronousCommit: 'remote_apply' })).toStrictEqual([]);
  });

  it('calls fsync or full_page_writes off an error, and synchronous_commit off a warning', () => {
    expect(durabilityProblems({ ...safe, fsync: 'off' })).toMatchObject([
      { level: 'error', message: expect.stringMatching(/fsync=off/) },
    ]);
    expect(durabilityProblems({ ...safe, fullPageWrites: 'off' })).toMatchObject([
      { level: 'error', message: expect.stringMatching(/full_page_writes=off/) },
    ]);
    expect(durabilityProblems({ ...safe, synchronousCommit: 'off' })).toMatchObject([
      { level: 'warn', message: expect.stringMatching(/synchronous_commit is off/) },
    ]);
  });
});

describe.runIf(await havePostgres())('a database whose synchronous_commit is off', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createDatabase();
    const admin = new pg.Client({ connectionString: database.url });
    await admin.connect();
    try {
      await admin.query(`ALTER DATABASE ${database.name} SET synchronous_commit = off`);
    } finally {
      await admin.end();
    }
  });

  afterAll(async () => {
    await database.drop();
  });

  async function withClient<T>(use: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      return await use(client);
    } finally {
      await client.end();
    }
  }

  it('a connection is raised to on; one set to local keeps local', async () => {
    await withClient(async (client) => {
      expect((await durabilitySettings(client)).synchronousCommit).toBe('off');
      expect(await commitDurably(client)).toBe('on');
      expect((await client.query('SHOW synchronous_commit')).rows[0]).toStrictEqual({
        synchronous_commit: 'on',
      });
    });
    await withClient(async (client) => {
      await client.query('SET synchronous_commit = local');
      expect(await commitDurably(client)).toBe('local');
    });
  });

  it("the journal's own connection commits with on", async () => {
    const store = await JournalStore.connect(database.url, { onError: () => undefined });
    try {
      expect(store.synchronousCommit).toBe('on');
    } finally {
      await store.close();
    }
  });

  it('the ledger says so at start, and still answers', async () => {
    const ledger = await startLedger({ env: { DATABASE_URL: database.url } });
    try {
      const stocked = await post(ledger.baseUrl, '/v1/stock/adjust', {
        product_id: 'durable-sku',
        warehouse_id: 'w1',
        delta: 5,
      });
      expect(stocked.status).toBe(200);
      const reserved = await post(ledger.baseUrl, '/v1/reserve', {
        product_id: 'durable-sku',
        warehouse_id: 'w1',
        quantity: 1,
        idempotency_key: newKey('durable'),
      });
      expect(reserved.status).toBe(200);
      expect(ledger.output()).toMatch(
        /"msg":"this database's synchronous_commit is off: the journal's connections set it on/,
      );
    } finally {
      await ledger.stop();
    }
  });

  it('an offline tool works on a connection that commits with on (the journal the ledger made)', async () => {
    const done = await onOfflineJournal(
      database.url,
      () => undefined,
      async (client) => (await durabilitySettings(client)).synchronousCommit,
    );
    expect(done).toStrictEqual({ kind: 'worked', result: 'on' });
  });
});
