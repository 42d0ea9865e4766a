// Proves invariants, replay and snapshot+tail recovery on random command sequences (fast-check).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  captureSnapshot,
  restoreSnapshot,
  type AdjustCommand,
  type ApplyResult,
  type Command,
  type JournalRecord,
  type PartitionSnapshot,
  type PartitionState,
  type ReservationStatus,
  type ReserveCommand,
  type RetentionPolicy,
  type StockRecord,
} from '../../src/actors/index.js';
import { decodeRecord, encodeRecord } from '../../src/persistence/record-codec.js';
import { decodeSnapshotForRestore, encodeSnapshot } from '../../src/persistence/snapshot-codec.js';
import {
  adjust,
  onReservation,
  readStock,
  RecordingPartition,
  replayAll,
  reserve,
} from '../helpers/actor-fixtures.js';
import { runOptions } from '../helpers/fc-options.js';

const t0 = 1_700_000_000_000;
const partitionNumber = 3;
// Index 0 is the hot key: most commands go to it, so holds and adjusts contend.
const products = ['hot-sku', 'sku-a', 'sku-b', 'sku-c'];

type Step =
  | { kind: 'adjust'; key: number; delta: number; idempotency: number; reason: number }
  | { kind: 'reserve'; key: number; quantity: number; ttlSeconds: number; idempotency: number }
  | { kind: 'retry-reserve' | 'retry-adjust'; pick: number }
  | { kind: 'confirm' | 'release' | 'read-reservation'; pick: number }
  | { kind: 'read-stock'; key: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'advance-to-expiry'; pick: number }
  | { kind: 'sweep' };

function productOf(key: number): string {
  const product = products[key];
  if (product === undefined) throw new Error(`no product ${key}`);
  return product;
}

const key = fc.oneof(
  { arbitrary: fc.constant(0), weight: 3 },
  { arbitrary: fc.integer({ min: 1, max: products.length - 1 }), weight: 1 },
);
const pick = fc.nat({ max: 1_000 });

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('adjust' as const),
      key,
      delta: fc.integer({ min: -30, max: 80 }).filter((delta) => delta !== 0),
      idempotency: fc.integer({ min: -3, max: 2 }), // negative: no idempotency key
      reason: fc.nat({ max: 1 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      key,
      quantity: fc.integer({ min: 1, max: 12 }),
      ttlSeconds: fc.constantFrom(60, 120, 600),
      idempotency: fc.integer({ min: -4, max: 3 }), // negative: a fresh key
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constantFrom('retry-reserve' as const, 'retry-adjust' as const),
      pick,
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constantFrom('confirm' as const, 'release' as const, 'read-reservation' as const),
      pick,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('read-stock' as const), key }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 5_000 }), fc.integer({ min: 0, max: 400_000 })),
    }),
  },
  // To the very millisecond a hold expires: the boundary where an off-by-one would hide.
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance-to-expiry' as const), pick }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'sweep' as const }) },
);

const retention: fc.Arbitrary<RetentionPolicy> = fc.record({
  retainFinishedMs: fc.integer({ min: 0, max: 900_000 }),
  retainFinishedMax: fc.integer({ min: 1, max: 12 }),
  onHandMax: fc.constantFrom(150, 1_000_000),
});

const terminalOf = { confirmed: 'CONFIRMED', released: 'RELEASED', expired: 'EXPIRED' } as const;
const rejectionStatus = {
  reservation_confirmed: 'CONFIRMED',
  reservation_released: 'RELEASED',
  reservation_expired: 'EXPIRED',
} as const;

function freshId(): string {
  return reserve().reservationId;
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(message);
}

/** Drives one partition through the steps, checking each answer and the invariants as it goes. */
class Run {
  readonly partition: RecordingPartition;
  nowMs = t0;
  /** Ids of holds that were created (a reserved record was written), oldest first. */
  readonly held: string[] = [];
  private readonly heldSet = new Set<string>();
  /** Reserve commands sent, for retries; and the hold each (stock key, idempotency key) made. */
  private readonly sent: ReserveCommand[] = [];
  private readonly grants = new Map<string, string>();
  private readonly adjusts: AdjustCommand[] = [];
  private lastStockKey = '';
  /** The terminal status each finished hold reached, from its record. */
  readonly terminal = new Map<string, ReservationStatus>();

