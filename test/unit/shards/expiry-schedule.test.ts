// Proves the expiry schedule stays bounded by the pending holds: entries of holds finished early
// are dropped by compaction once they are half the schedule, a step at a time when there are
// many; a sweep skips stale entries without counting them and stops at its cap, and a reloaded
// partition's entries can be dropped.
import { describe, expect, it } from 'vitest';
import { expiryCompactionSlack, expiryCompactionStepEntries } from '../../../src/limits.js';
import type { DueEntry, ExpiryEntry } from '../../../src/shards/expiry-heap.js';
import { ExpirySchedule } from '../../../src/shards/expiry-schedule.js';

describe('ExpirySchedule', () => {
  it('compacts once stale entries are over the slack and half the schedule', () => {
    const schedule = new ExpirySchedule<string>();
    const pending = new Set<string>();
    const holds = 4 * expiryCompactionSlack;
    for (let index = 0; index < holds; index += 1) {
      schedule.schedule(index % 4, `h${index}`, 1_000 + index);
      pending.add(`h${index}`);
    }
    const isPending = (entry: ExpiryEntry) => pending.has(entry.key);
    // Finish three quarters of them early (confirmed or released).
    for (let index = 0; index < (3 * holds) / 4; index += 1) {
      pending.delete(`h${index}`);
      schedule.finishedEarly(isPending);
    }
    expect(schedule.size).toBeLessThanOrEqual(2 * pending.size + expiryCompactionSlack);
    expect(schedule.size).toBeGreaterThanOrEqual(pending.size);
    // Every pending hold is still there to expire, in order.
    const expired: string[] = [];
    schedule.sweep(Infinity, Infinity, (entry) => {
      if (!pending.has(entry.key)) return false;
      expired.push(entry.key);
      return true;
    });
    expect(expired).toEqual([...pending]);
  });

  it("drops a large schedule's stale entries a step at a time, never all at once", () => {
    const schedule = new ExpirySchedule<string>();
    const pending = new Set<string>();
    const holds = 100_000;
    for (let index = 0; index < holds; index += 1) {
      // Ten holds a millisecond, as a hot key's reserves at 10k/s: 1,000 to a bucket.
      schedule.schedule(0, `h${index}`, 600_000 + Math.floor(index / 10));
      pending.add(`h${index}`);
    }
    let keeps = 0;
    const isPending = (entry: ExpiryEntry) => {
      keeps += 1;
      return pending.has(entry.key);
    };
    // Confirmed oldest first, until the stale entries are half the schedule: a pass begins.
    let confirmed = 0;
    while (!schedule.compacting) {
      pending.delete(`h${confirmed}`);
      confirmed += 1;
      schedule.finishedEarly(isPending);
    }
    expect(confirmed).toBe(holds / 2 + 1);
    // Each later finish filters about a step's entries (whole buckets of 1,000), no more.
    let steps = 0;
    while (schedule.compacting) {
      const before = keeps;
      pending.delete(`h${confirmed}`);
      confirmed += 1;
      schedule.finishedEarly(isPending);
      expect(keeps - before).toBeLessThanOrEqual(expiryCompactionStepEntries + 1_000);
      steps += 1;
    }
    expect(steps).toBeGreaterThanOrEqual(Math.floor(holds / (expiryCompactionStepEntries + 1_000)));
    // Only the entries confirmed during the pass may be left.
    expect(schedule.size).toBeLessThanOrEqual(pending.size + steps);
    expect(schedule.size).toBeGreaterThanOrEqual(pending.size);
    // The pass counted what went stale under it, no more: the next finish starts no other pass.
    pending.delete(`h${confirmed}`);
    schedule.finishedEarly(isPending);
    expect(schedule.compacting).toBe(false);
  });

  it('sweeps due holds earliest first, skips stale ones and stops at its cap', () => {
    const schedule = new ExpirySchedule<string>();
    for (const [id, at] of [
      ['c', 30],
      ['a', 10],
      ['b', 10],
      ['gone', 5],
      ['later', 99],
    ] as const) {
      schedule.schedule(0, id, at);
    }
    const seen: string[] = [];
    const expire = (entry: ExpiryEntry) => {
      seen.push(entry.key);
      return entry.key !== 'gone';
    };
    expect(schedule.sweep(50, 2, expire)).toBe(2);
    expect(seen).toEqual(['gone', 'a', 'b']);
    expect(schedule.sweep(50, 2, expire)).toBe(1);
    expect(seen).toEqual(['gone', 'a', 'b', 'c']);
    expect(schedule.size).toBe(1);
  });

  it("forgets a reloaded partition's entries", () => {
    const schedule = new ExpirySchedule<string>();
    schedule.schedule(1, 'x', 10);
    schedule.schedule(2, 'y', 10);
    schedule.dropPartitions(new Set([1]));
    const seen: string[] = [];
    schedule.sweep(10, 10, (entry) => seen.push(entry.key) > 0);
    expect(seen).toEqual(['y']);
  });

  it('expires the holds due at one instant in the order of their tie key, across capped sweeps', () => {
    // Numbered keys (the shard's serials) in an order of their own; the tie key (the shard's:
    // the hold's id) decides among those due together, and a cap leaves the rest for the next.
    const schedule = new ExpirySchedule<number>();
    const ids = new Map<number, string>([
      [1, 'id-d'],
      [2, 'id-b'],
      [3, 'id-a'],
      [4, 'id-c'],
      [5, 'id-e'],
    ]);
    for (const key of ids.keys())
      schedule.schedule(key === 1 ? 1 : 0, key, key === 5 ? 20 : 10, key * 10);
    const tieKey = (entry: ExpiryEntry<number>) => ids.get(entry.key) ?? '';
    const seen: string[] = [];
    const expire = (entry: DueEntry<number>) => {
      expect(entry.tag).toBe(entry.key * 10);
      seen.push(tieKey(entry));
      return true;
    };
    expect(schedule.sweep(30, 2, expire, tieKey)).toBe(2);
    expect(seen).toEqual(['id-a', 'id-b']);
    // The two left of the instant stay first, and counted.
    expect([schedule.nextDueMs, schedule.size]).toStrictEqual([10, 3]);
    schedule.dropPartitions(new Set([1]));
    expect(schedule.size).toBe(2);
    expect(schedule.sweep(30, 1, expire, tieKey)).toBe(1);
    expect(seen).toEqual(['id-a', 'id-b', 'id-c']);
    // One due sooner than what is left: it goes first, the rest back in order after it.
    ids.set(6, 'id-z');
    ids.set(7, 'id-y');
    schedule.schedule(0, 6, 10, 60);
    schedule.schedule(0, 7, 5, 70);
    expect(schedule.nextDueMs).toBe(5);
    expect(schedule.sweep(30, 10, expire, tieKey)).toBe(3);
    expect(seen).toEqual(['id-a', 'id-b', 'id-c', 'id-y', 'id-z', 'id-e']);
    expect(schedule.size).toBe(0);
  });
});
