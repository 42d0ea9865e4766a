// Proves what lots (batches) do to one partition, directly on its actors: lots made on first use
// with a date that never changes, FEFO holds that skip lots ending before the hold, confirms
// (whole and partial), releases, negative adjusts and sets by lot, transfers carrying lots, and
// that every record replays, snapshots and round-trips the journal codec to the same state.
import { describe, expect, it } from 'vitest';
import {
  captureSnapshot,
  restoreSnapshot,
  stockSignal,
  type AdjustedRecord,
  type JournalRecord,
  type LotExpiredRecord,
  type Outcome,
  type PartitionState,
  type ReservedRecord,
  type RetentionPolicy,
  type StockView,
  type TransferRecord,
} from '../../../src/actors/index.js';
import { decodeRecord, encodeRecord } from '../../../src/persistence/index.js';
import { decodeSnapshot, encodeSnapshot } from '../../../src/persistence/snapshot-codec.js';
import {
  RecordingPartition,
  adjust,
  onReservation,
  readStock,
  rejectionOf,
  replayAll,
  reservationOf,
  reserve,
  stockOf,
  transferCommand as transfer,
} from '../../helpers/actor-fixtures.js';

const retention: RetentionPolicy = {
  retainFinishedMs: 3_600_000,
  retainFinishedMax: 1_000,
  onHandMax: 1_000_000,
  lotsPerKeyMax: 5,
};
/** Noon, 2026-12-02 (UTC). */
const t0 = Date.UTC(2026, 11, 2, 12);
const dayMs = 86_400_000;

const lot = (lotId: string, expiresOn?: string) =>
  expiresOn === undefined ? { lot: { lotId } } : { lot: { lotId, expiresOn } };

function stockNow(partition: RecordingPartition, warehouseId = 'wh-1'): StockView {
  return stockOf(partition.state.apply(readStock('sku-1', warehouseId), t0).outcome);
}

function lotsOf(partition: RecordingPartition, warehouseId = 'wh-1') {
  return (stockNow(partition, warehouseId).lots ?? []).map((entry) => [
    entry.lotId,
    entry.onHand,
    entry.reserved,
  ]);
}

/** Replay, snapshot (through its codec) and the journal codec all give the same state. */
function expectSameAfterReplay(partition: RecordingPartition): void {
  const decoded = partition.records.map((record) => decodeRecord(encodeRecord(record)));
  expect(decoded).toEqual(partition.records);
  const replayed = replayAll(decoded, retention);
  const snapshot = decodeSnapshot(encodeSnapshot(captureSnapshot(partition.state)));
  const restored = restoreSnapshot(snapshot, retention);
  for (const state of [replayed, restored]) {
    expect(captureSnapshot(state)).toEqual(captureSnapshot(partition.state));
    expect(viewOf(state)).toEqual(viewOf(partition.state));
  }
}

const viewOf = (state: PartitionState): Outcome => state.apply(readStock(), t0).outcome;

/** A key with 5 unnamed units, then lots: late (Dec 20), early (Dec 5), dateless, early-2. */
function stockedWithLots(): RecordingPartition {
  const partition = new RecordingPartition(retention);
  partition.apply(adjust(5), t0);
  partition.apply(adjust(4, lot('late', '2026-12-20')), t0 + 1);
  partition.apply(adjust(3, lot('early', '2026-12-05')), t0 + 2);
  partition.apply(adjust(2, lot('dateless')), t0 + 3);
  partition.apply(adjust(1, lot('early-2', '2026-12-05')), t0 + 4);
  return partition;
}

