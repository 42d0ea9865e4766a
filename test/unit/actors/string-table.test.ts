// The string table (string-table.ts) against a Map: any sequence of sets, overwrites and deletes,
// through growth and compactions, gives the same size, lookups and entries in the same order; an
// iteration sees the deletes and the sets made during it as a Map's does, growth included; and a
// compaction under an iteration fails it instead of skipping or repeating entries.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StringTable } from '../../../src/actors/string-table.js';
import { runOptions } from '../../helpers/fc-options.js';
import { mapStep, type MapStep } from '../../helpers/map-steps.js';

/** Keys drawn from `keys` + 1; few keys and many deletes make holes, and compactions, often. */
const steps = (keys: number, deleteWeight: number): fc.Arbitrary<MapStep[]> =>
  fc.array(mapStep(keys, deleteWeight, keys), { minLength: 1000, maxLength: 2000 });

function same(table: StringTable<number>, model: Map<string, number>): void {
  expect(table.size).toBe(model.size);
  expect([...table.entries()]).toStrictEqual([...model.entries()]);
  expect([...table.keys()]).toStrictEqual([...model.keys()]);
  expect([...table.values()]).toStrictEqual([...model.values()]);
  expect([...table]).toStrictEqual([...model]);
  for (const [key, value] of model) expect(table.get(key)).toBe(value);
}

describe('StringTable', () => {
  it.each([
    ['many keys', 300, 5],
    ['few keys, many deletes', 40, 8],
  ])(
    'answers as a Map does, in the same order, through growth and compactions (%s)',
    (_name, keys, deleteWeight) => {
      fc.assert(
        fc.property(steps(keys, deleteWeight), (plan) => {
          const table = new StringTable<number>();
          const model = new Map<string, number>();
          for (const [index, step] of plan.entries()) {
            // Now and then everything, every key looked up (entries a compaction moved included).
            if (index % 25 === 0) same(table, model);
            if (step.kind === 'set') {
              const key = `k${step.key}`;
              table.set(key, step.value);
              model.set(key, step.value);
            } else if (step.kind === 'delete') {
              const key = `k${step.key}`;
              expect(table.delete(key)).toBe(model.delete(key));
            } else {
              // Deletes during an iteration: both skip what is deleted ahead of them.
              const seen: string[] = [];
              const modelSeen: string[] = [];
              for (const key of table.keys()) {
                seen.push(key);
                if (Number(key.slice(1)) % step.modulus === 0) table.delete(key);
              }
              for (const key of model.keys()) {
                modelSeen.push(key);
                if (Number(key.slice(1)) % step.modulus === 0) model.delete(key);
              }
              expect(seen).toStrictEqual(modelSeen);
            }
            // The key just used, and one set long ago (moved by every compaction since).
            for (const probe of ['key' in step ? `k${step.key}` : 'k0', [...model.keys()][0]]) {
              if (probe === undefined) continue;
              expect(table.get(probe)).toBe(model.get(probe));
              expect(table.has(probe)).toBe(model.has(probe));
            }
          }
          same(table, model);
        }),
        runOptions(30),
      );
    },
  );

  it('shows an iteration the sets made during it, as a Map does, as it grows too', () => {
    const table = new StringTable<number>();
    const model = new Map<string, number>();
    for (let index = 0; index < 8; index += 1) {
      table.set(`k${index}`, index);
      model.set(`k${index}`, index);
    }
    // The table is full: each key added now makes it grow, past a chunk (256) as well.
    const walk = (entries: Iterable<string>, add: (key: string) => void): string[] => {
      const seen: string[] = [];
      for (const key of entries) {
        seen.push(key);
        if (seen.length <= 300) add(`${key}+`);
      }
      return seen;
    };
    const seen = walk(table.keys(), (key) => table.set(key, 1));
    expect(seen).toStrictEqual(walk(model.keys(), (key) => model.set(key, 1)));
    expect(seen).toHaveLength(308);
    expect(table.capacity).toBe(512);
    expect([...table.entries()]).toStrictEqual([...model.entries()]);
  });

  it('fails an iteration that a compaction lands under', () => {
    const table = new StringTable<number>();
    for (let index = 0; index < 8; index += 1) table.set(`k${index}`, index);
    const iterate = () => {
      for (const [, value] of table) {
        // Half the full table deleted (no compaction while iterating), then a new key: the set
        // finds the entries full and half holes, and closes them up under the iteration.
        if (value === 0) {
          for (let index = 4; index < 8; index += 1) table.delete(`k${index}`);
          table.set('new', 8);
        }
      }
    };
    expect(iterate).toThrow(/compacted while it was iterated/);
    expect([...table.keys()]).toStrictEqual(['k0', 'k1', 'k2', 'k3', 'new']);
  });

  it('shrinks as its entries go, but never under an open iteration', () => {
    const table = new StringTable<number>();
    for (let index = 0; index < 10_000; index += 1) table.set(`hold-${index}`, index);
    expect(table.capacity).toBe(16_384);
    // Deleting every entry as one iterates: no compaction under the iteration, nothing skipped.
    const seen: string[] = [];
    for (const key of table.keys()) {
      seen.push(key);
      table.delete(key);
    }
    expect(seen).toHaveLength(10_000);
    expect(table.size).toBe(0);
    expect(table.capacity).toBe(16_384);
    // Without an iteration open, the next deletes shrink it.
    for (let index = 0; index < 10_000; index += 1) table.set(`again-${index}`, index);
    const closedEarly = table.keys();
    closedEarly.next();
    closedEarly.return?.();
    for (let index = 0; index < 9_990; index += 1) table.delete(`again-${index}`);
    expect(table.capacity).toBeLessThanOrEqual(64);
    expect([...table.values()]).toStrictEqual([
      9_990, 9_991, 9_992, 9_993, 9_994, 9_995, 9_996, 9_997, 9_998, 9_999,
    ]);
    // An iterator dropped half-way holds off shrinking: the table keeps the room it grew to...
    const dropped = table.keys();
    dropped.next();
    for (let index = 0; index < 1_000; index += 1) table.set(`more-${index}`, index);
    for (let index = 0; index < 1_000; index += 1) table.delete(`more-${index}`);
    expect(table.capacity).toBe(2_048);
    // ... until the sets that use it up compact it, which ends every open iteration.
    for (let index = 0; index < 2_048; index += 1) {
      table.set(`brief-${index}`, index);
      table.delete(`brief-${index}`);
    }
    expect(table.capacity).toBeLessThanOrEqual(64);
    expect(table.size).toBe(10);
    expect(() => dropped.next()).toThrow(/compacted while it was iterated/);
  });

  it('closes up the holes of deleted entries instead of growing for them', () => {
    const table = new StringTable<number>();
    // A churn of a few live keys (a hot key's holds, confirmed soon after each is made).
    for (let index = 0; index < 100_000; index += 1) {
      table.set(`hold-${index}`, index);
      if (index >= 4) table.delete(`hold-${index - 4}`);
    }
    expect(table.size).toBe(4);
    expect([...table.keys()]).toStrictEqual([
      'hold-99996',
      'hold-99997',
      'hold-99998',
      'hold-99999',
    ]);
    expect(table.capacity).toBeLessThanOrEqual(16);
  });
});
