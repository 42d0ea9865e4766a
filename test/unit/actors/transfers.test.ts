// Proves what one partition does for transfers, directly on its actors: direct and in transit,
// receive and cancel (idempotent, each refusing the other afterwards), idempotent creation,
// refusals that change nothing, the lines crossed at each end, retention, and that the records
// replay (and snapshot) to the same state.
import { describe, expect, it } from 'vitest';
import {
  captureSnapshot,
  restoreSnapshot,
  stockSignal,
  type Outcome,
  type PartitionState,
  type RetentionPolicy,
  type TransferIdCommand,
  type TransferRecord,
} from '../../../src/actors/index.js';
import {
  RecordingPartition,
  adjust,
  readStock,
  rejectionOf,
  replayAll,
  reserve,
  stockOf,
  transferCommand as transfer,
} from '../../helpers/actor-fixtures.js';

const retention: RetentionPolicy = {
  retainFinishedMs: 60_000,
  retainFinishedMax: 3,
  onHandMax: 1_000_000,
  transfersInTransitMax: 2,
};
const t0 = Date.UTC(2026, 11, 2, 12);

const onTransfer = (kind: TransferIdCommand['kind'], transferId: string): TransferIdCommand => ({
  kind,
  transferId,
  traceId: `trace-${kind}`,
});

function transferOf(outcome: Outcome) {
  if (!outcome.ok || !('transfer' in outcome)) throw new Error(JSON.stringify(outcome));
  return { ...outcome.transfer, replayed: outcome.replayed };
}

function stocked(quantity = 20): RecordingPartition {
  const partition = new RecordingPartition(retention);
  partition.apply(adjust(quantity), t0);
  return partition;
}

const counts = (state: PartitionState, warehouseId: string) => {
  const outcome = state.apply(readStock('sku-1', warehouseId), t0).outcome;
  if (!outcome.ok) return undefined;
  const { onHand, reserved, incoming } = stockOf(outcome);
  return { onHand, reserved, incoming: incoming ?? 0 };
};

function expectSameAfterReplay(partition: RecordingPartition): void {
  const replayed = replayAll(partition.records, retention);
  const restored = restoreSnapshot(captureSnapshot(partition.state), retention);
  for (const state of [replayed, restored]) {
    expect(captureSnapshot(state)).toEqual(captureSnapshot(partition.state));
  }
}

describe('a direct transfer', () => {
  it('moves the units in one step: two records, source then destination, RECEIVED', () => {
    const partition = stocked();
    const command = transfer({ reason: 'rebalance', reference: 'PO-1' });
    const result = partition.apply(command, t0 + 1);
    const body = transferOf(result.outcome);
    expect(body).toMatchObject({
      transferId: command.transferId,
      status: 'RECEIVED',
      quantity: 5,
      createdAtMs: t0 + 1,
      receivedAtMs: t0 + 1,
      reason: 'rebalance',
      reference: 'PO-1',
      replayed: false,
    });
    expect(body.from).toMatchObject({ warehouseId: 'wh-1', onHand: 15, available: 15, version: 2 });
    expect(body.to).toMatchObject({ warehouseId: 'wh-2', onHand: 5, available: 5, version: 1 });
    const records = (result.writes ?? []).map((write) => write.record as TransferRecord);
    expect(records.map((record) => [record.warehouseId, record.step])).toEqual([
      ['wh-1', 'out'],
      ['wh-2', 'in'],
    ]);
    // A key's first stocking is no return to stock.
    expect(records[1]?.signals).toBeUndefined();
    expectSameAfterReplay(partition);
  });

  it('answers a retry with the same key and body with the first answer, and nothing moves', () => {
    const partition = stocked();
    const command = transfer();
    const first = transferOf(partition.apply(command, t0 + 1).outcome);
    partition.apply(adjust(3, { warehouseId: 'wh-2' }), t0 + 2);
    const again = partition.apply({ ...command, transferId: 'another-minted-id' }, t0 + 3);
    expect(again.writes).toBeUndefined();
    expect(transferOf(again.outcome)).toEqual({ ...first, replayed: true });
    const other = partition.apply({ ...command, quantity: 6 }, t0 + 4);
    expect(rejectionOf(other.outcome)).toMatchObject({ code: 'idempotency_key_reused' });
    expect(counts(partition.state, 'wh-1')).toEqual({ onHand: 15, reserved: 0, incoming: 0 });
  });
});