  constructor(readonly retention: RetentionPolicy) {
    this.partition = new RecordingPartition(retention, partitionNumber);
  }

  get state(): PartitionState {
    return this.partition.state;
  }

  perform(next: Step): void {
    switch (next.kind) {
      case 'advance':
        this.nowMs += next.ms;
        return;
      case 'advance-to-expiry': {
        const pending = [...this.state.pendingReservations()];
        const target = pending[next.pick % Math.max(pending.length, 1)]?.expiresAtMs ?? 0;
        this.nowMs = Math.max(this.nowMs, target);
        return;
      }
      case 'sweep':
        return this.sweep();
      case 'adjust':
      case 'retry-adjust': {
        const command =
          next.kind === 'adjust'
            ? this.adjustCommand(next)
            : this.adjusts[this.adjusts.length - 1 - (next.pick % 10)];
        if (command === undefined) return;
        this.adjusts.push(command);
        return this.check(next, this.apply(command));
      }
      case 'reserve':
        return this.reserve(next, this.reserveCommand(next));
      case 'retry-reserve': {
        const earlier = this.sent[this.sent.length - 1 - (next.pick % 10)];
        // The same request again; the router mints a fresh id for every request it routes.
        if (earlier !== undefined) this.reserve(next, { ...earlier, reservationId: freshId() });
        return;
      }
      case 'read-stock':
        return this.check(next, this.apply(readStock(productOf(next.key), 'wh-1')));
      default: {
        // Mostly holds this run created (recent ones more often); now and then an unknown id.
        const recent = Math.min(this.held.length, 10);
        const id =
          next.pick % 16 === 15 || recent === 0
            ? 'ffffffff-0000-8000-8000-000000000000'
            : (this.held[this.held.length - 1 - (next.pick % recent)] ?? '');
        return this.check(next, this.apply(onReservation(next.kind, id)), id);
      }
    }
  }

  private apply(command: Command): ApplyResult {
    if ('productId' in command) this.lastStockKey = `${command.productId}\u0000wh-1`;
    return this.partition.apply(command, this.nowMs);
  }

  private adjustCommand(next: Extract<Step, { kind: 'adjust' }>): AdjustCommand {
    return adjust(next.delta, {
      productId: productOf(next.key),
      warehouseId: 'wh-1',
      reason: next.reason === 0 ? '' : 'cycle count',
      idempotencyKey: next.idempotency < 0 ? '' : `adjust-key-${next.idempotency}-padding`,
    });
  }

  private reserveCommand(next: Extract<Step, { kind: 'reserve' }>): ReserveCommand {
    const command = reserve({
      productId: productOf(next.key),
      warehouseId: 'wh-1',
      quantity: next.quantity,
      ttlSeconds: next.ttlSeconds,
    });
    if (next.idempotency < 0) return command;
    return { ...command, idempotencyKey: `reserve-key-${next.idempotency}-padding` };
  }

  /** A reserve, first or retried; a replay must show the hold its key made, and nothing else. */
  private reserve(next: Step, command: ReserveCommand): void {
    this.sent.push(command);
    const result = this.apply(command);
    const grant = `${command.productId}|${command.idempotencyKey}`;
    if (result.record?.type === 'reserved') this.grants.set(grant, result.record.reservationId);
    const { outcome } = result;
    if (outcome.ok && 'reservation' in outcome && outcome.replayed) {
      const view = outcome.reservation;
      check(view.reservationId === this.grants.get(grant), 'a replay showed another hold');
      check(view.status === 'PENDING', 'a reserve replay did not show PENDING');
      check(view.quantity === command.quantity, 'a replay answered another quantity');
    }
    this.check(next, result);
  }

  private sweep(): void {
    const due = [...this.state.pendingReservations()]
      .filter((reservation) => reservation.expiresAtMs <= this.nowMs)
      .map((reservation) => reservation.id);
    for (const id of due) {
      const result = this.partition.expire(id, this.nowMs);
      expect(result?.record?.type, `sweep of due hold ${id}`).toBe('expired');
      if (result !== undefined) this.check({ kind: 'sweep' }, result, id);
    }
  }

