// Proves src/actors answers lots exactly as the contract's reference model does: random sequences
// of adjusts naming lots (dates fixed on first use, past ones refused), sets, FEFO reserves,
// confirms (partial too), releases, extends, transfers (direct, in transit, received, cancelled)
// and days going by (holds expiring, then lots written off, as a shard's sweep does) go to a
// PartitionState and to the model; every answer and every stock view with its lots is compared
// after each step, and at the end a replay of the journal (through the record codec) and a
// snapshot restore give the same state.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  captureSnapshot,
  restoreSnapshot,
  type Command,
  type PartitionState,
  type RetentionPolicy,
} from '../../src/actors/index.js';
import { decodeRecord, encodeRecord } from '../../src/persistence/index.js';
import {
  RecordingPartition,
  modelReplyOf,
  replayAll,
  reservationIdOf,
} from '../helpers/actor-fixtures.js';
import { runOptions } from '../helpers/fc-options.js';
import {
  ReferenceLedger,
  canonical,
  replyMismatch,
  type LedgerRequest,
} from '../model/reference-ledger.js';

/** Noon, 2026-12-02 (UTC): the lots' dates below end within a run's days. */
const t0 = Date.UTC(2026, 11, 2, 12);
const hourMs = 3_600_000;
const productId = 'sku-lots';
const warehouses = ['wh-a', 'wh-b', 'wh-c'];
const lotIds = ['A', 'B', 'C', 'D', 'E'];
const dates = [undefined, '2026-12-03', '2026-12-04', '2026-12-06', '2026-12-20'];
const ttlSecondsMax = 86_400;
const retention: RetentionPolicy = {
  retainFinishedMs: 30 * 86_400_000,
  retainFinishedMax: 100_000,
  onHandMax: 1_000,
  lotsPerKeyMax: 4,
};

type Step =
  | { kind: 'adjust'; warehouse: number; delta: number; lot: number; date: number }
  | { kind: 'set'; warehouse: number; onHand: number }
  | { kind: 'reserve'; warehouse: number; quantity: number; ttl: number }
  | { kind: 'confirm'; pick: number; quantity: number }
  | { kind: 'release'; pick: number }
  | { kind: 'extend'; pick: number; ttl: number }
  | { kind: 'transfer'; from: number; to: number; quantity: number; inTransit: boolean }
  | { kind: 'receive-transfer' | 'cancel-transfer'; pick: number }
  | { kind: 'advance'; hours: number }
  | { kind: 'retry'; pick: number };

const warehouse = fc.integer({ min: 0, max: warehouses.length - 1 });
const pick = fc.nat({ max: 1_000 });
const ttl = fc.constantFrom(60, 3600, 6 * 3600, ttlSecondsMax);
const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('adjust' as const),
      warehouse,
      delta: fc.integer({ min: -12, max: 30 }).filter((delta) => delta !== 0),
      // -1: no lot.
      lot: fc.integer({ min: -1, max: lotIds.length - 1 }),
      date: fc.integer({ min: 0, max: dates.length - 1 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      warehouse,
      onHand: fc.integer({ min: 0, max: 40 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      warehouse,
      quantity: fc.integer({ min: 1, max: 12 }),
      ttl,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('confirm' as const),
      pick,
      quantity: fc.integer({ min: 0, max: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('extend' as const), pick, ttl }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('transfer' as const),
      from: warehouse,
      to: warehouse,
      quantity: fc.integer({ min: 1, max: 15 }),
      inTransit: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom('receive-transfer' as const, 'cancel-transfer' as const),
      pick,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('retry' as const), pick }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      hours: fc.integer({ min: 1, max: 30 }),
    }),
  },
);

function toCommand(request: LedgerRequest, traceId: string): Command {
  switch (request.kind) {
    case 'adjust':
      return { ...request, actorId: '', traceId };
    case 'reserve':
      return { ...request, requesterId: '', traceId };
    case 'confirm':
    case 'release':
      return { ...request, traceId };
    case 'extend':
      return { ...request, lifetimeMaxMs: 3 * ttlSecondsMax * 1000, traceId };
    case 'transfer':
      return { ...request, reason: '', actorId: 'admin', traceId };
    case 'receive-transfer':
    case 'cancel-transfer': {
      const kind = request.kind === 'receive-transfer' ? 'transfer-receive' : 'transfer-cancel';
      return { kind, transferId: request.transferId, traceId };
    }
    default:
      throw new Error(`no command for ${request.kind}`);
  }
}

