// Proves key existence, routing by id, expiry, retention and replay by scripted applies on a clock.
import { describe, expect, it } from 'vitest';
import {
  AssertionError,
  captureSnapshot,
  PartitionState,
  StockActor,
  type JournalRecord,
  type RetentionPolicy,
} from '../../../src/actors/index.js';
import { quietKeysMaxDefault } from '../../../src/actors/quiet-keys.js';
import {
  adjust,
  onReservation,
  readStock,
  RecordingPartition,
  rejectionOf,
  replayAll,
  roomyRetention,
  reservationOf,
  reserve,
  stockOf,
} from '../../helpers/actor-fixtures.js';

const t0 = 1_700_000_000_000;

function stockedPartition(retention?: RetentionPolicy): RecordingPartition {
  const partition = new RecordingPartition(retention);
  stockOf(partition.apply(adjust(100), t0).outcome);
  return partition;
}

function reservedOn(partition: RecordingPartition, nowMs: number, ttlSeconds = 600): string {
  const command = reserve({ quantity: 1, ttlSeconds });
  reservationOf(partition.apply(command, nowMs).outcome);
  return command.reservationId;
}

describe('PartitionState: stock keys', () => {
  it('answers not_found to a reserve on a key that was never stocked', () => {
    const partition = new RecordingPartition();
    const result = partition.apply(reserve({ productId: 'never' }), t0);
    expect(rejectionOf(result.outcome).code).toBe('not_found');
    expect(result.record).toBeUndefined();
  });

  it('answers not_found to a stock read on a key that was never stocked', () => {
    const partition = new RecordingPartition();
    expect(rejectionOf(partition.apply(readStock('never'), t0).outcome).code).toBe('not_found');
  });

  it('creates a key with the first successful adjust, after which reserve and read work', () => {
    const partition = new RecordingPartition();
    partition.apply(adjust(5), t0);
    expect(stockOf(partition.apply(readStock(), t0).outcome)).toMatchObject({
      onHand: 5,
      version: 1,
      replayed: false,
    });
    expect(reservationOf(partition.apply(reserve({ quantity: 5 }), t0).outcome).status).toBe(
      'PENDING',
    );
  });

  it('does not create a key when the first adjust is rejected for going below zero', () => {
    const partition = new RecordingPartition();
    const result = partition.apply(adjust(-1), t0);
    expect(rejectionOf(result.outcome).code).toBe('insufficient_stock');
    expect(rejectionOf(partition.apply(readStock(), t0).outcome).code).toBe('not_found');
    expect(partition.state.actors.size).toBe(0);
  });

  it('does not create a key when the first adjust is rejected for going over onHandMax', () => {
    const partition = new RecordingPartition({
      retainFinishedMs: 1_000,
      retainFinishedMax: 10,
      onHandMax: 50,
    });
    const result = partition.apply(adjust(51), t0);
    expect(rejectionOf(result.outcome).code).toBe('validation_failed');
    expect(rejectionOf(partition.apply(readStock(), t0).outcome).code).toBe('not_found');
  });

  it('keeps a key that was stocked and then taken back to zero', () => {
    const partition = new RecordingPartition();
    partition.apply(adjust(5), t0);
    partition.apply(adjust(-5), t0);
    expect(stockOf(partition.apply(readStock(), t0).outcome)).toMatchObject({ onHand: 0 });
    expect(rejectionOf(partition.apply(reserve(), t0).outcome).code).toBe('insufficient_stock');
  });

  it('scopes reserve idempotency keys to the stock key', () => {
    const partition = stockedPartition();
    partition.apply(adjust(100, { productId: 'sku-2' }), t0);
    const key = 'shared-idempotency-key';
    const first = partition.apply(reserve({ idempotencyKey: key, quantity: 2 }), t0);
    const other = partition.apply(
      reserve({ idempotencyKey: key, quantity: 3, productId: 'sku-2' }),
      t0,
    );
    expect(reservationOf(first.outcome).replayed).toBe(false);
    expect(reservationOf(other.outcome)).toMatchObject({ productId: 'sku-2', replayed: false });
    expect(other.record?.type).toBe('reserved');
  });

  it('scopes adjust idempotency keys to the stock key', () => {
    const partition = new RecordingPartition();
    const key = 'shared-adjust-key-01';
    partition.apply(adjust(5, { idempotencyKey: key }), t0);
    const other = partition.apply(adjust(7, { idempotencyKey: key, productId: 'sku-2' }), t0);
    expect(stockOf(other.outcome)).toMatchObject({ productId: 'sku-2', onHand: 7 });
  });
});

