// Proves what one partition does for a cart, directly on its actors: lines summed, allocation
// in priority order with splits, short and over-limit lines refused whole, idempotent replay,
// the two-phase parts (claim, prepare, abort, resolve, decide, settle), confirm attempts (pins,
// the home's decisions, roll forward), and
// that the records of all of it replay (and snapshot) to the same state.
import { describe, expect, it } from 'vitest';
import {
  captureSnapshot,
  restoreSnapshot,
  type CartLine,
  type CartTerms,
  type Command,
  type Outcome,
  type RetentionPolicy,
} from '../../../src/actors/index.js';
import {
  RecordingPartition,
  adjust,
  rejectionOf,
  replayAll,
} from '../../helpers/actor-fixtures.js';

const retention: RetentionPolicy = {
  retainFinishedMs: 3_600_000,
  retainFinishedMax: 1_000,
  onHandMax: 1_000_000,
  holdLifetimeMaxMs: 3 * 3_600_000,
};
const t0 = Date.UTC(2026, 11, 2, 12);
const home = 7;
let serial = 0;

function terms(fields: Partial<CartTerms> = {}): CartTerms {
  serial += 1;
  // The serial sits where hold ids keep it (they replace the last 4 digits with the hold's).
  const hex = serial.toString(16).padStart(8, '0');
  return {
    cartId: `${home.toString(16).padStart(4, '0')}0000-0000-8000-8000-${hex}0000`,
    idempotencyKey: `cart-key-${hex}`,
    fingerprint: `body-${hex}`,
    ttlSeconds: 600,
    buyerId: '',
    reference: '',
    requesterId: 'user',
    traceId: `trace-${hex}`,
    ...fields,
  };
}

const line = (index: number, productId: string, warehouseId: string, quantity: number) =>
  ({ index, productId, warehouseId, quantity }) satisfies CartLine;

function place(mode: 'whole' | 'prepare', cart: CartTerms, lines: CartLine[]): Command {
  return { kind: 'cart-place', mode, terms: cart, lines, holdsMax: 1000 };
}

function cartOf(outcome: Outcome) {
  if (!outcome.ok || !('cart' in outcome)) throw new Error(JSON.stringify(outcome));
  return outcome.cart;
}

/** sku-a in wh-1 (10), wh-2 (30), wh-3 (30); sku-b in wh-1 (5). */
function warehouse(partition = home): RecordingPartition {
  const recording = new RecordingPartition(retention, partition);
  for (const [product, where, units] of [
    ['sku-a', 'wh-1', 10],
    ['sku-a', 'wh-2', 30],
    ['sku-a', 'wh-3', 30],
    ['sku-b', 'wh-1', 5],
  ] as const) {
    recording.apply(adjust(units, { productId: product, warehouseId: where }), t0);
  }
  return recording;
}

const stockAt = (recording: RecordingPartition, product: string, where: string) => {
  const { outcome } = recording.apply(
    { kind: 'read-stock', productId: product, warehouseId: where },
    t0,
  );
  return outcome.ok && 'stock' in outcome ? outcome.stock : undefined;
};

