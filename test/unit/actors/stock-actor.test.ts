// Proves one stock key's reserve/confirm/release/adjust rules by driving a StockActor directly.
import { describe, expect, it } from 'vitest';
import { AssertionError, StockActor, type Reservation } from '../../../src/actors/index.js';
import type { FinishKind } from '../../../src/actors/stock-actor.js';
import type { AdjustedRecord } from '../../../src/actors/types.js';
import { RetainedHolds } from '../../../src/actors/retained-holds.js';
import {
  adjust,
  rejectionOf,
  reservationOf,
  reserve,
  stockOf,
} from '../../helpers/actor-fixtures.js';

const onHandMax = 1_000_000;
const t0 = 1_700_000_000_000;

function stocked(onHand: number): StockActor {
  const actor = new StockActor('sku-1', 'wh-1');
  expect(actor.adjust(adjust(onHand), t0, onHandMax).record).toBeDefined();
  return actor;
}

function holdOf(actor: StockActor, id: string): Reservation {
  const reservation = actor.reservations?.get(id);
  if (reservation === undefined) throw new Error(`no reservation ${id}`);
  return reservation;
}

function finish(actor: StockActor, id: string, kind: FinishKind, nowMs: number) {
  return actor.finish(holdOf(actor, id), kind, nowMs, `trace-${kind}`);
}

function reserved(actor: StockActor, quantity: number, nowMs = t0, ttlSeconds = 600): string {
  const command = reserve({ quantity, ttlSeconds });
  const result = actor.reserve(command, nowMs);
  expect(result.record?.type).toBe('reserved');
  return command.reservationId;
}

describe('StockActor.reserve', () => {
  it('holds the quantity, answers PENDING and writes a reserved record with version + 1', () => {
    const actor = stocked(10);
    const command = reserve({ quantity: 4, ttlSeconds: 60 });
    const result = actor.reserve(command, t0 + 5);
    expect(reservationOf(result.outcome)).toStrictEqual({
      reservationId: command.reservationId,
      status: 'PENDING',
      productId: 'sku-1',
      warehouseId: 'wh-1',
      quantity: 4,
      expiresAtMs: t0 + 5 + 60_000,
      createdAtMs: t0 + 5,
      replayed: false,
    });
    expect(result.record).toStrictEqual({
      type: 'reserved',
      productId: 'sku-1',
      warehouseId: 'wh-1',
      version: 2,
      atMs: t0 + 5,
      traceId: command.traceId,
      reservationId: command.reservationId,
      quantity: 4,
      expiresAtMs: t0 + 5 + 60_000,
      idempotencyKey: command.idempotencyKey,
      requesterId: '',
    });
    expect(actor.stockView()).toStrictEqual({
      productId: 'sku-1',
      warehouseId: 'wh-1',
      onHand: 10,
      reserved: 4,
      available: 6,
      version: 2,
    });
  });

  it('may take exactly what is available', () => {
    const actor = stocked(5);
    reserved(actor, 5);
    expect(actor.available).toBe(0);
  });

  it('rejects a quantity over available with insufficient_stock and details.available', () => {
    const actor = stocked(10);
    reserved(actor, 7);
    const result = actor.reserve(reserve({ quantity: 4 }), t0);
    expect(rejectionOf(result.outcome)).toMatchObject({
      code: 'insufficient_stock',
      details: { available: 3 },
    });
    expect(result.record).toBeUndefined();
    expect(actor.stockView()).toMatchObject({ reserved: 7, version: 2 });
  });

  it('answers a same-key, same-body retry with the original view and writes nothing', () => {
    const actor = stocked(10);
    const command = reserve({ quantity: 3, ttlSeconds: 120 });
    const first = reservationOf(actor.reserve(command, t0).outcome);
    const retry = actor.reserve({ ...command, reservationId: 'another-minted-id' }, t0 + 9_000);
    expect(retry.record).toBeUndefined();
    expect(reservationOf(retry.outcome)).toStrictEqual({ ...first, replayed: true });
    expect(actor.stockView()).toMatchObject({ reserved: 3, version: 2 });
  });

  it('replays the original PENDING view even after the hold was confirmed', () => {
    const actor = stocked(10);
    const command = reserve({ quantity: 3 });
    actor.reserve(command, t0);
    finish(actor, command.reservationId, 'confirm', t0 + 1);
    const retry = actor.reserve(command, t0 + 2);
    expect(reservationOf(retry.outcome)).toMatchObject({ status: 'PENDING', replayed: true });
    expect(retry.record).toBeUndefined();
  });

  it('replays the original view even when the stock has since run out', () => {
    const actor = stocked(5);
    const command = reserve({ quantity: 5 });
    actor.reserve(command, t0);
    expect(actor.available).toBe(0);
    expect(reservationOf(actor.reserve(command, t0).outcome).replayed).toBe(true);
  });

  it('rejects the same key with a different quantity as idempotency_key_reused', () => {
    const actor = stocked(10);
    const command = reserve({ quantity: 3 });
    actor.reserve(command, t0);
    const result = actor.reserve({ ...command, quantity: 2 }, t0);
    expect(rejectionOf(result.outcome).code).toBe('idempotency_key_reused');
    expect(result.record).toBeUndefined();
  });

  it('rejects the same key with a different ttl as idempotency_key_reused', () => {
    const actor = stocked(10);
    const command = reserve({ quantity: 3, ttlSeconds: 600 });
    actor.reserve(command, t0);
    const result = actor.reserve({ ...command, ttlSeconds: 601 }, t0);
    expect(rejectionOf(result.outcome).code).toBe('idempotency_key_reused');
  });

  it('does not bind the key when the reserve was rejected, so a later retry can succeed', () => {
    const actor = stocked(2);
    const command = reserve({ quantity: 5 });
    expect(rejectionOf(actor.reserve(command, t0).outcome).code).toBe('insufficient_stock');
    actor.adjust(adjust(10), t0 + 1, onHandMax);
    const retry = actor.reserve(command, t0 + 2);
    expect(reservationOf(retry.outcome)).toMatchObject({ status: 'PENDING', replayed: false });
    expect(retry.record?.type).toBe('reserved');
  });

  it('does not bind the key when rejected, so the same key may then carry another quantity', () => {
    const actor = stocked(2);
    const command = reserve({ quantity: 5 });
    actor.reserve(command, t0);
    const smaller = actor.reserve({ ...command, quantity: 2 }, t0);
    expect(reservationOf(smaller.outcome)).toMatchObject({ quantity: 2, replayed: false });
  });
});

