// Proves the reply callbacks' table against a Map of the same operations: an id finds its value
// once, an id taken or never given finds nothing, the waiting ids and the count are the Map's,
// and a slot given again gives a new id, so a late answer for its old id finds nothing.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PendingSlots, pendingSlotsMax } from '../../src/pending-slots.js';
import { runOptions } from '../helpers/fc-options.js';

interface Box {
  readonly n: number;
}

describe('PendingSlots', () => {
  it('hands each value back once, under the id it was given', () => {
    const slots = new PendingSlots<Box>();
    const a = slots.add({ n: 1 });
    const b = slots.add({ n: 2 });
    expect(a).not.toBe(b);
    expect(slots.size).toBe(2);
    expect(slots.take(b)).toEqual({ n: 2 });
    expect(slots.take(b)).toBeUndefined();
    expect(slots.size).toBe(1);
    expect(slots.waiting()).toEqual([a]);
    expect(slots.take(a)).toEqual({ n: 1 });
    expect(slots.size).toBe(0);
    expect(slots.waiting()).toEqual([]);
  });

  it('gives a reused slot a new id: the old one finds nothing', () => {
    const slots = new PendingSlots<Box>();
    const first = slots.add({ n: 1 });
    slots.take(first);
    const second = slots.add({ n: 2 });
    expect(second % pendingSlotsMax).toBe(first % pendingSlotsMax);
    expect(second).not.toBe(first);
    expect(slots.take(first)).toBeUndefined();
    expect(slots.take(second)).toEqual({ n: 2 });
  });

  it('keeps ids positive, below 2^31, and cycles a slot’s ids after 2,047', () => {
    const slots = new PendingSlots<Box>();
    const seen = new Set<number>();
    let id = 0;
    for (let round = 0; round < 2047; round += 1) {
      id = slots.add({ n: round });
      expect(id).toBeGreaterThan(0);
      expect(id).toBeLessThan(2 ** 31);
      seen.add(id);
      slots.take(id);
    }
    expect(seen.size).toBe(2047);
    expect(slots.add({ n: 0 })).toBe([...seen][0]);
  });

  it('refuses ids it never gave: 0, negative, past its slots', () => {
    const slots = new PendingSlots<Box>();
    const id = slots.add({ n: 1 });
    expect(slots.take(0)).toBeUndefined();
    expect(slots.take(-id)).toBeUndefined();
    expect(slots.take(id + 1)).toBeUndefined();
    expect(slots.take(id + pendingSlotsMax)).toBeUndefined();
    expect(slots.take(id)).toEqual({ n: 1 });
  });

  it('peeks without taking, and visits each waiting value once, which may take it', () => {
    const slots = new PendingSlots<Box>();
    const ids = [1, 2, 3].map((n) => slots.add({ n }));
    const [a, b, c] = ids as [number, number, number];
    expect(slots.peek(b)).toEqual({ n: 2 });
    expect(slots.size).toBe(3);
    slots.take(b);
    expect(slots.peek(b)).toBeUndefined();
    const seen: [number, number][] = [];
    slots.forEach((value, id) => {
      seen.push([value.n, id]);
      if (value.n === 1) slots.take(id);
    });
    expect(seen).toEqual([
      [1, a],
      [3, c],
    ]);
    expect(slots.waiting()).toEqual([c]);
  });

  it('behaves as a Map of the ids it gave, whatever the order of adds and takes', () => {
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('add' as const) }),
      fc.record({ kind: fc.constant('take' as const), pick: fc.nat(), stale: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 300 }), (operations) => {
        const slots = new PendingSlots<Box>();
        const model = new Map<number, Box>();
        const given: number[] = [];
        let n = 0;
        for (const step of operations) {
          if (step.kind === 'add') {
            const value = { n: (n += 1) };
            const id = slots.add(value);
            expect(model.has(id)).toBe(false);
            model.set(id, value);
            given.push(id);
          } else if (given.length > 0) {
            // Any id ever given: a waiting one, or one taken already (a late answer).
            const live = [...model.keys()];
            const pool = step.stale || live.length === 0 ? given : live;
            const id = pool[step.pick % pool.length] ?? 0;
            expect(slots.take(id)).toBe(model.get(id));
            model.delete(id);
          }
          expect(slots.size).toBe(model.size);
        }
        expect(slots.waiting().sort((a, b) => a - b)).toEqual(
          [...model.keys()].sort((a, b) => a - b),
        );
      }),
      runOptions(200),
    );
  });
});
