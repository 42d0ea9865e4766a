// The partition's store of pending holds (pending-holds.ts): against a plain model (a Map by id,
// a list per key) under any order of holds made, ended and viewed, and case by case for what the
// model does not see: slots used again lowest first, chunks that go, an arena compacted under its
// holds, wide strings, a handle kept too long, views that keep ending holds linked.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../../src/actors/assert.js';
import { columnBytesMade } from '../../../src/actors/columns.js';
import { Hold } from '../../../src/actors/hold.js';
import {
  HoldList,
  PendingHolds,
  type HoldFields,
  type HoldsView,
} from '../../../src/actors/pending-holds.js';
import type { Reservation } from '../../../src/actors/stock-actor.js';
import { runOptions } from '../../helpers/fc-options.js';

/** An owner stands for a stock key: the store only compares them. */
interface Owner {
  readonly name: string;
}

const t0 = Date.UTC(2026, 11, 7);

function fields(id: string, key: string, more: Partial<HoldFields> = {}): HoldFields {
  return {
    id,
    quantity: 2,
    createdAtMs: t0,
    expiresAtMs: t0 + 60_000,
    originalExpiresAtMs: t0 + 30_000,
    idempotencyKey: key,
    requesterId: 'requester-1',
    status: 'PENDING',
    finishedAtMs: 0,
    confirmedQuantity: 0,
    ...more,
  };
}

function plainOf(hold: Reservation): HoldFields & { buyerId: string; cartId: string } {
  const { id, quantity, createdAtMs, expiresAtMs, originalExpiresAtMs, idempotencyKey } = hold;
  const { requesterId, status, finishedAtMs, confirmedQuantity, buyerId, cartId } = hold;
  return {
    id,
    quantity,
    createdAtMs,
    expiresAtMs,
    originalExpiresAtMs,
    idempotencyKey,
    requesterId,
    status,
    finishedAtMs,
    confirmedQuantity,
    buyerId,
    cartId,
  };
}

function storeWithKeys(count: number): {
  store: PendingHolds<Owner>;
  lists: HoldList<Owner>[];
} {
  const store = new PendingHolds<Owner>();
  const lists = Array.from(
    { length: count },
    (_, index) => new HoldList(store, { name: `sku-${index}` }),
  );
  return { store, lists };
}

/** The view's holds' ids, in its order. */
function viewIds(view: HoldsView): string[] {
  const ids: string[] = [];
  for (let slot = view.next(-1); slot >= 0; slot = view.next(slot)) ids.push(view.hold(slot).id);
  return ids;
}

