// The partition's retained finished holds (retained-holds.ts) against a plain model: a queue of
// objects, looked up by scanning it. Any order of holds, adjust keys and forgetting, across many
// generations, finds exactly what the model finds, gives back every field, and leaves a noted
// view as it was. A plain hold comes as an object (`pushHold`) or, as a key retires it, straight
// from a pending store's columns (`pushSlot`): the same entry either way.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HoldList, PendingHolds } from '../../../src/actors/pending-holds.js';
import { RetainedHolds, type RetainedView } from '../../../src/actors/retained-holds.js';
import { StockActor, type Reservation } from '../../../src/actors/stock-actor.js';
import { finishedTuple } from '../../../src/actors/snapshot.js';
import { runOptions } from '../../helpers/fc-options.js';

const actors = [new StockActor('sku-a', 'wh-1'), new StockActor('sku-b', 'wh-1')];

interface Entry {
  readonly actor: StockActor;
  readonly hold: Reservation | undefined;
  readonly adjustKey: string;
  readonly atMs: number;
}

function hold(id: string, key: string, atMs: number, extras: Partial<Reservation>): Reservation {
  return {
    id,
    quantity: 3,
    createdAtMs: atMs - 50,
    expiresAtMs: atMs + 1_000,
    originalExpiresAtMs: atMs + 500,
    idempotencyKey: key,
    requesterId: 'requester',
    buyerId: '',
    reference: '',
    cartId: '',
    status: 'CONFIRMED',
    finishedAtMs: atMs,
    confirmedQuantity: 2,
    pin: undefined,
    ...extras,
  };
}

// Idempotency keys from a small set, so the same actor's key comes back (a newer hold of a key
// shadows the older: the actor's map did the same); odd texts for the arena.
const keyArbitrary = fc.oneof(
  fc.constantFrom(
    '',
    'k1',
    'k2',
    'k3',
    'café',
    '\u00ff',
    'ключ',
    '\ud83d\ude00',
    'x'.repeat(5_000),
  ),
  fc.string({ maxLength: 8 }),
);

const operation = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('hold' as const),
      actor: fc.nat(1),
      key: keyArbitrary,
      status: fc.constantFrom('CONFIRMED', 'RELEASED', 'EXPIRED') as fc.Arbitrary<
        Reservation['status']
      >,
      extras: fc.option(
        fc.record({
          buyerId: fc.string({ maxLength: 4 }),
          reference: fc.constantFrom('', 'ref-1'),
          cartId: fc.constantFrom('', 'cart-1'),
          lots: fc.option(fc.constant([{ lotId: 'lot-1', quantity: 3 }]), { nil: undefined }),
        }),
        { nil: undefined },
      ),
      requesterId: fc.constantFrom('requester', '', 'ü'),
      viaStore: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('adjust' as const), actor: fc.nat(1) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('forget' as const), count: fc.nat(5) }) },
);

/** The entries a view noted, read back as the model's objects. */
function read(view: RetainedView): unknown[] {
  const entries: unknown[] = [];
  for (let index = view.head; index < view.end; index += 1) {
    const columns = view.columns;
    if (columns === undefined) throw new Error('entries without columns');
    entries.push(finishedTuple(columns, index, actors.indexOf(columns.actorAt(index))));
  }
  return entries;
}

function modelTuples(model: readonly Entry[]): unknown[] {
  return model.map(({ actor, hold: entry, adjustKey, atMs }) => {
    const place = actors.indexOf(actor);
    if (entry === undefined) return [place, '', adjustKey, atMs];
    const { id, quantity, createdAtMs, expiresAtMs, idempotencyKey, status, requesterId } = entry;
    const { originalExpiresAtMs, buyerId, reference, cartId, confirmedQuantity, lots } = entry;
    const tuple: unknown[] = [
      ...[id, quantity, createdAtMs, expiresAtMs, idempotencyKey, status, atMs, requesterId],
      ...[originalExpiresAtMs, buyerId, reference, cartId, confirmedQuantity],
    ];
    if (lots !== undefined) tuple.push([...lots]);
    return [place, id, '', atMs, tuple];
  });
}

/**
 * Runs the operations on a store and on the model, checking after each step (the counts, the
 * oldest entry) and every `viewEvery` steps (a noted view against the model, and every view noted
 * before against what it read then), then every lookup at the end.
 */
