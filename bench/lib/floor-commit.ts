// The durable floor's group commit (bench/baselines/bare-uws-commit.ts): rows wait for the next
// commit; one commit is in flight at a time on one connection; what arrives meanwhile goes in
// the next. Each row is answered once the INSERT that carried it has committed
// (synchronous_commit=on). Used on the HTTP thread itself, or on a thread of its own behind a
// hop like the ledger's (floor-commit-worker.ts).
import pg from 'pg';

interface Waiting {
  readonly row: Uint8Array;
  readonly done: (error: unknown) => void;
}

export class FloorCommit {
  private pending: Waiting[] = [];
  private writing = false;
  private nextLsn = 1;
  /** The connection failed (its backend ended, say): every row from then on fails at once. */
  private broken: unknown = undefined;

  private constructor(private readonly client: pg.Client) {
    // Without a listener a lost connection's error would end the whole server.
    client.on('error', (error) => (this.broken ??= error));
  }

  /** Connects to `databaseUrl` and makes the floor's table. */
  static async open(databaseUrl: string | undefined): Promise<FloorCommit> {
    const client = new pg.Client({
      connectionString: databaseUrl,
      options: '-c synchronous_commit=on',
    });
    await client.connect();
    await client.query(
      'CREATE TABLE IF NOT EXISTS floor_wal (lsn bigint PRIMARY KEY, row bytea NOT NULL)',
    );
    return new FloorCommit(client);
  }

  /** `done` is called once `row` is durable (with no error) or its commit failed. */
  add(row: Uint8Array, done: (error: unknown) => void): void {
    if (this.broken !== undefined) {
      done(this.broken);
      return;
    }
    this.pending.push({ row, done });
    // A commit starts after the current turn, with everything the turn added.
    if (this.pending.length === 1 && !this.writing) setImmediate(() => void this.writeAll());
  }

  close(): Promise<void> {
    return this.client.end();
  }

  /** Writes what is pending, batch after batch, until nothing is. */
  private async writeAll(): Promise<void> {
    this.writing = true;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      const lsns = batch.map(() => this.nextLsn++);
      let failure: unknown = undefined;
      try {
        await this.client.query({
          name: 'floor-append',
          text: 'INSERT INTO floor_wal (lsn, row) SELECT * FROM unnest($1::bigint[], $2::bytea[])',
          values: [lsns, batch.map((waiting) => waiting.row)],
        });
      } catch (error) {
        failure = error ?? new Error('commit failed');
      }
      for (const waiting of batch) waiting.done(failure);
    }
    this.writing = false;
  }
}