describe('refusals', () => {
  it('change nothing and journal nothing', () => {
    const partition = stocked(10);
    partition.apply(reserve({ quantity: 4 }), t0 + 1);
    const recorded = partition.records.length;
    const before = captureSnapshot(partition.state);
    const short = partition.apply(transfer({ quantity: 7 }), t0 + 2).outcome;
    expect(rejectionOf(short)).toMatchObject({
      code: 'insufficient_stock',
      details: { available: 6 },
    });
    const unknown = partition.apply(transfer({ fromWarehouseId: 'wh-9' }), t0 + 2).outcome;
    expect(rejectionOf(unknown).code).toBe('not_found');
    const same = partition.apply(transfer({ toWarehouseId: 'wh-1' }), t0 + 2).outcome;
    expect(rejectionOf(same)).toMatchObject({
      code: 'validation_failed',
      details: { field: 'to_warehouse_id' },
    });
    const unknownId = partition.apply(onTransfer('transfer-receive', 'no-such-id'), t0 + 3);
    expect(rejectionOf(unknownId.outcome).code).toBe('not_found');
    expect(partition.records.length).toBe(recorded);
    // The refused ones left no record, no key and no transfer behind.
    expect(captureSnapshot(partition.state)).toEqual(before);
    expect(counts(partition.state, 'wh-2')).toBeUndefined();
    expect(partition.apply(transfer({ quantity: 6 }), t0 + 4).outcome.ok).toBe(true);
  });

  it('bounds the transfers in transit (503 overloaded), never a direct one', () => {
    const partition = stocked();
    partition.apply(transfer({ inTransit: true, quantity: 1 }), t0 + 1);
    partition.apply(transfer({ inTransit: true, quantity: 1 }), t0 + 1);
    const third = partition.apply(transfer({ inTransit: true, quantity: 1 }), t0 + 1).outcome;
    expect(rejectionOf(third).code).toBe('overloaded');
    expect(partition.apply(transfer({ quantity: 1 }), t0 + 1).outcome.ok).toBe(true);
  });
});

