// Proves --wal-stats on the real Postgres: the WAL between two readings of the bench's counters,
// read back with the server's pg_waldump, names the rows a transaction inserted in between by
// their table and index (other tests may write meanwhile, so counts are at least, not exactly).
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createScratchDatabase, readWalCounters } from '../../bench/lib/scratch-database.js';
import { walComposition } from '../../bench/lib/wal-composition.js';
import { adminDatabaseUrl, havePostgres } from '../helpers/services.js';

describe.runIf(await havePostgres())('--wal-stats', () => {
  it("names a window's inserts by table and index, and counts each of them", async () => {
    const database = await createScratchDatabase(adminDatabaseUrl);
    try {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        await client.query('CREATE TABLE wal_stats_probe (id integer PRIMARY KEY, note text)');
        const before = await readWalCounters(adminDatabaseUrl);
        await client.query(
          `INSERT INTO wal_stats_probe SELECT g, repeat('x', 50) FROM generate_series(1, 300) g`,
        );
        const after = await readWalCounters(adminDatabaseUrl);
        expect(before).toBeDefined();
        expect(after).toBeDefined();
        if (before === undefined || after === undefined) return;
        const stats = await walComposition(adminDatabaseUrl, before.insertLsn, after.insertLsn);
        const of = (relation: string, record: string) =>
          stats.parts
            .filter((part) => part.relation === relation && part.record.startsWith(record))
            .reduce((sum, part) => sum + part.records, 0);
        expect(of('wal_stats_probe', 'Heap/INSERT')).toBeGreaterThanOrEqual(300);
        expect(of('wal_stats_probe_pkey', 'Btree/INSERT')).toBeGreaterThanOrEqual(300);
        expect(of('(no relation)', 'Transaction/COMMIT')).toBeGreaterThanOrEqual(1);
        expect(stats.bytes).toBe(stats.parts.reduce((sum, part) => sum + part.bytes, 0));
      } finally {
        await client.end();
      }
    } finally {
      await database.drop();
    }
  });
});
