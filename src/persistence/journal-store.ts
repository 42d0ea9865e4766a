// The journal's SQL on one Postgres connection: append rows in one statement, write snapshots,
// read a partition back. It implements JournalConnection; a shard holds two (group commits on
// one, snapshots on the other).
import pg from 'pg';
import { recoveryPageRows } from '../limits.js';
import type { JournalConnection, SnapshotRow, WalRow } from './journal-connection.js';

/**
 * int8 columns (lsn) come back as text: pg's default, left alone on purpose (changing pg's global
 * parser would change it for every client of the process). lsns stay far below 2^53.
 */
const lsnOf = (value: string | number): number => Number(value);

export interface JournalStoreOptions {
  /** Told of errors of an idle connection (pg emits them on the client, not on a query). */
  readonly onError: (error: Error) => void;
}

export class JournalStore implements JournalConnection {
  constructor(private readonly client: pg.ClientBase & { end(): Promise<void> }) {}

  /** Opens a connection of its own, with the timeouts a shard's journal needs. */
  static async connect(databaseUrl: string, options: JournalStoreOptions): Promise<JournalStore> {
    const client = new pg.Client({
      connectionString: databaseUrl,
      // A stalled Postgres must fail the write (and trigger a reload), not hold replies forever.
      statement_timeout: 10_000,
      query_timeout: 15_000,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    client.on('error', options.onError);
    await client.connect();
    return new JournalStore(client);
  }

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
    const result = await this.client.query<{
      partition: number;
      lsn: string;
      payload: Buffer;
    }>(
      `SELECT DISTINCT ON (partition) partition, lsn, payload FROM ledger_snapshots
       WHERE partition = ANY($1::integer[]) ORDER BY partition, lsn DESC`,
      [partitions],
    );
    return new Map(
      result.rows.map((row) => [
        row.partition,
        { partition: row.partition, lsn: lsnOf(row.lsn), payload: row.payload },
      ]),
    );
  }

  async readTail(
    partition: number,
    afterLsn: number,
    onRow: (lsn: number, payload: Uint8Array) => void,
  ): Promise<number> {
    let last = afterLsn;
    for (;;) {
      const result = await this.client.query<{ lsn: string; payload: Buffer }>(
        `SELECT lsn, payload FROM ledger_wal WHERE partition = $1 AND lsn > $2
         ORDER BY lsn LIMIT ${recoveryPageRows}`,
        [partition, last],
      );
      for (const row of result.rows) {
        last = lsnOf(row.lsn);
        onRow(last, row.payload);
      }
      if (result.rows.length < recoveryPageRows) return last;
    }
  }

  async ping(): Promise<void> {
    await this.client.query('SELECT 1');
  }

  close(): Promise<void> {
    return this.client.end();
  }
}
