// Proves the reference model says what API.md and the team's decisions say, one rule per test,
// so that the model the property tests trust is itself checked against the written contract.
import { describe, expect, it } from 'vitest';
import {
  ReferenceLedger,
  cartJson,
  replyMismatch,
  productStockJson,
  reservationJson,
  settingsJson,
  type CartBody,
  type CartLine,
  type CartRequest,
  type ExpiryTiming,
  type ModelReply,
  type ModelRequest,
  type ProductSettings,
  type ReservationBody,
} from './reference-ledger.js';

const key = { productId: 'sku', warehouseId: 'wh' };
const t0 = 1_700_000_000_000;

function reserve(id: string, quantity: number, idempotencyKey = `key-${id}-padding`, ttl = 60) {
  return {
    kind: 'reserve',
    ...key,
    quantity,
    idempotencyKey,
    ttlSeconds: ttl,
    reservationId: id,
  } as const satisfies ModelRequest;
}

function adjust(delta: number, idempotencyKey = '', reason = ''): ModelRequest {
  return { kind: 'adjust', ...key, delta, reason, idempotencyKey };
}

const on = (kind: 'confirm' | 'release' | 'read-reservation', reservationId: string) =>
  ({ kind, reservationId }) as const;

const readStock: ModelRequest = { kind: 'read-stock', ...key };

function stocked(units: number): ReferenceLedger {
  const ledger = new ReferenceLedger();
  ledger.apply(adjust(units), t0);
  return ledger;
}

describe('the reference ledger', () => {
  it('answers 404 not_found to a reserve on a never-stocked key', () => {
    expect(new ReferenceLedger().apply(reserve('r1', 1), t0)).toEqual({
      ok: false,
      code: 'not_found',
    });
  });

  it('creates a stock key by adjust, and refuses one that would go below zero', () => {
    const ledger = new ReferenceLedger();
    expect(ledger.apply(adjust(-1), t0)).toMatchObject({ code: 'insufficient_stock' });
    expect(ledger.apply(readStock, t0)).toMatchObject({ code: 'not_found' });
    expect(ledger.apply(adjust(5), t0)).toMatchObject({ stock: { onHand: 5, version: 1 } });
  });

  it('holds stock on reserve and refuses more than is available, naming what is', () => {
    const ledger = stocked(10);
    expect(ledger.apply(reserve('r1', 7), t0)).toMatchObject({
      ok: true,
      replayed: false,
      reservation: { status: 'PENDING', quantity: 7, expiresAtMs: t0 + 60_000, createdAtMs: t0 },
    });
    expect(ledger.apply(reserve('r2', 4), t0)).toEqual({
      ok: false,
      code: 'insufficient_stock',
      available: 3,
    });
    expect(ledger.stock(key.productId, key.warehouseId)).toMatchObject({
      onHand: 10,
      reserved: 7,
      available: 3,
      version: 2,
    });
  });

  it('replays the original PENDING answer for the same key and body, even after a confirm', () => {
    const ledger = stocked(10);
    const first = ledger.apply(reserve('r1', 2, 'same-key-0000000'), t0);
    ledger.apply(on('confirm', 'r1'), t0 + 1);
    const again = ledger.apply(reserve('r9', 2, 'same-key-0000000'), t0 + 2);
    expect(again).toEqual({ ...first, replayed: true });
    expect(ledger.stock(key.productId, key.warehouseId)).toMatchObject({ reserved: 0, onHand: 8 });
  });

  it('answers 422 idempotency_key_reused for the same key with another quantity or ttl', () => {
    const ledger = stocked(10);
    ledger.apply(reserve('r1', 2, 'same-key-0000000', 60), t0);
    expect(ledger.apply(reserve('r2', 3, 'same-key-0000000', 60), t0)).toMatchObject({
      code: 'idempotency_key_reused',
    });
    expect(ledger.apply(reserve('r3', 2, 'same-key-0000000', 61), t0)).toMatchObject({
      code: 'idempotency_key_reused',
    });
  });

  it('binds no key to a refused reserve, so its retry may succeed later', () => {
    const ledger = stocked(1);
    expect(ledger.apply(reserve('r1', 2, 'retry-key-000000'), t0)).toMatchObject({
      code: 'insufficient_stock',
    });
    ledger.apply(adjust(5), t0);
    expect(ledger.apply(reserve('r2', 2, 'retry-key-000000'), t0)).toMatchObject({
      replayed: false,
      reservation: { id: 'r2' },
    });
  });

  it('scopes idempotency keys per stock key', () => {
    const ledger = stocked(10);
    ledger.apply(
      {
        kind: 'adjust',
        productId: 'other',
        warehouseId: 'wh',
        delta: 5,
        reason: '',
        idempotencyKey: '',
      },
      t0,
    );
    ledger.apply(reserve('r1', 1, 'shared-key-00000'), t0);
    const other = { ...reserve('r2', 3, 'shared-key-00000'), productId: 'other' };
    expect(ledger.apply(other, t0)).toMatchObject({ replayed: false, reservation: { id: 'r2' } });
  });

  it('answers 200 to a repeated confirm or release, 409 to the other transition', () => {
    const ledger = stocked(10);
    ledger.apply(reserve('c', 1), t0);
    ledger.apply(reserve('r', 1), t0);
    expect(ledger.apply(on('confirm', 'c'), t0)).toMatchObject({
      reservation: { status: 'CONFIRMED' },
    });
    expect(ledger.apply(on('confirm', 'c'), t0)).toMatchObject({
      reservation: { status: 'CONFIRMED' },
    });
    expect(ledger.apply(on('release', 'c'), t0)).toEqual({
      ok: false,
      code: 'reservation_confirmed',
    });
    expect(ledger.apply(on('release', 'r'), t0)).toMatchObject({
      reservation: { status: 'RELEASED' },
    });
    expect(ledger.apply(on('release', 'r'), t0)).toMatchObject({
      reservation: { status: 'RELEASED' },
    });
    expect(ledger.apply(on('confirm', 'r'), t0)).toEqual({
      ok: false,
      code: 'reservation_released',
    });
    expect(ledger.stock(key.productId, key.warehouseId)).toMatchObject({
      onHand: 9,
      reserved: 0,
      version: 5,
    });
  });

  it('expires a PENDING hold at expires_at exactly, and then refuses confirm and release', () => {
    const ledger = stocked(10);
    ledger.apply(reserve('e', 4), t0);
    expect(ledger.apply(on('read-reservation', 'e'), t0 + 59_999)).toMatchObject({
      reservation: { status: 'PENDING' },
    });
    expect(ledger.apply(on('confirm', 'e'), t0 + 60_000)).toEqual({
      ok: false,
      code: 'reservation_expired',
    });
    expect(ledger.apply(on('release', 'e'), t0 + 60_000)).toMatchObject({
      code: 'reservation_expired',
    });
    expect(ledger.apply(on('read-reservation', 'e'), t0 + 60_000)).toMatchObject({
      reservation: { status: 'EXPIRED' },
    });
    expect(ledger.stock(key.productId, key.warehouseId)).toMatchObject({
      reserved: 0,
      available: 10,
      version: 3,
    });
  });

  it('refuses an adjust that would leave on_hand below reserved', () => {
    const ledger = stocked(10);
    ledger.apply(reserve('r', 6), t0);
    expect(ledger.apply(adjust(-5), t0)).toEqual({
      ok: false,
      code: 'insufficient_stock',
      available: 4,
    });
    expect(ledger.apply(adjust(-4), t0)).toMatchObject({ stock: { onHand: 6, available: 0 } });
  });

  it('replays an adjust with the same key and body, and refuses the key with another delta', () => {
    const ledger = stocked(10);
    const first = ledger.apply(adjust(3, 'adjust-key-00000', 'count'), t0);
    ledger.apply(adjust(1), t0);
    expect(ledger.apply(adjust(3, 'adjust-key-00000', 'count'), t0)).toEqual({
      ...first,
      replayed: true,
    });
    expect(ledger.apply(adjust(4, 'adjust-key-00000', 'count'), t0)).toMatchObject({
      code: 'idempotency_key_reused',
    });
    expect(ledger.apply(adjust(3, 'adjust-key-00000', 'other'), t0)).toMatchObject({
      code: 'idempotency_key_reused',
    });
    expect(ledger.stock(key.productId, key.warehouseId)).toMatchObject({ onHand: 14 });
  });

  it('refuses with validation_failed an adjust beyond the on_hand limit', () => {
    const ledger = new ReferenceLedger({ onHandMax: 100 });
    expect(ledger.apply(adjust(101), t0)).toEqual({ ok: false, code: 'validation_failed' });
  });

  it('tells a clone apart from the original once either changes', () => {
    const ledger = stocked(10);
    const copy = ledger.clone();
    expect(copy.fingerprint()).toBe(ledger.fingerprint());
    copy.apply(reserve('r', 1), t0);
    expect(copy.fingerprint()).not.toBe(ledger.fingerprint());
    expect(ledger.stock(key.productId, key.warehouseId)?.reserved).toBe(0);
  });

  it('finds a mismatch in any field, code or details.available', () => {
    const ledger = stocked(10);
    const reply = ledger.apply(reserve('r', 1), t0);
    expect(replyMismatch(reply, reply)).toBeUndefined();
    if (!reply.ok || !('reservation' in reply)) throw new Error('expected a reservation');
    const shifted = { ...reply, reservation: { ...reply.reservation, expiresAtMs: 1 } };
    expect(replyMismatch(reply, shifted)).toMatch(/expected/);
    expect(
      replyMismatch(
        { ok: false, code: 'insufficient_stock', available: 2 },
        { ok: false, code: 'insufficient_stock', available: 3 },
      ),
    ).toMatch(/available/);
  });
});

