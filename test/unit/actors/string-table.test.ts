// The string table (string-table.ts) against a Map: any sequence of sets, overwrites and deletes,
// through many rebuilds, gives the same size, lookups and entries in the same order; an iteration
// sees the deletes and the sets made during it as a Map's does; a clone is a table of its own; and
// a rebuild under an iteration fails it instead of skipping or repeating entries.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StringTable } from '../../../src/actors/string-table.js';
import { runOptions } from '../../helpers/fc-options.js';

type Step =
  | { kind: 'set'; key: number; value: number }
  | { kind: 'delete'; key: number }
  | { kind: 'iterate-deleting'; modulus: number }
  | { kind: 'clone' };

const steps: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    {
      weight: 8,
      arbitrary: fc.record({
        kind: fc.constant('set' as const),
        key: fc.nat({ max: 300 }),
        value: fc.nat(),
      }),
    },
    {
      weight: 5,
      arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.nat({ max: 300 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('iterate-deleting' as const),
        modulus: fc.integer({ min: 2, max: 5 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('clone' as const) }) },
  ),
  { maxLength: 2000 },
);

function same(table: StringTable<number>, model: Map<string, number>): void {
  expect(table.size).toBe(model.size);
  expect([...table.entries()]).toStrictEqual([...model.entries()]);
  expect([...table.keys()]).toStrictEqual([...model.keys()]);
  expect([...table.values()]).toStrictEqual([...model.values()]);
  expect([...table]).toStrictEqual([...model]);
}

describe('StringTable', () => {
  it('answers as a Map does, in the same order, through rebuilds', () => {
    fc.assert(
      fc.property(steps, (plan) => {
        let table = new StringTable<number>();
        const model = new Map<string, number>();
        for (const step of plan) {
          if (step.kind === 'set') {
            const key = `k${step.key}`;
            table.set(key, step.value);
            model.set(key, step.value);
          } else if (step.kind === 'delete') {
            const key = `k${step.key}`;
            expect(table.delete(key)).toBe(model.delete(key));
          } else if (step.kind === 'clone') {
            const copy = table.clone();
            same(copy, model);
            // The copy is the table from now on; the old one must not follow its changes.
            const before = [...table.entries()];
            copy.set('only-in-the-copy', -1);
            model.set('only-in-the-copy', -1);
            expect([...table.entries()]).toStrictEqual(before);
            table = copy;
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
          const probe = `k${plan.length % 301}`;
          expect(table.get(probe)).toBe(model.get(probe));
          expect(table.has(probe)).toBe(model.has(probe));
        }
        same(table, model);
      }),
      runOptions(200),
    );
  });

  it('shows an iteration the sets made during it, as a Map does, while no rebuild is due', () => {
    const table = new StringTable<number>(64);
    const model = new Map<string, number>();
    for (const key of ['a', 'b', 'c']) {
      table.set(key, 0);
      model.set(key, 0);
    }
    const walk = (entries: Iterable<string>, add: (key: string) => void): string[] => {
      const seen: string[] = [];
      for (const key of entries) {
        seen.push(key);
        if (key === 'b') add('d');
      }
      return seen;
    };
    expect(walk(table.keys(), (key) => table.set(key, 1))).toStrictEqual(['a', 'b', 'c', 'd']);
    expect(walk(model.keys(), (key) => model.set(key, 1))).toStrictEqual(['a', 'b', 'c', 'd']);
  });

  it('fails an iteration that a rebuild lands under', () => {
    const table = new StringTable<number>();
    for (let index = 0; index < 8; index += 1) table.set(`k${index}`, index);
    const iterate = () => {
      for (const [key, value] of table) {
        // The eighth entry fills the table: the next new key rebuilds it.
        if (value === 0) table.set(`${key}-more`, 8);
      }
    };
    expect(iterate).toThrow(/rebuilt while it was iterated/);
    expect(table.get('k0-more')).toBe(8);
    expect(table.size).toBe(9);
  });

  it('shrinks as its entries go, but never under an open iteration', () => {
    const table = new StringTable<number>();
    for (let index = 0; index < 10_000; index += 1) table.set(`hold-${index}`, index);
    expect(table.capacity).toBe(16_384);
    // Deleting every entry as one iterates: no rebuild under the iteration, nothing skipped.
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
    // An iterator dropped half-way holds off shrinking only until the next rebuild.
    const dropped = table.keys();
    dropped.next();
    for (let index = 0; index < 1_000; index += 1) table.set(`more-${index}`, index);
    for (let index = 0; index < 1_000; index += 1) table.delete(`more-${index}`);
    expect(table.capacity).toBeLessThanOrEqual(64);
    expect(() => dropped.next()).toThrow(/rebuilt while it was iterated/);
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