describe('lots on a key', () => {
  it('keep a key without named lots exactly as it was: no lots anywhere', () => {
    const partition = new RecordingPartition(retention);
    partition.apply(adjust(5), t0);
    const hold = reservationOf(partition.apply(reserve({ quantity: 2 }), t0).outcome);
    partition.apply(onReservation('confirm', hold.reservationId), t0 + 1);
    expect(stockNow(partition).lots).toBeUndefined();
    expect(hold.lots).toBeUndefined();
    for (const record of partition.records) expect('lots' in record).toBe(false);
    expect(partition.state.actors.values().next().value?.lots).toBeUndefined();
  });

  it('are made on first use; the units before them are the unnamed lot; the view is FEFO', () => {
    const partition = stockedWithLots();
    const view = stockNow(partition);
    expect(view).toMatchObject({ onHand: 15, reserved: 0, available: 15, version: 5 });
    expect(view.lots).toEqual([
      { lotId: 'early', onHand: 3, reserved: 0, expiresOn: '2026-12-05', receivedAtMs: t0 + 2 },
      { lotId: 'early-2', onHand: 1, reserved: 0, expiresOn: '2026-12-05', receivedAtMs: t0 + 4 },
      { lotId: 'late', onHand: 4, reserved: 0, expiresOn: '2026-12-20', receivedAtMs: t0 + 1 },
      // Dateless last, in first-received order: the unnamed units came first.
      { lotId: '', onHand: 5, reserved: 0, receivedAtMs: t0 + 1 },
      { lotId: 'dateless', onHand: 2, reserved: 0, receivedAtMs: t0 + 3 },
    ]);
    // More units into a lot, with or without its date, keep its date and its place.
    partition.apply(adjust(2, lot('late')), t0 + 5);
    partition.apply(adjust(1, lot('late', '2026-12-20')), t0 + 6);
    expect(lotsOf(partition)[2]).toEqual(['late', 7, 0]);
    expectSameAfterReplay(partition);
  });

  it('refuse a changed, a past or an extra lot with 422 and change nothing', () => {
    const partition = stockedWithLots();
    const before = stockNow(partition);
    const changed = partition.apply(adjust(1, lot('late', '2026-12-21')), t0 + 10);
    expect(rejectionOf(changed.outcome)).toMatchObject({
      code: 'validation_failed',
      details: { field: 'lot.expires_on' },
    });
    const dated = partition.apply(adjust(1, lot('dateless', '2026-12-21')), t0 + 10);
    expect(rejectionOf(dated.outcome).details).toEqual({ field: 'lot.expires_on' });
    const past = partition.apply(adjust(1, lot('old', '2026-12-01')), t0 + 10);
    expect(rejectionOf(past.outcome).details).toEqual({ field: 'lot.expires_on' });
    // Lots per key are bounded (5 here, the unnamed one counting).
    const extra = partition.apply(adjust(1, lot('sixth', '2026-12-30')), t0 + 10);
    expect(rejectionOf(extra.outcome).details).toEqual({ field: 'lot.lot_id' });
    expect(stockNow(partition)).toEqual(before);
    expect(partition.records).toHaveLength(5);
  });

  it('accept a lot ending today, and refuse more units into it once its day is over', () => {
    const partition = new RecordingPartition(retention);
    partition.apply(adjust(2, lot('today', '2026-12-02')), t0);
    const endOfDay = Date.UTC(2026, 11, 3);
    const late = partition.apply(adjust(1, lot('today')), endOfDay);
    expect(rejectionOf(late.outcome).details).toEqual({ field: 'lot.expires_on' });
    // Taking units out of it is still fine.
    expect(stockOf(partition.apply(adjust(-1, lot('today')), endOfDay).outcome).onHand).toBe(1);
  });
});

