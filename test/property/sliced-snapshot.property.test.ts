// Proves a snapshot taken in slices (SnapshotCapture + SnapshotEncoder) is exact: started at
// some point of a random run, with random commands (holds, confirms, releases, extends, expiries,
// adjusts with idempotency keys and lots, lot write-offs, purchase limits, transfers, carts and
// their confirm pins, and retention forgetting) between its slices, its bytes are those of
// `encodeSnapshot(captureSnapshot(...))` taken at its start; and restoring it and replaying the
// records after its start rebuilds the live partition.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SnapshotCapture,
  captureSnapshot,
  defaultSettings,
  restoreSnapshot,
  type ApplyResult,
  type CartHoldsAction,
  type Command,
  type JournalRecord,
  type PartitionSnapshot,
  type RetentionPolicy,
} from '../../src/actors/index.js';
import { watcherCount } from '../../src/actors/change-watch.js';
import { decodeRecord, encodeRecord } from '../../src/persistence/record-codec.js';
import {
  SnapshotEncoder,
  decodeSnapshot,
  decodeSnapshotForRestore,
  encodeSnapshot,
} from '../../src/persistence/snapshot-codec.js';
import {
  RecordingPartition,
  adjust,
  onReservation,
  reserve,
  transferCommand,
} from '../helpers/actor-fixtures.js';
import { runOptions } from '../helpers/fc-options.js';

const t0 = Date.UTC(2026, 11, 2, 12);
const home = 9;
const keys = [
  ['sku-a', 'wh-1'],
  ['sku-a', 'wh-2'],
  ['sku-b', 'wh-1'],
  ['sku-c', 'wh-1'],
] as const;
const buyers = ['', '', 'buyer-1', 'buyer-2'];
const lots = [undefined, { lotId: 'lot-x', expiresOn: '2026-12-03' }, { lotId: 'lot-y' }];

type Step =
  | { kind: 'adjust'; key: number; delta: number; idem: number; lot: number }
  | { kind: 'reserve'; key: number; quantity: number; ttl: number; buyer: number; idem: number }
  | { kind: 'confirm' | 'release' | 'expire' | 'extend'; pick: number; partial: boolean }
  | { kind: 'limit'; key: number; max: number }
  | { kind: 'transfer'; key: number; quantity: number; inTransit: boolean }
  | { kind: 'transfer-receive' | 'transfer-cancel'; pick: number }
  | { kind: 'cart'; lines: number[]; quantity: number }
  | { kind: 'cart-holds'; pick: number; action: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'write-off'; key: number }
  | { kind: 'slice'; units: number };

