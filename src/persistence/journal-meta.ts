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

// Held for the ledger's lifetime on its own connection: one node owns a journal at a time.
const ownerLockId = 0x4c4f574e; // 'LOWN'

/**
 * Claims the journal for this process with a session advisory lock. A second ledger on the same
 * journal is refused at start. The lock's session probes its client (TCP keepalives), so the lock
 * of a ledger whose machine died is freed in about half a minute; a start waits up to `waitMs`
 * for that. Should the lock's connection be lost, the (partition, lsn) key still fences: two
 * writers can never both append the same record.
 */
export async function claimJournal(
  client: pg.ClientBase,
  waitMs: number,
  onWait: () => void,
): Promise<void> {
  await client.query('SET tcp_keepalives_idle = 10');
  await client.query('SET tcp_keepalives_interval = 5');
  await client.query('SET tcp_keepalives_count = 3');
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; ; attempt += 1) {
    const result = await client.query<{ claimed: boolean }>(
      'SELECT pg_try_advisory_lock($1) AS claimed',
      [ownerLockId],
    );
    if (result.rows[0]?.claimed === true) return;
    if (Date.now() >= deadline) {
      throw new JournalLayoutError(
        'another ledger is running on this journal (its advisory lock is held); refusing to start',
      );
    }
    if (attempt === 0) onWait();
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
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
