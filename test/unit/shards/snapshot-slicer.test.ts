// A slice looks at the clock often enough to keep near its budget when each value is slow to
// capture: a hot key's hold took 2-3 µs to capture and encode with 600,000 of them pending, so a
// look every 256 values let slices run 0.71-0.84 ms at the median against a 0.5 ms budget
// (bench/micro/snapshot-cost.ts). Here the duration clock says the budget is spent at every look
// after a slice's first reading, so each slice ends at its first look: the slices counted tell
// how many values a slice takes between looks.
import { describe, expect, it } from 'vitest';
import { captureSnapshot } from '../../../src/actors/index.js';
import type { Clock } from '../../../src/clock.js';
import { encodeSnapshot } from '../../../src/persistence/snapshot-codec.js';
import type { SnapshotWrite } from '../../../src/persistence/index.js';
import { SnapshotSlicer, type SnapshotStats } from '../../../src/shards/snapshot-slicer.js';
import { RecordingPartition, adjust, reserve } from '../../helpers/actor-fixtures.js';

const t0 = Date.UTC(2026, 11, 6, 2);
const roomy = { retainFinishedMs: 3_600_000, retainFinishedMax: 100_000, onHandMax: 1e9 };
const holds = 2_000;
/** The most values a slice may take before it looks at the clock. */
const valuesPerLookMax = 64;

function hotPartition(): RecordingPartition {
  const recording = new RecordingPartition(roomy, 3);
  recording.apply(adjust(1_000_000, { productId: 'hot' }), t0);
  for (let index = 0; index < holds; index += 1) {
    recording.apply(reserve({ productId: 'hot', ttlSeconds: 600 }), t0 + index);
  }
  return recording;
}

describe('SnapshotSlicer', () => {
  it(`looks at the clock at least every ${valuesPerLookMax} values, and the snapshot is exact`, async () => {
    const recording = hotPartition();
    const expected = encodeSnapshot(captureSnapshot(recording.state));
    let readingMs = 0;
    const clock: Clock = {
      now: () => t0,
      // Each reading is a full budget after the one before.
      monotonic: () => (readingMs += 1),
      defer: (task) => void setImmediate(task),
      sleep: () => Promise.resolve(),
    };
    let row: SnapshotWrite | undefined;
    let stats: SnapshotStats | undefined;
    const slicer = new SnapshotSlicer(
      clock,
      { sliceMs: 0.5, unitsPerSliceMax: 1_000_000 },
      {
        begin: () => ({ state: recording.state, lsn: 1 }),
        complete: (_state, written, taken) => {
          row = written;
          stats = taken;
          return true;
        },
        dropped: (_partition, _state, error) => {
          throw new Error(`dropped: ${String(error)}`);
        },
      },
    );

    expect(await slicer.request(3)).toBe(true);
    expect(Buffer.concat(row?.blocks ?? []).equals(expected)).toBe(true);
    // Every hold is one value: a slice that took more between looks makes fewer slices.
    expect(stats?.slices).toBeGreaterThanOrEqual(holds / valuesPerLookMax);
  });
});
