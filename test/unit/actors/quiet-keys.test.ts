// The ring of quiet keys: the oldest leaves first, only when the ring is full, around the ring.
import { describe, expect, it } from 'vitest';
import { QuietKeys, type QuietKey } from '../../../src/actors/quiet-keys.js';

describe('QuietKeys', () => {
  it('lets the oldest key go when a key comes to a full ring, in order, around and around', () => {
    const left: number[] = [];
    const key = (name: number): QuietKey => ({ leaveQuiet: () => left.push(name) });
    const ring = new QuietKeys(3);
    for (const name of [1, 2, 3]) ring.push(key(name));
    expect([left, ring.size]).toStrictEqual([[], 3]);
    for (const name of [4, 5, 6, 7, 8, 9, 10]) ring.push(key(name));
    expect([left, ring.size]).toStrictEqual([[1, 2, 3, 4, 5, 6, 7], 3]);
  });

  it('refuses a ring with no room', () => {
    expect(() => new QuietKeys(0)).toThrow('room 1 at least');
  });
});