describe('a whole cart in its home partition', () => {
  it('sums lines on one key into one hold and journals holds then the decision, together', () => {
    const recording = warehouse();
    const result = recording.apply(
      place('whole', terms(), [line(0, 'sku-b', 'wh-1', 2), line(1, 'sku-b', 'wh-1', 3)]),
      t0,
    );
    const cart = cartOf(result.outcome);
    expect(cart.holds).toHaveLength(1);
    expect(cart.holds[0]).toMatchObject({ line: 0, quantity: 5, warehouseId: 'wh-1' });
    expect(result.writes?.map((write) => write.record.type)).toStrictEqual(['reserved', 'cart']);
    expect(stockAt(recording, 'sku-b', 'wh-1')).toMatchObject({ available: 0, reserved: 5 });
  });

  it('allocates most available first, ties by warehouse id, splitting a line', () => {
    const recording = warehouse();
    const cart = cartOf(
      recording.apply(place('whole', terms(), [line(0, 'sku-a', '', 45)]), t0).outcome,
    );
    expect(cart.holds.map((hold) => [hold.warehouseId, hold.quantity])).toStrictEqual([
      ['wh-2', 30],
      ['wh-3', 15],
    ]);
  });

  it('allocates in warehouse_priority order first, then the rest', () => {
    const recording = warehouse();
    recording.apply(
      {
        kind: 'put-settings',
        productId: 'sku-a',
        changes: { warehousePriority: ['wh-1', 'wh-9'] },
        actorId: '',
        traceId: '',
      },
      t0,
    );
    const cart = cartOf(
      recording.apply(place('whole', terms(), [line(0, 'sku-a', '', 12)]), t0).outcome,
    );
    expect(cart.holds.map((hold) => [hold.warehouseId, hold.quantity])).toStrictEqual([
      ['wh-1', 10],
      ['wh-2', 2],
    ]);
  });

  it('refuses the whole cart with every short line, holding nothing', () => {
    const recording = warehouse();
    const before = recording.records.length;
    const outcome = recording.apply(
      place('whole', terms(), [
        line(0, 'sku-a', 'wh-1', 5),
        line(1, 'sku-b', 'wh-1', 6),
        line(2, 'sku-z', 'wh-1', 1),
        line(3, 'sku-a', '', 100),
      ]),
      t0,
    ).outcome;
    expect(rejectionOf(outcome)).toMatchObject({
      code: 'insufficient_stock',
      details: {
        lines: [
          { index: 1, product_id: 'sku-b', warehouse_id: 'wh-1', requested: 6, available: 5 },
          { index: 2, product_id: 'sku-z', warehouse_id: 'wh-1', requested: 1, available: 0 },
          { index: 3, product_id: 'sku-a', requested: 100, available: 65 },
        ],
      },
    });
    expect(recording.records).toHaveLength(before);
  });

  it('refuses a cart over a purchase limit with limit and held per product', () => {
    const recording = warehouse();
    recording.apply(
      {
        kind: 'put-settings',
        productId: 'sku-a',
        changes: { maxPerBuyer: 3 },
        actorId: '',
        traceId: '',
      },
      t0,
    );
    const buyer = { buyerId: 'b1' };
    cartOf(
      recording.apply(place('whole', terms(buyer), [line(0, 'sku-a', 'wh-1', 2)]), t0).outcome,
    );
    const outcome = recording.apply(
      place('whole', terms(buyer), [line(0, 'sku-a', 'wh-2', 1), line(1, 'sku-a', '', 1)]),
      t0,
    ).outcome;
    expect(rejectionOf(outcome)).toMatchObject({
      code: 'purchase_limit_exceeded',
      details: { lines: [{ index: 0, product_id: 'sku-a', requested: 2, limit: 3, held: 2 }] },
    });
  });

  it('answers the first body again for the same key and body, 422 for another body', () => {
    const recording = warehouse();
    const cart = terms();
    const first = cartOf(
      recording.apply(place('whole', cart, [line(0, 'sku-b', 'wh-1', 1)]), t0).outcome,
    );
    const again = recording.apply(place('whole', cart, [line(0, 'sku-b', 'wh-1', 1)]), t0 + 5);
    expect(again.outcome).toMatchObject({
      ok: true,
      replayed: true,
      cart: { cartId: first.cartId },
    });
    expect(again.writes).toBeUndefined();
    const other = recording.apply(
      place('whole', { ...cart, cartId: terms().cartId, fingerprint: 'another body' }, [
        line(0, 'sku-b', 'wh-1', 2),
      ]),
      t0 + 6,
    );
    expect(rejectionOf(other.outcome).code).toBe('idempotency_key_reused');
  });
});