describe('PartitionState: finding the key a command names', () => {
  it('never takes one key for another, whatever order commands name them in', () => {
    const partition = new RecordingPartition();
    // Same lengths and same last characters, so only a full comparison tells them apart.
    const keys = ['sku-10', 'sku-20'].flatMap((productId) =>
      ['wh-1', 'wh-2'].map((warehouseId) => ({ productId, warehouseId })),
    );
    keys.forEach((key, index) => partition.apply(adjust(10 * (index + 1), key), t0));
    const order = [0, 0, 1, 3, 2, 2, 0, 3, 1, 1, 2, 0];
    for (const index of order) partition.apply(reserve({ ...keys[index], quantity: 1 }), t0);
    keys.forEach((key, index) => {
      const count = order.filter((entry) => entry === index).length;
      const stock = stockOf(partition.apply(readStock(key.productId, key.warehouseId), t0).outcome);
      expect(stock, `${key.productId}/${key.warehouseId}`).toMatchObject({
        ...key,
        onHand: 10 * (index + 1),
        reserved: count,
        version: 1 + count,
      });
    });
    expect(captureSnapshot(replayAll(partition.records, roomyRetention))).toStrictEqual(
      captureSnapshot(partition.state),
    );
  });

  it('answers not_found for a key that differs from the last one only in its warehouse', () => {
    const partition = stockedPartition();
    expect(stockOf(partition.apply(readStock('sku-1', 'wh-1'), t0).outcome).onHand).toBe(100);
    expect(rejectionOf(partition.apply(readStock('sku-1', 'wh-2'), t0).outcome).code).toBe(
      'not_found',
    );
  });

  it('refuses to register a stock key twice', () => {
    const state = new PartitionState(7, roomyRetention);
    state.register(new StockActor('sku-1', 'wh-1'));
    expect(() => state.register(new StockActor('sku-1', 'wh-1'))).toThrow(AssertionError);
  });
});

