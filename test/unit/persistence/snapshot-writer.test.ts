// Snapshots leave the commit loop: a slow snapshot write must not hold up the WAL writes behind
// it, a failed one must not break the journal, and stopping must still write what was queued.
// The connections here are fakes that can be held or made to fail at will; the real path (a
// shard writing snapshots to Postgres) is covered by the CLI and recovery integration tests.
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/clock.js';
import {
  GroupCommit,
  SnapshotWriter,
  type JournalSink,
  type SnapshotConnection,
  type SnapshotWrite,
  type WalRow,
} from '../../../src/persistence/index.js';

const row = (partition: number, lsn: number): SnapshotWrite => ({
  partition,
  lsn,
  blocks: [new Uint8Array([partition, lsn])],
});

/** A connection whose writes wait until released, and fail when told to. */
class HeldConnection implements SnapshotConnection {
  readonly written: SnapshotWrite[] = [];
  private releases: (() => void)[] = [];
  failNext = false;
  closed = false;

  writeSnapshot(snapshot: SnapshotWrite): Promise<void> {
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new Error('injected: snapshot write failed'));
    }
    return new Promise((resolve) => {
      this.releases.push(() => {
        this.written.push(snapshot);
        resolve();
      });
    });
  }

  releaseAll(): void {
    const releases = this.releases;
    this.releases = [];
    for (const release of releases) release();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('SnapshotWriter', () => {
  it('writes one at a time, keeps only the newest queued snapshot of a partition', async () => {
    const connection = new HeldConnection();
    const writer = new SnapshotWriter(
      () => Promise.resolve(connection),
      () => undefined,
    );
    writer.write(row(1, 10));
    await settle();
    writer.write(row(1, 20));
    writer.write(row(2, 5));
    writer.write(row(1, 30));
    expect(writer.idle).toBe(false);
    for (let round = 0; round < 4; round += 1) {
      connection.releaseAll();
      await settle();
    }
    expect(connection.written.map((s) => [s.partition, s.lsn])).toEqual([
      [1, 10],
      [2, 5],
      [1, 30],
    ]);
    expect(writer.idle).toBe(true);
  });

  it('reports a failed write, drops it, and writes the next on a new connection', async () => {
    const connections: HeldConnection[] = [];
    const errors: string[] = [];
    const writer = new SnapshotWriter(
      () => {
        const connection = new HeldConnection();
        connection.failNext = connections.length === 0;
        connections.push(connection);
        return Promise.resolve(connection);
      },
      (error) => errors.push(error.message),
    );
    writer.write(row(3, 1));
    await settle();
    expect(errors).toEqual(['injected: snapshot write failed']);
    expect(writer.failures).toBe(1);
    expect(connections[0]?.closed).toBe(true);
    writer.write(row(3, 2));
    await settle();
    connections[1]?.releaseAll();
    await settle();
    expect(connections[1]?.written.map((s) => s.lsn)).toEqual([2]);
    expect(writer.idle).toBe(true);
  });

  it('finishes the queued snapshots before closing, and ignores writes after', async () => {
    const connection = new HeldConnection();
    const writer = new SnapshotWriter(
      () => Promise.resolve(connection),
      () => undefined,
    );
    writer.write(row(1, 1));
    writer.write(row(2, 1));
    const closing = writer.close();
    for (let round = 0; round < 3; round += 1) {
      await settle();
      connection.releaseAll();
    }
    await closing;
    expect(connection.written.map((s) => s.partition)).toEqual([1, 2]);
    expect(connection.closed).toBe(true);
    writer.write(row(3, 1));
    await settle();
    expect(writer.idle).toBe(true);
    expect(connection.written).toHaveLength(2);
  });
});

describe('GroupCommit with a snapshot handoff', () => {
  it('keeps writing the WAL while a snapshot write is held, and is idle only once it is done', async () => {
    const appended: number[] = [];
    const sink: JournalSink = {
      append: (rows: readonly WalRow[]) => {
        appended.push(...rows.map((wal) => wal.lsn));
        return Promise.resolve();
      },
    };
    const connection = new HeldConnection();
    const writer = new SnapshotWriter(
      () => Promise.resolve(connection),
      () => undefined,
    );
    let durable = 0;
    const commit = new GroupCommit(
      [sink],
      {
        durable: (sequence) => (durable = sequence),
        failed: (error) => {
          throw error;
        },
        flushed: () => undefined,
      },
      100,
      writer,
      systemClock,
    );
    const wal = (lsn: number): WalRow => ({ partition: 1, lsn, payload: new Uint8Array([lsn]) });
    commit.append(wal(1));
    commit.addSnapshot(row(1, 1));
    for (let round = 0; round < 3; round += 1) await settle();
    expect(durable).toBe(1);
    // The snapshot write is held; later records still reach the journal.
    commit.append(wal(2));
    commit.append(wal(3));
    for (let round = 0; round < 3; round += 1) await settle();
    expect(appended).toEqual([1, 2, 3]);
    expect(durable).toBe(3);
    expect(commit.failed).toBe(false);
    expect(commit.idle).toBe(false);
    connection.releaseAll();
    await settle();
    expect(connection.written.map((s) => s.lsn)).toEqual([1]);
    expect(commit.idle).toBe(true);
  });
});
