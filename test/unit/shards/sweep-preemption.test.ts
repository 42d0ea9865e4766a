// Proves a sweep always makes progress, however long the shard's thread is kept off its core: a
// batch sweeps the holds already due before it applies, even when the sweep's time slice is spent
// before its first expiry (the thread lost its core right after the sweep read its start). The
// duration clock here jumps past the slice at every reading, so each slice check says "stop".
// A read in the same batch then sees the due hold expired, as the contract says; with the slice
// checked before the first expiry, it saw the hold still held.
import { describe, expect, it } from 'vitest';
import { sweepSliceMs } from '../../../src/limits.js';
import { adjust, reserve } from '../../helpers/actor-fixtures.js';
import { InstantJournal, ShardHarness } from '../../helpers/shard-harness.js';

const key = { productId: 'p', warehouseId: 'w' };
const hold = () => reserve({ ...key, quantity: 2, ttlSeconds: 1 });

describe('a sweep on a thread kept off its core', () => {
  it('expires the holds already due before the batch that reads them', async () => {
    let monotonicMs = 0;
    // Every reading is a slice and more after the last: the thread "lost its core" between any two.
    const jumping = () => (monotonicMs += sweepSliceMs + 5);
    const shard = new ShardHarness(new InstantJournal(), Date.UTC(2026, 11, 3, 12), jumping);
    await shard.shard.start();
    await shard.send(adjust(10, key));
    await shard.send(hold());
    await shard.send(hold());
    expect(await shard.stock()).toMatchObject({ onHand: 10, reserved: 4, available: 6 });

    // Both holds are due: the read's own batch sweeps them first, slice or no slice.
    shard.nowMs += 1_500;
    expect(await shard.stock()).toMatchObject({ onHand: 10, reserved: 0, available: 10 });
  });
});