describe('PartitionState: reservations by id', () => {
  it('answers not_found to confirm, release and read of an unknown id', () => {
    const partition = stockedPartition();
    for (const kind of ['confirm', 'release', 'read-reservation'] as const) {
      const result = partition.apply(onReservation(kind, 'no-such-reservation'), t0);
      expect(rejectionOf(result.outcome).code).toBe('not_found');
    }
  });

  it('confirms and releases by id alone, on the right stock key', () => {
    const partition = stockedPartition();
    partition.apply(adjust(10, { productId: 'sku-2' }), t0);
    const command = reserve({ productId: 'sku-2', quantity: 4 });
    partition.apply(command, t0);
    partition.apply(onReservation('confirm', command.reservationId), t0 + 1);
    expect(stockOf(partition.apply(readStock('sku-2'), t0).outcome)).toMatchObject({
      onHand: 6,
      reserved: 0,
    });
    expect(stockOf(partition.apply(readStock(), t0).outcome).onHand).toBe(100);
  });

  it('expires a pending hold that is read after expires_at, and writes the expiry', () => {
    const partition = stockedPartition();
    const id = reservedOn(partition, t0, 60);
    const result = partition.apply(onReservation('read-reservation', id), t0 + 60_000);
    expect(reservationOf(result.outcome).status).toBe('EXPIRED');
    expect(result.record?.type).toBe('expired');
    expect(stockOf(partition.apply(readStock(), t0).outcome).reserved).toBe(0);
  });

  it('records the expiry and answers reservation_expired to a confirm after expires_at', () => {
    const partition = stockedPartition();
    const id = reservedOn(partition, t0, 60);
    const result = partition.apply(onReservation('confirm', id), t0 + 61_000);
    expect(rejectionOf(result.outcome).code).toBe('reservation_expired');
    expect(result.record?.type).toBe('expired');
    const read = partition.apply(onReservation('read-reservation', id), t0 + 61_001);
    expect(reservationOf(read.outcome).status).toBe('EXPIRED');
    expect(stockOf(partition.apply(readStock(), t0).outcome)).toMatchObject({
      onHand: 100,
      reserved: 0,
    });
  });

  it('expires a due hold on the sweep', () => {
    const partition = stockedPartition();
    const id = reservedOn(partition, t0, 60);
    const result = partition.expire(id, t0 + 60_000);
    expect(result?.record?.type).toBe('expired');
    expect(
      reservationOf(partition.apply(onReservation('read-reservation', id), t0).outcome),
    ).toMatchObject({ status: 'EXPIRED' });
  });

  it('writes nothing when the sweep meets a hold that is not yet due', () => {
    const partition = stockedPartition();
    const id = reservedOn(partition, t0, 60);
    expect(partition.expire(id, t0 + 59_999)?.record).toBeUndefined();
    expect(partition.state.apply(readStock(), t0).actor?.reserved).toBe(1);
  });

  it('does nothing when the sweep meets a finished or unknown hold', () => {
    const partition = stockedPartition();
    const id = reservedOn(partition, t0, 60);
    partition.apply(onReservation('release', id), t0 + 1);
    expect(partition.expire(id, t0 + 120_000)).toBeUndefined();
    expect(partition.expire('no-such-reservation', t0 + 120_000)).toBeUndefined();
  });

  it('lists exactly the pending holds for the expiry schedule', () => {
    const partition = stockedPartition();
    const pending = reservedOn(partition, t0);
    const confirmed = reservedOn(partition, t0);
    partition.apply(onReservation('confirm', confirmed), t0 + 1);
    const ids = [...partition.state.pendingReservations()].map((r) => r.id);
    expect(ids).toStrictEqual([pending]);
    const slot = partition.state.holdSlot(pending);
    const serial = partition.state.holdSerial(slot);
    const { expiresAtMs } = partition.state.pendingHold(pending)?.reservation ?? {};
    expect([...partition.state.pendingExpiries()]).toStrictEqual([[slot, serial, expiresAtMs]]);
  });

  it("names a hold for the expiry schedule by its slot and serial, never another hold's", () => {
    const { state } = stockedPartition();
    const first = reserve({ quantity: 1, ttlSeconds: 60 });
    state.apply(first, t0);
    const slot = state.holdSlot(first.reservationId);
    const serial = state.holdSerial(slot);
    expect([state.isPendingHold(slot, serial), state.isPinnedHold(slot, serial)]).toStrictEqual([
      true,
      false,
    ]);
    state.apply(onReservation('release', first.reservationId), t0 + 1);
    expect(state.holdSlot(first.reservationId)).toBe(-1);
    // The next hold takes the freed slot, with a serial of its own: the first's entry is stale.
    const second = reserve({ quantity: 1, ttlSeconds: 60 });
    state.apply(second, t0 + 2);
    const again = state.holdSlot(second.reservationId);
    const secondSerial = state.holdSerial(again);
    expect(again).toBe(slot);
    expect(secondSerial).not.toBe(serial);
    expect(state.isPendingHold(slot, serial)).toBe(false);
    expect(state.expireHold(slot, serial, t0 + 120_000)).toBeUndefined();
    expect(state.expireHold(slot, secondSerial, t0 + 60_001)?.record).toBeUndefined();
    expect(state.expireHold(slot, secondSerial, t0 + 60_002)?.record).toMatchObject({
      type: 'expired',
      reservationId: second.reservationId,
    });
    expect(state.isPendingHold(slot, secondSerial)).toBe(false);
    // A slot past any chunk is no hold.
    expect(state.isPendingHold(1 << 30, 1)).toBe(false);
  });
});

