// A shard's link to its journal: one connection, opened, replaced and closed here. The first link
// carries recovery, pings and group commits; with more than one group commit in flight, each
// further one has a link of its own. Every query on a link goes through one queue, so a readiness
// ping never lands on the connection while an append is in flight (pg queues such a query itself,
// but warns that pg 9 will refuse it), and a replaced connection is never swapped under a running
// query.
import type {
  JournalConnection,
  JournalReader,
  JournalSink,
  MovementKey,
  SnapshotRow,
  WalPageRow,
  WalRow,
} from '../persistence/index.js';

export class JournalLink implements JournalSink, JournalReader {
  private current: JournalConnection | undefined;
  /** The tail of the query queue: each query starts when the one before it has settled. */
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly connect: () => Promise<JournalConnection>) {}

  /** Opens a fresh connection for what follows, closing the previous one (a failed write's). */
  async reopen(onCloseError: (error: unknown) => void): Promise<void> {
    await this.close(onCloseError);
    this.current = await this.connect();
  }

  /**
   * Swaps in a new connection between two queries (the old one stopped answering while idle).
   * Resolves false if the link was closed meanwhile; the new connection is then closed too.
   */
  replace(onCloseError: (error: unknown) => void): Promise<boolean> {
    return this.exclusive(async () => {
      const next = await this.connect();
      const old = this.current;
      if (old === undefined) {
        await next.close();
        return false;
      }
      this.current = next;
      await old.close().catch(onCloseError);
      return true;
    });
  }

  append(rows: readonly WalRow[]): Promise<void> {
    return this.exclusive((connection) => connection.append(rows));
  }

  latestSnapshots(partitions: readonly number[]): Promise<Map<number, SnapshotRow>> {
    return this.exclusive((connection) => connection.latestSnapshots(partitions));
  }

  readTails(tails: ReadonlyMap<number, number>, onRow: WalPageRow): Promise<number> {
    return this.exclusive((connection) => connection.readTails(tails, onRow));
  }

  readAll(
    partitions: readonly number[],
    onRow: WalPageRow,
    onPageEnd?: () => void,
  ): Promise<number> {
    return this.exclusive((connection) => connection.readAll(partitions, onRow, onPageEnd));
  }

  ping(): Promise<void> {
    return this.exclusive((connection) => connection.ping());
  }

  cutTail(
    partition: number,
    lastLsn: number,
    movements: readonly MovementKey[],
    epoch?: number,
  ): Promise<number> {
    return this.exclusive((connection) => connection.cutTail(partition, lastLsn, movements, epoch));
  }

  async close(onCloseError: (error: unknown) => void): Promise<void> {
    const connection = this.current;
    this.current = undefined;
    await connection?.close().catch(onCloseError);
  }

  private exclusive<T>(query: (connection: JournalConnection) => Promise<T>): Promise<T> {
    const run = this.tail.then(() => {
      const connection = this.current;
      if (connection === undefined) throw new Error('the journal connection is closed');
      return query(connection);
    });
    // The queue only waits for the query to settle; its outcome belongs to its caller (`run`).
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