// The v1.1 rules, one test per decision of /work/notes/cart-choices.md.
const buyer = 'buyer-1';

function stockedAt(
  ledger: ReferenceLedger,
  productId: string,
  warehouseId: string,
  units: number,
): void {
  ledger.apply(
    { kind: 'adjust', productId, warehouseId, delta: units, reason: '', idempotencyKey: '' },
    t0,
  );
}

function settingsOf(reply: ModelReply): ProductSettings {
  if (!reply.ok || !('settings' in reply)) throw new Error(`no settings: ${JSON.stringify(reply)}`);
  return reply.settings;
}

function buyerReserve(id: string, quantity: number, buyerId = buyer) {
  return { ...reserve(id, quantity), buyerId } as const satisfies ModelRequest;
}

function limited(units: number, maxPerBuyer: number, limitWindowSeconds?: number) {
  const ledger = stocked(units);
  ledger.apply(
    { kind: 'put-settings', productId: key.productId, maxPerBuyer, limitWindowSeconds },
    t0,
  );
  return ledger;
}

describe('the reference ledger, reserve with buyer_id and reference', () => {
  it('echoes buyer_id and reference in the reservation body', () => {
    const ledger = stocked(10);
    const reply = ledger.apply({ ...buyerReserve('r1', 1), reference: 'order-42' }, t0);
    expect(reply).toMatchObject({ reservation: { buyerId: buyer, reference: 'order-42' } });
    expect(reservationJson(ledger.reservation('r1') as ReservationBody)).toMatchObject({
      buyer_id: buyer,
      reference: 'order-42',
    });
  });

  it('answers 422 to a replay with another buyer_id or reference, and replays the same one', () => {
    const ledger = stocked(10);
    const again = (id: string, buyerId: string, reference: string): ModelRequest => ({
      ...buyerReserve(id, 1, buyerId),
      idempotencyKey: 'same-key-0000000',
      reference,
    });
    const first = ledger.apply(again('r1', buyer, 'order-42'), t0);
    expect(ledger.apply(again('r2', buyer, 'order-43'), t0)).toMatchObject({
      code: 'idempotency_key_reused',
    });
    expect(ledger.apply(again('r3', 'buyer-2', 'order-42'), t0)).toMatchObject({
      code: 'idempotency_key_reused',
    });
    expect(ledger.apply(again('r4', buyer, 'order-42'), t0)).toEqual({ ...first, replayed: true });
  });
});

