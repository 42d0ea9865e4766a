// Proves src/actors answers transfers exactly as the contract's reference model does: random
// sequences of adjust / reserve / release / transfer (direct or in transit, retried, to the same
// warehouse, from a key never stocked) / receive / cancel / reads (fast-check) go to a
// PartitionState and to the model; every answer and every stock view is compared after each
// step, incoming never counts as available, and at the end a replay of the journal and a
// snapshot restore give the same state and answers.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  captureSnapshot,
  restoreSnapshot,
  type Command,
  type PartitionState,
  type RetentionPolicy,
} from '../../src/actors/index.js';
import {
  RecordingPartition,
  modelReplyOf,
  replayAll,
  reservationIdOf,
} from '../helpers/actor-fixtures.js';
import { runOptions } from '../helpers/fc-options.js';
import {
  ReferenceLedger,
  replyMismatch,
  type LedgerRequest,
  type TransferRequest,
} from '../model/reference-ledger.js';

const t0 = 1_700_000_000_000;
const productId = 'sku-t';
// The last warehouse is never stocked by an adjust: only transfers can make it.
const warehouses = ['wh-a', 'wh-b', 'wh-c', 'wh-new'];
const retention: RetentionPolicy = {
  retainFinishedMs: 10 * 86_400_000,
  retainFinishedMax: 100_000,
  onHandMax: 1_000,
};

type Step =
  | { kind: 'adjust'; warehouse: number; delta: number }
  | { kind: 'reserve'; warehouse: number; quantity: number }
  | { kind: 'release'; pick: number }
  | {
      kind: 'transfer';
      from: number;
      to: number;
      quantity: number;
      inTransit: boolean;
      key: number;
      reference: boolean;
    }
  | { kind: 'retry-transfer'; pick: number; change: boolean }
  | { kind: 'receive-transfer' | 'cancel-transfer' | 'read-transfer'; pick: number }
  | { kind: 'read-product' };

const warehouse = fc.integer({ min: 0, max: warehouses.length - 1 });
const pick = fc.nat({ max: 1_000 });
const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('adjust' as const),
      warehouse: fc.integer({ min: 0, max: 2 }),
      delta: fc.integer({ min: -20, max: 60 }).filter((delta) => delta !== 0),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      warehouse,
      quantity: fc.integer({ min: 1, max: 15 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), pick }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('transfer' as const),
      from: warehouse,
      to: warehouse,
      quantity: fc.oneof(fc.integer({ min: 1, max: 25 }), fc.integer({ min: 900, max: 1_000 })),
      inTransit: fc.boolean(),
      key: fc.integer({ min: -4, max: 3 }), // negative: a fresh key
      reference: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('retry-transfer' as const),
      pick,
      change: fc.boolean(),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        'receive-transfer' as const,
        'cancel-transfer' as const,
        'read-transfer' as const,
      ),
      pick,
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('read-product' as const) }) },
);

function toCommand(request: LedgerRequest, traceId: string): Command {
  switch (request.kind) {
    case 'adjust':
      return { ...request, actorId: '', traceId };
    case 'reserve':
      return { ...request, requesterId: '', traceId };
    case 'release':
      return { kind: 'release', reservationId: request.reservationId, traceId };
    case 'transfer':
      return { ...request, reason: request.reason ?? '', actorId: 'admin', traceId };
    case 'receive-transfer':
    case 'cancel-transfer':
    case 'read-transfer': {
      const kinds = {
        'receive-transfer': 'transfer-receive',
        'cancel-transfer': 'transfer-cancel',
        'read-transfer': 'read-transfer',
      } as const;
      return { kind: kinds[request.kind], transferId: request.transferId, traceId };
    }
    case 'read-product-stock':
      return { kind: 'read-product-stock', productId: request.productId };
    default:
      throw new Error(`no command for ${request.kind}`);
  }
}

class Comparison {
  readonly actor = new RecordingPartition(retention, 5);
  readonly model = new ReferenceLedger({ onHandMax: retention.onHandMax }, 'eager', 'v1.1');
  private nowMs = t0;
  private serial = 0;
  private readonly holds: string[] = [];
  private readonly transfers: string[] = [];
  private readonly sent: TransferRequest[] = [];
  readonly tally = new Map<string, number>();

  private fresh(): string {
    this.serial += 1;
    return reservationIdOf(this.serial);
  }

  perform(step: Step): void {
    // Time moves a little each step; no hold expires within a run (ttl 3600 s).
    this.nowMs += 7;
    switch (step.kind) {
      case 'adjust':
        return this.send({
          kind: 'adjust',
          productId,
          warehouseId: warehouses[step.warehouse] ?? '',
          delta: step.delta,
          reason: '',
          idempotencyKey: '',
        });
      case 'reserve':
        return this.send({
          kind: 'reserve',
          productId,
          warehouseId: warehouses[step.warehouse] ?? '',
          quantity: step.quantity,
          ttlSeconds: 3600,
          idempotencyKey: `reserve-key-${this.serial}-padding`,
          reservationId: this.fresh(),
        });
      case 'release': {
        const id = this.holds[step.pick % Math.max(this.holds.length, 1)];
        if (id !== undefined) this.send({ kind: 'release', reservationId: id });
        return;
      }
      case 'transfer':
        return this.send(this.transferRequest(step));
      case 'retry-transfer': {
        const earlier = this.sent[this.sent.length - 1 - (step.pick % 6)];
        if (earlier === undefined) return;
        const quantity = earlier.quantity + (step.change ? 1 : 0);
        return this.send({ ...earlier, quantity, transferId: this.fresh() });
      }
      case 'read-product':
        return this.send({ kind: 'read-product-stock', productId });
      default: {
        const known = this.transfers.length;
        const id =
          step.pick % 11 === 10 || known === 0
            ? 'ffffffff-0000-8000-8000-000000000000'
            : (this.transfers[known - 1 - (step.pick % Math.min(known, 6))] as string);
        return this.send({ kind: step.kind, transferId: id });
      }
    }
  }