  /** Checks one answer against the record it wrote and the history of its hold. */
  private check(next: Step, result: ApplyResult, id?: string): void {
    const { outcome, record } = result;
    if (record !== undefined) this.checkRecord(record as StockRecord, result);
    if (outcome.ok && outcome.replayed) check(record === undefined, 'a replay wrote a record');
    if (outcome.ok && 'reservation' in outcome && !outcome.replayed) {
      const view = outcome.reservation;
      const finished = this.terminal.get(view.reservationId);
      if (view.status === 'PENDING') check(finished === undefined, 'a finished hold shows PENDING');
      else check(view.status === finished, `a ${finished} hold shows ${view.status}`);
      if (view.status === 'CONFIRMED' && record !== undefined) {
        check(view.expiresAtMs > this.nowMs, 'a hold was confirmed at or after its expiry');
      }
    }
    if (next.kind === 'confirm' || next.kind === 'release') this.checkFinishAnswer(next, result);
    if (!outcome.ok && id !== undefined && outcome.code in rejectionStatus) {
      const status = rejectionStatus[outcome.code as keyof typeof rejectionStatus];
      check(
        this.terminal.get(id) === status,
        `${outcome.code} for a ${this.terminal.get(id)} hold`,
      );
    }
    if (!outcome.ok && outcome.code === 'not_found' && id !== undefined) {
      const pending = this.heldSet.has(id) && !this.terminal.has(id);
      check(!pending, `a pending hold ${id} was not found`);
    }
    if (!outcome.ok && outcome.code === 'insufficient_stock') {
      // Only reserve and adjust can answer this; both name the stock key they were refused on.
      const available = this.state.actors.get(this.lastStockKey)?.available ?? 0;
      check(outcome.details?.available === available, `details.available is not ${available}`);
    }
    this.checkInvariants();
  }

  /** A 200 to confirm says CONFIRMED, to release RELEASED; a repeat is a 200, never a 409. */
  private checkFinishAnswer(next: Step, { outcome }: ApplyResult): void {
    const done = next.kind === 'confirm' ? 'CONFIRMED' : 'RELEASED';
    if (outcome.ok && 'reservation' in outcome) {
      check(
        outcome.reservation.status === done,
        `${next.kind} answered ${outcome.reservation.status}`,
      );
    }
    const repeat = next.kind === 'confirm' ? 'reservation_confirmed' : 'reservation_released';
    if (!outcome.ok) check(outcome.code !== repeat, `a repeated ${next.kind} answered ${repeat}`);
  }

  private checkRecord(record: StockRecord, result: ApplyResult): void {
    check(record.atMs === this.nowMs, 'the record is not stamped with the clock');
    check(result.actor?.version === record.version, 'the record does not carry the new version');
    if (record.type === 'reserved') {
      check(!this.heldSet.has(record.reservationId), 'a hold id was reused');
      this.held.push(record.reservationId);
      this.heldSet.add(record.reservationId);
    } else if (
      record.type !== 'adjusted' &&
      record.type !== 'extended' &&
      record.type !== 'transfer' &&
      record.type !== 'lot-expired'
    ) {
      check(!this.terminal.has(record.reservationId), 'a hold finished twice');
      this.terminal.set(record.reservationId, terminalOf[record.type as keyof typeof terminalOf]);
    }
  }

  checkInvariants(): void {
    let retained = 0;
    for (const actor of this.state.actors.values()) {
      const { onHand, reserved, productId } = actor;
      check(0 <= reserved && reserved <= onHand, `${productId}: reserved ${reserved}, ${onHand}`);
      check(onHand <= this.retention.onHandMax, `${productId}: on_hand over onHandMax`);
      let pendingSum = 0;
      for (const reservation of actor.reservations?.values() ?? []) {
        if (reservation.status === 'PENDING') pendingSum += reservation.quantity;
        check(this.state.pendingHold(reservation.id)?.actor === actor, 'hold without owner');
        retained += 1;
      }
      check(pendingSum === reserved, `${productId}: holds sum to ${pendingSum}, not ${reserved}`);
    }
    check(this.state.pending.size === retained, 'owner of a forgotten hold kept');
    check(this.state.finishedCount <= this.retention.retainFinishedMax, 'too many retained');
  }
}

function ownersOf(state: PartitionState): string[] {
  return [...state.pending.ids()].sort();
}

