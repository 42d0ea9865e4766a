// The split map (split-map.ts) against a plain Map: any sequence of sets, overwrites and deletes,
// with parts small enough to split many times and to reach the directory's depth limit, gives the
// same size, lookups and entries; at the default shape a hot key's hundred thousand holds never
// leave a part larger than it splits at, and a split under an iteration fails it.
import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SplitMap } from '../../../src/actors/split-map.js';
import { runOptions } from '../../helpers/fc-options.js';
import { mapStep } from '../../helpers/map-steps.js';

const sorted = (entries: Iterable<[string, number]>) =>
  [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function same(map: SplitMap<number>, model: Map<string, number>): void {
  expect(map.size).toBe(model.size);
  expect(sorted(map)).toEqual(sorted(model));
  expect([...map.keys()].sort()).toEqual([...model.keys()].sort());
  expect([...map.values()].sort()).toEqual([...model.values()].sort());
  // Keys and values in the same order as the entries (a snapshot pairs keys and values so).
  expect([...map.keys()]).toEqual([...map].map(([key]) => key));
  expect([...map.values()]).toEqual([...map].map(([, value]) => value));
}

describe('SplitMap', () => {
  it('answers as a Map does through splits and at the depth limit', () => {
    const shape = fc.record({
      partEntriesMax: fc.integer({ min: 2, max: 12 }),
      directoryDepthMax: fc.integer({ min: 1, max: 7 }),
    });
    const property = fc.property(
      shape,
      fc.array(mapStep(600, 4), { minLength: 200, maxLength: 1_500 }),
      (mapShape, steps) => {
        const map = new SplitMap<number>(mapShape);
        const model = new Map<string, number>();
        for (const each of steps) {
          if (each.kind === 'set') {
            const key = `k${each.key}`;
            expect(map.set(key, each.value)).toBe(map);
            model.set(key, each.value);
          } else if (each.kind === 'delete') {
            // Keys drawn from a wider range: some deletes find nothing.
            const key = `k${each.key % 900}`;
            expect(map.delete(key)).toBe(model.delete(key));
          } else {
            // Deleting while iterating, as a Map allows: what is left is what the model keeps.
            let index = 0;
            for (const [key] of map) {
              if (index % each.modulus === 0) {
                map.delete(key);
                model.delete(key);
              }
              index += 1;
            }
          }
          expect(map.size).toBe(model.size);
        }
        for (let key = 0; key < 900; key += 1) {
          expect(map.get(`k${key}`)).toBe(model.get(`k${key}`));
          expect(map.has(`k${key}`)).toBe(model.has(`k${key}`));
        }
        same(map, model);
        const seen = new Map<string, number>();
        map.forEach((value, key, whole) => {
          expect(whole).toBe(map);
          seen.set(key, value);
        });
        expect(sorted(seen)).toEqual(sorted(model));
        // Parts split at their size until the depth limit: past it they only grow.
        if (model.size >= 4 * mapShape.partEntriesMax) expect(map.partCount).toBeGreaterThan(1);
        expect(map.partCount).toBeLessThanOrEqual(2 ** mapShape.directoryDepthMax);
      },
    );
    fc.assert(property, runOptions(150));
  });

  it("keeps a hot key's hundred thousand holds in parts no larger than they split at", () => {
    const map = new SplitMap<number>();
    const model = new Map<string, number>();
    for (let index = 0; index < 100_000; index += 1) {
      const id = randomUUID();
      map.set(id, index);
      model.set(id, index);
    }
    expect(map.partCount).toBeGreaterThanOrEqual(100_000 / 4096);
    expect(map.largestPart).toBeLessThan(4096);
    same(map, model);
    for (const key of model.keys()) expect(map.delete(key)).toBe(true);
    expect(map.size).toBe(0);
    expect([...map]).toEqual([]);
    expect(map.largestPart).toBe(0);
  });

  it('stays one part, as cheap as a Map, until it first fills one', () => {
    const map = new SplitMap<number>({ partEntriesMax: 8, directoryDepthMax: 16 });
    for (let index = 0; index < 7; index += 1) map.set(`k${index}`, index);
    expect(map.partCount).toBe(1);
    map.set('k7', 7);
    // In eight, by the next three bits of the hash.
    expect(map.partCount).toBe(8);
    expect(map.largestPart).toBeLessThan(8);
  });

  it('fails an iteration that a split lands under', () => {
    const map = new SplitMap<number>({ partEntriesMax: 4, directoryDepthMax: 16 });
    for (let index = 0; index < 3; index += 1) map.set(`k${index}`, index);
    expect(() => {
      let added = 3;
      for (const entry of map.entries()) {
        expect(entry).toBeDefined();
        // Each new key fills a part at some point: the parts move under the iteration.
        for (let more = 0; more < 8; more += 1) map.set(`k${added++}`, added);
      }
    }).toThrow(/split while it was iterated/);
  });
});