  private transferRequest(step: Extract<Step, { kind: 'transfer' }>): TransferRequest {
    return {
      kind: 'transfer',
      productId,
      fromWarehouseId: warehouses[step.from] ?? '',
      toWarehouseId: warehouses[step.to] ?? '',
      quantity: step.quantity,
      inTransit: step.inTransit,
      idempotencyKey:
        step.key < 0 ? `fresh-transfer-key-${this.serial}` : `transfer-key-${step.key}-padding`,
      ...(step.reference ? { reference: 'TR-17' } : {}),
      transferId: this.fresh(),
    };
  }

  private send(request: LedgerRequest): void {
    if (request.kind === 'transfer') this.sent.push(request);
    const expected = this.model.apply(request, this.nowMs);
    const result = this.actor.apply(toCommand(request, `trace-${this.serial}`), this.nowMs);
    const actual = modelReplyOf(result.outcome, true);
    const mismatch = replyMismatch(expected, actual);
    if (mismatch !== undefined) throw new Error(`${JSON.stringify(request)}: ${mismatch}`);
    const answer = expected.ok ? (expected.replayed === true ? 'replayed' : 'ok') : expected.code;
    const name = `${request.kind} ${answer}`;
    this.tally.set(name, (this.tally.get(name) ?? 0) + 1);
    if (expected.ok && 'reservation' in expected) this.holds.push(expected.reservation.id);
    if (expected.ok && 'transfer' in expected && expected.replayed === false) {
      this.transfers.push(expected.transfer.transferId);
    }
    this.compareStocks(this.actor.state, 'live');
  }

  compareStocks(state: PartitionState, label: string): void {
    for (const warehouseId of warehouses) {
      const expected = JSON.stringify(this.model.stock(productId, warehouseId));
      const actual = JSON.stringify(
        state.actors.get(`${productId}\u0000${warehouseId}`)?.stockView(),
      );
      if (expected !== actual) {
        throw new Error(`${label} stock of ${warehouseId}: expected ${expected}, got ${actual}`);
      }
    }
  }

  /** A replay of the journal and a snapshot restore answer every transfer as the model does. */
  finish(): void {
    const replayed = replayAll(this.actor.records, retention, 5);
    const restored = restoreSnapshot(captureSnapshot(this.actor.state), retention);
    expect(captureSnapshot(replayed)).toEqual(captureSnapshot(this.actor.state));
    for (const [label, state] of [
      ['replayed', replayed],
      ['restored', restored],
    ] as const) {
      this.compareStocks(state, label);
      for (const expected of this.model.transferViews()) {
        const read = state.apply(
          { kind: 'read-transfer', transferId: expected.transferId, traceId: '' },
          this.nowMs,
        );
        const mismatch = replyMismatch(
          { ok: true, transfer: expected },
          modelReplyOf(read.outcome),
        );
        if (mismatch !== undefined) throw new Error(`${label} ${expected.transferId}: ${mismatch}`);
      }
    }
  }
}

describe('transfers: the actor against the reference model', () => {
  it('answers every step as the model does, and replays and restores to the same state', () => {
    const tally = new Map<string, number>();
    fc.assert(
      fc.property(
        fc.array(stepArbitrary, { minLength: 20, maxLength: 120, size: 'max' }),
        (steps) => {
          const comparison = new Comparison();
          // Two warehouses start stocked, so most transfers have something to move.
          comparison.perform({ kind: 'adjust', warehouse: 0, delta: 60 });
          comparison.perform({ kind: 'adjust', warehouse: 1, delta: 40 });
          for (const step of steps) comparison.perform(step);
          comparison.finish();
          for (const [name, count] of comparison.tally)
            tally.set(name, (tally.get(name) ?? 0) + count);
        },
      ),
      runOptions(300),
    );
    // The runs reach every rule of the contract, not only the easy paths.
    for (const name of [
      'transfer ok',
      'transfer replayed',
      'transfer insufficient_stock',
      'transfer not_found',
      'transfer validation_failed',
      'transfer idempotency_key_reused',
      'receive-transfer ok',
      'receive-transfer replayed',
      'receive-transfer transfer_cancelled',
      'cancel-transfer ok',
      'cancel-transfer replayed',
      'cancel-transfer transfer_received',
      'read-transfer not_found',
    ]) {
      expect(tally.get(name) ?? 0, name).toBeGreaterThan(0);
    }
  });
});