describe('the reference ledger, product settings', () => {
  it('answers all null and a window of 86400 for a product never configured', () => {
    expect(new ReferenceLedger().apply({ kind: 'read-settings', productId: 'new' }, t0)).toEqual({
      ok: true,
      settings: {
        maxPerBuyer: null,
        limitWindowSeconds: 86_400,
        warehousePriority: null,
        lowStockThreshold: null,
      },
    });
  });

  it('merges a PUT: a field left out keeps its value, null clears it, the window to 86400', () => {
    const ledger = new ReferenceLedger();
    const productId = 'p';
    ledger.apply(
      {
        kind: 'put-settings',
        productId,
        maxPerBuyer: 2,
        limitWindowSeconds: 60,
        warehousePriority: ['b', 'a'],
        lowStockThreshold: 5,
      },
      t0,
    );
    expect(ledger.apply({ kind: 'put-settings', productId, maxPerBuyer: 3 }, t0)).toEqual({
      ok: true,
      settings: {
        maxPerBuyer: 3,
        limitWindowSeconds: 60,
        warehousePriority: ['b', 'a'],
        lowStockThreshold: 5,
      },
    });
    const cleared = {
      kind: 'put-settings',
      productId,
      limitWindowSeconds: null,
      warehousePriority: null,
    } as const;
    expect(ledger.apply(cleared, t0)).toMatchObject({
      settings: { maxPerBuyer: 3, limitWindowSeconds: 86_400, warehousePriority: null },
    });
    expect(ledger.apply({ kind: 'put-settings', productId }, t0)).toMatchObject({
      settings: { maxPerBuyer: 3, lowStockThreshold: 5 },
    });
    expect(
      settingsJson(settingsOf(ledger.apply({ kind: 'read-settings', productId }, t0))),
    ).toEqual({
      max_per_buyer: 3,
      limit_window_seconds: 86_400,
      warehouse_priority: null,
      low_stock_threshold: 5,
    });
  });
});

describe('the reference ledger, purchase limits on reserve', () => {
  it('refuses with 409 purchase_limit_exceeded, naming the limit and what the buyer holds', () => {
    const ledger = limited(10, 3);
    ledger.apply(buyerReserve('r1', 2), t0);
    expect(ledger.apply(buyerReserve('r2', 2), t0)).toEqual({
      ok: false,
      code: 'purchase_limit_exceeded',
      details: { limit: 3, held: 2 },
    });
    expect(ledger.apply(buyerReserve('r3', 1), t0)).toMatchObject({ reservation: { id: 'r3' } });
  });

  it('checks the limit before the stock: over the limit and short is the limit', () => {
    const ledger = limited(1, 3);
    expect(ledger.apply(buyerReserve('r1', 4), t0)).toMatchObject({
      code: 'purchase_limit_exceeded',
      details: { limit: 3, held: 0 },
    });
  });

  it('does not limit a reserve without buyer_id, nor count it toward a buyer', () => {
    const ledger = limited(10, 1);
    expect(ledger.apply(reserve('r1', 5), t0)).toMatchObject({ reservation: { id: 'r1' } });
    expect(ledger.apply(buyerReserve('r2', 1), t0)).toMatchObject({ reservation: { id: 'r2' } });
  });

  it('counts confirmed units but not released or expired ones', () => {
    const ledger = limited(10, 3);
    ledger.apply(buyerReserve('confirmed', 1), t0);
    ledger.apply(on('confirm', 'confirmed'), t0);
    ledger.apply(buyerReserve('released', 2), t0);
    ledger.apply(on('release', 'released'), t0);
    ledger.apply({ ...buyerReserve('expired', 2), ttlSeconds: 60 }, t0);
    expect(ledger.apply(buyerReserve('r4', 3), t0 + 60_000)).toEqual({
      ok: false,
      code: 'purchase_limit_exceeded',
      details: { limit: 3, held: 1 },
    });
    expect(ledger.apply(buyerReserve('r5', 2), t0 + 60_000)).toMatchObject({ ok: true });
  });

  it('counts only holds created within the window, which slides with the clock', () => {
    const ledger = limited(10, 2, 60);
    ledger.apply(buyerReserve('old', 2), t0);
    ledger.apply(on('confirm', 'old'), t0);
    // created_at > now - window: at t0 + 60 s the first hold has just left the window.
    expect(ledger.apply(buyerReserve('r2', 1), t0 + 59_999)).toMatchObject({
      details: { held: 2 },
    });
    expect(ledger.apply(buyerReserve('r3', 2), t0 + 60_000)).toMatchObject({ ok: true });
  });

  it('counts a buyer over every warehouse of the product, and not over other buyers', () => {
    const ledger = limited(10, 3);
    stockedAt(ledger, key.productId, 'wh-2', 10);
    ledger.apply({ ...buyerReserve('a', 2), warehouseId: 'wh-2' }, t0);
    ledger.apply(buyerReserve('other', 3, 'buyer-2'), t0);
    expect(ledger.apply(buyerReserve('b', 2), t0)).toMatchObject({ details: { held: 2 } });
  });

  it('applies a new limit to new holds only', () => {
    const ledger = stocked(10);
    ledger.apply(buyerReserve('r1', 5), t0);
    ledger.apply({ kind: 'put-settings', productId: key.productId, maxPerBuyer: 2 }, t0);
    expect(ledger.apply(on('read-reservation', 'r1'), t0)).toMatchObject({
      reservation: { status: 'PENDING' },
    });
    expect(ledger.apply(buyerReserve('r2', 1), t0)).toMatchObject({ details: { held: 5 } });
  });
});

describe('the reference ledger, product stock', () => {
  it('sums over the product keys, warehouses in warehouse_id order', () => {
    const ledger = new ReferenceLedger();
    stockedAt(ledger, 'p', 'wh-b', 5);
    stockedAt(ledger, 'p', 'wh-a', 7);
    stockedAt(ledger, 'other', 'wh-a', 100);
    ledger.apply({ ...reserve('r1', 2), productId: 'p', warehouseId: 'wh-b' }, t0);
    const reply = ledger.apply({ kind: 'read-product-stock', productId: 'p' }, t0);
    expect(reply).toMatchObject({
      productStock: { productId: 'p', onHand: 12, reserved: 2, available: 10, incoming: 0 },
    });
    if (!reply.ok || !('productStock' in reply)) throw new Error('expected a product stock');
    expect(productStockJson(reply.productStock)).toMatchObject({
      warehouses: [
        { warehouse_id: 'wh-a', on_hand: 7, reserved: 0 },
        { warehouse_id: 'wh-b', on_hand: 5, reserved: 2, version: 2 },
      ],
    });
  });

  it('answers 404 for a product with no stock key', () => {
    expect(new ReferenceLedger().apply({ kind: 'read-product-stock', productId: 'p' }, t0)).toEqual(
      {
        ok: false,
        code: 'not_found',
      },
    );
  });
});

