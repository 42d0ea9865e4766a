// The SQL of rewriting a journal under another partition hash (`ledger migrate-partitions`). The
// caller holds one transaction around all of it, so a failure anywhere leaves the journal as it
// was. The WAL is archived, never destroyed.
import type pg from 'pg';
import type { JournalLayout } from './journal-meta.js';
import type { SnapshotRow } from './journal-connection.js';

/** int8 columns come back as text (pg's default, left alone); lsns stay far below 2^53. */
const lsnOf = (value: string | number | null): number => Number(value ?? 0);

/** Whether this database holds a ledger journal at all (without creating anything). */
export async function journalExists(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ found: boolean }>(
    `SELECT to_regclass('ledger_meta') IS NOT NULL AS found`,
  );
  return result.rows[0]?.found === true;
}

/**
 * Takes the journal's tables for the transaction: writers wait, readers do not. The ownership
 * lock already keeps ledgers away; this also stops a stray writer from slipping a row in between
 * what is read and what is deleted.
 */
export async function lockJournalTables(client: pg.ClientBase): Promise<void> {
  await client.query(
    `LOCK TABLE ledger_meta, ledger_wal, ledger_snapshots, ledger_snapshot_parts,
       ledger_event_cursors, ledger_reservation_routes, ledger_wal_archive IN EXCLUSIVE MODE`,
  );
}

export async function readLayout(client: pg.ClientBase): Promise<JournalLayout | undefined> {
  const result = await client.query<{ partitions: number; hash_version: number }>(
    'SELECT partitions, hash_version FROM ledger_meta',
  );
  const row = result.rows[0];
  if (row === undefined) return undefined;
  return { partitions: Number(row.partitions), hashVersion: Number(row.hash_version) };
}

export interface EventBacklog {
  /** Whether events were ever published (ledger_event_cursors has rows). */
  readonly inUse: boolean;
  /** Journal records not yet acknowledged by JetStream, and the partitions they are in. */
  readonly records: number;
  readonly partitions: number;
}

/** How far the event publisher's cursors are behind the journal's heads. */
export async function eventBacklog(client: pg.ClientBase): Promise<EventBacklog> {
  const result = await client.query<{ in_use: boolean; records: string; partitions: string }>(
    `WITH heads AS (SELECT partition, max(lsn) AS lsn FROM ledger_wal GROUP BY partition)
     SELECT EXISTS (SELECT 1 FROM ledger_event_cursors) AS in_use,
            coalesce(sum(h.lsn - coalesce(c.lsn, 0)), 0) AS records,
            count(*) AS partitions
     FROM heads h LEFT JOIN ledger_event_cursors c USING (partition)
     WHERE h.lsn > coalesce(c.lsn, 0)`,
  );
  const row = result.rows[0];
  return {
    inUse: row?.in_use === true,
    records: Number(row?.records ?? 0),
    partitions: Number(row?.partitions ?? 0),
  };
}

/** The highest lsn the journal has used anywhere: WAL, snapshots, event cursors. */
export async function highestLsn(client: pg.ClientBase): Promise<number> {
  const result = await client.query<{ lsn: string | null }>(
    `SELECT greatest((SELECT max(lsn) FROM ledger_wal), (SELECT max(lsn) FROM ledger_snapshots),
                     (SELECT max(lsn) FROM ledger_event_cursors)) AS lsn`,
  );
  return lsnOf(result.rows[0]?.lsn ?? null);
}

export interface JournalReplacement {
  /** The hash version the current WAL was written with (its rows are archived under it). */
  readonly fromHashVersion: number;
  readonly toHashVersion: number;
  /** Every partition's new starting point: its snapshot's lsn and its event cursor. */
  readonly baseLsn: number;
  /** One snapshot per partition, each at `baseLsn`. */
  readonly snapshots: readonly SnapshotRow[];
}

/**
 * Archives the WAL, drops the old snapshots, writes the new ones, moves every event cursor to
 * the base lsn and records the new hash version. Returns the number of WAL rows archived.
 */
export async function replaceJournal(
  client: pg.ClientBase,
  replacement: JournalReplacement,
): Promise<number> {
  const archived = await client.query(
    `INSERT INTO ledger_wal_archive (hash_version, partition, lsn, payload)
     SELECT $1, partition, lsn, payload FROM ledger_wal`,
    [replacement.fromHashVersion],
  );
  await client.query('DELETE FROM ledger_wal');
  await client.query('DELETE FROM ledger_snapshots');
  await client.query('DELETE FROM ledger_snapshot_parts');
  for (const row of replacement.snapshots) {
    if (row.lsn !== replacement.baseLsn) throw new Error(`snapshot of ${row.partition} off base`);
    await client.query(
      'INSERT INTO ledger_snapshots (partition, lsn, payload) VALUES ($1, $2, $3)',
      [row.partition, row.lsn, row.payload],
    );
  }
  await client.query('DELETE FROM ledger_event_cursors');
  await client.query(
    `INSERT INTO ledger_event_cursors (partition, lsn)
     SELECT partition, $1 FROM unnest($2::integer[]) AS p(partition)`,
    [replacement.baseLsn, replacement.snapshots.map((row) => row.partition)],
  );
  await client.query('UPDATE ledger_meta SET hash_version = $1', [replacement.toHashVersion]);
  // A new ownership epoch: a ledger that lost its lock before this ran and gets it back after
  // must find another epoch and stop (journal-owner.ts), not serve its memory of the old layout.
  await client.query(
    `INSERT INTO ledger_owner (singleton, epoch) VALUES (true, 1)
     ON CONFLICT (singleton) DO UPDATE SET epoch = ledger_owner.epoch + 1`,
  );
  return archived.rowCount ?? 0;
}