describe('PendingHolds', () => {
  it('finds a hold by id and by its key and idempotency key, and reads and writes its fields', () => {
    const { store, lists } = storeWithKeys(2);
    const [a, b] = lists as [HoldList<Owner>, HoldList<Owner>];
    const slot = store.add(a, fields('id-1', 'key-1'));
    store.add(b, fields('id-2', 'key-1'));
    expect(store.findId('id-1')).toBe(slot);
    expect(store.ownerAt(slot)).toBe(a.owner);
    // The idempotency key is the key's own: the other key's hold of it is another hold.
    expect(store.findKey(a.owner, 'key-1')).toBe(slot);
    expect(store.hold(store.findKey(b.owner, 'key-1')).id).toBe('id-2');
    expect([
      store.findId('id-3'),
      store.findKey(a.owner, 'key-2'),
      store.findKey(a.owner, ''),
    ]).toStrictEqual([-1, -1, -1]);
    const hold = store.hold(slot);
    expect(plainOf(hold)).toStrictEqual({ ...fields('id-1', 'key-1'), buyerId: '', cartId: '' });
    hold.expiresAtMs = t0 + 90_000;
    hold.status = 'CONFIRMED';
    hold.confirmedQuantity = 1;
    hold.finishedAtMs = t0 + 5;
    expect(plainOf(store.hold(slot))).toMatchObject({
      expiresAtMs: t0 + 90_000,
      status: 'CONFIRMED',
      confirmedQuantity: 1,
      finishedAtMs: t0 + 5,
      originalExpiresAtMs: t0 + 30_000,
    });
    expect(JSON.parse(JSON.stringify(store.hold(slot)))).toMatchObject({ id: 'id-1', quantity: 2 });
    // A plain hold takes no pin (only a cart's hold, an object, is pinned).
    expect(() => {
      store.hold(slot).pin = { attempt: 'a', quantity: 1 };
    }).toThrow(AssertionError);
    expect([store.size, a.size, b.size]).toStrictEqual([2, 1, 1]);
    // A plain hold is no object: what it gives is a handle on its columns.
    expect(store.objectAt(slot)).toBeUndefined();
  });

  it('keeps a hold with extras as its object, found like any other', () => {
    const { store, lists } = storeWithKeys(1);
    const list = lists[0] as HoldList<Owner>;
    const object = Hold.make('id-cart', 3, t0, t0 + 1_000, t0 + 1_000, '', 'req', {
      buyerId: '',
      reference: '',
      cartId: 'cart-1',
      lots: undefined,
    });
    const slot = store.add(list, object, object);
    expect(store.hold(slot)).toBe(object);
    expect(store.hold(store.findId('id-cart'))).toBe(object);
    expect(store.objectAt(slot)).toBe(object);
    // A cart's hold has no idempotency key of its own: not indexed by key.
    expect(store.findKey(list.owner, '')).toBe(-1);
    store.remove(list, slot);
    expect([store.findId('id-cart'), store.size, list.size]).toStrictEqual([-1, 0, 0]);
  });

  it('refuses a second pending hold with the same id', () => {
    const { store, lists } = storeWithKeys(2);
    store.add(lists[0] as HoldList<Owner>, fields('id-1', 'key-1'));
    expect(() => store.add(lists[1] as HoldList<Owner>, fields('id-1', 'key-2'))).toThrow(
      /duplicate reservation id id-1/,
    );
  });

  it("lets a newer hold of a key's idempotency key shadow the older, as a Map's set would", () => {
    const { store, lists } = storeWithKeys(1);
    const list = lists[0] as HoldList<Owner>;
    const older = store.add(list, fields('id-old', 'key-1'));
    const newer = store.add(list, fields('id-new', 'key-1'));
    expect(store.findKey(list.owner, 'key-1')).toBe(newer);
    // The older one leaving takes nothing of the newer's.
    store.remove(list, older);
    expect(store.findKey(list.owner, 'key-1')).toBe(newer);
    store.remove(list, newer);
    expect(store.findKey(list.owner, 'key-1')).toBe(-1);
  });

  it('fails a handle used after its hold has ended, never reading the next hold of its slot', () => {
    const { store, lists } = storeWithKeys(1);
    const list = lists[0] as HoldList<Owner>;
    const slot = store.add(list, fields('id-1', 'key-1'));
    const handle = store.hold(slot);
    store.remove(list, slot);
    expect(store.add(list, fields('id-2', 'key-2'))).toBe(slot);
    expect(() => handle.id).toThrow(/read after its hold ended/);
    expect(store.hold(slot).id).toBe('id-2');
  });

  it('uses freed slots again, lowest first, and lets the chunks at the end go', () => {
    const { store, lists } = storeWithKeys(1);
    const list = lists[0] as HoldList<Owner>;
    const slots = Array.from({ length: 3000 }, (_, index) =>
      store.add(list, fields(`id-${index}`, `key-${index}`)),
    );
    expect(slots.slice(0, 3)).toStrictEqual([0, 1, 2]);
    expect(store.chunkCount).toBe(3);
    store.remove(list, slots[2500] as number);
    store.remove(list, slots[10] as number);
    store.remove(list, slots[5] as number);
    // The lowest chunk's freed slots first.
    expect(store.add(list, fields('again-1', 'again-1'))).toBe(5);
    expect(store.add(list, fields('again-2', 'again-2'))).toBe(10);
    expect(store.add(list, fields('again-3', 'again-3'))).toBe(2500);
    // The last chunk's holds end: it stays, a spare after the last chunk in use.
    for (const slot of [...store.slots(list)].filter((each) => each >= 2048)) {
      store.remove(list, slot);
    }
    expect(store.chunkCount).toBe(3);
    // The middle one's end too: the last goes, the middle is the spare now.
    for (const slot of [...store.slots(list)].filter((each) => each >= 1024)) {
      store.remove(list, slot);
    }
    expect(store.chunkCount).toBe(2);
    // All end: down to one small chunk.
    for (const slot of [...store.slots(list)]) store.remove(list, slot);
    expect([store.chunkCount, store.size, store.slotsUsed, list.empty]).toStrictEqual([
      1,
      0,
      0,
      true,
    ]);
    expect(store.add(list, fields('after', 'after'))).toBe(0);
  });

  it('makes no chunk for a count that goes up and down across a chunk’s edge', () => {
    const { store, lists } = storeWithKeys(1);
    const list = lists[0] as HoldList<Owner>;
    for (let index = 0; index < 1024; index += 1) {
      store.add(list, fields(`id-${index}`, `key-${index}`));
    }
    expect(store.chunkCount).toBe(1);
    for (let round = 0; round < 100; round += 1) {
      const slot = store.add(list, fields(`edge-${round}`, `edge-${round}`));
      expect(slot).toBe(1024);
      store.remove(list, slot);
    }
    expect([store.chunkCount, store.chunksMade]).toStrictEqual([2, 2]);
  });

  it('compacts a chunk’s arena under its holds, and keeps strings wider than a byte', () => {
    const { store, lists } = storeWithKeys(1);
    const list = lists[0] as HoldList<Owner>;
    const long = (index: number) => `key-${index}-${'x'.repeat(120)}`;
    const kept = new Map<string, number>();
    // Holds made and ended in turn: the arena fills with ended holds' strings and is compacted.
    for (let index = 0; index < 5000; index += 1) {
      const requesterId = index % 7 === 0 ? `zoë-${index}-日本` : 'requester';
      const slot = store.add(list, fields(`id-${index}`, long(index), { requesterId }));
      if (index % 10 === 0) kept.set(`id-${index}`, slot);
      else store.remove(list, slot);
    }
    for (const [id, slot] of kept) {
      const index = Number(id.slice(3));
      expect(store.findId(id)).toBe(slot);
      const hold = store.hold(slot);
      expect([hold.id, hold.idempotencyKey]).toStrictEqual([id, long(index)]);
      expect(hold.requesterId).toBe(index % 7 === 0 ? `zoë-${index}-日本` : 'requester');
      expect(store.findKey(list.owner, long(index))).toBe(slot);
    }
    expect(store.size).toBe(kept.size);
  });

  it('moves a chunk’s strings down in place as holds come and go, whatever slots they take', () => {
    const { store, lists } = storeWithKeys(2);
    const live: { id: string; key: string; requesterId: string; list: HoldList<Owner> }[] = [];
    const check = (): void => {
      for (const { id, key, requesterId, list } of live) {
        const slot = store.findId(id);
        const hold = store.hold(slot);
        expect([hold.id, hold.idempotencyKey, hold.requesterId]).toStrictEqual([
          id,
          key,
          requesterId,
        ]);
        expect(store.findKey(list.owner, key)).toBe(slot);
      }
    };
    // About forty holds at a time, each ending at a random turn: the freed slots are taken again
    // lowest first, so a slot's strings lie anywhere in the arena, and the arena, never more than
    // a quarter full of live strings, is compacted where it is again and again. Strings of
    // varying length, and one a unit wider than a byte halfway.
    let seed = 7;
    const random = (below: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % below;
    };
    for (let index = 0; index < 6000; index += 1) {
      const list = lists[index % 2] as HoldList<Owner>;
      const id = `id-${index}-${'i'.repeat(random(40))}`;
      const key = `key-${index}-${'k'.repeat(random(90))}`;
      const requesterId = index === 3000 ? 'zoë-日本' : `requester-${random(5)}`;
      store.add(list, fields(id, key, { requesterId }));
      live.push({ id, key, requesterId, list });
      if (live.length > 40) {
        const [gone] = live.splice(random(live.length), 1);
        if (gone !== undefined) store.remove(gone.list, store.findId(gone.id));
      }
      if (index % 97 === 0) check();
    }
    check();
    expect(store.size).toBe(live.length);
  });

  it('grows an arena twice as large at least when its live strings outgrow half of it', () => {
    const { store, lists } = storeWithKeys(1);
    const list = lists[0] as HoldList<Owner>;
    const key = (index: number): string => `key-${index}-${'k'.repeat(40)}`;
    // A hold made and the oldest ended at each step but one in 40: the live strings grow by a
    // hold's (about 70 units) while the arena takes forty, up to 500 holds in the partition's
    // first chunk, as a partition's holds grow while a journal replays.
    const made = columnBytesMade();
    let oldest = 0;
    const steps = 20_000;
    for (let index = 0; index < steps; index += 1) {
      store.add(list, fields(`id-${index}`, key(index)));
      if (index % 40 !== 0) {
        store.remove(list, store.findId(`id-${oldest}`));
        oldest += 1;
      }
    }
    expect(store.size).toBe(steps - oldest);
    // Live: about 35 KB of strings in the end. With an arena made anew at each fill, twice the
    // live strings, the store made 2.8 MB of columns here; with one twice the last at least, 0.4.
    expect(columnBytesMade() - made).toBeLessThan(800_000);
    for (let index = oldest; index < steps; index += 1) {
      const slot = store.findKey(list.owner, key(index));
      expect(slot).toBeGreaterThanOrEqual(0);
      expect(store.hold(slot).id).toBe(`id-${index}`);
    }
  });

  it('gives a view the holds live when it opened, in order, whatever ends or comes meanwhile', () => {
    const { store, lists } = storeWithKeys(2);
    const [list, other] = lists as [HoldList<Owner>, HoldList<Owner>];
    const slots = ['a', 'b', 'c', 'd'].map((id) => store.add(list, fields(id, `key-${id}`)));
    store.remove(list, slots[1] as number);
    const view = store.view(list);
    expect(view.size).toBe(3);
    store.add(list, fields('e', 'key-e'));
    store.remove(list, slots[2] as number);
    store.remove(list, slots[0] as number);
    store.add(other, fields('f', 'key-f'));
    // c and a ended after the view opened: it still walks them; e came after.
    expect(viewIds(view)).toStrictEqual(['a', 'c', 'd']);
    // Ended ones are found no more, though their slots wait for the view.
    expect([store.findId('a'), store.findId('c'), list.size]).toStrictEqual([-1, -1, 2]);
    expect([...list.keys()]).toStrictEqual(['d', 'e']);
    expect(store.slotsUsed).toBe(5);
    expect(list.empty).toBe(false);
    view.close();
    view.close();
    // Unlinked and freed a few at a time, at the next changes: a and c go as g comes.
    store.add(other, fields('g', 'key-g'));
    expect(store.slotsUsed).toBe(4);
    expect([...list.keys()]).toStrictEqual(['d', 'e']);
    expect(() => view.next(-1)).toThrow(AssertionError);
  });

  it('keeps ended holds linked until the last of several views closes', () => {
    const { store, lists } = storeWithKeys(1);
    const list = lists[0] as HoldList<Owner>;
    const slots = ['a', 'b', 'c'].map((id) => store.add(list, fields(id, `key-${id}`)));
    const first = store.view(list);
    store.remove(list, slots[0] as number);
    const second = store.view(list);
    store.remove(list, slots[1] as number);
    first.close();
    store.add(list, fields('d', 'key-d'));
    expect(viewIds(second)).toStrictEqual(['b', 'c']);
    second.close();
    store.add(list, fields('e', 'key-e'));
    // a and b freed as e came, which took a's slot; f takes b's.
    expect(store.slotsUsed).toBe(3);
    expect(store.add(list, fields('f', 'key-f'))).toBe(slots[1]);
    expect([...list.keys()]).toStrictEqual(['c', 'd', 'e', 'f']);
  });

  it("lets a key's iteration end the hold it was just given", () => {
    const { store, lists } = storeWithKeys(1);
    const list = lists[0] as HoldList<Owner>;
    for (const id of ['a', 'b', 'c']) store.add(list, fields(id, `key-${id}`));
    const seen: string[] = [];
    for (const slot of store.slots(list)) {
      seen.push(store.hold(slot).id);
      store.remove(list, slot);
    }
    expect([seen, list.size, store.size]).toStrictEqual([['a', 'b', 'c'], 0, 0]);
  });

  it('walks past an ended hold that is unlinked while the walk ends the hold before it', () => {
    const { store, lists } = storeWithKeys(1);
    const list = lists[0] as HoldList<Owner>;
    const [, b] = ['a', 'b', 'c'].map((id) => store.add(list, fields(id, `key-${id}`)));
    const view = store.view(list);
    store.remove(list, b as number);
    // b stays linked for the view; once it closes, b is unlinked at the next change: here, a's end.
    view.close();
    const seen: string[] = [];
    for (const slot of store.slots(list)) {
      const id = store.hold(slot).id;
      seen.push(id);
      if (id !== 'a') continue;
      // a goes, b is unlinked and freed with it, and two new holds take their slots.
      store.remove(list, slot);
      store.add(list, fields('d', 'key-d'));
      store.add(list, fields('e', 'key-e'));
    }
    // Holds made during the walk are seen, as a Map's iteration sees them.
    expect(seen).toStrictEqual(['a', 'c', 'd', 'e']);
    expect([[...list.keys()], store.slotsUsed]).toStrictEqual([['c', 'd', 'e'], 3]);
  });

  it('matches a Map and a list per key under any order of holds made, ended and viewed', () => {
    type Op =
      | { kind: 'add'; key: number; idem: number }
      | { kind: 'remove'; pick: number }
      | { kind: 'open'; key: number }
      | { kind: 'close'; pick: number }
      | { kind: 'read'; pick: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 5,
        arbitrary: fc.record({
          kind: fc.constant('add' as const),
          key: fc.nat(2),
          idem: fc.nat(6),
        }),
      },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('open' as const), key: fc.nat(2) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const), pick: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('read' as const), pick: fc.nat() }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const { store, lists } = storeWithKeys(3);
        // The model: each key's holds in order, by id; and each open view's ids at its opening.
        const model = lists.map(() => new Map<string, string>());
        const views: { view: HoldsView; ids: string[] }[] = [];
        let made = 0;
        for (const step of ops) {
          if (step.kind === 'add') {
            made += 1;
            const id = `id-${made}`;
            // An idempotency key of 0 stands for none (a cart's hold).
            const idem = step.idem === 0 ? '' : `idem-${step.idem}`;
            const keyHolds = model[step.key] as Map<string, string>;
            // A key's idempotency key is one pending hold's at a time, as the actor keeps it.
            if (idem !== '' && [...keyHolds.values()].includes(idem)) continue;
            store.add(lists[step.key] as HoldList<Owner>, fields(id, idem, { quantity: made }));
            keyHolds.set(id, idem);
          } else if (step.kind === 'remove') {
            const all = model.flatMap((holds, key) => [...holds.keys()].map((id) => ({ id, key })));
            if (all.length === 0) continue;
            const { id, key } = all[step.pick % all.length] as { id: string; key: number };
            store.remove(lists[key] as HoldList<Owner>, store.findId(id));
            (model[key] as Map<string, string>).delete(id);
          } else if (step.kind === 'open') {
            const ids = [...(model[step.key] as Map<string, string>).keys()];
            views.push({ view: store.view(lists[step.key] as HoldList<Owner>), ids });
          } else if (step.kind === 'close') {
            if (views.length === 0) continue;
            const [closing] = views.splice(step.pick % views.length, 1);
            closing?.view.close();
          } else if (views.length > 0) {
            const { view, ids } = views[step.pick % views.length] as (typeof views)[number];
            expect(viewIds(view)).toStrictEqual(ids);
            expect(view.size).toBe(ids.length);
          }
        }
        model.forEach((holds, key) => {
          const list = lists[key] as HoldList<Owner>;
          expect([...list.keys()]).toStrictEqual([...holds.keys()]);
          for (const [id, idem] of holds) {
            const slot = store.findId(id);
            expect(store.ownerAt(slot)).toBe(list.owner);
            expect(store.hold(slot).idempotencyKey).toBe(idem);
            expect(store.hold(slot).quantity).toBe(Number(id.slice(3)));
            if (idem !== '') expect(store.findKey(list.owner, idem)).toBe(slot);
          }
        });
        expect(store.size).toBe(model.reduce((sum, holds) => sum + holds.size, 0));
        for (const { view, ids } of views) expect(viewIds(view)).toStrictEqual(ids);
        for (const { view } of views) view.close();
        // Every ended hold is freed once its views have closed and enough changes have come.
        for (let index = 0; index < 200; index += 1) {
          const list = lists[0] as HoldList<Owner>;
          store.remove(list, store.add(list, fields(`flush-${index}`, '')));
        }
        expect(store.slotsUsed).toBe(store.size);
      }),
      runOptions(200),
    );
  });
});