class Comparison {
  readonly actor = new RecordingPartition(retention, 3);
  readonly model = new ReferenceLedger(
    { onHandMax: retention.onHandMax, ttlSecondsMax, lotsPerKeyMax: 4 },
    'eager',
    'v1.1',
  );
  private nowMs = t0;
  private serial = 0;
  private readonly holds: string[] = [];
  private readonly transfers: string[] = [];
  /** Keyed adjusts and transfers sent, which a retry sends again under the same key. */
  private readonly keyed: LedgerRequest[] = [];
  readonly tally = new Map<string, number>();

  private fresh(): string {
    this.serial += 1;
    return reservationIdOf(this.serial);
  }

  private picked(list: readonly string[], index: number): string | undefined {
    return list[list.length - 1 - (index % Math.max(list.length, 1))];
  }

  perform(step: Step): void {
    this.nowMs += 1000;
    if (step.kind === 'advance') this.nowMs += step.hours * hourMs;
    this.sweep();
    const request = this.requestOf(step);
    if (request !== undefined) this.send(request);
  }

  private requestOf(step: Step): LedgerRequest | undefined {
    const warehouseOf = (index: number) => warehouses[index] ?? '';
    switch (step.kind) {
      case 'adjust': {
        const lotId = lotIds[step.lot];
        const expiresOn = dates[step.date];
        const lot =
          lotId === undefined
            ? {}
            : { lot: expiresOn === undefined ? { lotId } : { lotId, expiresOn } };
        const warehouseId = warehouseOf(step.warehouse);
        return {
          kind: 'adjust',
          productId,
          warehouseId,
          delta: step.delta,
          reason: '',
          // Every other lot's adjusts carry a key (a retry may send them again).
          idempotencyKey: step.lot % 2 === 0 ? `adjust-key-${this.serial}-${step.delta}` : '',
          ...lot,
        };
      }
      case 'set': {
        const warehouseId = warehouseOf(step.warehouse);
        return {
          kind: 'adjust',
          productId,
          warehouseId,
          delta: 0,
          setOnHand: step.onHand,
          reason: '',
          idempotencyKey: '',
        };
      }
      case 'reserve':
        return {
          kind: 'reserve',
          productId,
          warehouseId: warehouseOf(step.warehouse),
          quantity: step.quantity,
          ttlSeconds: step.ttl,
          idempotencyKey: `reserve-key-${this.serial}-padding`,
          reservationId: this.fresh(),
        };
      case 'confirm': {
        const id = this.picked(this.holds, step.pick);
        if (id === undefined) return undefined;
        const quantity = step.quantity === 0 ? {} : { quantity: step.quantity };
        return { kind: 'confirm', reservationId: id, ...quantity };
      }
      case 'release': {
        const id = this.picked(this.holds, step.pick);
        return id === undefined ? undefined : { kind: 'release', reservationId: id };
      }
      case 'extend': {
        const id = this.picked(this.holds, step.pick);
        return id === undefined
          ? undefined
          : { kind: 'extend', reservationId: id, ttlSeconds: step.ttl };
      }
      case 'transfer':
        return {
          kind: 'transfer',
          productId,
          fromWarehouseId: warehouseOf(step.from),
          toWarehouseId: warehouseOf(step.to),
          quantity: step.quantity,
          inTransit: step.inTransit,
          idempotencyKey: `transfer-key-${this.serial}-padding`,
          transferId: this.fresh(),
        };
      case 'receive-transfer':
      case 'cancel-transfer': {
        const id = this.picked(this.transfers, step.pick);
        return id === undefined ? undefined : { kind: step.kind, transferId: id };
      }
      case 'retry': {
        const index = this.keyed.length - 1 - (step.pick % Math.max(this.keyed.length, 1));
        const earlier = this.keyed[index];
        if (earlier?.kind === 'transfer') return { ...earlier, transferId: this.fresh() };
        return earlier;
      }
      case 'advance':
        return undefined;
    }
  }

  /** As a shard's sweep: due holds expire first, then ended lots are written off. */
  private sweep(): void {
    for (const hold of [...this.actor.state.pendingReservations()]) {
      if (hold.expiresAtMs <= this.nowMs) this.actor.expire(hold.id, this.nowMs);
    }
    for (const actor of [...this.actor.state.actors.values()]) {
      const result = this.actor.state.writeOffLots(actor.productId, actor.warehouseId, this.nowMs);
      for (const write of result?.writes ?? []) this.actor.records.push(write.record);
    }
    this.model.expireDue(this.nowMs);
    const writtenOff = this.model.writeOffLots(this.nowMs);
    this.count('write-off', writtenOff.length);
    this.compareStocks(this.actor.state, 'swept');
  }