describe('FEFO holds', () => {
  it('take the earliest lots first, dateless last, ties by first receipt', () => {
    const partition = stockedWithLots();
    const hold = reservationOf(partition.apply(reserve({ quantity: 10 }), t0 + 10).outcome);
    expect(hold.lots).toEqual([
      { lotId: 'early', quantity: 3, expiresOn: '2026-12-05' },
      { lotId: 'early-2', quantity: 1, expiresOn: '2026-12-05' },
      { lotId: 'late', quantity: 4, expiresOn: '2026-12-20' },
      { lotId: '', quantity: 2 },
    ]);
    expect(lotsOf(partition)).toEqual([
      ['early', 3, 3],
      ['early-2', 1, 1],
      ['late', 4, 4],
      ['', 5, 2],
      ['dateless', 2, 0],
    ]);
    const record = partition.records.at(-1) as ReservedRecord;
    expect(record.lots).toEqual(hold.lots);
    expectSameAfterReplay(partition);
  });

  it('skip lots that stop being sellable before the hold expires', () => {
    const partition = stockedWithLots();
    // At 23:59:00 on Dec 5, a 10-minute hold outlives the Dec 5 lots: they are skipped.
    const late = Date.UTC(2026, 11, 5, 23, 59);
    const hold = reservationOf(
      partition.apply(reserve({ quantity: 5, ttlSeconds: 600 }), late).outcome,
    );
    expect(hold.lots).toEqual([
      { lotId: 'late', quantity: 4, expiresOn: '2026-12-20' },
      { lotId: '', quantity: 1 },
    ]);
    // Available for such a hold counts only the lots it may take.
    const short = partition.apply(reserve({ quantity: 7, ttlSeconds: 600 }), late);
    expect(rejectionOf(short.outcome)).toMatchObject({
      code: 'insufficient_stock',
      details: { available: 6 },
    });
    // A hold ending exactly at the lot's end may take it.
    const atEnd = Date.UTC(2026, 11, 6) - 60_000;
    const edge = reservationOf(
      partition.apply(reserve({ quantity: 1, ttlSeconds: 60 }), atEnd).outcome,
    );
    expect(edge.lots).toEqual([{ lotId: 'early', quantity: 1, expiresOn: '2026-12-05' }]);
    expectSameAfterReplay(partition);
  });

  it('are confirmed from exactly their lots; a partial confirm sells FEFO, returns the rest', () => {
    const partition = stockedWithLots();
    const whole = reservationOf(partition.apply(reserve({ quantity: 2 }), t0 + 10).outcome);
    const part = reservationOf(partition.apply(reserve({ quantity: 5 }), t0 + 11).outcome);
    expect(part.lots).toEqual([
      { lotId: 'early', quantity: 1, expiresOn: '2026-12-05' },
      { lotId: 'early-2', quantity: 1, expiresOn: '2026-12-05' },
      { lotId: 'late', quantity: 3, expiresOn: '2026-12-20' },
    ]);
    partition.apply(onReservation('confirm', whole.reservationId), t0 + 12);
    const sold = partition.apply(
      { ...onReservation('confirm', part.reservationId), quantity: 3 },
      t0 + 13,
    );
    expect(reservationOf(sold.outcome)).toMatchObject({ confirmedQuantity: 3, lots: part.lots });
    expect(lotsOf(partition)).toEqual([
      // early: 2 sold by the first hold, 1 by the partial one; early-2: 1; late: 1 sold, 2 back.
      ['late', 3, 0],
      ['', 5, 0],
      ['dateless', 2, 0],
    ]);
    expect(stockNow(partition)).toMatchObject({ onHand: 10, reserved: 0 });
    expectSameAfterReplay(partition);
  });

  it('give their units back to their lots on release and expiry', () => {
    const partition = stockedWithLots();
    const first = reservationOf(partition.apply(reserve({ quantity: 4 }), t0 + 10).outcome);
    reservationOf(partition.apply(reserve({ quantity: 4, ttlSeconds: 60 }), t0 + 11).outcome);
    partition.apply(onReservation('release', first.reservationId), t0 + 12);
    expect(lotsOf(partition)).toEqual([
      ['early', 3, 0],
      ['early-2', 1, 0],
      ['late', 4, 4],
      ['', 5, 0],
      ['dateless', 2, 0],
    ]);
    const second = partition.state.pendingReservations().next().value;
    partition.expire(second?.id ?? '', t0 + 11 + 60_000);
    expect(lotsOf(partition).every(([, , reserved]) => reserved === 0)).toBe(true);
    expectSameAfterReplay(partition);
  });

  it('may not be extended past the end of a lot they hold', () => {
    const partition = stockedWithLots();
    const madeAt = Date.UTC(2026, 11, 5, 23);
    const hold = reservationOf(partition.apply(reserve({ quantity: 1 }), madeAt).outcome);
    expect(hold.lots).toEqual([{ lotId: 'early', quantity: 1, expiresOn: '2026-12-05' }]);
    const extend = (ttlSeconds: number, nowMs: number) =>
      partition.apply(
        {
          kind: 'extend',
          reservationId: hold.reservationId,
          ttlSeconds,
          lifetimeMaxMs: 30 * dayMs,
          traceId: 't',
        },
        nowMs,
      ).outcome;
    const beyond = extend(3600, madeAt + 300_000);
    expect(rejectionOf(beyond)).toMatchObject({
      code: 'validation_failed',
      details: { field: 'ttl_seconds' },
    });
    expect(reservationOf(extend(600, madeAt + 300_000)).status).toBe('PENDING');
  });
});

