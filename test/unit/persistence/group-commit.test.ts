// Group commits with several writes in flight: each on a sink of its own, answered in any order
// the test chooses. Durability must still be told in append order only (sequence N once every
// write holding a sequence up to N committed), a cart's grouped rows never split over writes, and
// a failed write must stop the durable sequence before it for good, told only once every write
// in flight has settled (a later one that committed lies past a gap: recovery removes it).
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../../src/clock.js';
import {
  GroupCommit,
  type JournalSink,
  type SnapshotHandoff,
  type SnapshotWrite,
  type WalRow,
} from '../../../src/persistence/index.js';

/** A sink whose writes wait until the test commits or fails them. */
class HeldSink implements JournalSink {
  readonly batches: number[][] = [];
  private held: { resolve: () => void; reject: (error: Error) => void } | undefined;

  constructor(readonly name: string) {}

  get busy(): boolean {
    return this.held !== undefined;
  }

  append(rows: readonly WalRow[]): Promise<void> {
    expect(this.held, `${this.name}: a second write before the first returned`).toBeUndefined();
    this.batches.push(rows.map((row) => row.lsn));
    return new Promise((resolve, reject) => (this.held = { resolve, reject }));
  }

  commit(): void {
    const held = this.held;
    this.held = undefined;
    held?.resolve();
  }

  fail(): void {
    const held = this.held;
    this.held = undefined;
    held?.reject(new Error(`injected: ${this.name} failed`));
  }
}

class Snapshots implements SnapshotHandoff {
  readonly written: SnapshotWrite[] = [];
  readonly idle = true;
  write(row: SnapshotWrite): void {
    this.written.push(row);
  }
}

const settle = async (): Promise<void> => {
  for (let round = 0; round < 3; round += 1) await new Promise((done) => setImmediate(done));
};

const wal = (lsn: number, partition = 1): WalRow => ({
  partition,
  lsn,
  payload: new Uint8Array([lsn]),
});

/** `sinkCount` held sinks; `onDurable` also hears each durable sequence, with the sinks. */
function pipeline(
  sinkCount: number,
  batchRowsMax = 100,
  onDurable: (sequence: number, sinks: readonly HeldSink[]) => void = () => undefined,
) {
  const sinks = Array.from({ length: sinkCount }, (_, index) => new HeldSink(`s${index}`));
  const told: number[] = [];
  const failures: string[] = [];
  const snapshots = new Snapshots();
  const commit = new GroupCommit(
    sinks,
    {
      durable: (sequence) => {
        told.push(sequence);
        onDurable(sequence, sinks);
      },
      failed: (error) => failures.push(error.message),
      flushed: () => undefined,
    },
    batchRowsMax,
    snapshots,
    systemClock,
  );
  return { sinks, told, failures, snapshots, commit };
}