  private count(name: string, by = 1): void {
    this.tally.set(name, (this.tally.get(name) ?? 0) + by);
  }

  private send(request: LedgerRequest): void {
    const keyed = request.kind === 'adjust' && request.idempotencyKey !== '';
    if (request.kind === 'transfer' || keyed) this.keyed.push(request);
    const expected = this.model.apply(request, this.nowMs);
    const result = this.actor.apply(toCommand(request, `trace-${this.serial}`), this.nowMs);
    const actual = modelReplyOf(result.outcome, true);
    const mismatch = replyMismatch(expected, actual);
    if (mismatch !== undefined) throw new Error(`${JSON.stringify(request)}: ${mismatch}`);
    const answer = expected.ok ? (expected.replayed === true ? 'replayed' : 'ok') : expected.code;
    const lotted = 'lot' in request ? ' (lot)' : '';
    this.count(`${request.kind}${lotted} ${answer}`);
    if (expected.ok && 'reservation' in expected && request.kind === 'reserve') {
      this.holds.push(expected.reservation.id);
      if (expected.reservation.lots !== undefined) this.count('hold with lots');
    }
    if (expected.ok && 'transfer' in expected && request.kind === 'transfer') {
      this.transfers.push(expected.transfer.transferId);
      if (expected.transfer.lots !== undefined) this.count('transfer with lots');
    }
    this.compareStocks(this.actor.state, 'live');
  }

  compareStocks(state: PartitionState, label: string): void {
    for (const warehouseId of warehouses) {
      const expected = canonical(this.model.stock(productId, warehouseId));
      const actual = canonical(state.actors.get(`${productId}\u0000${warehouseId}`)?.stockView());
      if (expected !== actual) {
        throw new Error(`${label} stock of ${warehouseId}: expected ${expected}, got ${actual}`);
      }
    }
  }

  /** A replay of the journal (through its codec) and a snapshot restore agree with the model. */
  finish(): void {
    const decoded = this.actor.records.map((record) => decodeRecord(encodeRecord(record)));
    expect(decoded).toEqual(this.actor.records);
    const replayed = replayAll(decoded, retention, 3);
    const restored = restoreSnapshot(captureSnapshot(this.actor.state), retention);
    expect(captureSnapshot(replayed)).toEqual(captureSnapshot(this.actor.state));
    for (const [label, state] of [
      ['replayed', replayed],
      ['restored', restored],
    ] as const) {
      this.compareStocks(state, label);
      for (const expected of this.model.reservations()) {
        const read = state.apply(
          { kind: 'read-reservation', reservationId: expected.id, traceId: '' },
          this.nowMs,
        );
        const mismatch = replyMismatch(
          { ok: true, reservation: expected },
          modelReplyOf(read.outcome, true),
        );
        if (mismatch !== undefined) throw new Error(`${label} ${expected.id}: ${mismatch}`);
      }
    }
  }
}

describe('lots: the actor against the reference model', () => {
  it('answers every step as the model does, and replays and restores to the same state', () => {
    const tally = new Map<string, number>();
    fc.assert(
      fc.property(
        fc.array(stepArbitrary, { minLength: 20, maxLength: 120, size: 'max' }),
        (steps) => {
          const comparison = new Comparison();
          comparison.perform({ kind: 'adjust', warehouse: 0, delta: 10, lot: -1, date: 0 });
          comparison.perform({ kind: 'adjust', warehouse: 0, delta: 10, lot: 0, date: 2 });
          for (const step of steps) comparison.perform(step);
          comparison.finish();
          for (const [name, count] of comparison.tally)
            tally.set(name, (tally.get(name) ?? 0) + count);
        },
      ),
      runOptions(300),
    );
    // The runs reach every rule of lots, not only the easy paths.
    for (const name of [
      'adjust (lot) ok',
      'adjust (lot) validation_failed',
      'adjust (lot) insufficient_stock',
      'adjust insufficient_stock',
      'reserve ok',
      'reserve insufficient_stock',
      'hold with lots',
      'confirm ok',
      'release ok',
      'extend validation_failed',
      'transfer with lots',
      'cancel-transfer ok',
      'receive-transfer ok',
      'write-off',
      'adjust (lot) replayed',
      'transfer replayed',
    ]) {
      expect(tally.get(name) ?? 0, name).toBeGreaterThan(0);
    }
  });
});