describe('taking units out of lots', () => {
  it('a negative adjust naming a lot takes only its unheld units, else 409', () => {
    const partition = stockedWithLots();
    partition.apply(reserve({ quantity: 2 }), t0 + 10);
    const short = partition.apply(adjust(-2, lot('early')), t0 + 11);
    expect(rejectionOf(short.outcome)).toMatchObject({
      code: 'insufficient_stock',
      details: { available: 1 },
    });
    const unknown = partition.apply(adjust(-1, lot('nope')), t0 + 11);
    expect(rejectionOf(unknown.outcome).details).toEqual({ available: 0 });
    partition.apply(adjust(-1, lot('early')), t0 + 12);
    expect(lotsOf(partition)[0]).toEqual(['early', 2, 2]);
    const record = partition.records.at(-1) as AdjustedRecord;
    expect(record).toMatchObject({ delta: -1, lot: { lotId: 'early' } });
    expect(record.lots).toEqual([{ lotId: 'early', quantity: 1, expiresOn: '2026-12-05' }]);
    expectSameAfterReplay(partition);
  });

  it('a negative adjust without a lot takes unheld units FEFO', () => {
    const partition = stockedWithLots();
    partition.apply(reserve({ quantity: 2 }), t0 + 10);
    partition.apply(adjust(-5), t0 + 11);
    expect((partition.records.at(-1) as AdjustedRecord).lots).toEqual([
      { lotId: 'early', quantity: 1, expiresOn: '2026-12-05' },
      { lotId: 'early-2', quantity: 1, expiresOn: '2026-12-05' },
      { lotId: 'late', quantity: 3, expiresOn: '2026-12-20' },
    ]);
    expect(lotsOf(partition)).toEqual([
      ['early', 2, 2],
      ['late', 1, 0],
      ['', 5, 0],
      ['dateless', 2, 0],
    ]);
    expectSameAfterReplay(partition);
  });

  it('a set changes the unnamed lot only, refused if it would go below what it holds', () => {
    const partition = stockedWithLots();
    const set = (onHand: number, nowMs: number) =>
      partition.apply(adjust(0, { setOnHand: onHand }), nowMs).outcome;
    expect(stockOf(set(12, t0 + 10))).toMatchObject({ onHand: 12 });
    expect(lotsOf(partition)[3]).toEqual(['', 2, 0]);
    expect(rejectionOf(set(9, t0 + 11))).toMatchObject({
      code: 'insufficient_stock',
      details: { available: 2 },
    });
    expect(stockOf(set(20, t0 + 12))).toMatchObject({ onHand: 20 });
    expect(lotsOf(partition)[3]).toEqual(['', 10, 0]);
    expectSameAfterReplay(partition);
  });

  it('an adjust naming a lot replays idempotently, and refuses another lot for its key', () => {
    const partition = new RecordingPartition(retention);
    const command = adjust(3, { ...lot('a', '2026-12-09'), idempotencyKey: 'adjust-key-0000001' });
    const first = stockOf(partition.apply(command, t0).outcome);
    partition.apply(adjust(2, lot('a')), t0 + 1);
    const again = partition.apply(command, t0 + 1);
    // The first answer again, its lots as they were then.
    expect(stockOf(again.outcome)).toEqual({ ...first, replayed: true });
    expect(first.lots).toEqual([
      { lotId: 'a', onHand: 3, reserved: 0, expiresOn: '2026-12-09', receivedAtMs: t0 },
    ]);
    const other = partition.apply({ ...command, lot: { lotId: 'b' } }, t0 + 2);
    expect(rejectionOf(other.outcome).code).toBe('idempotency_key_reused');
    expect(partition.records).toHaveLength(2);
    expectSameAfterReplay(partition);
  });
});