describe('the reference ledger, partial confirm', () => {
  const edition = (units: number): ReferenceLedger => {
    const ledger = new ReferenceLedger(undefined, 'eager', 'v1.1');
    ledger.apply(adjust(units), t0);
    return ledger;
  };

  it('sells the confirmed units and returns the rest to available at once', () => {
    const ledger = edition(10);
    ledger.apply(reserve('r1', 5), t0);
    expect(ledger.apply({ kind: 'confirm', reservationId: 'r1', quantity: 2 }, t0)).toMatchObject({
      reservation: { status: 'CONFIRMED', quantity: 5, confirmedQuantity: 2 },
    });
    expect(ledger.stock(key.productId, key.warehouseId)).toMatchObject({
      onHand: 8,
      reserved: 0,
      available: 8,
      version: 3,
    });
  });

  it('puts confirmed_quantity equal to quantity on a confirm that names none', () => {
    const ledger = edition(10);
    ledger.apply(reserve('r1', 5), t0);
    const reply = ledger.apply(on('confirm', 'r1'), t0);
    expect(reply).toMatchObject({ reservation: { confirmedQuantity: 5 } });
    expect(reservationJson(ledger.reservation('r1') as ReservationBody)).toMatchObject({
      quantity: 5,
      confirmed_quantity: 5,
    });
    expect(ledger.reservation('r1')).not.toHaveProperty('buyerId');
  });

  it('leaves confirmed_quantity out of the v1 edition of the body, and off PENDING holds', () => {
    const ledger = stocked(10);
    ledger.apply(reserve('r1', 5), t0);
    ledger.apply(reserve('r2', 1), t0);
    ledger.apply({ kind: 'confirm', reservationId: 'r1', quantity: 2 }, t0);
    expect(ledger.reservation('r1')).not.toHaveProperty('confirmedQuantity');
    expect(ledger.reservation('r2')).not.toHaveProperty('confirmedQuantity');
    expect(ledger.stock(key.productId, key.warehouseId)).toMatchObject({ onHand: 8 });
  });

  it('refuses with 422 on quantity a confirm of more units than the hold has', () => {
    const ledger = edition(10);
    ledger.apply(reserve('r1', 5), t0);
    expect(ledger.apply({ kind: 'confirm', reservationId: 'r1', quantity: 6 }, t0)).toEqual({
      ok: false,
      code: 'validation_failed',
      details: { field: 'quantity' },
    });
    expect(ledger.reservation('r1')).toMatchObject({ status: 'PENDING' });
  });

  it('answers a second confirm, whatever its quantity, with the first body as a replay', () => {
    const ledger = edition(10);
    ledger.apply(reserve('r1', 5), t0);
    const first = ledger.apply({ kind: 'confirm', reservationId: 'r1', quantity: 2 }, t0);
    const again = ledger.apply({ kind: 'confirm', reservationId: 'r1', quantity: 9 }, t0 + 1);
    expect(again).toEqual({ ...first, replayed: true });
    expect(ledger.stock(key.productId, key.warehouseId)).toMatchObject({ onHand: 8, version: 3 });
  });
});

describe('the reference ledger, extend', () => {
  const extend = (reservationId: string, ttlSeconds: number) =>
    ({ kind: 'extend', reservationId, ttlSeconds }) as const;

  it('gives a PENDING hold expires_at = now + ttl, shorter or longer, in the same version', () => {
    const ledger = stocked(10);
    ledger.apply(reserve('r1', 1, undefined, 600), t0);
    expect(ledger.apply(extend('r1', 3600), t0 + 10_000)).toMatchObject({
      reservation: { status: 'PENDING', expiresAtMs: t0 + 3_610_000, createdAtMs: t0 },
    });
    expect(ledger.apply(extend('r1', 60), t0 + 20_000)).toMatchObject({
      reservation: { expiresAtMs: t0 + 80_000 },
    });
    expect(ledger.stock(key.productId, key.warehouseId)).toMatchObject({ version: 2 });
    expect(ledger.apply(on('read-reservation', 'r1'), t0 + 80_000)).toMatchObject({
      reservation: { status: 'EXPIRED' },
    });
  });

  it('refuses with 422 on ttl_seconds an extension past 3 x ttlSecondsMax from created_at', () => {
    const ledger = new ReferenceLedger({ onHandMax: 1000, ttlSecondsMax: 100 });
    ledger.apply(adjust(10), t0);
    ledger.apply(reserve('r1', 1, undefined, 100), t0);
    ledger.apply(extend('r1', 100), t0 + 90_000);
    ledger.apply(extend('r1', 100), t0 + 180_000);
    // The cap is created_at + 300 s: reaching it exactly is allowed, a millisecond more is not.
    expect(ledger.apply(extend('r1', 100), t0 + 200_000)).toMatchObject({
      reservation: { expiresAtMs: t0 + 300_000 },
    });
    expect(ledger.apply(extend('r1', 100), t0 + 200_001)).toEqual({
      ok: false,
      code: 'validation_failed',
      details: { field: 'ttl_seconds' },
    });
    expect(ledger.reservation('r1')).toMatchObject({ expiresAtMs: t0 + 300_000 });
  });

  it('caps a hold at 3 x 3600 s from created_at by default', () => {
    const ledger = stocked(10);
    ledger.apply(reserve('r1', 1, undefined, 3600), t0);
    ledger.apply(extend('r1', 3600), t0 + 3_500_000);
    ledger.apply(extend('r1', 3600), t0 + 7_000_000);
    expect(ledger.apply(extend('r1', 3600), t0 + 7_200_000)).toMatchObject({
      reservation: { expiresAtMs: t0 + 10_800_000 },
    });
    expect(ledger.apply(extend('r1', 3600), t0 + 7_200_001)).toMatchObject({
      details: { field: 'ttl_seconds' },
    });
  });

  it('expires a due hold first and answers 409 reservation_not_pending with status EXPIRED', () => {
    for (const timing of ['eager', 'swept'] as const) {
      const ledger = new ReferenceLedger(undefined, timing);
      ledger.apply(adjust(10), t0);
      ledger.apply(reserve('r1', 4), t0);
      expect(ledger.apply(extend('r1', 600), t0 + 60_000)).toEqual({
        ok: false,
        code: 'reservation_not_pending',
        details: { status: 'EXPIRED' },
      });
      expect(ledger.stock(key.productId, key.warehouseId)).toMatchObject({
        reserved: 0,
        version: 3,
      });
    }
  });

  it('answers 409 reservation_not_pending naming the status of a finished hold', () => {
    const ledger = stocked(10);
    ledger.apply(reserve('c', 1), t0);
    ledger.apply(reserve('r', 1), t0);
    ledger.apply(on('confirm', 'c'), t0);
    ledger.apply(on('release', 'r'), t0);
    expect(ledger.apply(extend('c', 600), t0)).toMatchObject({ details: { status: 'CONFIRMED' } });
    expect(ledger.apply(extend('r', 600), t0)).toMatchObject({ details: { status: 'RELEASED' } });
    expect(ledger.apply(extend('unknown', 600), t0)).toEqual({ ok: false, code: 'not_found' });
  });

  it('replays a reserve with the expires_at first sent, after an extend', () => {
    const ledger = stocked(10);
    const first = ledger.apply(reserve('r1', 1, 'extend-key-00000'), t0);
    ledger.apply(extend('r1', 600), t0 + 1000);
    expect(ledger.apply(reserve('r2', 1, 'extend-key-00000'), t0 + 2000)).toEqual({
      ...first,
      replayed: true,
    });
  });
});

