// Proves the reference model says what API.md and the team's decisions say, one rule per test,
// so that the model the property tests trust is itself checked against the written contract.
import { describe, expect, it } from 'vitest';
import { ReferenceLedger, replyMismatch, type ModelRequest } from './reference-ledger.js';

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