describe('the two-phase parts', () => {
  it('keeps prepared holds in doubt until settled, and releases them on abort', () => {
    const participant = warehouse(3);
    const cart = terms();
    const prepared = participant.apply(place('prepare', cart, [line(0, 'sku-b', 'wh-1', 4)]), t0);
    expect(cartOf(prepared.outcome).holds[0]).toMatchObject({ partition: 3, quantity: 4 });
    expect(participant.state.carts.inDoubt.get(cart.cartId)?.homePartition).toBe(home);
    participant.apply({ kind: 'cart-abort', cartId: cart.cartId, traceId: '' }, t0 + 1);
    expect(participant.state.carts.inDoubt.size).toBe(0);
    expect(stockAt(participant, 'sku-b', 'wh-1')).toMatchObject({ reserved: 0, available: 5 });
    const settled = terms();
    participant.apply(place('prepare', settled, [line(0, 'sku-b', 'wh-1', 1)]), t0 + 2);
    participant.apply({ kind: 'cart-settle', cartId: settled.cartId, traceId: '' }, t0 + 3);
    expect(participant.state.carts.inDoubt.size).toBe(0);
    expect(stockAt(participant, 'sku-b', 'wh-1')).toMatchObject({ reserved: 1 });
  });

  it('claims a key at the home, then either decides or is resolved as aborted for good', () => {
    const homeState = warehouse();
    const cart = terms();
    expect(homeState.apply({ kind: 'cart-begin', terms: cart }, t0).outcome).toMatchObject({
      decision: 'go',
    });
    const twin = { ...terms(), idempotencyKey: cart.idempotencyKey };
    expect(rejectionOf(homeState.apply({ kind: 'cart-begin', terms: twin }, t0).outcome).code).toBe(
      'unavailable',
    );
    const resolved = homeState.apply(
      { kind: 'cart-resolve', cartId: cart.cartId, traceId: '' },
      t0 + 1,
    );
    expect(resolved.outcome).toMatchObject({ decision: 'aborted' });
    expect(resolved.record).toMatchObject({ type: 'cart', decision: 'aborted' });
    const hold = {
      line: 0,
      partition: 3,
      reservationId: cart.cartId,
      productId: 'sku-b',
      warehouseId: 'wh-1',
      quantity: 1,
    };
    const late = homeState.apply(
      {
        kind: 'cart-decide',
        terms: cart,
        createdAtMs: t0,
        expiresAtMs: t0 + 600_000,
        holds: [hold],
      },
      t0 + 2,
    );
    expect(late.outcome).toMatchObject({ decision: 'aborted' });
    // The key is free again: an aborted cart never binds it.
    expect(
      homeState.apply(
        { kind: 'cart-begin', terms: { ...terms(), idempotencyKey: cart.idempotencyKey } },
        t0 + 3,
      ).outcome,
    ).toMatchObject({ decision: 'go' });
  });
});