describe('the reference ledger, purchase limits and partial confirm', () => {
  it('counts the confirmed_quantity of a partly confirmed hold, not what it held', () => {
    const ledger = limited(10, 3);
    ledger.apply(buyerReserve('r1', 3), t0);
    ledger.apply({ kind: 'confirm', reservationId: 'r1', quantity: 1 }, t0);
    expect(ledger.apply(buyerReserve('r2', 3), t0)).toMatchObject({
      details: { limit: 3, held: 1 },
    });
    expect(ledger.apply(buyerReserve('r3', 2), t0)).toMatchObject({ ok: true });
  });
});

let cartSerial = 0;

/** A cart request whose ids are fresh: `cart-N` and its holds `cart-N-hold-1`, ... */
function cart(
  idempotencyKey: string,
  lines: readonly CartLine[],
  fields: Partial<CartRequest> = {},
): CartRequest {
  cartSerial += 1;
  const cartId = `cart-${cartSerial}`;
  const reservationIds = [1, 2, 3, 4, 5, 6, 7, 8].map((serial) => `${cartId}-hold-${serial}`);
  return { kind: 'cart', idempotencyKey, lines, ttlSeconds: 60, cartId, reservationIds, ...fields };
}

function cartOf(reply: ModelReply): CartBody {
  if (!reply.ok || !('cart' in reply)) throw new Error(`no cart: ${JSON.stringify(reply)}`);
  return reply.cart;
}

/** Puts `units` on each named warehouse of `productId`. */
function shelves(ledger: ReferenceLedger, productId: string, units: Record<string, number>): void {
  for (const [warehouseId, delta] of Object.entries(units)) {
    stockedAt(ledger, productId, warehouseId, delta);
  }
}

const line = (productId: string, quantity: number, warehouseId?: string): CartLine =>
  warehouseId === undefined ? { productId, quantity } : { productId, warehouseId, quantity };

/** Each hold as `line product/warehouse quantity`, in body order. */
const holdsOf = (body: CartBody): string[] =>
  body.holds.map((hold) => `${hold.line} ${hold.productId}/${hold.warehouseId} ${hold.quantity}`);

