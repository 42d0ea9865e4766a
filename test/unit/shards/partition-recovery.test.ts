// The gap rule of recovery: a partition is replayed up to the first gap in its lsns, and the rows
// past it (a later group commit that committed while an earlier one failed: never acknowledged)
// are told back with the movements written beside them, for the shard to remove. Many
// partitions without a snapshot are read in one pass, their rows in any order (the table's
// physical order): that recovers exactly what reading each partition in lsn order does. A small
// share of the journal's partitions is still read partition by partition.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PartitionState, type Command, type JournalRecord } from '../../../src/actors/index.js';
import {
  encodeRecord,
  type JournalReader,
  type WalPageRow,
} from '../../../src/persistence/index.js';
import {
  recoverPartitions,
  type RecoveredPartition,
} from '../../../src/shards/partition-recovery.js';
import { runOptions } from '../../helpers/fc-options.js';

const retention = { retainFinishedMs: 86_400_000, retainFinishedMax: 10_000, onHandMax: 1e12 };
const nowMs = 1_800_000_000_000;

const adjust = (delta: number, productId = 'p-1'): Command => ({
  kind: 'adjust',
  productId,
  warehouseId: 'w-1',
  delta,
  reason: '',
  idempotencyKey: '',
  actorId: '',
  traceId: 't',
});

/** `count` records of one key, as a shard journals them: lsn n is the key's version n. */
function records(count = 5, productId = 'p-1'): JournalRecord[] {
  const state = new PartitionState(0, retention);
  return Array.from({ length: count }, (_, index) => {
    const record = state.apply(adjust(index + 1, productId), nowMs).record;
    if (record === undefined) throw new Error('an adjust without a record');
    return record;
  });
}

/** A journal holding the given lsns of partition 0 (and no snapshot). */
function journalWith(lsns: readonly number[]): JournalReader {
  const all = records();
  return {
    latestSnapshots: () => Promise.resolve(new Map()),
    readTails: (tails, onRow) => {
      const afterLsn = tails.get(0) ?? Number.POSITIVE_INFINITY;
      let rows = 0;
      for (const lsn of lsns) {
        if (lsn <= afterLsn) continue;
        const payload = encodeRecord(all[lsn - 1] as JournalRecord);
        onRow(0, lsn, payload, 0, payload.length);
        rows += 1;
      }
      return Promise.resolve(rows);
    },
    readAll: () => Promise.reject(new Error('one partition is read by its tail')),
  };
}

/** A stored row: partition, lsn, payload. */
type Row = readonly [number, number, Uint8Array];

/**
 * A journal of several partitions without snapshots, whose `readAll` gives `rows` in the order
 * given (a table's physical order) in pages of `pageRows`, and whose `readTails` gives the rows
 * after each tail's lsn in that order too.
 */
function journalOf(rows: readonly Row[], pageRows = 1000): JournalReader & { passes: number } {
  const journal = {
    passes: 0,
    latestSnapshots: () => Promise.resolve(new Map()),
    readTails: (tails: ReadonlyMap<number, number>, onRow: WalPageRow) => {
      const tail = rows.filter(([partition, lsn]) => lsn > (tails.get(partition) ?? Infinity));
      for (const [partition, lsn, payload] of tail) {
        // Valid only during the call: the bytes are written over once it returns.
        const bytes = Uint8Array.from([0xc1, ...payload, 0xc1]);
        onRow(partition, lsn, bytes, 1, 1 + payload.length);
        bytes.fill(0xc1);
      }
      return Promise.resolve(tail.length);
    },
    readAll: (partitions: readonly number[], onRow: WalPageRow, onPageEnd?: () => void) => {
      journal.passes += 1;
      const listed = rows.filter(([partition]) => partitions.includes(partition));
      listed.forEach(([partition, lsn, payload], index) => {
        // A row lies among other bytes of its page (0xc1: no msgpack value starts with it).
        onRow(partition, lsn, Uint8Array.from([0xc1, ...payload, 0xc1]), 1, 1 + payload.length);
        if (index % pageRows === pageRows - 1) onPageEnd?.();
      });
      onPageEnd?.();
      return Promise.resolve(listed.length);
    },
  };
  return journal;
}

/** What a recovery rebuilt, comparable with toEqual. */
function outcome(recovered: RecoveredPartition | undefined) {
  if (recovered === undefined) return undefined;
  const keys = [...recovered.state.actors.values()].map((actor) => [
    actor.productId,
    actor.onHand,
    actor.version,
  ]);
  const { lastLsn, records: replayed, snapshotLsn, pastGap } = recovered;
  return { keys, lastLsn, replayed, snapshotLsn, pastGap };
}