describe('a transfer in transit', () => {
  it('leaves now, shows as incoming (not available), arrives on receive', () => {
    const partition = stocked();
    const command = transfer({ inTransit: true, quantity: 8 });
    const shipped = partition.apply(command, t0 + 1);
    expect(transferOf(shipped.outcome)).toMatchObject({ status: 'IN_TRANSIT' });
    expect(transferOf(shipped.outcome).receivedAtMs).toBeUndefined();
    const steps = (shipped.writes ?? []).map((write) => (write.record as TransferRecord).step);
    expect(steps).toEqual(['out', 'incoming']);
    expect(counts(partition.state, 'wh-1')).toEqual({ onHand: 12, reserved: 0, incoming: 0 });
    expect(counts(partition.state, 'wh-2')).toEqual({ onHand: 0, reserved: 0, incoming: 8 });
    const held = partition.apply(reserve({ warehouseId: 'wh-2', quantity: 1 }), t0 + 2).outcome;
    expect(rejectionOf(held)).toMatchObject({ details: { available: 0 } });

    const received = partition.apply(onTransfer('transfer-receive', command.transferId), t0 + 3);
    const body = transferOf(received.outcome);
    expect(body).toMatchObject({ status: 'RECEIVED', receivedAtMs: t0 + 3, replayed: false });
    expect(received.writes?.map((write) => (write.record as TransferRecord).step)).toEqual(['in']);
    // The key the transfer made is first stocked by its arrival: no back-in-stock.
    expect((received.writes?.[0]?.record as TransferRecord).signals).toBeUndefined();
    expect(counts(partition.state, 'wh-2')).toEqual({ onHand: 8, reserved: 0, incoming: 0 });

    const again = partition.apply(onTransfer('transfer-receive', command.transferId), t0 + 4);
    expect(again.writes).toBeUndefined();
    expect(transferOf(again.outcome)).toEqual({ ...body, replayed: true });
    const cancel = partition.apply(onTransfer('transfer-cancel', command.transferId), t0 + 5);
    expect(rejectionOf(cancel.outcome).code).toBe('transfer_received');
    expectSameAfterReplay(partition);
  });

  it('goes back to the source on cancel; a receive afterwards is refused', () => {
    const partition = stocked(8);
    const command = transfer({ inTransit: true, quantity: 8 });
    const shipped = partition.apply(command, t0 + 1);
    const out = shipped.writes?.[0]?.record as TransferRecord;
    expect(out.signals?.flags).toBe(stockSignal.soldOut);
    const cancelled = partition.apply(onTransfer('transfer-cancel', command.transferId), t0 + 2);
    expect(transferOf(cancelled.outcome)).toMatchObject({
      status: 'CANCELLED',
      cancelledAtMs: t0 + 2,
    });
    const records = (cancelled.writes ?? []).map((write) => write.record as TransferRecord);
    expect(records.map((record) => [record.warehouseId, record.step])).toEqual([
      ['wh-1', 'cancel'],
      ['wh-2', 'cancel'],
    ]);
    expect(records[0]?.signals?.flags).toBe(stockSignal.backInStock);
    expect(counts(partition.state, 'wh-1')).toEqual({ onHand: 8, reserved: 0, incoming: 0 });
    expect(counts(partition.state, 'wh-2')).toEqual({ onHand: 0, reserved: 0, incoming: 0 });
    const again = partition.apply(onTransfer('transfer-cancel', command.transferId), t0 + 3);
    expect(transferOf(again.outcome)).toMatchObject({ status: 'CANCELLED', replayed: true });
    const receive = partition.apply(onTransfer('transfer-receive', command.transferId), t0 + 4);
    expect(rejectionOf(receive.outcome).code).toBe('transfer_cancelled');
    const read = partition.apply(onTransfer('read-transfer', command.transferId), t0 + 4);
    expect(transferOf(read.outcome)).toMatchObject({ status: 'CANCELLED', replayed: false });
    expectSameAfterReplay(partition);
  });

  it('is never forgotten while in transit; finished ones are kept within the bounds', () => {
    const partition = stocked(100);
    const kept = transfer({ inTransit: true, quantity: 1 });
    partition.apply(kept, t0 + 1);
    const direct = transfer({ quantity: 1 });
    partition.apply(direct, t0 + 2);
    for (let index = 0; index < 5; index += 1) partition.apply(transfer({ quantity: 1 }), t0 + 3);
    // Beyond three finished, the oldest goes; the one in transit stays.
    const gone = partition.apply(onTransfer('read-transfer', direct.transferId), t0 + 4);
    expect(rejectionOf(gone.outcome).code).toBe('not_found');
    partition.apply(adjust(1), t0 + 200_000);
    const live = partition.apply(onTransfer('read-transfer', kept.transferId), t0 + 200_001);
    expect(transferOf(live.outcome).status).toBe('IN_TRANSIT');
    expect(partition.state.transfers.finishedCount).toBe(0);
    expectSameAfterReplay(partition);
  });

  it('restores from a snapshot taken mid-transit and from one written before transfers', () => {
    const partition = stocked();
    const command = transfer({ inTransit: true, quantity: 3 });
    partition.apply(command, t0 + 1);
    const restored = restoreSnapshot(captureSnapshot(partition.state), retention);
    const receive = restored.apply(onTransfer('transfer-receive', command.transferId), t0 + 2);
    expect(transferOf(receive.outcome).to).toMatchObject({ onHand: 3, available: 3 });
    const old = captureSnapshot(stocked().state);
    const { transfers: _transfers, transfersFinished: _finished, ...before } = old;
    expect(captureSnapshot(restoreSnapshot(before, retention))).toEqual(old);
  });
});

describe('the lines a transfer crosses', () => {
  it('never calls the first units at a key a transfer made a return to stock', () => {
    const partition = stocked();
    // The key is made by a transfer in transit (incoming only); a direct one arrives first.
    partition.apply(transfer({ inTransit: true, quantity: 2 }), t0 + 1);
    const direct = partition.apply(transfer({ quantity: 3 }), t0 + 2);
    const arrived = direct.writes?.[1]?.record as TransferRecord;
    expect([arrived.step, arrived.version, arrived.signals]).toEqual(['in', 2, undefined]);
    // Sold out there, then refilled: that is a return.
    partition.apply(adjust(-3, { warehouseId: 'wh-2' }), t0 + 3);
    const again = partition.apply(transfer({ quantity: 1 }), t0 + 4);
    expect((again.writes?.[1]?.record as TransferRecord).signals?.flags).toBe(
      stockSignal.backInStock,
    );
    expectSameAfterReplay(partition);
    // A snapshot keeps where a key was first stocked.
    const fresh = stocked();
    fresh.apply(transfer({ inTransit: true, quantity: 2 }), t0 + 1);
    const restored = restoreSnapshot(captureSnapshot(fresh.state), retention);
    const arrival = restored.apply(transfer({ quantity: 3 }), t0 + 2);
    expect((arrival.writes?.[1]?.record as TransferRecord).signals).toBeUndefined();
  });
});
