// What every offline operation on a journal does first: connect, check the database holds a
// ledger journal, take the journal's ownership lock (refused while a ledger holds it), add this
// version's tables, then do its work on that connection, which it closes whatever happens. The
// work's commit waits for its flush, whatever the database's synchronous_commit (durability.ts):
// the tool says it is done only once it is.
import pg from 'pg';
import { migrationClaimWaitMs } from '../limits.js';
import {
  JournalLayoutError,
  claimJournal,
  commitDurably,
  journalExists,
  migrate,
} from '../persistence/index.js';

export type OfflineJournal<Result> =
  | { readonly kind: 'worked'; readonly result: Result }
  | { readonly kind: 'refused'; readonly message: string };

export async function onOfflineJournal<Result>(
  databaseUrl: string,
  log: (message: string) => void,
  work: (client: pg.Client) => Promise<Result>,
): Promise<OfflineJournal<Result>> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', (error) => log(`journal connection error: ${error.message}`));
  await client.connect();
  try {
    await commitDurably(client);
    // Checked before migrate(), which would otherwise turn any database into an empty journal.
    if (!(await journalExists(client))) {
      return {
        kind: 'refused',
        message: 'no ledger journal in this database (no ledger_meta table)',
      };
    }
    try {
      await claimJournal(client, migrationClaimWaitMs, () =>
        log('the journal is locked by a ledger (or one that just died); waiting'),
      );
    } catch (error) {
      if (!(error instanceof JournalLayoutError)) throw error;
      const message =
        'a ledger is running on this journal (it holds the ownership lock): stop every ledger ' +
        'on it, then run this again';
      return { kind: 'refused', message };
    }
    // New tables only, as any ledger start of this version would add.
    await migrate(client);
    return { kind: 'worked', result: await work(client) };
  } finally {
    await client.end();
  }
}
