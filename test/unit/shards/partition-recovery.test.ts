// The gap rule of recovery: a partition is replayed up to the first gap in its lsns, and the rows
// past it (a later group commit that committed while an earlier one failed: never acknowledged)
// are told back with the movements written beside them, for the shard to remove.
import { describe, expect, it } from 'vitest';
import { PartitionState, type Command, type JournalRecord } from '../../../src/actors/index.js';
import { encodeRecord, type JournalReader } from '../../../src/persistence/index.js';
import { recoverPartitions } from '../../../src/shards/partition-recovery.js';

const retention = { retainFinishedMs: 86_400_000, retainFinishedMax: 10_000, onHandMax: 1e12 };
const nowMs = 1_800_000_000_000;

const adjust = (delta: number): Command => ({
  kind: 'adjust',
  productId: 'p-1',
  warehouseId: 'w-1',
  delta,
  reason: '',
  idempotencyKey: '',
  actorId: '',
  traceId: 't',
});

/** Five records of one key, as a shard journals them: lsn n is the key's version n. */
function records(): JournalRecord[] {
  const state = new PartitionState(0, retention);
  return [1, 2, 3, 4, 5].map((delta) => {
    const record = state.apply(adjust(delta), nowMs).record;
    if (record === undefined) throw new Error('an adjust without a record');
    return record;
  });
}

/** A journal holding the given lsns of partition 0 (and no snapshot). */
function journalWith(lsns: readonly number[]): JournalReader {
  const all = records();
  return {
    latestSnapshots: () => Promise.resolve(new Map()),
    readTail: (_partition, afterLsn, onRow) => {
      let last = afterLsn;
      for (const lsn of lsns) {
        if (lsn <= afterLsn) continue;
        onRow(lsn, encodeRecord(all[lsn - 1] as JournalRecord));
        last = lsn;
      }
      return Promise.resolve(last);
    },
  };
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
});
