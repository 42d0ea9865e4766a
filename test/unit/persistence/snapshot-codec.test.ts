// Proves snapshots survive encode→decode and restore to the same state, on a captured partition;
// and that recovery's decoding (its runs of tuples left in their bytes until visited) gives what
// the whole decoding gives.
import { describe, expect, it } from 'vitest';
import {
  captureSnapshot,
  restoreSnapshot,
  type PartitionSnapshot,
  type RestorableSnapshot,
  type Tuples,
} from '../../../src/actors/index.js';
import {
  decodeSnapshot,
  decodeSnapshotForRestore,
  encodeSnapshot,
} from '../../../src/persistence/snapshot-codec.js';
import {
  adjust,
  onReservation,
  RecordingPartition,
  reserve,
  roomyRetention,
} from '../../helpers/actor-fixtures.js';

const t0 = 1_700_000_000_000;

function busyPartition(): RecordingPartition {
  const partition = new RecordingPartition(roomyRetention, 513);
  partition.apply(adjust(1_000, { idempotencyKey: 'adjust-key-codec-01', reason: 'initial' }), t0);
  partition.apply(adjust(5, { productId: 'sku-ü', warehouseId: 'wh:2' }), t0);
  for (let index = 0; index < 6; index += 1) {
    const command = reserve({ quantity: index + 1, ttlSeconds: 60 });
    partition.apply(command, t0 + index);
    if (index % 3 === 1) partition.apply(onReservation('confirm', command.reservationId), t0 + 9);
    if (index % 3 === 2) partition.apply(onReservation('release', command.reservationId), t0 + 9);
  }
  return partition;
}

describe('encodeSnapshot / decodeSnapshot', () => {
  it('round-trips a captured snapshot unchanged', () => {
    const snapshot = captureSnapshot(busyPartition().state);
    expect(snapshot.retained?.length).toBeGreaterThan(0);
    expect(decodeSnapshot(encodeSnapshot(snapshot))).toStrictEqual(snapshot);
  });

  it('round-trips an empty partition', () => {
    const snapshot = captureSnapshot(new RecordingPartition(roomyRetention, 0).state);
    expect(decodeSnapshot(encodeSnapshot(snapshot))).toStrictEqual(snapshot);
  });

  it('restores a decoded snapshot to a partition that captures the same snapshot', () => {
    const snapshot = captureSnapshot(busyPartition().state);
    const restored = restoreSnapshot(decodeSnapshot(encodeSnapshot(snapshot)), roomyRetention);
    expect(restored.partition).toBe(513);
    expect(captureSnapshot(restored)).toStrictEqual(snapshot);
  });
});

/** Every run of a snapshot decoded for restore, visited into an array. */
function visited(snapshot: RestorableSnapshot): unknown {
  const all = <T>(tuples: Tuples<T> | undefined): T[] | undefined => {
    if (tuples === undefined) return undefined;
    expect(Array.isArray(tuples), 'a run left in its bytes').toBe(false);
    const list: T[] = [];
    tuples.forEach((tuple) => list.push(tuple));
    return list;
  };
  const actors = snapshot.actors.map((actor) => {
    const copy: unknown[] = [...actor];
    copy[5] = all(actor[5]);
    return copy;
  });
  const runs = { retained: all(snapshot.retained), finished: all(snapshot.finished) };
  const present = Object.entries(runs).filter(([, list]) => list !== undefined);
  return { ...snapshot, actors, ...Object.fromEntries(present) };
}

describe('decodeSnapshotForRestore', () => {
  it('gives, once its runs are visited, what decodeSnapshot gives', () => {
    const snapshot = captureSnapshot(busyPartition().state);
    expect(snapshot.actors.some((actor) => actor[5].length > 0)).toBe(true);
    const bytes = encodeSnapshot(snapshot);
    expect(visited(decodeSnapshotForRestore(bytes))).toStrictEqual(decodeSnapshot(bytes));
    const empty = encodeSnapshot(captureSnapshot(new RecordingPartition(roomyRetention, 0).state));
    expect(visited(decodeSnapshotForRestore(empty))).toStrictEqual(decodeSnapshot(empty));
  });

  it('reads the older layout, finished holds in their keys’ tuples', () => {
    const { retained, ...rest } = captureSnapshot(busyPartition().state);
    const older: PartitionSnapshot = { ...rest, finished: retained };
    const bytes = encodeSnapshot(older);
    expect(visited(decodeSnapshotForRestore(bytes))).toStrictEqual(decodeSnapshot(bytes));
  });

  it('refuses bytes cut short or followed by more', () => {
    const bytes = encodeSnapshot(captureSnapshot(busyPartition().state));
    expect(() => decodeSnapshotForRestore(bytes.subarray(0, bytes.length - 3))).toThrow(RangeError);
    const longer = Buffer.concat([bytes, Buffer.from([0xc0])]);
    expect(() => decodeSnapshotForRestore(longer)).toThrow(/ends at/);
  });

  it('restores to a partition that captures the same snapshot, a hold visited at a time', () => {
    const snapshot = captureSnapshot(busyPartition().state);
    const restored = restoreSnapshot(
      decodeSnapshotForRestore(encodeSnapshot(snapshot)),
      roomyRetention,
    );
    expect(captureSnapshot(restored)).toStrictEqual(snapshot);
  });
});