describe('PartitionState: retention of finished entries', () => {
  const timed: RetentionPolicy = {
    retainFinishedMs: 60_000,
    retainFinishedMax: 1_000,
    onHandMax: 1e6,
  };

  function read(partition: RecordingPartition, id: string, nowMs: number) {
    return partition.apply(onReservation('read-reservation', id), nowMs).outcome;
  }

  it('forgets a finished reservation once a record is written after retainFinishedMs', () => {
    const partition = stockedPartition(timed);
    const id = reservedOn(partition, t0);
    partition.apply(onReservation('confirm', id), t0 + 1_000);
    partition.apply(adjust(1), t0 + 61_000);
    expect(reservationOf(read(partition, id, t0 + 61_000)).status).toBe('CONFIRMED');
    partition.apply(adjust(1), t0 + 61_001);
    expect(rejectionOf(read(partition, id, t0 + 61_001)).code).toBe('not_found');
    expect(rejectionOf(partition.apply(onReservation('confirm', id), t0).outcome).code).toBe(
      'not_found',
    );
  });

  it('prunes only when a record is written, not when time merely passes', () => {
    const partition = stockedPartition(timed);
    const id = reservedOn(partition, t0);
    partition.apply(onReservation('release', id), t0 + 1);
    partition.apply(readStock(), t0 + 10 * 60_000);
    expect(reservationOf(read(partition, id, t0 + 10 * 60_000)).status).toBe('RELEASED');
  });

  it('keeps at most retainFinishedMax finished entries, forgetting the oldest first', () => {
    const partition = stockedPartition({ ...timed, retainFinishedMax: 2 });
    partition.apply(adjust(100, { productId: 'sku-2' }), t0);
    const first = reservedOn(partition, t0);
    const second = reserve({ productId: 'sku-2' });
    partition.apply(second, t0);
    const third = reservedOn(partition, t0);
    partition.apply(onReservation('confirm', first), t0 + 1);
    partition.apply(onReservation('release', second.reservationId), t0 + 2);
    expect(reservationOf(read(partition, first, t0 + 2)).status).toBe('CONFIRMED');
    partition.apply(onReservation('confirm', third), t0 + 3);
    expect(rejectionOf(read(partition, first, t0 + 3)).code).toBe('not_found');
    expect(reservationOf(read(partition, second.reservationId, t0 + 3)).status).toBe('RELEASED');
    expect(reservationOf(read(partition, third, t0 + 3)).status).toBe('CONFIRMED');
    expect(partition.state.finishedCount).toBe(2);
  });

  it('never forgets a pending reservation, however many records follow', () => {
    const partition = stockedPartition({
      retainFinishedMs: 0,
      retainFinishedMax: 1,
      onHandMax: 1e6,
    });
    const pending = reservedOn(partition, t0, 3_600);
    for (let step = 1; step <= 50; step += 1) {
      const id = reservedOn(partition, t0 + step);
      partition.apply(onReservation('release', id), t0 + step);
    }
    expect(reservationOf(read(partition, pending, t0 + 60_000)).status).toBe('PENDING');
  });

  it('forgets the idempotency key with the reservation, so the key can hold again', () => {
    const partition = stockedPartition(timed);
    const command = reserve({ quantity: 2 });
    partition.apply(command, t0);
    partition.apply(onReservation('release', command.reservationId), t0 + 1);
    partition.apply(adjust(1), t0 + 120_000);
    const again = partition.apply({ ...command, reservationId: 'fresh-id' }, t0 + 120_001);
    expect(reservationOf(again.outcome)).toMatchObject({
      reservationId: 'fresh-id',
      replayed: false,
    });
  });

  it('forgets an adjust idempotency key under the same retention', () => {
    const partition = stockedPartition(timed);
    const command = adjust(5, { idempotencyKey: 'adjust-key-retained' });
    partition.apply(command, t0);
    expect(stockOf(partition.apply(command, t0 + 30_000).outcome).replayed).toBe(true);
    partition.apply(adjust(1), t0 + 60_001);
    expect(stockOf(partition.apply(command, t0 + 60_002).outcome)).toMatchObject({
      onHand: 111,
      replayed: false,
    });
  });

  it('keeps the same retained set through thousands of finished entries (queue compaction)', () => {
    const retention = { retainFinishedMs: 3_600_000, retainFinishedMax: 10, onHandMax: 1e6 };
    const partition = stockedPartition(retention);
    partition.apply(adjust(5_000), t0);
    const ids: string[] = [];
    for (let step = 1; step <= 3_000; step += 1) {
      const id = reservedOn(partition, t0 + step);
      partition.apply(onReservation(step % 2 === 0 ? 'confirm' : 'release', id), t0 + step);
      ids.push(id);
    }
    expect(partition.state.finishedCount).toBe(10);
    const retained = ids.filter((id) => partition.state.holdById(id) !== undefined);
    expect(retained).toStrictEqual(ids.slice(-10));
    const replayed = replayAll(partition.records, retention);
    expect(captureSnapshot(replayed)).toStrictEqual(captureSnapshot(partition.state));
  });
});