describe('the reference ledger, carts: what a cart holds', () => {
  it('sums two lines on one stock key into one hold, at the first line', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 10 });
    shelves(ledger, 'q', { a: 10 });
    const body = cartOf(
      ledger.apply(
        cart('cart-key-sum-000', [line('q', 1, 'a'), line('p', 2, 'a'), line('p', 3, 'a')]),
        t0,
      ),
    );
    expect(holdsOf(body)).toEqual(['0 q/a 1', '1 p/a 5']);
    expect(ledger.stock('p', 'a')).toMatchObject({ reserved: 5, version: 2 });
  });

  it('sums lines of one product without warehouse into one allocation, at the first line', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 3, b: 4 });
    const lines = [line('p', 2), line('p', 1, 'a'), line('p', 3)];
    const body = cartOf(ledger.apply(cart('cart-key-alloc-0', lines), t0));
    // 2 + 3 units allocated after the explicit line took 1 of a: b (4) first, then a (2 left).
    expect(holdsOf(body)).toEqual(['0 p/b 4', '0 p/a 1', '1 p/a 1']);
  });

  it('takes explicit lines first, then allocates over what they left', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 5, b: 3 });
    // Without the explicit line, a (5) would be the most available; after it, a has 1 left.
    const body = cartOf(
      ledger.apply(cart('cart-key-order-0', [line('p', 2), line('p', 4, 'a')]), t0),
    );
    expect(holdsOf(body)).toEqual(['0 p/b 2', '1 p/a 4']);
  });

  it('allocates most available first, ties by warehouse_id, splitting a line', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { c: 2, b: 4, a: 4, d: 0 });
    const body = cartOf(ledger.apply(cart('cart-key-most-00', [line('p', 9)]), t0));
    expect(holdsOf(body)).toEqual(['0 p/a 4', '0 p/b 4', '0 p/c 1']);
  });

  it('allocates in warehouse_priority order first, then the others most available first', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 9, b: 1, c: 2, d: 5 });
    const warehousePriority = ['gone', 'c', 'b'];
    ledger.apply({ kind: 'put-settings', productId: 'p', warehousePriority }, t0);
    const body = cartOf(ledger.apply(cart('cart-key-prio-00', [line('p', 13)]), t0));
    expect(holdsOf(body)).toEqual(['0 p/c 2', '0 p/b 1', '0 p/a 9', '0 p/d 1']);
  });

  it('skips a warehouse with nothing available, even one listed first', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 1, b: 5 });
    ledger.apply({ kind: 'put-settings', productId: 'p', warehousePriority: ['a'] }, t0);
    ledger.apply({ ...reserve('r1', 1), productId: 'p', warehouseId: 'a' }, t0);
    const body = cartOf(ledger.apply(cart('cart-key-skip-00', [line('p', 2)]), t0));
    expect(holdsOf(body)).toEqual(['0 p/b 2']);
  });

  it('makes an allocated hold on a key that also has an explicit line a separate hold', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 10 });
    const body = cartOf(
      ledger.apply(cart('cart-key-twice-0', [line('p', 2), line('p', 3, 'a')]), t0),
    );
    expect(holdsOf(body)).toEqual(['0 p/a 2', '1 p/a 3']);
    expect(ledger.stock('p', 'a')).toMatchObject({ reserved: 5, version: 3 });
  });

  it('answers the cart body: ids as told, holds PENDING, buyer and reference echoed', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 10 });
    const request = cart('cart-key-body-00', [line('p', 2, 'a')], {
      buyerId: buyer,
      reference: 'order-7',
      ttlSeconds: 120,
    });
    const reply = ledger.apply(request, t0);
    expect(reply).toMatchObject({ ok: true, replayed: false });
    expect(cartJson(cartOf(reply))).toEqual({
      cart_id: request.cartId,
      status: 'PENDING',
      created_at: new Date(t0).toISOString(),
      expires_at: new Date(t0 + 120_000).toISOString(),
      buyer_id: buyer,
      reference: 'order-7',
      holds: [
        {
          line: 0,
          reservation_id: request.reservationIds[0],
          product_id: 'p',
          warehouse_id: 'a',
          quantity: 2,
          status: 'PENDING',
        },
      ],
    });
  });

  it('puts cart_id, buyer_id and reference in the reservation body of each hold', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 10 });
    const request = cart('cart-key-holds-0', [line('p', 2, 'a')], {
      buyerId: buyer,
      reference: 'o-1',
    });
    ledger.apply(request, t0);
    const id = request.reservationIds[0] as string;
    expect(ledger.apply(on('read-reservation', id), t0)).toMatchObject({
      reservation: { id, cartId: request.cartId, buyerId: buyer, reference: 'o-1', quantity: 2 },
    });
  });
});

describe('the reference ledger, carts: all or nothing', () => {
  it('names every short key and product, with what explicit lines left, and holds nothing', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 3, b: 2 });
    shelves(ledger, 'q', { a: 9 });
    const lines = [
      line('q', 1, 'a'),
      line('p', 2),
      line('p', 3, 'a'),
      line('p', 4, 'b'),
      line('never', 1, 'a'),
      line('nothing', 1),
      line('p', 1),
    ];
    expect(ledger.apply(cart('cart-key-short-0', lines), t0)).toEqual({
      ok: false,
      code: 'insufficient_stock',
      details: {
        // In the order of their index in the request.
        lines: [
          // p's 3 + 2 units less the explicit line on a, which could be held (the one on b not).
          { index: 1, product_id: 'p', requested: 3, available: 2 },
          { index: 3, product_id: 'p', warehouse_id: 'b', requested: 4, available: 2 },
          { index: 4, product_id: 'never', warehouse_id: 'a', requested: 1, available: 0 },
          { index: 5, product_id: 'nothing', requested: 1, available: 0 },
        ],
      },
    });
    expect(ledger.stock('q', 'a')).toMatchObject({ reserved: 0, version: 1 });
    expect(ledger.reservations()).toEqual([]);
  });

  it('refuses a cart whose lines of a product take the buyer over its limit, before stock', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 1, b: 1 });
    shelves(ledger, 'q', { a: 10 });
    ledger.apply({ kind: 'put-settings', productId: 'p', maxPerBuyer: 4 }, t0);
    ledger.apply({ ...buyerReserve('r1', 1), productId: 'p', warehouseId: 'a' }, t0);
    const lines = [line('q', 5, 'a'), line('p', 2, 'b'), line('p', 2)];
    expect(ledger.apply(cart('cart-key-limit-0', lines, { buyerId: buyer }), t0)).toEqual({
      ok: false,
      code: 'purchase_limit_exceeded',
      details: { lines: [{ index: 1, product_id: 'p', requested: 4, limit: 4, held: 1 }] },
    });
    expect(ledger.apply(cart('cart-key-limit-1', lines), t0)).toMatchObject({
      code: 'insufficient_stock',
    });
  });

  it('counts a cart hold toward its buyer like a reserve', () => {
    const ledger = limited(10, 3);
    ledger.apply(cart('cart-key-count-0', [line(key.productId, 2)], { buyerId: buyer }), t0);
    expect(ledger.apply(buyerReserve('r1', 2), t0)).toMatchObject({
      details: { limit: 3, held: 2 },
    });
  });
});