const key = fc.nat({ max: keys.length - 1 });
const pick = fc.nat({ max: 1000 });
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('adjust' as const),
      key,
      delta: fc.integer({ min: -20, max: 60 }).filter((delta) => delta !== 0),
      idem: fc.integer({ min: -3, max: 4 }),
      lot: fc.nat({ max: lots.length - 1 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      key,
      quantity: fc.integer({ min: 1, max: 6 }),
      ttl: fc.constantFrom(30, 60, 600),
      buyer: fc.nat({ max: buyers.length - 1 }),
      idem: fc.integer({ min: -4, max: 3 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        'confirm' as const,
        'release' as const,
        'expire' as const,
        'extend' as const,
      ),
      pick,
      partial: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('limit' as const), key, max: fc.nat({ max: 8 }) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('transfer' as const),
      key,
      quantity: fc.integer({ min: 1, max: 5 }),
      inTransit: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constantFrom('transfer-receive' as const, 'transfer-cancel' as const),
      pick,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('cart' as const),
      lines: fc.array(key, { minLength: 1, maxLength: 3 }),
      quantity: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('cart-holds' as const),
      pick,
      action: fc.nat({ max: 5 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.oneof(fc.integer({ min: 0, max: 40_000 }), fc.integer({ min: 0, max: 90_000_000 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('write-off' as const), key }) },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('slice' as const),
      units: fc.integer({ min: 1, max: 6 }),
    }),
  },
);

const retention: fc.Arbitrary<RetentionPolicy> = fc.record({
  retainFinishedMs: fc.constantFrom(0, 30_000, 3_600_000),
  retainFinishedMax: fc.integer({ min: 1, max: 8 }),
  onHandMax: fc.constant(1_000_000),
  holdLifetimeMaxMs: fc.constant(3 * 3_600_000),
});

let serial = 0;

/** Drives a partition with the steps; slices advance the capture, if one is under way. */
class Run {
  readonly partition: RecordingPartition;
  nowMs = t0;
  private readonly holds: string[] = [];
  private readonly transfers: string[] = [];
  private readonly carts: { cartId: string; ids: string[] }[] = [];
  capture: SnapshotCapture | undefined;

  constructor(readonly policy: RetentionPolicy) {
    this.partition = new RecordingPartition(policy, home);
  }

  private apply(command: Command): ApplyResult {
    const result = this.partition.apply(command, this.nowMs);
    for (const record of [result.record, ...(result.writes ?? []).map((w) => w.record)]) {
      if (record?.type === 'reserved') this.holds.push(record.reservationId);
      if (record?.type === 'transfer' && record.step === 'out')
        this.transfers.push(record.transferId);
    }
    return result;
  }

  private hold(index: number): string {
    return this.holds[this.holds.length - 1 - (index % Math.max(1, this.holds.length))] ?? '';
  }

  perform(next: Step): void {
    serial += 1;
    const hex = serial.toString(16).padStart(8, '0');
    switch (next.kind) {
      case 'slice':
        this.capture?.advance(next.units);
        return;
      case 'advance':
        this.nowMs += next.ms;
        return;
      case 'adjust': {
        const [productId, warehouseId] = keys[next.key] as readonly [string, string];
        const lot = lots[next.lot];
        this.apply(
          adjust(next.delta, {
            productId,
            warehouseId,
            idempotencyKey: next.idem < 0 ? '' : `adjust-key-${next.idem}-${next.key}`,
            ...(lot === undefined ? {} : { lot }),
          }),
        );
        return;
      }
      case 'reserve': {
        const [productId, warehouseId] = keys[next.key] as readonly [string, string];
        const buyerId = buyers[next.buyer] as string;
        const command = reserve({
          productId,
          warehouseId,
          quantity: next.quantity,
          ttlSeconds: next.ttl,
          ...(buyerId === '' ? {} : { buyerId }),
        });
        const idempotencyKey =
          next.idem < 0 ? command.idempotencyKey : `reserve-key-${next.idem}-padding`;
        this.apply({ ...command, idempotencyKey });
        return;
      }
      case 'confirm':
      case 'release': {
        const command = onReservation(next.kind, this.hold(next.pick));
        this.apply(next.partial && next.kind === 'confirm' ? { ...command, quantity: 1 } : command);
        return;
      }
      case 'extend':
        this.apply({
          kind: 'extend',
          reservationId: this.hold(next.pick),
          ttlSeconds: 120,
          lifetimeMaxMs: 3 * 3_600_000,
          traceId: 'extend',
        });
        return;
      case 'expire': {
        const result = this.partition.expire(this.hold(next.pick), this.nowMs);
        void result;
        return;
      }
      case 'limit': {
        const productId = keys[next.key]?.[0] as string;
        this.apply({
          kind: 'put-settings',
          productId,
          changes: { maxPerBuyer: next.max === 0 ? null : next.max },
          actorId: 'admin',
          traceId: 'settings',
        });
        return;
      }
      case 'transfer': {
        const [productId, from] = keys[next.key] as readonly [string, string];
        const to = from === 'wh-1' ? 'wh-2' : 'wh-1';
        const transferId = `${home.toString(16).padStart(4, '0')}aaaa-0000-8000-8000-${hex}0000`;
        this.apply(
          transferCommand({
            transferId,
            productId,
            fromWarehouseId: from,
            toWarehouseId: to,
            quantity: next.quantity,
            inTransit: next.inTransit,
          }),
        );
        return;
      }
      case 'transfer-receive':
      case 'transfer-cancel': {
        const transferId = this.transfers[next.pick % Math.max(1, this.transfers.length)];
        if (transferId !== undefined) this.apply({ kind: next.kind, transferId, traceId: 't' });
        return;
      }
      case 'cart': {
        const cartId = `${home.toString(16).padStart(4, '0')}0000-0000-8000-8000-${hex}0000`;
        const lines = next.lines.map((index, line) => {
          const [productId, warehouseId] = keys[index] as readonly [string, string];
          return { index: line, productId, warehouseId, quantity: next.quantity };
        });
        const terms = {
          cartId,
          idempotencyKey: `cart-key-${hex}`,
          fingerprint: `body-${hex}`,
          ttlSeconds: 600,
          buyerId: '',
          reference: '',
          requesterId: 'user',
          traceId: `trace-${hex}`,
        };
        const mode = serial % 3 === 0 ? 'prepare' : 'whole';
        const { outcome } = this.apply({ kind: 'cart-place', mode, terms, lines, holdsMax: 100 });
        if (outcome.ok && 'cart' in outcome) {
          this.carts.push({ cartId, ids: outcome.cart.holds.map((hold) => hold.reservationId) });
        }
        return;
      }
      case 'cart-holds': {
        const cart = this.carts[next.pick % Math.max(1, this.carts.length)];
        if (cart === undefined) return;
        const attempt = `attempt-${next.pick % 2}`;
        const actions: CartHoldsAction[] = [
          { kind: 'pin', attempt, quantities: {} },
          { kind: 'confirm-pinned', attempt },
          { kind: 'unpin', attempt },
          { kind: 'confirm', quantities: {} },
          { kind: 'release' },
          { kind: 'extend', ttlSeconds: 300, lifetimeMaxMs: 3 * 3_600_000 },
        ];
        const action = actions[next.action] as CartHoldsAction;
        this.apply({
          kind: 'cart-holds',
          cartId: cart.cartId,
          reservationIds: cart.ids,
          action,
          traceId: 'cart',
        });
        if (next.action === 1) {
          this.apply({ kind: 'cart-abort', cartId: cart.cartId, traceId: 'abort' });
        }
        return;
      }
      case 'write-off': {
        const [productId, warehouseId] = keys[next.key] as readonly [string, string];
        const result = this.partition.state.writeOffLots(productId, warehouseId, this.nowMs);
        for (const write of result?.writes ?? []) this.partition.records.push(write.record);
        return;
      }
    }
  }
}

function recover(payload: Uint8Array, tail: readonly JournalRecord[], policy: RetentionPolicy) {
  // As recovery decodes it: the holds visited one at a time.
  const state = restoreSnapshot(decodeSnapshotForRestore(payload), policy);
  for (const record of tail) state.replay(decodeRecord(encodeRecord(record)));
  return state;
}

/**
 * What recovery must rebuild exactly. Products are compared by their settings only: a restore
 * (sliced snapshot or not) puts a product's counted holds back in another order, keeps a
 * decoded copy of default settings, and replay does not prune a buyer's holds that fell out of
 * the window as a live reserve does; none of it changes what a limit counts.
 */
function rebuilt(snapshot: PartitionSnapshot) {
  const settings = (snapshot.products ?? [])
    .map(([productId, values]) => [productId, values] as const)
    .filter(([, values]) => JSON.stringify(values) !== JSON.stringify(defaultSettings));
  return { ...snapshot, products: settings };
}

describe('a snapshot taken in slices', () => {
  it('is the snapshot of its start, whatever happens between slices', () => {
    const steps = fc.array(step, { minLength: 1, maxLength: 120, size: 'max' });
    const property = fc.property(retention, steps, fc.nat(), (policy, plan, cut) => {
      const run = new Run(policy);
      for (const [index] of keys.entries()) {
        if (index < 3) run.perform({ kind: 'adjust', key: index, delta: 40, idem: -1, lot: 0 });
      }
      const startAt = cut % (plan.length + 1);
      let expected: Buffer | undefined;
      let records = 0;
      let encoder: SnapshotEncoder | undefined;
      plan.forEach((next, index) => {
        if (index === startAt) {
          expected = encodeSnapshot(captureSnapshot(run.partition.state));
          records = run.partition.records.length;
          encoder = new SnapshotEncoder();
          run.capture = new SnapshotCapture(run.partition.state, encoder);
        }
        run.perform(next);
      });
      if (run.capture === undefined || encoder === undefined || expected === undefined) return;
      while (!run.capture.advance(3));
      expect(watcherCount()).toBe(0);
      const payload = Buffer.concat(encoder.finish());
      expect(decodeSnapshot(payload)).toStrictEqual(decodeSnapshot(expected));
      expect(payload.equals(expected)).toBe(true);
      const live = captureSnapshot(run.partition.state);
      const recovered = recover(payload, run.partition.records.slice(records), policy);
      expect(rebuilt(captureSnapshot(recovered))).toStrictEqual(rebuilt(live));
    });
    fc.assert(property, runOptions(400));
  });
});