describe('PartitionState.replay', () => {
  it('rebuilds the same state, retained entries and answers from the records', () => {
    const partition = stockedPartition();
    const confirmed = reserve({ quantity: 3 });
    partition.apply(confirmed, t0 + 1);
    partition.apply(onReservation('confirm', confirmed.reservationId), t0 + 2);
    const pending = reservedOn(partition, t0 + 3, 60);
    partition.apply(adjust(-10, { idempotencyKey: 'adjust-key-replayed' }), t0 + 4);
    const replayed = replayAll(partition.records, roomyRetention);
    expect(captureSnapshot(replayed)).toStrictEqual(captureSnapshot(partition.state));
    expect([...replayed.pending.ids()].sort()).toStrictEqual(
      [...partition.state.pending.ids()].sort(),
    );
    const retry = replayed.apply(confirmed, t0 + 5);
    expect(reservationOf(retry.outcome)).toMatchObject({ status: 'PENDING', replayed: true });
    const late = replayed.apply(onReservation('confirm', pending), t0 + 3 + 60_000);
    expect(rejectionOf(late.outcome).code).toBe('reservation_expired');
  });

  it('refuses a reservation record for a stock key that was never adjusted', () => {
    const state = new PartitionState(7, roomyRetention);
    const record: JournalRecord = {
      type: 'reserved',
      productId: 'sku-1',
      warehouseId: 'wh-1',
      version: 1,
      atMs: t0,
      traceId: '',
      reservationId: 'r-1',
      quantity: 1,
      expiresAtMs: t0 + 1,
      idempotencyKey: 'k',
      requesterId: '',
    };
    expect(() => state.replay(record)).toThrow(AssertionError);
  });

  it('refuses a finishing record for a reservation it does not know', () => {
    const partition = stockedPartition();
    const state = replayAll(partition.records, roomyRetention);
    const record: JournalRecord = {
      type: 'confirmed',
      productId: 'sku-1',
      warehouseId: 'wh-1',
      version: 2,
      atMs: t0,
      traceId: '',
      requesterId: '',
      reservationId: 'r-unknown',
      quantity: 1,
    };
    expect(() => state.replay(record)).toThrow(AssertionError);
  });

  it('refuses a finishing record that names another key than the one holding the hold', () => {
    const partition = stockedPartition();
    partition.apply(adjust(10, { productId: 'sku-2' }), t0);
    const command = reserve({ productId: 'sku-2' });
    partition.apply(command, t0 + 1);
    const state = replayAll(partition.records, roomyRetention);
    const record: JournalRecord = {
      type: 'confirmed',
      productId: 'sku-1',
      warehouseId: 'wh-1',
      version: 2,
      atMs: t0 + 2,
      traceId: '',
      requesterId: '',
      reservationId: command.reservationId,
      quantity: 1,
    };
    expect(() => state.replay(record)).toThrow('a confirmed record for an unknown reservation');
    expect(() => state.replay({ ...record, productId: 'sku-9' })).toThrow(
      'a confirmed record for an unknown stock key',
    );
  });

  it("keeps a key's emptied tables while it is among the latest quiet keys, and replays the same", () => {
    const partition = stockedPartition();
    const tablesOf = (productId: string) =>
      partition.state.actors.get(`${productId}\u0000wh-1`)?.reservations;
    const holdAndRelease = (productId: string, atMs: number): void => {
      const held = reserve({ productId });
      reservationOf(partition.apply(held, atMs).outcome);
      partition.apply(onReservation('release', held.reservationId), atMs);
    };
    const id = reservedOn(partition, t0);
    partition.apply(onReservation('confirm', id), t0 + 1);
    const kept = tablesOf('sku-1');
    expect(kept?.size).toBe(0);
    // Keys that go quiet after it, one fewer than the ring holds: it keeps its tables.
    for (let key = 1; key < quietKeysMaxDefault; key += 1) {
      partition.apply(adjust(1, { productId: `sku-q${key}` }), t0 + 2);
      holdAndRelease(`sku-q${key}`, t0 + 2);
    }
    expect(tablesOf('sku-1')).toBe(kept);
    // sku-q1 gets busy again in the ring: when it leaves it keeps its tables.
    const again = reserve({ productId: 'sku-q1' });
    reservationOf(partition.apply(again, t0 + 3).outcome);
    // Two more quiet keys: sku-1 leaves the ring and lets its tables go, then sku-q1 (busy).
    for (const productId of ['sku-extra-1', 'sku-extra-2']) {
      partition.apply(adjust(1, { productId }), t0 + 4);
      holdAndRelease(productId, t0 + 4);
    }
    expect(tablesOf('sku-1')).toBeUndefined();
    expect(tablesOf('sku-q1')?.size).toBe(1);
    expect(tablesOf('sku-q2')?.size).toBe(0);
    const replayed = replayAll(partition.records, partition.state.retention);
    expect(captureSnapshot(replayed)).toStrictEqual(captureSnapshot(partition.state));
    expect(replayed.actors.get('sku-1\u0000wh-1')?.reservations).toBeUndefined();
    expect(reservationOf(partition.apply(reserve(), t0 + 5).outcome).status).toBe('PENDING');
    expect(tablesOf('sku-1')?.size).toBe(1);
  });

  it('refuses records replayed out of order', () => {
    const partition = stockedPartition();
    const id = reservedOn(partition, t0 + 1);
    partition.apply(onReservation('confirm', id), t0 + 2);
    const [adjusted, reservedRecord, confirmedRecord] = partition.records;
    const state = new PartitionState(7, roomyRetention);
    state.replay(adjusted as JournalRecord);
    expect(reservedRecord).toBeDefined();
    expect(() => state.replay(confirmedRecord as JournalRecord)).toThrow(AssertionError);
  });
});