describe('StockActor.finish: confirm', () => {
  it('turns PENDING into CONFIRMED and takes the quantity off on_hand and reserved', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4);
    const result = finish(actor, id, 'confirm', t0 + 1_000);
    expect(reservationOf(result.outcome)).toMatchObject({ status: 'CONFIRMED', replayed: false });
    expect(result.record).toStrictEqual({
      type: 'confirmed',
      productId: 'sku-1',
      warehouseId: 'wh-1',
      version: 3,
      atMs: t0 + 1_000,
      traceId: 'trace-confirm',
      reservationId: id,
      quantity: 4,
      requesterId: '',
    });
    expect(actor.stockView()).toMatchObject({ onHand: 6, reserved: 0, available: 6, version: 3 });
  });

  it('answers a second confirm with 200 replayed and writes nothing', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4);
    finish(actor, id, 'confirm', t0 + 1);
    const again = finish(actor, id, 'confirm', t0 + 2);
    expect(reservationOf(again.outcome)).toMatchObject({ status: 'CONFIRMED', replayed: true });
    expect(again.record).toBeUndefined();
    expect(actor.stockView()).toMatchObject({ onHand: 6, version: 3 });
  });

  it('refuses to confirm a released hold with reservation_released', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4);
    finish(actor, id, 'release', t0 + 1);
    const result = finish(actor, id, 'confirm', t0 + 2);
    expect(rejectionOf(result.outcome).code).toBe('reservation_released');
    expect(result.record).toBeUndefined();
  });

  it('refuses to confirm an expired hold with reservation_expired', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4, t0, 60);
    finish(actor, id, 'expire', t0 + 60_000);
    const result = finish(actor, id, 'confirm', t0 + 60_001);
    expect(rejectionOf(result.outcome).code).toBe('reservation_expired');
    expect(result.record).toBeUndefined();
  });

  it('expires a pending hold that is past expires_at instead of confirming it', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4, t0, 60);
    const result = finish(actor, id, 'confirm', t0 + 60_000);
    expect(rejectionOf(result.outcome).code).toBe('reservation_expired');
    expect(result.record).toMatchObject({ type: 'expired', reservationId: id, quantity: 4 });
    expect(holdOf(actor, id).status).toBe('EXPIRED');
    expect(actor.stockView()).toMatchObject({ onHand: 10, reserved: 0, version: 3 });
  });

  it('confirms a hold one millisecond before it expires', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4, t0, 60);
    const result = finish(actor, id, 'confirm', t0 + 59_999);
    expect(reservationOf(result.outcome).status).toBe('CONFIRMED');
  });
});

