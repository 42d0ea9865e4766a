// `--unlogged-journal`: an experiment, NOT DURABLE. After the scenario is stocked, the ledger's
// journal table (ledger_wal) is made UNLOGGED: its rows then write no Postgres WAL, while the
// movement history, the snapshots and every commit record still do, and every group commit still
// waits for its WAL flush. What the run then shows is what a journal writing (almost) no WAL of
// its own would buy the tail and the rate: an upper bound for packing a commit's journal rows
// (bench/micro/wal-append.ts), which would leave a small part of them. An unlogged table is
// emptied by a crash restart of Postgres, so nothing measured with it is the product.
import { withAdmin } from './scratch-database.js';

/** Makes ledger_wal unlogged in the ledger's own database; answers what it did, for the log. */
export async function makeJournalUnlogged(databaseUrl: string): Promise<string> {
  return withAdmin(databaseUrl, async (client) => {
    // Rewrites the table under an ACCESS EXCLUSIVE lock: group commits wait for it, and the
    // scenario has just been stocked, so there are only its few rows to copy.
    await client.query('ALTER TABLE ledger_wal SET UNLOGGED');
    const { rows } = await client.query<{ persistence: string }>(
      "SELECT relpersistence AS persistence FROM pg_class WHERE oid = 'ledger_wal'::regclass",
    );
    if (rows[0]?.persistence !== 'u') {
      throw new Error(`ledger_wal is still not unlogged (relpersistence ${rows[0]?.persistence})`);
    }
    return 'ledger_wal made UNLOGGED (experiment, NOT DURABLE: its rows write no WAL)';
  });
}
