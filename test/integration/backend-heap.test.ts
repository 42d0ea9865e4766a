// The journal's connection asks its Postgres backend to keep its heap between group commits
// (src/persistence/backend-heap.ts): the statement that does so is the last one `connect` runs,
// on that connection alone, and the connection commits as before. What it saves is measured in
// bench/ (a backend's CPU per commit), not here.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backendHeapKeptBytes, JournalStore, migrate } from '../../src/persistence/index.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { havePostgres } from '../helpers/services.js';

describe.runIf(await havePostgres())("the journal connection's backend heap", () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createDatabase('backend_heap');
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      await migrate(client);
    } finally {
      await client.end();
    }
  });

  afterAll(async () => {
    await database.drop();
  });

  /**
   * The last statements of the other connections to the test database that are the keeping one
   * (a connection just ended may still be listed; this query's own text does not start so).
   */
  const keepingStatements = async (): Promise<string[]> => {
    const result = await database.query<{ query: string }>(
      `SELECT query FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid()
         AND query LIKE 'SELECT length(repeat(%'`,
    );
    return result.map((row) => row.query);
  };

  it('is made to keep it once, when the journal connects, and then commits as before', async () => {
    const plain = new pg.Client({ connectionString: database.url });
    await plain.connect();
    const store = await JournalStore.connect(database.url, { onError: () => undefined });
    try {
      await plain.query('SELECT 1');
      // The journal's connection alone, not the plain one.
      const keep = `SELECT length(repeat('x', ${backendHeapKeptBytes})) AS made`;
      expect(await keepingStatements()).toEqual([keep]);

      const payload = new Uint8Array([1, 2, 3]);
      await store.append([
        { partition: 0, lsn: 1, payload },
        { partition: 0, lsn: 2, payload },
      ]);
      const rows = await database.query<{ lsn: string }>(
        'SELECT lsn::text AS lsn FROM ledger_wal WHERE partition = 0 ORDER BY lsn',
      );
      expect(rows.map((row) => row.lsn)).toEqual(['1', '2']);
      // Once: the journal's statement is its backend's last now, not the keeping one again.
      expect(await keepingStatements()).toEqual([]);
    } finally {
      await store.close();
      await plain.end();
    }
  });
});