describe('StockActor.finish: release', () => {
  it('turns PENDING into RELEASED and gives the quantity back to available', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4);
    const result = finish(actor, id, 'release', t0 + 1);
    expect(reservationOf(result.outcome)).toMatchObject({ status: 'RELEASED', replayed: false });
    expect(result.record).toMatchObject({ type: 'released', version: 3, quantity: 4 });
    expect(actor.stockView()).toMatchObject({ onHand: 10, reserved: 0, available: 10 });
  });

  it('answers a second release with 200 replayed and writes nothing', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4);
    finish(actor, id, 'release', t0 + 1);
    const again = finish(actor, id, 'release', t0 + 2);
    expect(reservationOf(again.outcome)).toMatchObject({ status: 'RELEASED', replayed: true });
    expect(again.record).toBeUndefined();
  });

  it('refuses to release a confirmed hold with reservation_confirmed', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4);
    finish(actor, id, 'confirm', t0 + 1);
    const result = finish(actor, id, 'release', t0 + 2);
    expect(rejectionOf(result.outcome).code).toBe('reservation_confirmed');
    expect(actor.stockView()).toMatchObject({ onHand: 6, reserved: 0 });
  });

  it('refuses to release an expired hold with reservation_expired', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4, t0, 60);
    finish(actor, id, 'expire', t0 + 61_000);
    expect(rejectionOf(finish(actor, id, 'release', t0 + 62_000).outcome).code).toBe(
      'reservation_expired',
    );
  });
});

describe('StockActor.finish: expire and read', () => {
  it('expires a due hold on the sweep and returns its quantity', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4, t0, 60);
    const result = finish(actor, id, 'expire', t0 + 60_000);
    expect(reservationOf(result.outcome).status).toBe('EXPIRED');
    expect(result.record).toMatchObject({ type: 'expired', atMs: t0 + 60_000, version: 3 });
    expect(actor.stockView()).toMatchObject({ onHand: 10, reserved: 0, version: 3 });
  });

  it('leaves a hold that is not yet due untouched on the sweep', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4, t0, 60);
    const result = finish(actor, id, 'expire', t0 + 59_999);
    expect(result.record).toBeUndefined();
    expect(reservationOf(result.outcome).status).toBe('PENDING');
    expect(actor.reserved).toBe(4);
  });

  it('expires a due hold when it is read, and shows it EXPIRED', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4, t0, 60);
    const result = finish(actor, id, 'read', t0 + 70_000);
    expect(reservationOf(result.outcome)).toMatchObject({ status: 'EXPIRED', replayed: false });
    expect(result.record?.type).toBe('expired');
  });

  it('reads a pending hold that is not due without writing anything', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4, t0, 60);
    const result = finish(actor, id, 'read', t0 + 1);
    expect(reservationOf(result.outcome).status).toBe('PENDING');
    expect(result.record).toBeUndefined();
  });

  it('reads a finished hold as it is, without writing anything', () => {
    const actor = stocked(10);
    const id = reserved(actor, 4, t0, 60);
    finish(actor, id, 'confirm', t0 + 1);
    const result = finish(actor, id, 'read', t0 + 999_999);
    expect(reservationOf(result.outcome)).toMatchObject({ status: 'CONFIRMED', replayed: false });
    expect(result.record).toBeUndefined();
  });
});

