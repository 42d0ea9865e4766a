// Proves the lot write-off schedule hands each key over once, when due, earliest first (ties by
// key), keeps only a key's earliest due time, skips entries an earlier one replaced, bounds a
// sweep, and forgets the keys of partitions being reloaded.
import { describe, expect, it } from 'vitest';
import { LotSchedule, type LotWriteOffKey } from '../../../src/shards/lot-schedule.js';

const key = (partition: number, productId: string): LotWriteOffKey => ({
  partition,
  productId,
  warehouseId: 'w1',
});

function swept(schedule: LotSchedule, nowMs: number, max = 100): string[] {
  const seen: string[] = [];
  schedule.sweep(nowMs, max, (entry) => {
    seen.push(`${entry.partition}/${entry.productId}/${entry.warehouseId}`);
    return true;
  });
  return seen;
}

describe('LotSchedule', () => {
  it('hands due keys over once, earliest first, and nothing before its time', () => {
    const schedule = new LotSchedule();
    schedule.note(key(1, 'b'), 200);
    schedule.note(key(1, 'a'), 200);
    schedule.note(key(2, 'c'), 100);
    schedule.note(key(3, 'never'), Number.POSITIVE_INFINITY);
    expect(schedule.size).toBe(3);
    expect(schedule.nextDueMs).toBe(100);
    expect(swept(schedule, 99)).toEqual([]);
    expect(swept(schedule, 200)).toEqual(['2/c/w1', '1/a/w1', '1/b/w1']);
    expect(swept(schedule, 10_000)).toEqual([]);
    expect(schedule.size).toBe(0);
  });

  it("keeps a key's earliest time; a replaced later entry is skipped", () => {
    const schedule = new LotSchedule();
    schedule.note(key(1, 'a'), 500);
    schedule.note(key(1, 'a'), 900);
    schedule.note(key(1, 'a'), 300);
    expect(swept(schedule, 1000)).toEqual(['1/a/w1']);
  });

  it('stops after max keys that wrote something off, and drops reloaded partitions', () => {
    const schedule = new LotSchedule();
    for (const name of ['a', 'b', 'c']) schedule.note(key(1, name), 10);
    schedule.note(key(2, 'd'), 10);
    expect(swept(schedule, 10, 2)).toEqual(['1/a/w1', '1/b/w1']);
    schedule.dropPartitions(new Set([1]));
    expect(swept(schedule, 10)).toEqual(['2/d/w1']);
  });
});
