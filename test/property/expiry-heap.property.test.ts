// Proves the expiry heap pops like a sorted list (by expiry time, then key: a total order, so even
// ties come out in a stated order) under random pushes, clock-driven pops and rebuilds that keep
// only some entries; with keys that are text (the lot schedule's) and keys that are numbers with a
// tag carried along (the hold schedule's serials and slots), past its columns' first room.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { ExpiryHeap, type ExpiryEntry } from '../../src/shards/expiry-heap.js';
import { runOptions } from '../helpers/fc-options.js';

type Step =
  | { kind: 'push'; expiresAtMs: number; id: number }
  | { kind: 'pop'; advanceMs: number }
  | { kind: 'retain'; modulus: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('push' as const),
      // A narrow range of times: many ties.
      expiresAtMs: fc.integer({ min: 0, max: 40 }),
      id: fc.nat({ max: 10_000 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('pop' as const),
      advanceMs: fc.integer({ min: 0, max: 5 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('retain' as const),
      modulus: fc.integer({ min: 2, max: 4 }),
    }),
  },
);

type Entry = ExpiryEntry<string | number>;

const order = (a: Entry, b: Entry): number =>
  a.expiresAtMs - b.expiresAtMs || (a.key < b.key ? -1 : 1);

/** The heap keeps entries as columns: it hands back an equal entry, not the one pushed. */
const same = (a: Entry | undefined, b: Entry | undefined): boolean =>
  a !== undefined &&
  b !== undefined &&
  a.expiresAtMs === b.expiresAtMs &&
  a.partition === b.partition &&
  a.key === b.key &&
  (a.tag ?? 0) === (b.tag ?? 0);

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

describe('ExpiryHeap against a sorted list', () => {
  it('pops the first due entry by (time, id) each time and loses or repeats none', () => {
    const property = fc.property(
      fc.array(step, { maxLength: 300 }),
      fc.boolean(),
      (steps, text) => {
        const heap = new ExpiryHeap<string | number>();
        let model: Entry[] = [];
        let nowMs = 0;
        let serial = 0;
        for (const next of steps) {
          if (next.kind === 'push') {
            serial += 1;
            const key = text
              ? `r${String(next.id).padStart(5, '0')}-${serial}`
              : next.id * 1000 + serial;
            const tag = text ? 0 : serial * 7;
            const entry = { expiresAtMs: next.expiresAtMs, partition: serial % 3, key, tag };
            heap.push(entry);
            model.push(entry);
            continue;
          }
          if (next.kind === 'retain') {
            const keep = (entry: Entry) => entry.partition % next.modulus !== 0;
            heap.retain(keep);
            model = model.filter(keep);
            check(heap.size === model.length, 'retain kept another number of entries');
            continue;
          }
          nowMs += next.advanceMs;
          const popped = heap.popDue(nowMs);
          model.sort(order);
          const first = model[0];
          if (first === undefined || first.expiresAtMs > nowMs) {
            check(popped === undefined, `popped ${JSON.stringify(popped)} before it was due`);
            continue;
          }
          check(
            same(popped, first),
            `popped ${JSON.stringify(popped)}, not ${JSON.stringify(first)}`,
          );
          model.shift();
          check(heap.size === model.length, 'size differs from the model');
        }
        const rest: Entry[] = [];
        for (
          let entry = heap.popDue(Infinity);
          entry !== undefined;
          entry = heap.popDue(Infinity)
        ) {
          rest.push(entry);
        }
        model.sort(order);
        check(rest.length === model.length, 'entries lost or repeated');
        rest.forEach((entry, index) => check(same(entry, model[index]), 'not in (time, id) order'));
      },
    );
    fc.assert(property, runOptions(500));
  });
});
