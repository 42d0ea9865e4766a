// The bench's --unlogged-journal experiment on the real Postgres: the ledger's journal table,
// migrated as the ledger migrates it, becomes unlogged with its rows kept, and after it the
// rows a journal insert writes reach no WAL record of that table.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseBenchArguments } from '../../bench/lib/args.js';
import { createScratchDatabase, readWalCounters } from '../../bench/lib/scratch-database.js';
import { makeJournalUnlogged } from '../../bench/lib/unlogged-journal.js';
import { walComposition } from '../../bench/lib/wal-composition.js';
import { migrate } from '../../src/persistence/migrations.js';
import { adminDatabaseUrl, havePostgres } from '../helpers/services.js';

describe('--unlogged-journal', () => {
  it('is a flag of the bench, off unless given', () => {
    expect(parseBenchArguments([])?.unloggedJournal).toBe(false);
    expect(parseBenchArguments(['--unlogged-journal'])?.unloggedJournal).toBe(true);
  });
});

describe.runIf(await havePostgres())('--unlogged-journal on Postgres', () => {
  it('makes ledger_wal unlogged, keeps its rows, and its inserts write no WAL', async () => {
    const database = await createScratchDatabase(adminDatabaseUrl);
    try {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        await migrate(client);
        const insert = (from: number) =>
          client.query(
            `INSERT INTO ledger_wal (partition, lsn, payload)
             SELECT 0, g, '\\x0102'::bytea FROM generate_series($1::bigint, $1::bigint + 199) g`,
            [from],
          );
        await insert(1);
        expect(await makeJournalUnlogged(database.url)).toMatch(/UNLOGGED/);
        const persistence = await client.query<{ relpersistence: string }>(
          "SELECT relpersistence FROM pg_class WHERE oid = 'ledger_wal'::regclass",
        );
        expect(persistence.rows[0]?.relpersistence).toBe('u');
        const kept = await client.query<{ n: string }>('SELECT count(*) AS n FROM ledger_wal');
        expect(Number(kept.rows[0]?.n)).toBe(200);

        const before = await readWalCounters(adminDatabaseUrl);
        await insert(201);
        const after = await readWalCounters(adminDatabaseUrl);
        if (before === undefined || after === undefined) throw new Error('no WAL counters');
        const stats = await walComposition(adminDatabaseUrl, before.insertLsn, after.insertLsn);
        const journal = stats.parts.filter((part) => part.relation.startsWith('ledger_wal'));
        expect(journal).toEqual([]);
        // The commit itself is still logged (and waited for): only the table's rows are not.
        expect(stats.parts.some((part) => part.record.startsWith('Transaction/COMMIT'))).toBe(true);
      } finally {
        await client.end();
      }
    } finally {
      await database.drop();
    }
  });
});