describe('recoverPartitions and the gap rule', () => {
  it('replays everything when the lsns have no gap', async () => {
    const recovered = (await recoverPartitions(journalWith([1, 2, 3]), [0], { retention })).get(0);
    expect(recovered?.lastLsn).toBe(3);
    expect(recovered?.pastGap).toBeUndefined();
    const onHand = [...(recovered?.state.actors.values() ?? [])].map((actor) => actor.onHand);
    expect(onHand).toEqual([6]);
  });

  it('stops at the first gap and tells the rows past it, with their movements', async () => {
    const recovered = (await recoverPartitions(journalWith([1, 2, 4, 5]), [0], { retention })).get(
      0,
    );
    expect(recovered?.lastLsn).toBe(2);
    expect(recovered?.records).toBe(2);
    expect(recovered?.pastGap).toEqual({
      rows: 2,
      movements: [
        { productId: 'p-1', warehouseId: 'w-1', version: 4 },
        { productId: 'p-1', warehouseId: 'w-1', version: 5 },
      ],
    });
    const onHand = [...(recovered?.state.actors.values() ?? [])].map((actor) => actor.onHand);
    expect(onHand).toEqual([3]);
  });

  it('treats a gap right after the start as the end: nothing replayed', async () => {
    const recovered = (await recoverPartitions(journalWith([2, 3]), [0], { retention })).get(0);
    expect(recovered?.lastLsn).toBe(0);
    expect(recovered?.pastGap?.rows).toBe(2);
    expect(recovered?.state.actors.size).toBe(0);
  });

  it('reads many partitions without a snapshot in one pass, rows in any order, gaps and all', async () => {
    const one = records(4, 'p-1').map((record, index): Row => [1, index + 1, encodeRecord(record)]);
    const two = records(3, 'p-2').map((record, index): Row => [2, index + 1, encodeRecord(record)]);
    // Newest first, the partitions interleaved; partition 2 lacks its lsn 2 (a gap).
    const rows = [one[3], two[2], one[2], one[1], two[0], one[0]] as Row[];
    const journal = journalOf(rows, 2);
    const recovered = await recoverPartitions(journal, [1, 2], { retention });
    expect(journal.passes).toBe(1);
    expect(outcome(recovered.get(1))).toMatchObject({
      lastLsn: 4,
      replayed: 4,
      keys: [['p-1', 10, 4]],
    });
    expect(outcome(recovered.get(2))).toMatchObject({
      lastLsn: 1,
      keys: [['p-2', 1, 1]],
      pastGap: { rows: 1, movements: [{ productId: 'p-2', warehouseId: 'w-1', version: 3 }] },
    });
  });

  it('reads a small share of the journal partition by partition, by its index', async () => {
    const rows = [1, 2].flatMap((partition) =>
      records(3, `p-${partition}`).map((record, index): Row => [
        partition,
        index + 1,
        encodeRecord(record),
      ]),
    );
    const journal = journalOf(rows);
    // 2 of 16 partitions: a pass over the whole table would read 8 times what they hold.
    const few = await recoverPartitions(journal, [1, 2], { retention, partitionCount: 16 });
    expect(journal.passes).toBe(0);
    const many = await recoverPartitions(journal, [1, 2], { retention, partitionCount: 8 });
    expect(journal.passes).toBe(1);
    for (const partition of [1, 2]) {
      expect(outcome(few.get(partition))).toEqual(outcome(many.get(partition)));
      expect(few.get(partition)?.lastLsn).toBe(3);
    }
  });

  it('recovers in one pass, or by tails in any order, what each partition read in lsn order does', async () => {
    const partitionArbitrary = fc.record({
      count: fc.integer({ min: 0, max: 8 }),
      // Each lsn is present unless dropped: a dropped one is a gap.
      dropped: fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 2 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(partitionArbitrary, { minLength: 2, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.integer({ min: 1, max: 12 }),
        async (shapes, order, pageRows) => {
          const stored: Row[] = shapes.flatMap(({ count, dropped }, partition) =>
            records(count, `p-${partition}`)
              .map((record, index): Row => [partition, index + 1, encodeRecord(record)])
              .filter(([, lsn]) => !dropped.includes(lsn)),
          );
          // Any physical order: each row sorted by a key drawn for it.
          const rank = (index: number) => order[index % Math.max(order.length, 1)] ?? index;
          const shuffled = stored
            .map((row, index) => ({ row, key: rank(index) * 64 + index }))
            .sort((a, b) => a.key - b.key)
            .map(({ row }) => row);
          const partitions = shapes.map((_, partition) => partition);
          const journal = journalOf(shuffled, pageRows);
          const together = await recoverPartitions(journal, partitions, { retention });
          expect(journal.passes).toBe(1);
          // A small share of a larger journal: read by tails, the rows in the same shuffled order.
          const partitionCount = partitions.length * 8;
          const byTails = await recoverPartitions(journal, partitions, {
            retention,
            partitionCount,
          });
          expect(journal.passes).toBe(1);
          const inOrder = journalOf(stored);
          for (const partition of partitions) {
            const alone = await recoverPartitions(inOrder, [partition], { retention });
            expect(outcome(together.get(partition))).toEqual(outcome(alone.get(partition)));
            expect(outcome(byTails.get(partition))).toEqual(outcome(alone.get(partition)));
          }
        },
      ),
      runOptions(200),
    );
  });
});
