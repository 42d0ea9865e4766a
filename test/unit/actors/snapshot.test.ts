// Proves snapshots lose nothing (restore∘capture, snapshot + tail = replay) on a scripted history.
import { describe, expect, it } from 'vitest';
import {
  AssertionError,
  captureSnapshot,
  restoreSnapshot,
  type PartitionSnapshot,
  type RetentionPolicy,
} from '../../../src/actors/index.js';
import type { ReservationTuple } from '../../../src/actors/snapshot.js';
import {
  adjust,
  onReservation,
  readStock,
  RecordingPartition,
  rejectionOf,
  replayAll,
  reservationOf,
  reserve,
  stockOf,
} from '../../helpers/actor-fixtures.js';

const t0 = 1_700_000_000_000;
const retention: RetentionPolicy = {
  retainFinishedMs: 60_000,
  retainFinishedMax: 4,
  onHandMax: 1_000_000,
};

/** A scripted history touching every record type, retention and two stock keys. */
function scripted(): { partition: RecordingPartition; snapshots: PartitionSnapshot[] } {
  const partition = new RecordingPartition(retention);
  const snapshots: PartitionSnapshot[] = [captureSnapshot(partition.state)];
  const ids: string[] = [];
  const step = (apply: () => void) => {
    const before = partition.records.length;
    apply();
    // One snapshot after every record, so snapshots[k] is the state after k records.
    for (let index = before; index < partition.records.length; index += 1) {
      snapshots.push(captureSnapshot(partition.state));
    }
  };
  step(() => partition.apply(adjust(50, { idempotencyKey: 'adjust-key-first-01' }), t0));
  step(() => partition.apply(adjust(30, { productId: 'sku-2' }), t0 + 1));
  for (let index = 0; index < 8; index += 1) {
    const command = reserve({ quantity: 2, productId: index % 2 === 0 ? 'sku-1' : 'sku-2' });
    ids.push(command.reservationId);
    step(() => partition.apply(command, t0 + 10 + index));
  }
  step(() => partition.apply(onReservation('confirm', ids[0] ?? ''), t0 + 100));
  step(() => partition.apply(onReservation('release', ids[1] ?? ''), t0 + 200));
  step(() => partition.expire(ids[2] ?? '', t0 + 600_100));
  step(() => partition.apply(onReservation('read-reservation', ids[3] ?? ''), t0 + 600_200));
  step(() => partition.apply(onReservation('confirm', ids[4] ?? ''), t0 + 600_300));
  step(() => partition.apply(adjust(-3, { idempotencyKey: 'adjust-key-second' }), t0 + 700_000));
  step(() => partition.apply(onReservation('release', ids[5] ?? ''), t0 + 700_001));
  return { partition, snapshots };
}