describe('transfers with lots', () => {
  it('take unheld units FEFO; lots and dates arrive with them', () => {
    const partition = stockedWithLots();
    partition.apply(adjust(2, { warehouseId: 'wh-2' }), t0 + 5);
    partition.apply(reserve({ quantity: 1 }), t0 + 10);
    const result = partition.apply(transfer({ quantity: 4 }), t0 + 11);
    const moved = [
      { lotId: 'early', quantity: 2, expiresOn: '2026-12-05' },
      { lotId: 'early-2', quantity: 1, expiresOn: '2026-12-05' },
      { lotId: 'late', quantity: 1, expiresOn: '2026-12-20' },
    ];
    const records = (result.writes ?? []).map((write) => write.record as TransferRecord);
    expect(records.map((record) => record.lots)).toEqual([moved, moved]);
    expect(lotsOf(partition, 'wh-2')).toEqual([
      ['early', 2, 0],
      ['early-2', 1, 0],
      ['late', 1, 0],
      ['', 2, 0],
    ]);
    expect(stockNow(partition, 'wh-2').lots?.[0]).toMatchObject({ receivedAtMs: t0 + 11 });
    // A retry answers the first answer again, both keys' lots as they were then.
    partition.apply(adjust(1, lot('late')), t0 + 12);
    const command = (result.outcome as Extract<Outcome, { transfer: unknown }>).transfer;
    const again = partition.apply(
      transfer({ quantity: 4, idempotencyKey: (records[0] as TransferRecord).idempotencyKey }),
      t0 + 13,
    );
    expect(again.outcome).toEqual({ ...result.outcome, replayed: true });
    expect(command.from.lots?.map((entry) => entry.lotId)).toEqual([
      'early',
      'late',
      '',
      'dateless',
    ]);
    expectSameAfterReplay(partition);
  });

  it('in transit, go back to their lots on cancel and arrive in them on receive', () => {
    const partition = stockedWithLots();
    const first = partition.apply(transfer({ quantity: 3, inTransit: true }), t0 + 10);
    const second = partition.apply(transfer({ quantity: 2, inTransit: true }), t0 + 11);
    const idOf = (result: typeof first) =>
      (result.outcome as Extract<Outcome, { transfer: unknown }>).transfer.transferId;
    expect(lotsOf(partition)).toEqual([
      ['late', 3, 0],
      ['', 5, 0],
      ['dateless', 2, 0],
    ]);
    partition.apply({ kind: 'transfer-cancel', transferId: idOf(first), traceId: 't' }, t0 + 12);
    partition.apply({ kind: 'transfer-receive', transferId: idOf(second), traceId: 't' }, t0 + 13);
    expect(lotsOf(partition)).toEqual([
      ['early', 3, 0],
      ['late', 3, 0],
      ['', 5, 0],
      ['dateless', 2, 0],
    ]);
    expect(lotsOf(partition, 'wh-2')).toEqual([
      ['early-2', 1, 0],
      ['late', 1, 0],
    ]);
    expectSameAfterReplay(partition);
  });
});

/** For records built by hand: a v1.1 row of each shape with lots decodes to itself. */
describe('the journal rows of records with lots', () => {
  it('round-trip with and without crossings', () => {
    const partition = stockedWithLots();
    partition.apply(reserve({ quantity: 15 }), t0 + 10);
    const records: JournalRecord[] = partition.records;
    expect(records.some((record) => 'signals' in record && 'lots' in record)).toBe(true);
    expectSameAfterReplay(partition);
  });
});