/** Snapshot and tail go through the codecs, as recovery reads them from the journal. */
function recover(
  snapshot: PartitionSnapshot,
  tail: readonly JournalRecord[],
  policy: RetentionPolicy,
): PartitionState {
  const state = restoreSnapshot(decodeSnapshotForRestore(encodeSnapshot(snapshot)), policy);
  for (const record of tail) state.replay(decodeRecord(encodeRecord(record)));
  return state;
}

describe('PartitionState under random command sequences', () => {
  it('keeps its invariants, and replay and snapshot + tail rebuild the same partition', () => {
    const steps = fc.array(step, { minLength: 1, maxLength: 150, size: 'max' });
    // Opening stock for the hot key and two others; the last key is never stocked.
    const opening = fc.tuple(...[0, 1, 2].map(() => fc.integer({ min: 1, max: 120 })));
    const property = fc.property(
      retention,
      opening,
      steps,
      fc.nat(),
      (policy, stock, plan, cut) => {
        const run = new Run(policy);
        stock.forEach((delta, key) => {
          run.perform({ kind: 'adjust', key, delta, idempotency: -1, reason: 0 });
        });
        const snapshotAt = cut % (plan.length + 1);
        let snapshot = captureSnapshot(run.state);
        let recordsAtSnapshot = 0;
        plan.forEach((next, index) => {
          if (index === snapshotAt) {
            snapshot = captureSnapshot(run.state);
            recordsAtSnapshot = run.partition.records.length;
          }
          run.perform(next);
        });
        if (snapshotAt === plan.length) {
          snapshot = captureSnapshot(run.state);
          recordsAtSnapshot = run.partition.records.length;
        }
        const live = captureSnapshot(run.state);
        const records = run.partition.records;

        const replayed = replayAll(records, policy, partitionNumber);
        expect(captureSnapshot(replayed), 'full replay').toStrictEqual(live);
        expect(ownersOf(replayed)).toStrictEqual(ownersOf(run.state));

        expect(captureSnapshot(restoreSnapshot(live, policy)), 'capture∘restore').toStrictEqual(
          live,
        );

        const recovered = recover(snapshot, records.slice(recordsAtSnapshot), policy);
        expect(captureSnapshot(recovered), 'snapshot + tail').toStrictEqual(live);
        expect(ownersOf(recovered)).toStrictEqual(ownersOf(run.state));

        // The recovered partition answers every hold as the live one does, expiries included.
        for (const id of run.held) {
          const read = onReservation('read-reservation', id);
          const expected = run.state.apply(read, run.nowMs);
          const actual = recovered.apply(read, run.nowMs);
          expect(actual.outcome).toStrictEqual(expected.outcome);
          expect(actual.record).toStrictEqual(expected.record);
        }
        expect(captureSnapshot(recovered)).toStrictEqual(captureSnapshot(run.state));
      },
    );
    fc.assert(property, runOptions(1_000));
  });

  it('never lets the hot key hold more than was put in, under a flood of reserves', () => {
    const flood = fc.array(
      fc.record({ quantity: fc.integer({ min: 1, max: 5 }), advanceMs: fc.nat({ max: 30_000 }) }),
      { minLength: 1, maxLength: 300 },
    );
    const property = fc.property(fc.integer({ min: 1, max: 200 }), flood, (stock, requests) => {
      const run = new Run({ retainFinishedMs: 60_000, retainFinishedMax: 50, onHandMax: 1e6 });
      run.perform({ kind: 'adjust', key: 0, delta: stock, idempotency: -1, reason: 0 });
      let granted = 0;
      for (const request of requests) {
        run.perform({ kind: 'advance', ms: request.advanceMs });
        run.perform({ kind: 'sweep' });
        const result = run.partition.apply(
          reserve({ productId: productOf(0), warehouseId: 'wh-1', quantity: request.quantity }),
          run.nowMs,
        );
        if (result.record !== undefined) granted += request.quantity;
        const actor = result.actor;
        expect(actor?.reserved ?? 0).toBeLessThanOrEqual(stock);
        run.checkInvariants();
      }
      const expired = run.partition.records
        .filter((record) => record.type === 'expired')
        .reduce((sum, record) => sum + (record.type === 'expired' ? record.quantity : 0), 0);
      expect(granted - expired).toBe(run.state.actors.get(`${productOf(0)}\u0000wh-1`)?.reserved);
    });
    fc.assert(property, runOptions(200));
  });
});
