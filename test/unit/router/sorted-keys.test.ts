// Proves the ordered key index: keys come out in code-unit order however they arrived (one by
// one, which splits blocks, or in large batches, which are merged in one pass), a range starts at
// or after its start key and stops at its prefix or its limit, and says whether more follow.
import { describe, expect, it } from 'vitest';
import { SortedKeys } from '../../../src/router/sorted-keys.js';

/** Every key of the index, read a page at a time through `range`. */
function everyKey(index: SortedKeys, pageKeys = 7): string[] {
  const keys: string[] = [];
  let page = index.range('', false, '', pageKeys);
  keys.push(...page.keys);
  while (page.more) {
    page = index.range(keys[keys.length - 1] as string, true, '', pageKeys);
    keys.push(...page.keys);
  }
  return keys;
}

/** A fixed shuffle (a linear congruential generator), so a failure replays as it was. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
  const copy = [...items];
  let state = seed;
  for (let index = copy.length - 1; index > 0; index -= 1) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    const other = state % (index + 1);
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
}

const numbered = (count: number): string[] =>
  Array.from({ length: count }, (_, index) => `k-${String(index).padStart(5, '0')}`);

describe('SortedKeys', () => {
  it('is empty at first: every range is empty and nothing follows', () => {
    const index = new SortedKeys();
    expect(index.range('', false, '', 10)).toEqual({ keys: [], more: false });
    expect(index.range('m', true, 'm', 10)).toEqual({ keys: [], more: false });
  });

  it('keeps keys inserted one by one in order across many block splits', () => {
    const index = new SortedKeys(4);
    const keys = numbered(500);
    for (const key of shuffled(keys, 7)) index.addAll([key]);
    expect(index.size).toBe(500);
    expect(everyKey(index)).toEqual(keys);
  });

  it('merges large batches into what it holds, and inserts small ones', () => {
    const index = new SortedKeys(8);
    const keys = numbered(3000);
    const order = shuffled(keys, 11);
    index.addAll(order.slice(0, 1000)); // into an empty index: merged
    index.addAll(order.slice(1000, 1010)); // small: inserted
    index.addAll(order.slice(1010, 2000)); // more than an eighth of the index: merged
    for (const key of order.slice(2000)) index.addAll([key]);
    expect(index.size).toBe(3000);
    expect(everyKey(index, 1000)).toEqual(keys);
  });

  it('orders by code unit: upper case before lower, a shorter prefix first', () => {
    const index = new SortedKeys(2);
    index.addAll(['b', 'a.', 'B', 'a', 'a\u0000z', 'a\u0000b', '9', 'a-']);
    expect(everyKey(index, 3)).toEqual(['9', 'B', 'a', 'a\u0000b', 'a\u0000z', 'a-', 'a.', 'b']);
  });

  it('starts at or after its start key, which need not be in the index', () => {
    const index = new SortedKeys(4);
    index.addAll(numbered(20));
    expect(index.range('k-00005', false, '', 2).keys).toEqual(['k-00005', 'k-00006']);
    expect(index.range('k-00005', true, '', 2).keys).toEqual(['k-00006', 'k-00007']);
    expect(index.range('k-00005x', true, '', 2).keys).toEqual(['k-00006', 'k-00007']);
    expect(index.range('a', true, '', 1).keys).toEqual(['k-00000']);
    expect(index.range('k-00019', true, '', 5)).toEqual({ keys: [], more: false });
    expect(index.range('z', false, '', 5)).toEqual({ keys: [], more: false });
  });

  it('stops at the first key without the prefix and says whether matching keys follow', () => {
    const index = new SortedKeys(2);
    index.addAll(['p\u0000w1', 'p\u0000w2', 'p\u0000w3', 'p.\u0000w1', 'q\u0000w1', 'o\u0000w9']);
    expect(index.range('p\u0000', false, 'p\u0000', 2)).toEqual({
      keys: ['p\u0000w1', 'p\u0000w2'],
      more: true,
    });
    expect(index.range('p\u0000w2', true, 'p\u0000', 1)).toEqual({
      keys: ['p\u0000w3'],
      more: false,
    });
    expect(index.range('p\u0000', false, 'p\u0000', 3)).toEqual({
      keys: ['p\u0000w1', 'p\u0000w2', 'p\u0000w3'],
      more: false,
    });
    expect(index.range('n\u0000', false, 'n\u0000', 3)).toEqual({ keys: [], more: false });
  });

  it('says more only when a key is left: a full last page ends the listing', () => {
    const index = new SortedKeys(4);
    index.addAll(numbered(10));
    expect(index.range('', false, '', 10)).toEqual({ keys: numbered(10), more: false });
    expect(index.range('', false, '', 9).more).toBe(true);
  });
});
