// Proves the v1.1 checkout rules in one partition's actors, directly: buyer and reference on
// holds, purchase limits over a window, partial confirm, extend and its cap, product settings,
// and that replaying the journal records of all of it (and a snapshot) rebuilds the same state.
import { describe, expect, it } from 'vitest';
import {
  captureSnapshot,
  restoreSnapshot,
  type ExtendCommand,
  type RetentionPolicy,
  type SettingsCommand,
} from '../../../src/actors/index.js';
import {
  RecordingPartition,
  adjust,
  rejectionOf,
  replayAll,
  reservationOf,
  reserve,
  stockOf,
} from '../../helpers/actor-fixtures.js';

const retention: RetentionPolicy = {
  retainFinishedMs: 3_600_000,
  retainFinishedMax: 1_000,
  onHandMax: 1_000_000,
  holdLifetimeMaxMs: 3 * 3_600_000,
};
const t0 = Date.UTC(2026, 11, 2, 12);
const lifetimeMaxMs = 3 * 3_600_000;

function stocked(units = 100): RecordingPartition {
  const partition = new RecordingPartition(retention);
  partition.apply(adjust(units), t0);
  return partition;
}

const limit = (maxPerBuyer: number | null, windowSeconds?: number): SettingsCommand => ({
  kind: 'put-settings',
  productId: 'sku-1',
  changes: {
    maxPerBuyer,
    ...(windowSeconds === undefined ? {} : { limitWindowSeconds: windowSeconds }),
  },
  actorId: 'admin',
  traceId: 'trace-settings',
});

const extend = (reservationId: string, ttlSeconds: number): ExtendCommand => ({
  kind: 'extend',
  reservationId,
  ttlSeconds,
  lifetimeMaxMs,
  traceId: 'trace-extend',
});

const confirm = (reservationId: string, quantity?: number) =>
  ({ kind: 'confirm', reservationId, traceId: 'trace-confirm', quantity }) as const;

describe('holds with a buyer and a reference', () => {
  it('echoes buyer_id and reference, and a replay with another reference is refused', () => {
    const partition = stocked();
    const command = reserve({ buyerId: 'buyer@1', reference: 'order-1', quantity: 2 });
    const hold = reservationOf(partition.apply(command, t0).outcome);
    expect(hold).toMatchObject({ buyerId: 'buyer@1', reference: 'order-1', quantity: 2 });
    expect(reservationOf(partition.apply(command, t0 + 1).outcome).replayed).toBe(true);
    const other = { ...command, reference: 'order-2' };
    expect(rejectionOf(partition.apply(other, t0 + 2).outcome).code).toBe('idempotency_key_reused');
  });
});

describe('purchase limits', () => {
  it('counts pending and confirmed units of the window, not released ones', () => {
    const partition = stocked();
    partition.apply(limit(3), t0);
    const first = reservationOf(
      partition.apply(reserve({ buyerId: 'b1', quantity: 2 }), t0).outcome,
    );
    const refused = rejectionOf(
      partition.apply(reserve({ buyerId: 'b1', quantity: 2 }), t0 + 1).outcome,
    );
    expect(refused).toMatchObject({
      code: 'purchase_limit_exceeded',
      details: { limit: 3, held: 2 },
    });
    partition.apply(confirm(first.reservationId, 1), t0 + 2);
    // One unit sold of two held: it counts as 1 now.
    reservationOf(partition.apply(reserve({ buyerId: 'b1', quantity: 2 }), t0 + 3).outcome);
    expect(
      rejectionOf(partition.apply(reserve({ buyerId: 'b1', quantity: 1 }), t0 + 4).outcome),
    ).toMatchObject({ details: { held: 3 } });
    // Another buyer, and a request without a buyer, are not limited by b1's units.
    reservationOf(partition.apply(reserve({ buyerId: 'b2', quantity: 3 }), t0 + 5).outcome);
    reservationOf(partition.apply(reserve({ quantity: 30 }), t0 + 6).outcome);
  });

  it('forgets holds older than the window, and released holds at once', () => {
    const partition = stocked();
    partition.apply(limit(2, 60), t0);
    const hold = reservationOf(
      partition.apply(reserve({ buyerId: 'b1', quantity: 2 }), t0).outcome,
    );
    partition.apply({ kind: 'release', reservationId: hold.reservationId, traceId: '' }, t0 + 1);
    const again = reservationOf(
      partition.apply(reserve({ buyerId: 'b1', quantity: 2 }), t0 + 2).outcome,
    );
    partition.apply(confirm(again.reservationId), t0 + 3);
    expect(rejectionOf(partition.apply(reserve({ buyerId: 'b1' }), t0 + 59_000).outcome).code).toBe(
      'purchase_limit_exceeded',
    );
    reservationOf(partition.apply(reserve({ buyerId: 'b1', quantity: 2 }), t0 + 61_000).outcome);
  });
});