describe('StockActor.adjust', () => {
  it('adds stock, writes an adjusted record and bumps the version', () => {
    const actor = new StockActor('sku-1', 'wh-1');
    const result = actor.adjust(adjust(12, { reason: 'delivery' }), t0, onHandMax);
    expect(stockOf(result.outcome)).toStrictEqual({
      productId: 'sku-1',
      warehouseId: 'wh-1',
      onHand: 12,
      reserved: 0,
      available: 12,
      version: 1,
      replayed: false,
    });
    expect(result.record).toStrictEqual({
      type: 'adjusted',
      productId: 'sku-1',
      warehouseId: 'wh-1',
      version: 1,
      atMs: t0,
      traceId: 'trace-adjust',
      delta: 12,
      onHand: 12,
      reserved: 0,
      reason: 'delivery',
      idempotencyKey: '',
      actorId: '',
    });
  });

  it('may take on_hand down to exactly what is reserved', () => {
    const actor = stocked(10);
    reserved(actor, 4);
    expect(stockOf(actor.adjust(adjust(-6), t0, onHandMax).outcome)).toMatchObject({
      onHand: 4,
      reserved: 4,
      available: 0,
    });
  });

  it('rejects taking on_hand below reserved with insufficient_stock and details.available', () => {
    const actor = stocked(10);
    reserved(actor, 4);
    const result = actor.adjust(adjust(-7), t0, onHandMax);
    expect(rejectionOf(result.outcome)).toMatchObject({
      code: 'insufficient_stock',
      details: { available: 6 },
    });
    expect(result.record).toBeUndefined();
    expect(actor.stockView()).toMatchObject({ onHand: 10, version: 2 });
  });

  it('rejects taking on_hand below zero with insufficient_stock', () => {
    const actor = stocked(3);
    const result = actor.adjust(adjust(-4), t0, onHandMax);
    expect(rejectionOf(result.outcome)).toMatchObject({
      code: 'insufficient_stock',
      details: { available: 3 },
    });
  });

  it('rejects going over onHandMax with validation_failed on the delta field', () => {
    const actor = stocked(10);
    const result = actor.adjust(adjust(91), t0, 100);
    expect(rejectionOf(result.outcome)).toMatchObject({
      code: 'validation_failed',
      details: { field: 'delta' },
    });
    expect(result.record).toBeUndefined();
    expect(stockOf(actor.adjust(adjust(90), t0, 100).outcome).onHand).toBe(100);
  });

  it('answers a retry with the same key, delta and reason with the original stock view', () => {
    const actor = stocked(10);
    const command = adjust(5, { reason: 'count', idempotencyKey: 'adjust-key-0000001' });
    const first = stockOf(actor.adjust(command, t0 + 1, onHandMax).outcome);
    actor.adjust(adjust(7), t0 + 2, onHandMax);
    reserved(actor, 2, t0 + 3);
    const retry = actor.adjust(command, t0 + 4, onHandMax);
    expect(retry.record).toBeUndefined();
    expect(stockOf(retry.outcome)).toStrictEqual({ ...first, replayed: true });
    expect(actor.stockView()).toMatchObject({ onHand: 22, reserved: 2, version: 4 });
  });

  it('rejects the same adjust key with a different delta as idempotency_key_reused', () => {
    const actor = stocked(10);
    const command = adjust(5, { idempotencyKey: 'adjust-key-0000002' });
    actor.adjust(command, t0, onHandMax);
    const result = actor.adjust({ ...command, delta: 6 }, t0, onHandMax);
    expect(rejectionOf(result.outcome).code).toBe('idempotency_key_reused');
    expect(result.record).toBeUndefined();
  });

  it('rejects the same adjust key with a different reason as idempotency_key_reused', () => {
    const actor = stocked(10);
    const command = adjust(5, { idempotencyKey: 'adjust-key-0000003', reason: 'a' });
    actor.adjust(command, t0, onHandMax);
    const result = actor.adjust({ ...command, reason: 'b' }, t0, onHandMax);
    expect(rejectionOf(result.outcome).code).toBe('idempotency_key_reused');
  });

  it('treats adjusts without a key as distinct requests every time', () => {
    const actor = stocked(10);
    actor.adjust(adjust(5), t0, onHandMax);
    expect(stockOf(actor.adjust(adjust(5), t0, onHandMax).outcome)).toMatchObject({
      onHand: 20,
      replayed: false,
    });
  });
});

describe('StockActor replay checks', () => {
  function adjustedRecord(fields: Partial<AdjustedRecord> = {}): AdjustedRecord {
    return {
      type: 'adjusted',
      productId: 'sku-1',
      warehouseId: 'wh-1',
      version: 1,
      atMs: t0,
      traceId: '',
      delta: 5,
      onHand: 5,
      reserved: 0,
      reason: '',
      idempotencyKey: '',
      actorId: '',
      ...fields,
    };
  }

  it('refuses a record whose version does not follow the current one', () => {
    const actor = new StockActor('sku-1', 'wh-1');
    const record = adjustedRecord({ version: 2 });
    expect(() => actor.applyAdjusted(record)).toThrow(AssertionError);
  });

  it('refuses an adjusted record whose on_hand disagrees with the replayed state', () => {
    const actor = new StockActor('sku-1', 'wh-1');
    const record = adjustedRecord({ onHand: 6 });
    expect(() => actor.applyAdjusted(record)).toThrow(AssertionError);
  });
});