describe('GroupCommit with several writes in flight', () => {
  it('puts each turn on a free sink, and tells durable in append order only', async () => {
    const { sinks, told, commit } = pipeline(3);
    const [first, second, third] = sinks as [HeldSink, HeldSink, HeldSink];
    commit.append(wal(1));
    commit.append(wal(2));
    await settle();
    commit.append(wal(3));
    await settle();
    commit.append(wal(4));
    commit.append(wal(5));
    await settle();
    expect(sinks.map((sink) => sink.batches)).toEqual([[[1, 2]], [[3]], [[4, 5]]]);
    // The newest commits first: nothing is durable, its rows wait for the writes before them.
    third.commit();
    await settle();
    expect(told).toEqual([]);
    expect(commit.durableSequence).toBe(0);
    second.commit();
    await settle();
    expect(commit.durableSequence).toBe(0);
    first.commit();
    await settle();
    expect(told.at(-1)).toBe(5);
    expect(commit.durableSequence).toBe(5);
    expect(commit.idle).toBe(true);
  });

  it('waits for a free sink when all are busy, then writes everything pending at once', async () => {
    const { sinks, commit } = pipeline(2);
    const [first, second] = sinks as [HeldSink, HeldSink];
    commit.append(wal(1));
    await settle();
    commit.append(wal(2));
    await settle();
    commit.append(wal(3));
    commit.append(wal(4));
    await settle();
    expect(commit.pendingRows).toBe(2);
    second.commit();
    await settle();
    expect(second.batches).toEqual([[2], [3, 4]]);
    expect(commit.durableSequence).toBe(0);
    first.commit();
    await settle();
    expect(commit.durableSequence).toBe(2);
    second.commit();
    await settle();
    expect(commit.durableSequence).toBe(4);
  });

  it('never splits a group over two writes, whatever the batch bound', async () => {
    const { sinks, commit } = pipeline(2, 2);
    commit.append(wal(1), true);
    commit.append(wal(2), true);
    commit.append(wal(3));
    commit.append(wal(4));
    commit.append(wal(5));
    await settle();
    const [first, second] = sinks as [HeldSink, HeldSink];
    expect(first.batches).toEqual([[1, 2, 3]]);
    expect(second.batches).toEqual([[4, 5]]);
    second.commit();
    first.commit();
    await settle();
    expect(commit.durableSequence).toBe(5);
  });

  it('stops the durable sequence before a failed write for good, even past a later commit', async () => {
    const { sinks, told, failures, commit } = pipeline(3);
    const [first, second, third] = sinks as [HeldSink, HeldSink, HeldSink];
    for (const lsn of [1, 2, 3]) {
      commit.append(wal(lsn));
      await settle();
    }
    // The first commits, the second fails, the third commits: its row lies past a gap.
    first.commit();
    await settle();
    expect(commit.durableSequence).toBe(1);
    second.fail();
    await settle();
    // Told only once every write in flight has settled: recovery must read a still journal.
    expect(failures).toEqual([]);
    expect(commit.failed).toBe(false);
    commit.append(wal(4));
    await settle();
    expect(sinks.map((sink) => sink.batches.length)).toEqual([1, 1, 1]);
    third.commit();
    await settle();
    expect(failures).toEqual(['injected: s1 failed']);
    expect(commit.failed).toBe(true);
    expect(commit.durableSequence).toBe(1);
    expect(told).toEqual([1]);
    // Resumed after recovery: nothing outstanding, and the next rows go out again.
    commit.resume(new Map([[1, 1]]));
    expect(commit.durableSequence).toBe(commit.appendedSequence);
    commit.append(wal(2));
    await settle();
    expect(first.batches.at(-1)).toEqual([2]);
    first.commit();
    await settle();
    expect(commit.durableSequence).toBe(commit.appendedSequence);
  });

  it('still tells durable a write begun before the failed one that commits after it', async () => {
    const { sinks, failures, commit } = pipeline(2);
    const [first, second] = sinks as [HeldSink, HeldSink];
    commit.append(wal(1));
    await settle();
    commit.append(wal(2));
    await settle();
    second.fail();
    await settle();
    expect(failures).toEqual([]);
    first.commit();
    await settle();
    expect(commit.durableSequence).toBe(1);
    expect(failures).toEqual(['injected: s1 failed']);
  });

  it('hands a snapshot over only once every write before it committed', async () => {
    const { sinks, snapshots, commit } = pipeline(2);
    const [first, second] = sinks as [HeldSink, HeldSink];
    commit.append(wal(1));
    await settle();
    commit.append(wal(2));
    commit.addSnapshot({ partition: 1, lsn: 2, blocks: [new Uint8Array([2])] });
    await settle();
    second.commit();
    await settle();
    expect(snapshots.written).toEqual([]);
    first.commit();
    await settle();
    expect(snapshots.written.map((row) => row.lsn)).toEqual([2]);
  });
});

describe('GroupCommit on one sink', () => {
  /** One sink; each durable sequence told, with how many batches the sink had been sent then. */
  function oneSink() {
    const told: { sequence: number; batchesSent: number }[] = [];
    const { sinks, failures, commit } = pipeline(1, 100, (sequence, held) =>
      told.push({ sequence, batchesSent: held[0]?.batches.length ?? 0 }),
    );
    return { sink: sinks[0] as HeldSink, told, failures, commit };
  }

  it('sends the next batch before it tells the committed one durable', async () => {
    const { sink, told, commit } = oneSink();
    commit.append(wal(1));
    commit.append(wal(2));
    await settle();
    commit.append(wal(3));
    await settle();
    expect(sink.batches).toEqual([[1, 2]]);
    sink.commit();
    await settle();
    // Rows 1-2 were told durable with row 3's batch already out: the release overlaps it.
    expect(told).toEqual([{ sequence: 2, batchesSent: 2 }]);
    expect(sink.batches).toEqual([[1, 2], [3]]);
    expect(commit.durableSequence).toBe(2);
    sink.commit();
    await settle();
    expect(told).toEqual([
      { sequence: 2, batchesSent: 2 },
      { sequence: 3, batchesSent: 2 },
    ]);
    expect(commit.idle).toBe(true);
  });

  it('keeps what committed durable when the batch sent after it fails', async () => {
    const { sink, told, failures, commit } = oneSink();
    commit.append(wal(1));
    await settle();
    commit.append(wal(2));
    await settle();
    sink.commit();
    await settle();
    expect(told.map((entry) => entry.sequence)).toEqual([1]);
    sink.fail();
    await settle();
    expect(commit.durableSequence).toBe(1);
    expect(told.map((entry) => entry.sequence)).toEqual([1]);
    expect(failures).toEqual(['injected: s0 failed']);
    expect(commit.failed).toBe(true);
    // Nothing more goes out until the owner resumes.
    commit.append(wal(3));
    await settle();
    expect(sink.batches).toEqual([[1], [2]]);
  });
});