describe('the reference ledger, carts: idempotency', () => {
  it('replays the first 200 for the same key and body, holds PENDING as first sent', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 10 });
    const lines = [line('p', 2, 'a'), line('p', 1)];
    const first = ledger.apply(cart('cart-key-again-0', lines, { buyerId: buyer }), t0);
    ledger.apply({ kind: 'confirm-cart', cartId: cartOf(first).cartId }, t0 + 1);
    ledger.apply({ kind: 'extend-cart', cartId: cartOf(first).cartId, ttlSeconds: 600 }, t0 + 1);
    const again = ledger.apply(cart('cart-key-again-0', lines, { buyerId: buyer }), t0 + 2);
    expect(again).toEqual({ ...first, replayed: true });
    expect(ledger.stock('p', 'a')).toMatchObject({ onHand: 7, reserved: 0 });
  });

  it('answers 422 idempotency_key_reused for the same key with another body', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 10 });
    const lines = [line('p', 2, 'a'), line('p', 1)];
    ledger.apply(cart('cart-key-other-0', lines), t0);
    const others: Partial<CartRequest>[] = [
      { lines: [line('p', 1), line('p', 2, 'a')] },
      { lines: [line('p', 2, 'a'), line('p', 1, 'a')] },
      { ttlSeconds: 61 },
      { buyerId: buyer },
      { reference: 'order-1' },
    ];
    for (const other of others) {
      expect(ledger.apply(cart('cart-key-other-0', lines, other), t0)).toEqual({
        ok: false,
        code: 'idempotency_key_reused',
      });
    }
    expect(ledger.stock('p', 'a')).toMatchObject({ reserved: 3 });
  });

  it('binds no key to a refused cart, so its retry may succeed later', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 1 });
    expect(ledger.apply(cart('cart-key-retry-0', [line('p', 2)]), t0)).toMatchObject({
      code: 'insufficient_stock',
    });
    shelves(ledger, 'p', { a: 1 });
    expect(ledger.apply(cart('cart-key-retry-0', [line('p', 2)]), t0)).toMatchObject({
      ok: true,
      replayed: false,
    });
  });

  it('keeps cart keys apart from reserve keys', () => {
    const ledger = stocked(10);
    ledger.apply(reserve('r1', 1, 'one-key-for-both'), t0);
    const lines = [line(key.productId, 2, key.warehouseId)];
    expect(ledger.apply(cart('one-key-for-both', lines), t0)).toMatchObject({ replayed: false });
    expect(ledger.apply(reserve('r2', 1, 'one-key-for-both'), t0)).toMatchObject({
      replayed: true,
      reservation: { id: 'r1' },
    });
  });
});

describe('the reference ledger, carts: reading, confirming, releasing, extending', () => {
  /** A cart of two holds, p/a 2 (line 0) and p/b 3 (line 1), and their ids. */
  function twoHolds(timing: ExpiryTiming = 'eager') {
    const ledger = new ReferenceLedger(undefined, timing);
    shelves(ledger, 'p', { a: 10, b: 10 });
    const request = cart(`cart-key-two-${cartSerial}-pad`, [line('p', 2, 'a'), line('p', 3, 'b')]);
    ledger.apply(request, t0);
    const [first, second] = request.reservationIds as [string, string];
    const cartId = request.cartId;
    const status = (nowMs = t0) => cartOf(ledger.apply({ kind: 'read-cart', cartId }, nowMs));
    return { ledger, cartId, first, second, status };
  }

  it('reads a cart PENDING while any hold is, else CONFIRMED, else EXPIRED, else RELEASED', () => {
    const confirmed = twoHolds();
    confirmed.ledger.apply(on('confirm', confirmed.first), t0);
    expect(confirmed.status().status).toBe('PENDING');
    confirmed.ledger.apply(on('release', confirmed.second), t0);
    expect(confirmed.status()).toMatchObject({
      status: 'CONFIRMED',
      holds: [{ status: 'CONFIRMED', confirmedQuantity: 2 }, { status: 'RELEASED' }],
    });
    const expired = twoHolds();
    expired.ledger.apply(on('release', expired.first), t0);
    expect(expired.status(t0 + 60_000).status).toBe('EXPIRED');
    const released = twoHolds();
    released.ledger.apply({ kind: 'release-cart', cartId: released.cartId }, t0);
    expect(released.status().status).toBe('RELEASED');
    expect(released.ledger.apply({ kind: 'read-cart', cartId: 'unknown' }, t0)).toEqual({
      ok: false,
      code: 'not_found',
    });
  });

  it('confirms every PENDING hold, the named ones in part, and replays that answer after', () => {
    const { ledger, cartId, first } = twoHolds();
    const lines = [{ reservationId: first, quantity: 1 }];
    const reply = ledger.apply({ kind: 'confirm-cart', cartId, lines }, t0);
    expect(reply).toMatchObject({
      replayed: false,
      cart: {
        status: 'CONFIRMED',
        holds: [
          { status: 'CONFIRMED', quantity: 2, confirmedQuantity: 1 },
          { status: 'CONFIRMED', quantity: 3, confirmedQuantity: 3 },
        ],
      },
    });
    expect(ledger.stock('p', 'a')).toMatchObject({ onHand: 9, reserved: 0 });
    expect(ledger.stock('p', 'b')).toMatchObject({ onHand: 7, reserved: 0 });
    const again = ledger.apply({ kind: 'confirm-cart', cartId }, t0 + 1);
    expect(again).toEqual({ ...reply, replayed: true });
  });

  it('refuses with 422 on lines a hold of another cart, one named twice, or too many units', () => {
    const { ledger, cartId, first, second } = twoHolds();
    const other = twoHolds().first;
    const wrong = [
      [{ reservationId: other, quantity: 1 }],
      [{ reservationId: 'unknown', quantity: 1 }],
      [
        { reservationId: first, quantity: 1 },
        { reservationId: first, quantity: 1 },
      ],
      [{ reservationId: second, quantity: 4 }],
    ];
    for (const lines of wrong) {
      expect(ledger.apply({ kind: 'confirm-cart', cartId, lines }, t0)).toEqual({
        ok: false,
        code: 'validation_failed',
        details: { field: 'lines' },
      });
    }
    expect(ledger.stock('p', 'a')).toMatchObject({ reserved: 2, version: 2 });
  });

  it('confirms nothing when one hold expired, naming it with 409 reservation_expired', () => {
    const { ledger, cartId, first, second } = twoHolds();
    ledger.apply({ kind: 'extend', reservationId: first, ttlSeconds: 600 }, t0 + 30_000);
    expect(ledger.apply({ kind: 'confirm-cart', cartId }, t0 + 60_000)).toEqual({
      ok: false,
      code: 'reservation_expired',
      details: { reservation_id: second },
    });
    expect(ledger.reservation(first)).toMatchObject({ status: 'PENDING' });
    expect(ledger.stock('p', 'a')).toMatchObject({ onHand: 10, reserved: 2 });
  });

  it('confirms nothing when one hold was released, naming the first such hold', () => {
    const { ledger, cartId, first, second } = twoHolds();
    ledger.apply(on('release', second), t0);
    expect(ledger.apply({ kind: 'confirm-cart', cartId }, t0)).toEqual({
      ok: false,
      code: 'reservation_released',
      details: { reservation_id: second },
    });
    expect(ledger.reservation(first)).toMatchObject({ status: 'PENDING' });
  });

  it('releases every PENDING hold and answers with the cart, whatever the others are', () => {
    const { ledger, cartId, first } = twoHolds();
    ledger.apply(on('confirm', first), t0);
    expect(ledger.apply({ kind: 'release-cart', cartId }, t0)).toMatchObject({
      cart: { status: 'CONFIRMED', holds: [{ status: 'CONFIRMED' }, { status: 'RELEASED' }] },
    });
    expect(ledger.apply({ kind: 'release-cart', cartId }, t0)).toMatchObject({ ok: true });
    expect(ledger.stock('p', 'b')).toMatchObject({ onHand: 10, reserved: 0, version: 3 });
  });

  it('extends every PENDING hold and the cart to now + ttl', () => {
    const { ledger, cartId, first, second } = twoHolds();
    ledger.apply(on('release', first), t0);
    expect(ledger.apply({ kind: 'extend-cart', cartId, ttlSeconds: 600 }, t0 + 1000)).toMatchObject(
      {
        cart: { status: 'PENDING', expiresAtMs: t0 + 601_000 },
      },
    );
    expect(ledger.reservation(second)).toMatchObject({ expiresAtMs: t0 + 601_000 });
    expect(ledger.reservation(first)).toMatchObject({ expiresAtMs: t0 + 60_000 });
  });

  it('refuses with 422 on ttl_seconds a cart extension beyond the cap, changing nothing', () => {
    const { ledger, cartId, first } = twoHolds();
    ledger.apply({ kind: 'extend-cart', cartId, ttlSeconds: 3600 }, t0 + 50_000);
    ledger.apply({ kind: 'extend-cart', cartId, ttlSeconds: 3600 }, t0 + 3_600_000);
    ledger.apply({ kind: 'extend-cart', cartId, ttlSeconds: 3600 }, t0 + 7_199_000);
    expect(ledger.apply({ kind: 'extend-cart', cartId, ttlSeconds: 3600 }, t0 + 7_200_001)).toEqual(
      {
        ok: false,
        code: 'validation_failed',
        details: { field: 'ttl_seconds' },
      },
    );
    expect(ledger.reservation(first)).toMatchObject({ expiresAtMs: t0 + 10_799_000 });
  });

  it('answers 409 reservation_not_pending with the cart status when no hold is PENDING', () => {
    const { ledger, cartId, first, second } = twoHolds();
    ledger.apply(on('confirm', first), t0);
    ledger.apply(on('release', second), t0);
    expect(ledger.apply({ kind: 'extend-cart', cartId, ttlSeconds: 600 }, t0)).toEqual({
      ok: false,
      code: 'reservation_not_pending',
      details: { status: 'CONFIRMED' },
    });
  });

  it('in swept timing, expires the due holds of a cart that a request names, not others', () => {
    const { ledger, cartId, second } = twoHolds('swept');
    ledger.apply({ ...reserve('alone', 1), productId: 'p', warehouseId: 'a' }, t0);
    expect(ledger.stock('p', 'b')).toMatchObject({ reserved: 3 });
    expect(ledger.apply({ kind: 'read-cart', cartId }, t0 + 60_000)).toMatchObject({
      cart: { status: 'EXPIRED' },
    });
    expect(ledger.reservation(second)).toMatchObject({ status: 'EXPIRED' });
    expect(ledger.stock('p', 'b')).toMatchObject({ reserved: 0, version: 3 });
    expect(ledger.reservation('alone')).toMatchObject({ status: 'PENDING' });
  });
});