describe('StockActor: one string per key', () => {
  it('keeps the ids as one stock key and gives them back whole, idle or busy', () => {
    const actor = new StockActor('sku-0000000042', 'wh-berlin-1');
    expect(actor.stockKey).toBe('sku-0000000042\u0000wh-berlin-1');
    expect([actor.productId, actor.warehouseId]).toStrictEqual(['sku-0000000042', 'wh-berlin-1']);
    actor.adjust(adjust(5, { productId: 'sku-0000000042', warehouseId: 'wh-berlin-1' }), t0, 10);
    const command = reserve({ productId: 'sku-0000000042', warehouseId: 'wh-berlin-1' });
    const result = actor.reserve(command, t0);
    expect(result.record).toMatchObject({
      productId: 'sku-0000000042',
      warehouseId: 'wh-berlin-1',
    });
    expect(reservationOf(result.outcome)).toMatchObject({
      productId: 'sku-0000000042',
      warehouseId: 'wh-berlin-1',
    });
    expect([actor.productId, actor.warehouseId]).toStrictEqual(['sku-0000000042', 'wh-berlin-1']);
  });

  it('tells whether ids name its key without building the key', () => {
    const actor = new StockActor('sku-10', 'wh-1');
    expect(actor.isKeyOf('sku-10', 'wh-1')).toBe(true);
    for (const [productId, warehouseId] of [
      ['sku-20', 'wh-1'],
      ['sku-11', 'wh-1'],
      ['sku-10', 'wh-2'],
      ['sku-1', '0\u0000wh-1'],
      ['sku-100', 'wh-'],
      ['', 'sku-10\u0000wh-1'],
    ] as const) {
      expect(actor.isKeyOf(productId, warehouseId), `${productId}/${warehouseId}`).toBe(false);
    }
  });

  it('refuses a product id with NUL, which would make the stock key ambiguous', () => {
    expect(() => new StockActor('sku\u00001', 'wh-1')).toThrow(AssertionError);
  });

  it('has no holds or idempotency tables until it needs them', () => {
    const actor = stocked(10);
    expect([actor.reservations, actor.adjustKeys]).toStrictEqual([undefined, undefined]);
    expect(actor.reserve(reserve({ quantity: 11 }), t0).record).toBeUndefined();
    expect(actor.reservations).toBeUndefined();
    reserved(actor, 1);
    expect(actor.reservations?.size).toBe(1);
    expect(actor.adjustKeys).toBeUndefined();
  });

  it('keeps its emptied tables until told to leave the quiet keys, then drops them', () => {
    const actor = stocked(10);
    const id = reserved(actor, 2);
    finish(actor, id, 'confirm', t0 + 1);
    actor.adjust(adjust(1, { idempotencyKey: 'adjust-key-dropped' }), t0 + 2, onHandMax);
    const retained = new RetainedHolds();
    actor.retire(id, retained);
    expect(retained.hold(retained.find(id)).status).toBe('CONFIRMED');
    expect(actor.reservations?.size).toBe(0);
    // The adjust's memo is still held: not quiet.
    expect(actor.quietened()).toBe(false);
    actor.forgetAdjustKey('adjust-key-dropped', t0 + 2);
    const tables = [actor.reservations, actor.adjustKeys];
    expect(tables.map((table) => table?.size)).toStrictEqual([0, 0]);
    // Quiet once: a second call while it is in the ring says no.
    expect([actor.quietened(), actor.quietened()]).toStrictEqual([true, false]);
    actor.leaveQuiet();
    expect([actor.reservations, actor.adjustKeys]).toStrictEqual([undefined, undefined]);
    expect(actor.stockView()).toStrictEqual({
      productId: 'sku-1',
      warehouseId: 'wh-1',
      onHand: 9,
      reserved: 0,
      available: 9,
      version: 4,
    });
    reserved(actor, 9, t0 + 3);
    expect(actor.stockView()).toMatchObject({ reserved: 9, version: 5 });
  });

  it('keeps its tables when it leaves the quiet keys busy again, and is quiet again later', () => {
    const actor = stocked(10);
    const first = reserved(actor, 1);
    finish(actor, first, 'release', t0 + 1);
    const retained = new RetainedHolds();
    actor.retire(first, retained);
    expect(actor.quietened()).toBe(true);
    const tables = actor.reservations;
    const second = reserved(actor, 1, t0 + 2);
    // The same table serves the next hold; leaving the ring while busy keeps it.
    expect(actor.reservations).toBe(tables);
    actor.leaveQuiet();
    expect(actor.reservations).toBe(tables);
    expect(actor.reservations?.get(second)?.status).toBe('PENDING');
    finish(actor, second, 'confirm', t0 + 3);
    actor.retire(second, retained);
    expect(retained.hold(retained.find(second)).status).toBe('CONFIRMED');
    expect(actor.quietened()).toBe(true);
    actor.leaveQuiet();
    expect(actor.reservations).toBeUndefined();
  });
});