function againstModel(operations: readonly Operation[], viewEvery: number): void {
  const retained = new RetainedHolds();
  // Where a plain hold retired from a key's store comes from.
  const store = new PendingHolds<StockActor>();
  const lists = actors.map((actor) => new HoldList(store, actor));
  const model: Entry[] = [];
  let head = 0;
  let holds = 0;
  let atMs = 1_000;
  let views: { view: RetainedView; tuples: unknown[] }[] = [];
  operations.forEach((op, step) => {
    atMs += 1;
    if (op.kind === 'hold') {
      const actor = actors[op.actor] as StockActor;
      const id = `${step.toString(16).padStart(8, '0')}-hold`;
      const { lots, ...extras } = op.extras ?? {};
      const entry = hold(id, op.key, atMs, {
        status: op.status,
        requesterId: op.requesterId,
        ...extras,
        ...(lots === undefined ? {} : { lots }),
      });
      if (op.viaStore && op.extras === undefined) {
        const list = lists[op.actor] as HoldList<StockActor>;
        const slot = store.add(list, entry);
        retained.pushSlot(actor, store, slot);
        store.remove(list, slot);
      } else {
        retained.pushHold(actor, entry);
      }
      model.push({ actor, hold: entry, adjustKey: '', atMs });
      holds += 1;
    } else if (op.kind === 'adjust') {
      const actor = actors[op.actor] as StockActor;
      const adjustKey = `adjust-${step}`;
      retained.pushAdjustKey(actor, adjustKey, atMs);
      model.push({ actor, hold: undefined, adjustKey, atMs });
    } else {
      for (let n = 0; n < op.count && head < model.length; n += 1) {
        const forgotten = retained.shift();
        const first = model[head] as Entry;
        head += 1;
        if (first.hold !== undefined) holds -= 1;
        expect(forgotten).toStrictEqual(
          first.hold === undefined
            ? { actor: first.actor, adjustKey: first.adjustKey, atMs: first.atMs }
            : undefined,
        );
      }
    }
    expect(retained.size).toBe(model.length - head);
    expect(retained.holdCount).toBe(holds);
    expect(retained.oldestAtMs()).toBe(model[head]?.atMs);
    if (step % viewEvery === 0) {
      // Every view noted so far still reads as it did (appends, forgetting, chunks dropped).
      for (const { view, tuples } of views) expect(read(view)).toStrictEqual(tuples);
      const view = retained.noted();
      views.push({ view, tuples: read(view) });
      expect(read(view)).toStrictEqual(modelTuples(model.slice(head)));
      if (views.length > 4) views = views.slice(1);
    }
  });
  for (const { view, tuples } of views) expect(read(view)).toStrictEqual(tuples);
  // Every hold by id, every actor's key, as the newest of the model's with that key.
  const kept = model.slice(head);
  for (const entry of kept) {
    if (entry.hold === undefined) continue;
    const index = retained.find(entry.hold.id);
    expect(index).toBeGreaterThanOrEqual(0);
    expect(retained.hold(index)).toStrictEqual(entry.hold);
    expect(retained.actorAt(index)).toBe(entry.actor);
    expect(retained.expiresAtMsAt(index)).toBe(entry.hold.expiresAtMs);
  }
  for (const entry of model.slice(0, head)) {
    if (entry.hold !== undefined) expect(retained.find(entry.hold.id)).toBe(-1);
  }
  for (const actor of actors) {
    for (const key of new Set(model.map((entry) => entry.hold?.idempotencyKey ?? ''))) {
      const newest = kept.findLast(
        (entry) => entry.actor === actor && entry.hold?.idempotencyKey === key,
      );
      const index = retained.findKey(actor, key);
      if (newest === undefined || key === '') expect(index).toBe(-1);
      else expect(retained.hold(index)).toStrictEqual(newest.hold);
    }
  }
  expect(retained.find('ffffffff-none')).toBe(-1);
}

type Operation = typeof operation extends fc.Arbitrary<infer T> ? T : never;

describe('RetainedHolds', () => {
  it('finds what a scan of the queue finds, and a noted view never changes', () => {
    fc.assert(
      fc.property(fc.array(operation, { minLength: 150, maxLength: 400 }), (operations) =>
        againstModel(operations, 1),
      ),
      runOptions(50),
    );
  });

  it('does the same across chunks dropped and buckets split (thousands of entries)', () => {
    // Mostly holds, so the tables pass a bucket's 1,024 entries; forgetting in runs, so chunks
    // behind the head are dropped, and at times everything is (the next chunk starts mid-way).
    const many = fc.oneof(
      { weight: 1_400, arbitrary: operation.filter((op) => op.kind === 'hold') },
      {
        weight: 100,
        arbitrary: fc.record({ kind: fc.constant('adjust' as const), actor: fc.nat(1) }),
      },
      {
        weight: 1,
        arbitrary: fc.record({ kind: fc.constant('forget' as const), count: fc.nat(3_000) }),
      },
    );
    fc.assert(
      fc.property(fc.array(many, { minLength: 4_000, maxLength: 6_000 }), (operations) =>
        againstModel(operations, 701),
      ),
      // Shrinking thousands of operations takes minutes: the failing seed is enough to replay.
      { ...runOptions(8), endOnFailure: true },
    );
  });

  it('does the same when it forgets everything it is given, over many chunks', () => {
    // A count bound of one (or finishes further apart than the retention time): empty after
    // every entry or two, so a small chunk is kept and filled on, then left behind for a new one
    // further on in the numbering, again and again past several chunks' worth of sequences.
    const operations: Operation[] = [];
    for (let step = 0; step < 3_000; step += 1) {
      const twice = step % 7 === 0;
      const status = step % 2 === 0 ? 'CONFIRMED' : 'RELEASED';
      const held = { kind: 'hold', actor: step % 2, key: `k${step % 3}`, status } as const;
      operations.push({
        ...held,
        extras: undefined,
        requesterId: 'requester',
        viaStore: step % 3 === 0,
      });
      if (twice) operations.push({ kind: 'adjust', actor: 1 });
      operations.push({ kind: 'forget', count: twice ? 2 : 1 });
    }
    againstModel(operations, 97);
  });

  it('forgets a hold by id and by key once shifted out, through many generations', () => {
    const retained = new RetainedHolds();
    const actor = actors[0] as StockActor;
    for (let step = 0; step < 20_000; step += 1) {
      retained.pushHold(actor, hold(`id-${step}`, `key-${step % 50}`, step, {}));
      if (step >= 100) retained.shift();
    }
    expect(retained.size).toBe(100);
    expect(retained.find('id-19899')).toBe(-1);
    expect(retained.hold(retained.find('id-19900')).id).toBe('id-19900');
    // Fifty keys, each held by its newest two holds: the newest is the one found.
    expect(retained.hold(retained.findKey(actor, 'key-7')).id).toBe('id-19957');
    expect(retained.findKey(actors[1] as StockActor, 'key-7')).toBe(-1);
  });
});
