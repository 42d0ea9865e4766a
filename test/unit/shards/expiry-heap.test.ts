// Proves the expiry heap pops earliest first and only when due, with fixed times and a clock.
import { describe, expect, it } from 'vitest';
import { ExpiryHeap, type ExpiryEntry } from '../../../src/shards/expiry-heap.js';

function entry(expiresAtMs: number, key = `r-${expiresAtMs}`): ExpiryEntry {
  return { expiresAtMs, partition: 0, key };
}

function drain<K extends string | number>(heap: ExpiryHeap<K>, nowMs: number): ExpiryEntry<K>[] {
  const popped: ExpiryEntry<K>[] = [];
  for (let next = heap.popDue(nowMs); next !== undefined; next = heap.popDue(nowMs)) {
    popped.push(next);
  }
  return popped;
}

describe('ExpiryHeap', () => {
  it('pops nothing from an empty heap', () => {
    const heap = new ExpiryHeap();
    expect(heap.popDue(Number.MAX_SAFE_INTEGER)).toBeUndefined();
    expect(heap.size).toBe(0);
  });

  it('pops nothing before the earliest entry is due, and pops it at its due time', () => {
    const heap = new ExpiryHeap();
    heap.push(entry(100));
    expect(heap.popDue(99)).toBeUndefined();
    expect(heap.size).toBe(1);
    expect(heap.popDue(100)?.key).toBe('r-100');
    expect(heap.size).toBe(0);
  });

  it('pops entries pushed in scrambled order earliest first', () => {
    const heap = new ExpiryHeap();
    const times = [50, 10, 40, 90, 20, 70, 30, 80, 60, 0, 100, 15];
    for (const time of times) heap.push(entry(time));
    expect(drain(heap, 1_000).map((e) => e.expiresAtMs)).toStrictEqual(
      [...times].sort((a, b) => a - b),
    );
  });

  it('pops only the due entries and keeps the rest for later', () => {
    const heap = new ExpiryHeap();
    for (const time of [5, 1, 9, 3, 7]) heap.push(entry(time));
    expect(drain(heap, 5).map((e) => e.expiresAtMs)).toStrictEqual([1, 3, 5]);
    expect(heap.size).toBe(2);
    heap.push(entry(2));
    expect(drain(heap, 100).map((e) => e.expiresAtMs)).toStrictEqual([2, 7, 9]);
  });

  it('keeps every entry that shares a due time', () => {
    const heap = new ExpiryHeap();
    for (let index = 0; index < 5; index += 1) heap.push(entry(42, `r-${index}`));
    const ids = drain(heap, 42).map((e) => e.key);
    expect(ids.sort()).toStrictEqual(['r-0', 'r-1', 'r-2', 'r-3', 'r-4']);
  });

  it('keeps numbers for keys and the tags beside them as its columns grow', () => {
    const heap = new ExpiryHeap<number>();
    // 5,000 entries pushed latest first: the columns grow from their first room many times.
    for (let serial = 5000; serial >= 1; serial -= 1) {
      heap.push({
        expiresAtMs: 1000 + (serial % 50),
        partition: serial % 7,
        key: serial,
        tag: -serial,
      });
    }
    expect(heap.size).toBe(5000);
    const popped = drain(heap, 2000);
    expect(popped).toHaveLength(5000);
    const expected = Array.from({ length: 5000 }, (_, index) => index + 1).sort(
      (a, b) => (a % 50) - (b % 50) || a - b,
    );
    expect(popped.map((each) => each.key)).toStrictEqual(expected);
    expect(popped.every((each) => each.tag === -each.key && each.partition === each.key % 7)).toBe(
      true,
    );
  });
});