describe('the reference ledger, comparing v1.1 replies', () => {
  it('copies carts, their keys and settings into a clone that then goes its own way', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 10 });
    ledger.apply({ kind: 'put-settings', productId: 'p', maxPerBuyer: 5 }, t0);
    const request = cart('cart-key-clone-0', [line('p', 2)], { buyerId: buyer });
    ledger.apply(request, t0);
    const copy = ledger.clone();
    expect(copy.fingerprint()).toBe(ledger.fingerprint());
    expect(copy.apply(request, t0)).toMatchObject({ replayed: true });
    copy.apply({ kind: 'confirm-cart', cartId: request.cartId }, t0);
    copy.apply({ kind: 'put-settings', productId: 'p', maxPerBuyer: null }, t0);
    expect(copy.fingerprint()).not.toBe(ledger.fingerprint());
    expect(ledger.apply({ kind: 'read-cart', cartId: request.cartId }, t0)).toMatchObject({
      cart: { status: 'PENDING' },
    });
    const onP = { ...buyerReserve('r1', 4), productId: 'p', warehouseId: 'a' };
    expect(ledger.apply(onP, t0)).toMatchObject({ code: 'purchase_limit_exceeded' });
  });

  it('finds a mismatch in a cart hold, in details, and none in key order', () => {
    const ledger = new ReferenceLedger();
    shelves(ledger, 'p', { a: 10 });
    const reply = ledger.apply(cart('cart-key-compare', [line('p', 2, 'a')]), t0);
    const body = cartOf(reply);
    const moved = { ...reply, cart: { ...body, holds: [{ ...body.holds[0], warehouseId: 'b' }] } };
    expect(replyMismatch(reply, moved as ModelReply)).toMatch(/expected/);
    const reversed = Object.fromEntries(Object.entries(body).reverse()) as unknown as CartBody;
    expect(replyMismatch(reply, { replayed: false, cart: reversed, ok: true })).toBeUndefined();
    const short = ledger.apply(cart('cart-key-compare-2', [line('p', 11, 'a')]), t0);
    const shortBy = (available: number): ModelReply => ({
      ok: false,
      code: 'insufficient_stock',
      details: {
        lines: [{ index: 0, product_id: 'p', warehouse_id: 'a', requested: 11, available }],
      },
    });
    expect(replyMismatch(short, shortBy(8))).toBeUndefined();
    expect(replyMismatch(short, shortBy(9))).toMatch(/details/);
  });
});
