// Cases of a snapshot taken in slices that random runs reach rarely: the finished queue compacted
// under a capture, a hot key's holds confirmed and forgotten between the slices over it, two
// captures of different partitions at once, and a capture abandoned (it stops watching).
import { describe, expect, it } from 'vitest';
import {
  SnapshotCapture,
  captureSnapshot,
  type RetentionPolicy,
} from '../../../src/actors/index.js';
import { watcherCount } from '../../../src/actors/change-watch.js';
import { SnapshotEncoder, encodeSnapshot } from '../../../src/persistence/snapshot-codec.js';
import { snapshotPartBytes } from '../../../src/limits.js';
import {
  RecordingPartition,
  adjust,
  onReservation,
  reserve,
} from '../../helpers/actor-fixtures.js';

const t0 = Date.UTC(2026, 11, 2, 12);

function sliced(partition: RecordingPartition) {
  const expected = encodeSnapshot(captureSnapshot(partition.state));
  const encoder = new SnapshotEncoder();
  const capture = new SnapshotCapture(partition.state, encoder);
  const finish = (units = 7): Buffer => {
    while (!capture.advance(units));
    return Buffer.concat(encoder.finish());
  };
  return { expected, capture, finish };
}

function hotKey(retention: RetentionPolicy, holds: number, partition = 4) {
  const recording = new RecordingPartition(retention, partition);
  const productId = `sku-${partition}`;
  recording.apply(adjust(1_000_000, { productId }), t0);
  const ids: string[] = [];
  for (let index = 0; index < holds; index += 1) {
    const command = reserve({ productId, ttlSeconds: 600 });
    recording.apply(command, t0 + index);
    ids.push(command.reservationId);
  }
  return { recording, ids };
}

describe('SnapshotCapture', () => {
  it("hands a large snapshot's bytes over in blocks of a snapshot part each, as encoded whole", () => {
    const retention = { retainFinishedMs: 3_600_000, retainFinishedMax: 100_000, onHandMax: 1e9 };
    const { recording } = hotKey(retention, 30_000);
    const expected = encodeSnapshot(captureSnapshot(recording.state));
    const encoder = new SnapshotEncoder();
    const capture = new SnapshotCapture(recording.state, encoder);
    while (!capture.advance(1000));
    const blocks = encoder.finish();
    expect(blocks.length).toBe(Math.ceil(expected.length / snapshotPartBytes));
    expect(blocks.length).toBeGreaterThan(1);
    for (const block of blocks.slice(0, -1)) expect(block.length).toBe(snapshotPartBytes);
    expect(Buffer.concat(blocks).equals(expected)).toBe(true);
  });

  it('is exact while the finished queue is pruned and compacted under it', () => {
    const retention = { retainFinishedMs: 3_600_000, retainFinishedMax: 1500, onHandMax: 1e9 };
    const { recording, ids } = hotKey(retention, 4000);
    for (const id of ids.slice(0, 2000)) recording.apply(onReservation('confirm', id), t0 + 5000);
    const { expected, capture, finish } = sliced(recording);
    // Past 1024 forgotten entries the queue's arrays are compacted (new arrays, head 0).
    for (const id of ids.slice(2000, 3500)) {
      recording.apply(onReservation('release', id), t0 + 6000);
      capture.advance(2);
    }
    expect(finish().equals(expected)).toBe(true);
  });

  it("is exact while a hot key's holds end and are forgotten between its slices", () => {
    const retention = { retainFinishedMs: 1000, retainFinishedMax: 50, onHandMax: 1e9 };
    const { recording, ids } = hotKey(retention, 3000);
    const { expected, capture, finish } = sliced(recording);
    capture.advance(100);
    // Behind the slices, ahead of them, and holds made since.
    for (const [index, id] of ids.entries()) {
      if (index % 3 === 0) recording.apply(onReservation('confirm', id), t0 + 10_000);
      if (index % 10 === 0) capture.advance(5);
      if (index % 7 === 0) recording.apply(reserve({ productId: 'sku-4' }), t0 + 10_000);
    }
    expect(finish().equals(expected)).toBe(true);
    expect(watcherCount()).toBe(0);
  });

  it("is exact while a split hold table's parts are copied on write under it", () => {
    const retention = { retainFinishedMs: 3_600_000, retainFinishedMax: 100_000, onHandMax: 1e9 };
    // 20,000 holds: the key's tables are split maps of many parts, noted by a view.
    const { recording, ids } = hotKey(retention, 20_000);
    const { expected, capture, finish } = sliced(recording);
    capture.advance(3);
    for (const [index, id] of ids.entries()) {
      // Parts behind the slices and ahead of them change: ends, new holds, extends.
      if (index % 4 === 0) recording.apply(onReservation('confirm', id), t0 + 30_000);
      if (index % 9 === 0) recording.apply(reserve({ productId: 'sku-4' }), t0 + 30_000);
      if (index % 50 === 0) capture.advance(200);
    }
    expect(finish().equals(expected)).toBe(true);
    expect(watcherCount()).toBe(0);
    // Once read, the view is released: a second capture sees the key as it is now.
    const again = sliced(recording);
    expect(again.finish(500).equals(again.expected)).toBe(true);
  });

  it('keeps two partitions apart when both are captured at once', () => {
    const retention = { retainFinishedMs: 1000, retainFinishedMax: 5, onHandMax: 1e9 };
    const one = hotKey(retention, 300, 1);
    const two = hotKey(retention, 300, 2);
    const first = sliced(one.recording);
    const second = sliced(two.recording);
    for (let index = 0; index < 300; index += 1) {
      one.recording.apply(onReservation('release', one.ids[index] as string), t0 + 5000);
      two.recording.apply(onReservation('confirm', two.ids[299 - index] as string), t0 + 5000);
      first.capture.advance(1);
      second.capture.advance(2);
    }
    expect(first.finish().equals(first.expected)).toBe(true);
    expect(second.finish().equals(second.expected)).toBe(true);
  });

  it('stops watching when abandoned', () => {
    const { recording } = hotKey(
      { retainFinishedMs: 1000, retainFinishedMax: 5, onHandMax: 1e9 },
      10,
    );
    const { capture } = sliced(recording);
    expect(watcherCount()).toBe(1);
    capture.cancel();
    expect(watcherCount()).toBe(0);
    expect(capture.advance(1000)).toBe(false);
  });
});
