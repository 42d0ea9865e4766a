// The publisher's SQL: the journal (ledger_wal) read as an outbox, and the per-partition cursors
// (ledger_event_cursors: every record up to `lsn` has been acknowledged by JetStream).
import type pg from 'pg';

export interface OutboxRow {
  readonly partition: number;
  readonly lsn: number;
  readonly payload: Uint8Array;
}

/** A partition to read, after `afterLsn`. */
export interface ReadPosition {
  readonly partition: number;
  readonly afterLsn: number;
}

export interface OutboxStore {
  /** Saved cursors; a partition without a row has published nothing (cursor 0). */
  loadCursors(): Promise<Map<number, number>>;
  /** The last durable lsn of every partition that has a journal. */
  durableHeads(): Promise<Map<number, number>>;
  /** Rows after each position, in lsn order per partition, at most `rowsPerPartition` each. */
  readAfter(positions: readonly ReadPosition[], rowsPerPartition: number): Promise<OutboxRow[]>;
  /** Saves cursors; a saved cursor never moves back. */
  saveCursors(cursors: ReadonlyMap<number, number>): Promise<void>;
}

/** int8 columns may come back as strings (pg's default) or numbers (if a parser is set). */
const lsnOf = (value: string | number): number => Number(value);

export class PostgresOutboxStore implements OutboxStore {
  constructor(private readonly pool: pg.Pool) {}

  async loadCursors(): Promise<Map<number, number>> {
    const result = await this.pool.query<{ partition: number; lsn: string | number }>(
      'SELECT partition, lsn FROM ledger_event_cursors',
    );
    return new Map(result.rows.map((row) => [row.partition, lsnOf(row.lsn)]));
  }

  async durableHeads(): Promise<Map<number, number>> {
    // One index probe per partition (the primary key read backwards), not a scan of the journal.
    const result = await this.pool.query<{ partition: number; lsn: string | number }>(
      `SELECT p.partition, w.lsn
       FROM generate_series(0, (SELECT partitions FROM ledger_meta) - 1) AS p(partition)
       CROSS JOIN LATERAL (SELECT lsn FROM ledger_wal WHERE partition = p.partition
                           ORDER BY lsn DESC LIMIT 1) AS w`,
    );
    return new Map(result.rows.map((row) => [row.partition, lsnOf(row.lsn)]));
  }

  async readAfter(
    positions: readonly ReadPosition[],
    rowsPerPartition: number,
  ): Promise<OutboxRow[]> {
    if (positions.length === 0) return [];
    const result = await this.pool.query<{
      partition: number;
      lsn: string | number;
      payload: Buffer;
    }>(
      `SELECT w.partition, w.lsn, w.payload
       FROM unnest($1::integer[], $2::bigint[]) AS c(partition, lsn)
       CROSS JOIN LATERAL (SELECT partition, lsn, payload FROM ledger_wal
                           WHERE partition = c.partition AND lsn > c.lsn
                           ORDER BY lsn LIMIT $3) AS w
       ORDER BY w.partition, w.lsn`,
      [
        positions.map((position) => position.partition),
        positions.map((position) => position.afterLsn),
        rowsPerPartition,
      ],
    );
    return result.rows.map((row) => ({
      partition: row.partition,
      lsn: lsnOf(row.lsn),
      payload: row.payload,
    }));
  }

  async saveCursors(cursors: ReadonlyMap<number, number>): Promise<void> {
    if (cursors.size === 0) return;
    // GREATEST: a late or repeated save can never move a cursor back (only forward, or nowhere).
    // In partition order: in a cluster, a partition's former publisher may save its last cursors
    // while the new one saves, and two saves locking rows in different orders would deadlock.
    const sorted = [...cursors].sort(([a], [b]) => a - b);
    await this.pool.query(
      `INSERT INTO ledger_event_cursors (partition, lsn)
       SELECT c.partition, c.lsn FROM unnest($1::integer[], $2::bigint[])
         WITH ORDINALITY AS c(partition, lsn, n)
         ORDER BY n
       ON CONFLICT (partition) DO UPDATE
         SET lsn = GREATEST(ledger_event_cursors.lsn, EXCLUDED.lsn)`,
      [sorted.map(([partition]) => partition), sorted.map(([, lsn]) => lsn)],
    );
  }
}