describe('captureSnapshot / restoreSnapshot', () => {
  it('captures, restores and captures again to the identical snapshot', () => {
    const { partition } = scripted();
    const snapshot = captureSnapshot(partition.state);
    expect(snapshot.actors.length).toBe(2);
    expect(snapshot.retained?.length).toBeGreaterThan(0);
    // No `finished`: a ledger from before, which reads only that, stops on it instead of losing
    // the finished holds.
    expect(snapshot).not.toHaveProperty('finished');
    expect(captureSnapshot(restoreSnapshot(snapshot, retention))).toStrictEqual(snapshot);
  });

  it('restores a partition that answers replays and holds as the live one did', () => {
    const partition = new RecordingPartition(retention);
    const adjustCommand = adjust(20, { idempotencyKey: 'adjust-key-restored' });
    partition.apply(adjustCommand, t0);
    const confirmed = reserve({ quantity: 3 });
    partition.apply(confirmed, t0);
    partition.apply(onReservation('confirm', confirmed.reservationId), t0 + 1);
    const pending = reserve({ quantity: 4, ttlSeconds: 60 });
    partition.apply(pending, t0 + 2);
    const restored = restoreSnapshot(captureSnapshot(partition.state), retention);

    expect(stockOf(restored.apply(readStock(), t0 + 3).outcome)).toMatchObject({
      onHand: 17,
      reserved: 4,
      version: 4,
    });
    expect(stockOf(restored.apply(adjustCommand, t0 + 3).outcome)).toMatchObject({
      onHand: 20,
      version: 1,
      replayed: true,
    });
    expect(reservationOf(restored.apply(confirmed, t0 + 3).outcome).replayed).toBe(true);
    const again = restored.apply(onReservation('confirm', confirmed.reservationId), t0 + 3);
    expect(reservationOf(again.outcome)).toMatchObject({ status: 'CONFIRMED', replayed: true });
    const late = restored.apply(onReservation('confirm', pending.reservationId), t0 + 62_002);
    expect(rejectionOf(late.outcome).code).toBe('reservation_expired');
  });

  it('restores a partition that goes on forgetting in the same order as the live one', () => {
    const { partition } = scripted();
    const restored = restoreSnapshot(captureSnapshot(partition.state), retention);
    const live = partition.state;
    for (const state of [live, restored]) state.apply(adjust(1), t0 + 10_000_000);
    expect(captureSnapshot(restored)).toStrictEqual(captureSnapshot(live));
    expect([...restored.pending.ids()].sort()).toStrictEqual([...live.pending.ids()].sort());
  });

  it('equals a full replay when any snapshot is followed by the records written after it', () => {
    const { partition, snapshots } = scripted();
    const full = captureSnapshot(replayAll(partition.records, retention));
    expect(full).toStrictEqual(captureSnapshot(partition.state));
    expect(snapshots.length).toBe(partition.records.length + 1);
    snapshots.forEach((snapshot, k) => {
      const state = restoreSnapshot(snapshot, retention);
      for (const record of partition.records.slice(k)) state.replay(record);
      expect(captureSnapshot(state), `snapshot after ${k} records`).toStrictEqual(full);
    });
  });

  it('restores a snapshot written before the partition retained finished holds itself', () => {
    const { partition } = scripted();
    const snapshot = captureSnapshot(partition.state);
    // The earlier layout: a finished hold in its key's tuple, its entry naming it by id only.
    const copy: PartitionSnapshot = structuredClone(snapshot);
    let moved = 0;
    const finished = (copy.retained ?? []).map(([index, reservationId, adjustKey, atMs, hold]) => {
      if (hold !== undefined) {
        copy.actors[index]?.[5].push(hold);
        moved += 1;
      }
      return [index, reservationId, adjustKey, atMs] as [number, string, string, number];
    });
    const { retained: _, ...rest } = copy;
    const earlier: PartitionSnapshot = { ...rest, finished };
    expect(moved).toBeGreaterThan(0);
    const restored = restoreSnapshot(earlier, retention);
    expect(captureSnapshot(restored)).toStrictEqual(snapshot);
    // A retained hold still answers a retry and a read.
    const [, , , , hold] = snapshot.retained?.find((entry) => entry[4] !== undefined) ?? [];
    const read = restored.apply(onReservation('read-reservation', hold?.[0] ?? ''), t0 + 700_002);
    expect(reservationOf(read.outcome)).toMatchObject({ status: hold?.[5], replayed: false });
  });

  it('restores the confirmed units of a finished hold kept in its key, as written or implied', () => {
    const partition = new RecordingPartition(retention);
    partition.apply(adjust(50), t0);
    const ids: string[] = [];
    for (let index = 0; index < 2; index += 1) {
      const command = reserve({ quantity: 4 });
      ids.push(command.reservationId);
      partition.apply(command, t0 + 1 + index);
      partition.apply(onReservation('confirm', command.reservationId), t0 + 10 + index);
    }
    const snapshot = captureSnapshot(partition.state);
    // The earlier layouts: the finished holds in their key's tuple; the first with 3 of its 4
    // units confirmed (as written since v1.1), the second as before v1.1 (all of them, implied).
    const copy: PartitionSnapshot = structuredClone(snapshot);
    const holds = (copy.retained ?? []).flatMap(([, , , , hold]) =>
      hold === undefined ? [] : [hold],
    );
    expect(holds.map((hold) => hold[0])).toStrictEqual(ids);
    const [partial, implied] = holds as [ReservationTuple, ReservationTuple];
    partial[12] = 3;
    implied.length = 8;
    copy.actors[0]?.[5].push(partial, implied);
    const finished = (copy.retained ?? []).map(
      ([index, reservationId, adjustKey, atMs]) =>
        [index, reservationId, adjustKey, atMs] as [number, string, string, number],
    );
    const { retained: _, ...rest } = copy;
    const restored = restoreSnapshot({ ...rest, finished }, retention);
    const confirmed = (id: string) =>
      reservationOf(restored.apply(onReservation('read-reservation', id), t0 + 20).outcome)
        .confirmedQuantity;
    expect(ids.map(confirmed)).toStrictEqual([3, 4]);
  });

  it('refuses a snapshot whose pending holds do not sum to reserved', () => {
    const partition = new RecordingPartition(retention);
    partition.apply(adjust(10), t0);
    partition.apply(reserve({ quantity: 3 }), t0);
    const snapshot = captureSnapshot(partition.state);
    const actor = snapshot.actors[0];
    if (actor === undefined) throw new Error('no actor captured');
    actor[3] = 2;
    expect(() => restoreSnapshot(snapshot, retention)).toThrow(AssertionError);
  });

  it('refuses a snapshot whose finished entry points past its actors', () => {
    const snapshot: PartitionSnapshot = { partition: 7, actors: [], finished: [[0, 'r', '', t0]] };
    expect(() => restoreSnapshot(snapshot, retention)).toThrow(AssertionError);
  });
});