describe("cart-wide changes of one partition's holds", () => {
  function pinnedCart(ttlSeconds = 60) {
    const recording = warehouse();
    const cart = cartOf(
      recording.apply(
        place('whole', { ...terms(), ttlSeconds }, [
          line(0, 'sku-b', 'wh-1', 2),
          line(1, 'sku-a', 'wh-1', 3),
        ]),
        t0,
      ).outcome,
    );
    const ids = cart.holds.map((hold) => hold.reservationId) as [string, string];
    const holds = (action: Extract<Command, { kind: 'cart-holds' }>['action'], atMs: number) =>
      recording.apply(
        { kind: 'cart-holds', cartId: cart.cartId, reservationIds: ids, action, traceId: 'tr' },
        atMs,
      );
    return { recording, cart, ids, holds };
  }

  it('pins holds durably against everything but the attempt, which confirms them past their time', () => {
    const { recording, ids, holds } = pinnedCart();
    const pin = holds({ kind: 'pin', attempt: 'a1', quantities: { [ids[0]]: 1 } }, t0 + 58_000);
    expect(pin.writes?.map((write) => write.record)).toStrictEqual([
      {
        type: 'cart-confirm',
        cartId: expect.any(String) as string,
        attempt: 'a1',
        step: 'pinned',
        holds: [
          { reservationId: ids[0], quantity: 1 },
          { reservationId: ids[1], quantity: 3 },
        ],
        atMs: t0 + 58_000,
        traceId: 'tr',
      },
    ]);
    const refusedWhilePinned = [
      holds({ kind: 'release' }, t0 + 59_000),
      holds({ kind: 'extend', ttlSeconds: 60, lifetimeMaxMs: 3_600_000 }, t0 + 59_000),
      holds({ kind: 'pin', attempt: 'a2', quantities: {} }, t0 + 59_000),
      holds({ kind: 'confirm', quantities: {} }, t0 + 59_000),
      recording.apply({ kind: 'confirm', reservationId: ids[0], traceId: '' }, t0 + 59_000),
      recording.apply({ kind: 'release', reservationId: ids[0], traceId: '' }, t0 + 59_000),
    ];
    for (const refused of refusedWhilePinned) {
      expect(rejectionOf(refused.outcome).code).toBe('unavailable');
    }
    // Past its time, still pinned: the sweep leaves it, and a read does not expire it.
    expect(recording.expire(ids[0], t0 + 65_000)?.record).toBeUndefined();
    expect(recording.state.isPinned(ids[0])).toBe(true);
    // The same attempt pinning again changes nothing.
    expect(holds({ kind: 'pin', attempt: 'a1', quantities: {} }, t0 + 65_000).writes).toEqual([]);
    const confirmed = holds({ kind: 'confirm-pinned', attempt: 'a1' }, t0 + 66_000);
    expect(cartOf(confirmed.outcome).holds.map((hold) => hold.confirmedQuantity)).toEqual([1, 3]);
    expect(confirmed.writes?.map((write) => write.record.traceId)).toEqual(['tr', 'tr']);
    expect(stockAt(recording, 'sku-b', 'wh-1')).toMatchObject({ onHand: 4, reserved: 0 });
    expect(stockAt(recording, 'sku-a', 'wh-1')).toMatchObject({ onHand: 7, reserved: 0 });
    expect(recording.state.carts.pinned.size).toBe(0);
    // Confirming again: nothing changes, and the answer says it is a replay.
    const again = holds({ kind: 'confirm-pinned', attempt: 'a1' }, t0 + 67_000);
    expect(again.writes).toEqual([]);
    expect(again.outcome).toMatchObject({ ok: true, replayed: true });
  });

  it("lets go of an aborted attempt's pins (journaled); a due hold then expires", () => {
    const { recording, ids, holds } = pinnedCart();
    holds({ kind: 'pin', attempt: 'a1', quantities: {} }, t0 + 58_000);
    // Another attempt's unpin touches nothing.
    expect(holds({ kind: 'unpin', attempt: 'a2' }, t0 + 59_000).writes).toEqual([]);
    const unpinned = holds({ kind: 'unpin', attempt: 'a1' }, t0 + 61_000);
    expect(unpinned.writes?.map((write) => write.record)).toMatchObject([
      { type: 'cart-confirm', step: 'unpinned', attempt: 'a1' },
    ]);
    expect(recording.state.isPinned(ids[0])).toBe(false);
    expect(recording.expire(ids[0], t0 + 61_000)?.record).toMatchObject({ type: 'expired' });
    // A confirm-pinned after the unpin (a late message) confirms nothing.
    const late = holds({ kind: 'confirm-pinned', attempt: 'a1' }, t0 + 61_000);
    expect(cartOf(late.outcome).holds.map((hold) => hold.status)).toEqual(['EXPIRED', 'PENDING']);
  });

  it('refuses a pin or a one-turn confirm naming a released hold, changing nothing', () => {
    const recording = warehouse();
    const cart = cartOf(
      recording.apply(
        place('whole', terms(), [line(0, 'sku-b', 'wh-1', 1), line(1, 'sku-a', 'wh-1', 1)]),
        t0,
      ).outcome,
    );
    const [first, second] = cart.holds.map((hold) => hold.reservationId) as [string, string];
    recording.apply({ kind: 'release', reservationId: second, traceId: '' }, t0 + 1);
    const holds = (action: Extract<Command, { kind: 'cart-holds' }>['action']) =>
      recording.apply(
        {
          kind: 'cart-holds',
          cartId: cart.cartId,
          reservationIds: [first, second],
          action,
          traceId: '',
        },
        t0 + 2,
      );
    for (const action of [
      { kind: 'pin', attempt: 'a1', quantities: {} },
      { kind: 'confirm', quantities: {} },
    ] as const) {
      const refused = holds(action);
      expect(rejectionOf(refused.outcome)).toMatchObject({
        code: 'reservation_released',
        details: { reservation_id: second },
      });
      expect(refused.writes ?? []).toEqual([]);
    }
    // Nothing was pinned: a release of the other hold goes through at once.
    expect(
      recording.apply({ kind: 'release', reservationId: first, traceId: '' }, t0 + 3).outcome,
    ).toMatchObject({ ok: true });
  });
});