describe('partial confirm', () => {
  it('sells fewer units than held and returns the rest; again answers the first body', () => {
    const partition = stocked(10);
    const hold = reservationOf(partition.apply(reserve({ quantity: 4 }), t0).outcome);
    const sold = reservationOf(partition.apply(confirm(hold.reservationId, 3), t0 + 1).outcome);
    expect(sold).toMatchObject({ status: 'CONFIRMED', quantity: 4, confirmedQuantity: 3 });
    const stock = stockOf(
      partition.apply({ kind: 'read-stock', productId: 'sku-1', warehouseId: 'wh-1' }, t0 + 2)
        .outcome,
    );
    expect(stock).toMatchObject({ onHand: 7, reserved: 0, available: 7 });
    const again = reservationOf(partition.apply(confirm(hold.reservationId, 1), t0 + 3).outcome);
    expect(again).toMatchObject({ confirmedQuantity: 3, replayed: true });
  });

  it('refuses more units than held with 422 on quantity, changing nothing', () => {
    const partition = stocked(10);
    const hold = reservationOf(partition.apply(reserve({ quantity: 2 }), t0).outcome);
    const before = partition.records.length;
    const refused = rejectionOf(partition.apply(confirm(hold.reservationId, 3), t0 + 1).outcome);
    expect(refused).toMatchObject({ code: 'validation_failed', details: { field: 'quantity' } });
    expect(partition.records).toHaveLength(before);
  });
});

describe('extend', () => {
  it('moves expires_at to now + ttl without moving the version', () => {
    const partition = stocked();
    const hold = reservationOf(partition.apply(reserve(), t0).outcome);
    const versionBefore = partition.records.at(-1);
    const extended = reservationOf(
      partition.apply(extend(hold.reservationId, 3600), t0 + 1000).outcome,
    );
    expect(extended.expiresAtMs).toBe(t0 + 1000 + 3_600_000);
    expect(partition.records.at(-1)).toMatchObject({ type: 'extended' });
    expect((partition.records.at(-1) as { version: number }).version).toBe(
      (versionBefore as { version: number }).version,
    );
  });

  it('refuses past the lifetime cap with 422 on ttl_seconds', () => {
    const partition = stocked();
    const hold = reservationOf(partition.apply(reserve(), t0).outcome);
    // Extended step by step toward the cap: the step that would pass it is refused.
    partition.apply(extend(hold.reservationId, 3600), t0 + 500_000);
    partition.apply(extend(hold.reservationId, 3600), t0 + 4_000_000);
    const late = t0 + 7_300_000;
    const refused = rejectionOf(partition.apply(extend(hold.reservationId, 3600), late).outcome);
    expect(refused).toMatchObject({ code: 'validation_failed', details: { field: 'ttl_seconds' } });
  });

  it('expires a due hold first and answers reservation_not_pending with EXPIRED', () => {
    const partition = stocked();
    const hold = reservationOf(partition.apply(reserve({ ttlSeconds: 60 }), t0).outcome);
    const result = partition.apply(extend(hold.reservationId, 60), t0 + 60_000);
    expect(rejectionOf(result.outcome)).toMatchObject({
      code: 'reservation_not_pending',
      details: { status: 'EXPIRED' },
    });
    expect(result.record).toMatchObject({ type: 'expired' });
  });
});

describe('product settings', () => {
  it('merges fields, clears with null, and journals nothing when nothing changes', () => {
    const partition = stocked();
    partition.apply(limit(5), t0);
    const before = partition.records.length;
    const same = partition.apply(limit(5), t0 + 1);
    expect(same.record).toBeUndefined();
    expect(partition.records).toHaveLength(before);
    const cleared = partition.apply(limit(null, 120), t0 + 2).outcome;
    expect(cleared).toMatchObject({
      settings: { maxPerBuyer: null, limitWindowSeconds: 120, warehousePriority: null },
    });
  });
});

describe('replay', () => {
  it('rebuilds the same partition from the records, and from a snapshot of it', () => {
    const partition = stocked();
    partition.apply(limit(4), t0);
    const a = reservationOf(partition.apply(reserve({ buyerId: 'b1', quantity: 2 }), t0).outcome);
    partition.apply(confirm(a.reservationId, 1), t0 + 1);
    const b = reservationOf(
      partition.apply(reserve({ buyerId: 'b1', reference: 'r' }), t0 + 2).outcome,
    );
    partition.apply(extend(b.reservationId, 1200), t0 + 3);
    const replayed = replayAll(partition.records, retention);
    expect(captureSnapshot(replayed)).toStrictEqual(captureSnapshot(partition.state));
    const restored = restoreSnapshot(captureSnapshot(partition.state), retention);
    expect(captureSnapshot(restored)).toStrictEqual(captureSnapshot(partition.state));
    // The restored partition still counts b1's units: 1 sold + 1 pending of 4.
    const refused = restored.apply(reserve({ buyerId: 'b1', quantity: 3 }), t0 + 4);
    expect(rejectionOf(refused.outcome)).toMatchObject({ details: { held: 2 } });
  });
});
