// Proves snapshots survive encode→decode and restore to the same state, on a captured partition.
import { describe, expect, it } from 'vitest';
import { captureSnapshot, restoreSnapshot } from '../../../src/actors/index.js';
import { decodeSnapshot, encodeSnapshot } from '../../../src/persistence/snapshot-codec.js';
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
