// A home partition's decided carts (cart-book.ts) are forgotten oldest first, as retention says:
// any order of decisions and prunes leaves exactly the carts a plain queue model keeps, with the
// committed carts' idempotency keys going with them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CartBook } from '../../../src/actors/cart-book.js';
import type { CartRecord } from '../../../src/actors/types.js';
import { runOptions } from '../../helpers/fc-options.js';

function cart(cartId: string, atMs: number, committed: boolean): CartRecord {
  return {
    type: 'cart',
    cartId,
    decision: committed ? 'committed' : 'aborted',
    idempotencyKey: `key-${cartId}`,
    fingerprint: 'f',
    createdAtMs: atMs,
    expiresAtMs: atMs + 600_000,
    buyerId: '',
    reference: '',
    requesterId: 'checkout',
    holds: [],
    atMs,
    traceId: 't',
  };
}

const operation = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('decide' as const),
      afterMs: fc.nat(20),
      committed: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('prune' as const),
      keepMs: fc.nat(200),
      max: fc.integer({ min: 1, max: 12 }),
      liveMs: fc.nat(100),
    }),
  },
);

/** The model's prune: from the oldest, forget until one is kept (as retention reads). */
function modelPrune(
  model: CartRecord[],
  oldestKeptMs: number,
  max: number,
  liveSinceMs: number,
): void {
  while (model.length > 0) {
    const record = model[0] as CartRecord;
    const live = record.atMs >= liveSinceMs;
    if ((model.length <= max || live) && record.atMs >= oldestKeptMs) return;
    model.shift();
  }
}

describe('CartBook.prune', () => {
  it('forgets exactly what a queue forgets, across decisions and prunes in any order', () => {
    fc.assert(
      fc.property(fc.array(operation, { minLength: 1, maxLength: 300 }), (operations) => {
        const book = new CartBook();
        const model: CartRecord[] = [];
        let nowMs = 1_000;
        operations.forEach((op, step) => {
          if (op.kind === 'decide') {
            nowMs += op.afterMs;
            const record = cart(`cart-${step}`, nowMs, op.committed);
            book.decide(record);
            model.push(record);
          } else {
            book.prune(nowMs - op.keepMs, op.max, nowMs - op.liveMs);
            modelPrune(model, nowMs - op.keepMs, op.max, nowMs - op.liveMs);
          }
          expect([...book.decided.keys()]).toEqual(model.map((record) => record.cartId));
          const committed = model.filter((record) => record.decision === 'committed');
          expect([...book.keys.keys()].sort()).toEqual(
            committed.map((record) => record.idempotencyKey).sort(),
          );
        });
      }),
      runOptions(100),
    );
  });
});
