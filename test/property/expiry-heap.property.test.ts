// Proves the expiry heap pops like a sorted list under random pushes and clock-driven pops.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { ExpiryHeap, type ExpiryEntry } from '../../src/shards/expiry-heap.js';
import { runOptions } from '../helpers/fc-options.js';

type Step = { kind: 'push'; expiresAtMs: number } | { kind: 'pop'; advanceMs: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), expiresAtMs: fc.integer({ min: 0, max: 500 }) }),
  fc.record({ kind: fc.constant('pop' as const), advanceMs: fc.integer({ min: 0, max: 60 }) }),
);

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

describe('ExpiryHeap against a sorted list', () => {
  it('pops the earliest due entry each time and loses or repeats none', () => {
    const property = fc.property(fc.array(step, { maxLength: 300 }), (steps) => {
      const heap = new ExpiryHeap();
      const model: ExpiryEntry[] = [];
      let nowMs = 0;
      let serial = 0;
      for (const next of steps) {
        if (next.kind === 'push') {
          const entry = {
            expiresAtMs: next.expiresAtMs,
            partition: 0,
            reservationId: `r${serial++}`,
          };
          heap.push(entry);
          model.push(entry);
          continue;
        }
        nowMs += next.advanceMs;
        const popped = heap.popDue(nowMs);
        model.sort((a, b) => a.expiresAtMs - b.expiresAtMs);
        const earliest = model[0];
        if (earliest === undefined || earliest.expiresAtMs > nowMs) {
          check(popped === undefined, `popped ${JSON.stringify(popped)} before it was due`);
          continue;
        }
        check(popped !== undefined, `nothing popped at ${nowMs} though an entry was due`);
        check(popped?.expiresAtMs === earliest.expiresAtMs, 'popped an entry that is not earliest');
        model.splice(model.indexOf(popped as ExpiryEntry), 1);
        check(heap.size === model.length, 'size differs from the model');
      }
      const rest: ExpiryEntry[] = [];
      for (let entry = heap.popDue(Infinity); entry !== undefined; entry = heap.popDue(Infinity)) {
        rest.push(entry);
      }
      const sorted = [...model].sort((a, b) => a.expiresAtMs - b.expiresAtMs);
      check(
        rest.map((e) => e.expiresAtMs).join() === sorted.map((e) => e.expiresAtMs).join(),
        'the remaining entries did not come out in time order',
      );
      check(
        rest
          .map((e) => e.reservationId)
          .sort()
          .join() ===
          model
            .map((e) => e.reservationId)
            .sort()
            .join(),
        'the remaining entries are not the ones pushed',
      );
    });
    fc.assert(property, runOptions(500));
  });
});