describe("a confirm attempt's decision at the cart's home", () => {
  const decide = (cartId: string, attempt: string): Command => ({
    kind: 'cart-confirm-decide',
    cartId,
    attempt,
    traceId: 't',
  });
  const resolve = (cartId: string, attempt: string): Command => ({
    kind: 'cart-confirm-resolve',
    cartId,
    attempt,
    traceId: 't',
  });
  const decisionOf = (outcome: Outcome) =>
    outcome.ok && 'decision' in outcome ? outcome.decision : outcome;

  it('journals confirmed once, aborts what has no decision, and never confirms twice', () => {
    const recording = warehouse();
    const cart = cartOf(
      recording.apply(place('whole', terms(), [line(0, 'sku-b', 'wh-1', 1)]), t0).outcome,
    );
    const id = cart.cartId;
    // An attempt resolved before its decide is aborted for good.
    const aborted = recording.apply(resolve(id, 'a1'), t0 + 1);
    expect(decisionOf(aborted.outcome)).toBe('aborted');
    expect(aborted.record).toMatchObject({ type: 'cart-confirm', step: 'aborted', attempt: 'a1' });
    expect(decisionOf(recording.apply(decide(id, 'a1'), t0 + 2).outcome)).toBe('aborted');
    const confirmed = recording.apply(decide(id, 'a2'), t0 + 3);
    expect(decisionOf(confirmed.outcome)).toBe('committed');
    expect(confirmed.record).toMatchObject({ step: 'confirmed', attempt: 'a2' });
    expect(decisionOf(recording.apply(resolve(id, 'a2'), t0 + 4).outcome)).toBe('committed');
    expect(recording.apply(resolve(id, 'a2'), t0 + 4).record).toBeUndefined();
    // A second attempt never confirms the same cart.
    expect(decisionOf(recording.apply(decide(id, 'a3'), t0 + 5).outcome)).toBe('aborted');
    // The home names the confirmed attempt when the cart is read (a retry rolls it forward).
    const read = recording.apply({ kind: 'read-cart', cartId: id, traceId: '' }, t0 + 6);
    expect(cartOf(read.outcome).confirmAttempt).toBe('a2');
    // A cart the home does not know: aborted, nothing journaled.
    const unknown = recording.apply(resolve(`${id.slice(0, 30)}ffffff`, 'a4'), t0 + 7);
    expect(decisionOf(unknown.outcome)).toBe('aborted');
    expect(unknown.record).toBeUndefined();
    // Replayed and restored from a snapshot, the home decides the same.
    const replayed = replayAll(recording.records, retention, home);
    expect(captureSnapshot(replayed)).toStrictEqual(captureSnapshot(recording.state));
    for (const state of [replayed, restoreSnapshot(captureSnapshot(recording.state), retention)]) {
      expect(decisionOf(state.apply(resolve(id, 'a1'), t0 + 8).outcome)).toBe('aborted');
      expect(decisionOf(state.apply(resolve(id, 'a2'), t0 + 8).outcome)).toBe('committed');
      expect(decisionOf(state.apply(decide(id, 'a3'), t0 + 8).outcome)).toBe('aborted');
    }
  });
});

describe('replay of carts', () => {
  it('rebuilds carts, keys, holds in doubt and stock from the records and from a snapshot', () => {
    const recording = warehouse();
    const whole = terms();
    recording.apply(
      place('whole', whole, [line(0, 'sku-a', '', 35), line(1, 'sku-b', 'wh-1', 1)]),
      t0,
    );
    const foreign = { ...terms(), cartId: `0003${terms().cartId.slice(4)}` };
    recording.apply(place('prepare', foreign, [line(0, 'sku-b', 'wh-1', 2)]), t0 + 1);
    // A confirm attempt of another home's cart pins its holds here (in doubt until decided).
    const pinned = cartOf(
      recording.apply(
        place('prepare', terms({ cartId: `0005${terms().cartId.slice(4)}` }), [
          line(0, 'sku-b', 'wh-1', 1),
        ]),
        t0 + 2,
      ).outcome,
    );
    const pinnedId = pinned.holds[0]?.reservationId as string;
    recording.apply(
      {
        kind: 'cart-holds',
        cartId: pinned.cartId,
        reservationIds: [pinnedId],
        action: { kind: 'pin', attempt: 'a1', quantities: {} },
        traceId: 'tr',
      },
      t0 + 3,
    );
    const replayed = replayAll(recording.records, retention, home);
    expect(captureSnapshot(replayed)).toStrictEqual(captureSnapshot(recording.state));
    expect([...replayed.carts.inDoubt.keys()]).toStrictEqual([foreign.cartId, pinned.cartId]);
    const restored = restoreSnapshot(captureSnapshot(recording.state), retention);
    expect([...restored.carts.inDoubt.keys()]).toStrictEqual([foreign.cartId, pinned.cartId]);
    expect(restored.carts.keys.has(whole.idempotencyKey)).toBe(true);
    for (const state of [replayed, restored]) {
      expect(state.isPinned(pinnedId)).toBe(true);
      expect(state.carts.pinned.get(pinned.cartId)).toMatchObject({
        attempt: 'a1',
        homePartition: 5,
        holdIds: new Set([pinnedId]),
        traceId: 'tr',
      });
    }
    expect(captureSnapshot(restored)).toStrictEqual(captureSnapshot(recording.state));
  });
});
