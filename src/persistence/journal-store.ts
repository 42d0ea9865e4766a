// The journal's SQL: append rows in one statement, write snapshots, read a partition back.
// A shard runs these on its journal connection (snapshots on a second one of its own).
import pg from 'pg';
import { recoveryPageRows } from '../limits.js';

// int8 columns (lsn) come back as strings by default; lsns stay far below 2^53.
pg.types.setTypeParser(20, (text) => Number(text));

export interface WalRow {
  readonly partition: number;
  readonly lsn: number;
  readonly payload: Uint8Array;
}

export interface SnapshotRow {
  readonly partition: number;
  readonly lsn: number;
  readonly payload: Uint8Array;
}

export class JournalStore {
  constructor(private readonly client: pg.ClientBase) {}

  /** One multi-row INSERT for the whole group commit; autocommit makes it one transaction. */
  async append(rows: readonly WalRow[]): Promise<void> {
    if (rows.length === 0) return;
    const partitions = new Array<number>(rows.length);
    const lsns = new Array<number>(rows.length);
    const payloads = new Array<Uint8Array>(rows.length);
    for (let index = 0; index < rows.length; index += 1) {
      const row = rows[index] as WalRow;
      partitions[index] = row.partition;
      lsns[index] = row.lsn;
      payloads[index] = row.payload;
    }
    // A named statement: Postgres parses and plans it once per connection, not once per commit.
    await this.client.query({
      name: 'ledger-wal-append',
      text: `INSERT INTO ledger_wal (partition, lsn, payload)
             SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bytea[])`,
      values: [partitions, lsns, payloads],
    });
  }

  /** Writes a snapshot and drops the ones before the previous (one older is kept as a spare). */
  async writeSnapshot(row: SnapshotRow): Promise<void> {
    await this.client.query(
      // The same (partition, lsn) always has the same content, whoever wrote it first.
      `INSERT INTO ledger_snapshots (partition, lsn, payload) VALUES ($1, $2, $3)
       ON CONFLICT (partition, lsn) DO NOTHING`,
      [row.partition, row.lsn, row.payload],
    );
    await this.client.query(
      `DELETE FROM ledger_snapshots WHERE partition = $1 AND lsn < (
         SELECT min(lsn) FROM (SELECT lsn FROM ledger_snapshots WHERE partition = $1
                               ORDER BY lsn DESC LIMIT 2) AS kept)`,
      [row.partition],
    );
  }

  async latestSnapshots(partitions: readonly number[]): Promise<Map<number, SnapshotRow>> {
    const result = await this.client.query<SnapshotRow>(
      `SELECT DISTINCT ON (partition) partition, lsn, payload FROM ledger_snapshots
       WHERE partition = ANY($1::integer[]) ORDER BY partition, lsn DESC`,
      [partitions],
    );
    return new Map(result.rows.map((row) => [row.partition, row]));
  }

  /** Calls `onRow` for each WAL row of the partition after `afterLsn`, in lsn order. */
  async readTail(
    partition: number,
    afterLsn: number,
    onRow: (lsn: number, payload: Uint8Array) => void,
  ): Promise<number> {
    let last = afterLsn;
    for (;;) {
      const result = await this.client.query<{ lsn: number; payload: Buffer }>(
        `SELECT lsn, payload FROM ledger_wal WHERE partition = $1 AND lsn > $2
         ORDER BY lsn LIMIT ${recoveryPageRows}`,
        [partition, last],
      );
      for (const row of result.rows) {
        onRow(row.lsn, row.payload);
        last = row.lsn;
      }
      if (result.rows.length < recoveryPageRows) return last;
    }
  }
}
