// Snapshots go to Postgres on a connection of their own, one at a time, so that writing a hot
// partition's snapshot (14.5 MB and 220-250 ms for 150,000 holds, bench/micro/snapshot-cost.ts)
// never holds up the group commits queued behind it on the journal connection. A snapshot is
// handed over only once every record it reflects is durable, so it may be written at any time
// after; a failed write is reported and dropped (the WAL holds everything: recovery replays a
// longer tail), and the connection is replaced at the next write.
import type { SnapshotConnection, SnapshotWrite } from './journal-connection.js';

export class SnapshotWriter {
  private queue: SnapshotWrite[] = [];
  private connection: SnapshotConnection | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  /** Snapshot writes that failed (and were dropped) since the start. */
  failures = 0;

  constructor(
    private readonly connect: () => Promise<SnapshotConnection>,
    private readonly onError: (error: Error) => void,
  ) {}

  get idle(): boolean {
    return this.running === undefined && this.queue.length === 0;
  }

  /** Resolves once every queued snapshot has been written or dropped. */
  async whenIdle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  write(row: SnapshotWrite): void {
    if (this.closed) return;
    // A newer snapshot of a partition makes a queued older one useless.
    this.queue = this.queue.filter((queued) => queued.partition !== row.partition);
    this.queue.push(row);
    this.start();
  }

  private start(): void {
    if (this.running !== undefined || this.closed || this.queue.length === 0) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      // A row queued while the drain was finishing is not left behind.
      this.start();
    });
  }

  private async drain(): Promise<void> {
    for (let row = this.queue.shift(); row !== undefined; row = this.queue.shift()) {
      try {
        this.connection ??= await this.connect();
        await this.connection.writeSnapshot(row);
      } catch (error) {
        this.failures += 1;
        this.onError(error instanceof Error ? error : new Error(String(error)));
        await this.dropConnection();
      }
      if (this.closed) return;
    }
  }

  private async dropConnection(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    await connection?.close().catch((error: unknown) => {
      this.onError(error instanceof Error ? error : new Error(String(error)));
    });
  }

  /** Finishes the queued snapshots, then closes the connection; later writes are dropped. */
  async close(): Promise<void> {
    await this.whenIdle();
    this.closed = true;
    await this.dropConnection();
  }
}
