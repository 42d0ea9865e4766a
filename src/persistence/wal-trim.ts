// Trims the WAL (ledger_wal) of rows nobody needs any more, so the journal does not grow without
// bound: the history keeps its own copy of each change (ledger_movements) for its retention.
// A row may go only when all of these hold:
//  - recovery never reads it: it is below the older of the two snapshots a partition keeps (the
//    spare; recovery starts after the newest, see JournalStore.writeSnapshot);
//  - the event publisher has published it (at or below the partition's ledger_event_cursors lsn).
//    A partition without a cursor has published nothing: its rows stay while events are on, and
//    also while they are off if a cursor exists (events were on, and may be again);
//  - it is older than the WAL retention: the spare snapshot was written that long ago, so every
//    row below it was too. Tools that read the whole WAL (the tests' journal checks, an operator's
//    audit, migrate-partitions' archive of it) thus see every row of that window, and a former
//    owner of the journal paused for less than that cannot append an lsn that was trimmed (the
//    primary key fences it as before; the ownership lock does in any case).
// Deleted in batches on the maintenance connection, never on a shard's.
import type pg from 'pg';

export interface WalTrimOptions {
  /** Rows are kept at least this long (the spare snapshot's age). */
  readonly retainMs: number;
  /** The event publisher runs (NATS_URL set). */
  readonly eventsOn: boolean;
  /** Rows one DELETE removes at most. */
  readonly batchRows: number;
}

interface Bound {
  readonly partition: number;
  /** Rows with a lower lsn may go. */
  readonly below: number;
}

async function bounds(client: pg.ClientBase, nowMs: number, options: WalTrimOptions) {
  const result = await client.query<{ partition: number; spare: string; published: string | null }>(
    `SELECT s.partition, s.lsn AS spare, c.lsn AS published
     FROM (SELECT partition, lsn, created_at,
                  row_number() OVER (PARTITION BY partition ORDER BY lsn DESC) AS rank
           FROM ledger_snapshots) AS s
     LEFT JOIN ledger_event_cursors AS c ON c.partition = s.partition
     WHERE s.rank = 2 AND s.created_at < $1`,
    [new Date(nowMs - options.retainMs).toISOString()],
  );
  const found: Bound[] = [];
  for (const row of result.rows) {
    const spare = Number(row.spare);
    const published =
      row.published === null ? (options.eventsOn ? 0 : spare) : Number(row.published);
    const below = Math.min(spare, published + 1);
    if (below > 1) found.push({ partition: row.partition, below });
  }
  return found;
}

/** Deletes what may go, a batch at a time; the number of rows deleted. */
export async function trimWal(
  client: pg.ClientBase,
  nowMs: number,
  options: WalTrimOptions,
): Promise<number> {
  let deleted = 0;
  for (const { partition, below } of await bounds(client, nowMs, options)) {
    for (;;) {
      const result = await client.query(
        `DELETE FROM ledger_wal WHERE partition = $1 AND lsn IN (
           SELECT lsn FROM ledger_wal WHERE partition = $1 AND lsn < $2 ORDER BY lsn LIMIT $3)`,
        [partition, below, options.batchRows],
      );
      deleted += result.rowCount ?? 0;
      if ((result.rowCount ?? 0) < options.batchRows) break;
    }
  }
  return deleted;
}
