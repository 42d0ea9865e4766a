// Proves the reference model says what API.md and the team's decisions say, one rule per test,
// so that the model the property tests trust is itself checked against the written contract.
import { describe, expect, it } from 'vitest';
import {
  ReferenceLedger,
  replyMismatch,
  productStockJson,
  reservationJson,
  settingsJson,
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

  it('gives a PENDING hold expires_at = now + ttl, shorter or longer, without a new version', () => {
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

  it('refuses with 422 on ttl_seconds an extension beyond 3 x ttlSecondsMax from created_at', () => {
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

  it('answers 409 reservation_not_pending naming the status of a CONFIRMED or RELEASED hold', () => {
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