describe('write-offs at the end of a lot day', () => {
  const endOfDec5 = Date.UTC(2026, 11, 6);

  it('write off only unheld units of lots whose day is over, one record per lot', () => {
    const partition = stockedWithLots();
    // A hold ending exactly at the lots' end takes 2 of them: they stay held.
    partition.apply(reserve({ quantity: 2, ttlSeconds: 60 }), endOfDec5 - 60_000);
    expect(partition.state.writeOffLots('sku-1', 'wh-1', endOfDec5 - 1)).toBeUndefined();
    const result = partition.state.writeOffLots('sku-1', 'wh-1', endOfDec5);
    const records = (result?.writes ?? []).map((write) => write.record as LotExpiredRecord);
    partition.records.push(...records);
    expect(records).toEqual([
      expect.objectContaining({
        type: 'lot-expired',
        lotId: 'early',
        expiresOn: '2026-12-05',
        quantity: 1,
        onHand: 14,
        reserved: 2,
        version: 7,
        traceId: '',
      }),
      expect.objectContaining({ lotId: 'early-2', quantity: 1, onHand: 13, version: 8 }),
    ]);
    expect(lotsOf(partition).slice(0, 1)).toEqual([['early', 2, 2]]);
    // Nothing more is due until the held units come back.
    expect(partition.state.writeOffLots('sku-1', 'wh-1', endOfDec5 + 1)).toBeUndefined();
    const held = partition.state.pendingReservations().next().value;
    partition.expire(held?.id ?? '', endOfDec5);
    const again = partition.state.writeOffLots('sku-1', 'wh-1', endOfDec5 + 1);
    const late = (again?.writes ?? []).map((write) => write.record as LotExpiredRecord);
    partition.records.push(...late);
    expect(late).toEqual([expect.objectContaining({ lotId: 'early', quantity: 2, onHand: 11 })]);
    expect(stockNow(partition)).toMatchObject({ onHand: 11, reserved: 0, available: 11 });
    expect(lotsOf(partition).map(([lotId]) => lotId)).toEqual(['late', '', 'dateless']);
    expectSameAfterReplay(partition);
  });

  it('tell when the next write-off is due, and cross lines like any change', () => {
    const partition = new RecordingPartition(retention);
    partition.apply(adjust(2, lot('only', '2026-12-05')), t0);
    const book = partition.state.actors.values().next().value?.lots;
    expect(book?.writeOffDueMs()).toBe(endOfDec5);
    const result = partition.state.writeOffLots('sku-1', 'wh-1', endOfDec5 + 5);
    const record = result?.writes?.[0]?.record as LotExpiredRecord;
    partition.records.push(record);
    // The key sold out by the write-off.
    expect(record.signals).toEqual({ flags: stockSignal.soldOut, onHand: 0, reserved: 0 });
    expect(book?.writeOffDueMs()).toBe(Number.POSITIVE_INFINITY);
    expectSameAfterReplay(partition);
  });
});

describe('the bound on lots per key', () => {
  it('refuses a transfer that would take the destination beyond it, moving nothing', () => {
    const partition = stockedWithLots();
    const destination = { warehouseId: 'wh-2' };
    for (const [index, lotId] of ['x1', 'x2', 'x3', 'x4', 'x5'].entries()) {
      partition.apply(adjust(1, { ...destination, ...lot(lotId, `2026-12-1${index}`) }), t0);
    }
    const before = partition.records.length;
    const result = partition.apply(
      {
        kind: 'transfer',
        transferId: '0007aaaa-0000-8000-8000-00000000ffff',
        productId: 'sku-1',
        fromWarehouseId: 'wh-1',
        toWarehouseId: 'wh-2',
        quantity: 3,
        inTransit: false,
        idempotencyKey: 'transfer-key-bound-01',
        reason: '',
        actorId: 'admin',
        traceId: 't',
      },
      t0 + 10,
    );
    expect(rejectionOf(result.outcome)).toMatchObject({
      code: 'validation_failed',
      details: { field: 'quantity' },
    });
    expect(partition.records).toHaveLength(before);
    expect(stockNow(partition)).toMatchObject({ onHand: 15, version: 5 });
  });

  it('refuses the receive of a transfer in transit once lots made meanwhile fill the bound', () => {
    const partition = stockedWithLots();
    const command = transfer({ toWarehouseId: 'wh-2', quantity: 3, inTransit: true });
    expect(partition.apply(command, t0 + 1).outcome.ok).toBe(true);
    // wh-2 now makes lots up to its bound (5): the shipped lots would take it past it.
    for (const [index, lotId] of ['y1', 'y2', 'y3', 'y4', 'y5'].entries()) {
      const made = partition.apply(
        adjust(1, { warehouseId: 'wh-2', ...lot(lotId, `2026-12-2${index}`) }),
        t0 + 2,
      );
      expect(made.outcome.ok).toBe(true);
    }
    const before = partition.records.length;
    const onIt = (kind: 'transfer-receive' | 'transfer-cancel') =>
      partition.apply({ kind, transferId: command.transferId, traceId: 't' }, t0 + 3).outcome;
    expect(rejectionOf(onIt('transfer-receive'))).toMatchObject({
      code: 'validation_failed',
      details: { field: 'quantity' },
    });
    expect(partition.records).toHaveLength(before);
    // The units are not stuck: the source takes them back.
    expect(onIt('transfer-cancel').ok).toBe(true);
    expectSameAfterReplay(partition);
  });
});

