// The journal remembers the partition count and hash version it was created with; a ledger
// configured otherwise must not open it, or keys would be routed away from their history.
import type pg from 'pg';

export interface JournalLayout {
  readonly partitions: number;
  readonly hashVersion: number;
}

export class JournalLayoutError extends Error {
  override readonly name = 'JournalLayoutError';
}

/**
 * Returns the journal's layout, recording `wanted` if the journal is new. `partitionsExplicit`
 * says whether the operator chose a partition count (then a mismatch is refused) or took the
 * default (then the journal's own count is used).
 */
export async function openLayout(
  client: pg.ClientBase,
  wanted: JournalLayout,
  partitionsExplicit: boolean,
): Promise<JournalLayout> {
  await client.query(
    `INSERT INTO ledger_meta (partitions, hash_version) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    [wanted.partitions, wanted.hashVersion],
  );
  const result = await client.query<{ partitions: number; hash_version: number }>(
    'SELECT partitions, hash_version FROM ledger_meta',
  );
  const row = result.rows[0];
  if (row === undefined) throw new JournalLayoutError('ledger_meta is empty after insert');
  const layout = { partitions: Number(row.partitions), hashVersion: Number(row.hash_version) };
  if (layout.hashVersion !== wanted.hashVersion) {
    throw new JournalLayoutError(hashVersionRefusal(layout.hashVersion, wanted.hashVersion));
  }
  if (partitionsExplicit && layout.partitions !== wanted.partitions) {
    throw new JournalLayoutError(
      `LEDGER_PARTITIONS=${wanted.partitions} but the journal was created with ` +
        `${layout.partitions} partitions; refusing to start (the count is fixed per journal)`,
    );
  }
  return layout;
}

/** Why a journal of another hash version is refused, and what to do about it. */
function hashVersionRefusal(journal: number, ledger: number): string {
  if (journal === 1 && ledger === 2) {
    // The URL is not echoed: it may hold a password, and this line goes to logs.
    return (
      'the journal was written with partition hash version 1 (by stock key); this ledger ' +
      'partitions by product (version 2). Stop every ledger on it and run ' +
      '`npm run ledger -- migrate-partitions --database-url <this DATABASE_URL>`; nothing was changed'
    );
  }
  return (
    `the journal was written with partition hash version ${journal}, ` +
    `this ledger uses version ${ledger}; refusing to start`
  );
}