describe('a lot id at two keys with two dates', () => {
  it('refuses a transfer (or its receive) that would join units of two dates in one lot', () => {
    const partition = stockedWithLots();
    partition.apply(adjust(1, { warehouseId: 'wh-2', ...lot('early', '2026-12-09') }), t0);
    const command = {
      kind: 'transfer' as const,
      transferId: '0007aaaa-0000-8000-8000-00000000eeee',
      productId: 'sku-1',
      fromWarehouseId: 'wh-1',
      toWarehouseId: 'wh-2',
      quantity: 2,
      inTransit: false,
      idempotencyKey: 'transfer-key-clash-01',
      reason: '',
      actorId: 'admin',
      traceId: 't',
    };
    const direct = partition.apply(command, t0 + 1);
    expect(rejectionOf(direct.outcome)).toMatchObject({
      code: 'validation_failed',
      details: { field: 'quantity' },
    });
    // In transit toward a key that makes the lot meanwhile: its receive is refused, its cancel not.
    const shipped = partition.apply(
      {
        ...command,
        inTransit: true,
        toWarehouseId: 'wh-3',
        idempotencyKey: 'transfer-key-clash-02',
      },
      t0 + 2,
    );
    expect(shipped.outcome.ok).toBe(true);
    partition.apply(adjust(1, { warehouseId: 'wh-3', ...lot('early', '2026-12-10') }), t0 + 3);
    const onIt = (kind: 'transfer-receive' | 'transfer-cancel') =>
      partition.apply({ kind, transferId: command.transferId, traceId: 't' }, t0 + 4).outcome;
    expect(rejectionOf(onIt('transfer-receive')).details).toEqual({ field: 'quantity' });
    expect(onIt('transfer-cancel').ok).toBe(true);
    expect(lotsOf(partition)[0]).toEqual(['early', 3, 0]);
    expectSameAfterReplay(partition);
  });
});

describe("an adjust's idempotent replay", () => {
  it('answers incoming as first answered, also after replay and snapshot restore', () => {
    const partition = stockedWithLots();
    partition.apply(
      {
        kind: 'transfer',
        transferId: '0007aaaa-0000-8000-8000-00000000dddd',
        productId: 'sku-1',
        fromWarehouseId: 'wh-1',
        toWarehouseId: 'wh-2',
        quantity: 2,
        inTransit: true,
        idempotencyKey: 'transfer-key-incoming-1',
        reason: '',
        actorId: 'admin',
        traceId: 't',
      },
      t0 + 1,
    );
    const command = adjust(3, { warehouseId: 'wh-2', idempotencyKey: 'adjust-key-incoming-1' });
    const first = stockOf(partition.apply(command, t0 + 2).outcome);
    expect(first).toMatchObject({ onHand: 3, incoming: 2 });
    for (const state of [
      partition.state,
      replayAll(partition.records, retention),
      restoreSnapshot(decodeSnapshot(encodeSnapshot(captureSnapshot(partition.state))), retention),
    ]) {
      const again = stockOf(state.apply(command, t0 + 3).outcome);
      expect(again).toEqual({ ...first, replayed: true });
    }
  });
});
