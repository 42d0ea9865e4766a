// Proves the hash v1 -> v2 regrouping loses nothing: random command sequences build partitions by
// stock key (PartitionState.apply, routed by hash v1), and the partitions regrouped by product
// hold exactly the same keys, balances, holds and memos, and find every hold by its id.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  PartitionState,
  captureSnapshot,
  finishedEntriesOf,
  restoreSnapshot,
  type Command,
  type RetentionPolicy,
} from '../../src/actors/index.js';
import { compareRegrouped, regroupByProduct } from '../../src/operations/index.js';
import { partitionOf, partitionOfV1, reservationPartition } from '../../src/router/index.js';
import type { ReservationRoute } from '../../src/persistence/index.js';
import { runOptions } from '../helpers/fc-options.js';

const t0 = 1_700_000_000_000;
const products = ['hot-sku', 'sku-a', 'sku-b', 'sku-c', 'sku-d'];
const warehouses = ['wh-1', 'wh-2', 'eu-west-3'];

type Step =
  | { kind: 'adjust'; key: number; delta: number; idempotency: number }
  | { kind: 'reserve'; key: number; quantity: number; ttlSeconds: number; idempotency: number }
  | { kind: 'confirm' | 'release'; pick: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'sweep' };

const keyCount = products.length * warehouses.length;
const key = fc.nat({ max: keyCount - 1 });

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('adjust' as const),
      key,
      delta: fc.integer({ min: -20, max: 60 }).filter((delta) => delta !== 0),
      idempotency: fc.integer({ min: -2, max: 3 }), // negative: no idempotency key
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      key,
      quantity: fc.integer({ min: 1, max: 8 }),
      ttlSeconds: fc.constantFrom(60, 600),
      idempotency: fc.integer({ min: -3, max: 3 }), // negative: a fresh key
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constantFrom('confirm' as const, 'release' as const),
      pick: fc.nat(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.nat({ max: 200_000 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'sweep' as const }) },
);

const retention: fc.Arbitrary<RetentionPolicy> = fc.record({
  retainFinishedMs: fc.integer({ min: 1, max: 900_000 }),
  retainFinishedMax: fc.integer({ min: 1, max: 8 }),
  onHandMax: fc.constant(1_000_000),
});

/** A deterministic id of our shape that embeds `partition`, as the v1 router minted them. */
function idIn(partition: number, serial: number): string {
  const prefix = partition.toString(16).padStart(4, '0');
  return `${prefix}0000-0000-8000-8000-${serial.toString(16).padStart(12, '0')}`;
}

/** A ledger of hash v1: partitions by stock key, holds by the partition their id embeds. */
class LedgerV1 {
  readonly states: PartitionState[];
  readonly held: string[] = [];
  nowMs = t0;
  private serial = 0;

  constructor(
    readonly partitions: number,
    readonly policy: RetentionPolicy,
  ) {
    this.states = Array.from({ length: partitions }, (_, p) => new PartitionState(p, policy));
  }

  perform(next: Step): void {
    if (next.kind === 'advance') this.nowMs += next.ms;
    else if (next.kind === 'sweep') this.sweep();
    else if (next.kind === 'adjust' || next.kind === 'reserve') this.byKey(next);
    else if (this.held.length > 0) {
      const reservationId = this.held[next.pick % this.held.length] as string;
      this.byId({ kind: next.kind, reservationId, traceId: 't' });
    }
  }

  private byKey(next: Extract<Step, { kind: 'adjust' | 'reserve' }>): void {
    const productId = products[next.key % products.length] as string;
    const warehouseId = warehouses[Math.floor(next.key / products.length)] as string;
    const partition = partitionOfV1(productId, warehouseId, this.partitions);
    const command: Command =
      next.kind === 'adjust'
        ? {
            kind: 'adjust',
            productId,
            warehouseId,
            delta: next.delta,
            reason: '',
            idempotencyKey: next.idempotency < 0 ? '' : `adjust-key-${next.idempotency}`,
            actorId: 'a',
            traceId: 't',
          }
        : {
            kind: 'reserve',
            productId,
            warehouseId,
            quantity: next.quantity,
            idempotencyKey: `reserve-key-${next.idempotency < 0 ? `fresh-${this.serial}` : next.idempotency}`,
            ttlSeconds: next.ttlSeconds,
            reservationId: idIn(partition, (this.serial += 1)),
            requesterId: 'r',
            traceId: 't',
          };
    const result = (this.states[partition] as PartitionState).apply(command, this.nowMs);
    if (result.record?.type === 'reserved') this.held.push(result.record.reservationId);
  }

  private byId(command: Command & { reservationId: string }): void {
    const partition = reservationPartition(command.reservationId, this.partitions);
    (this.states[partition] as PartitionState).apply(command, this.nowMs);
  }

  private sweep(): void {
    for (const state of this.states) {
      const due = [...state.pendingReservations()].filter((hold) => hold.expiresAtMs <= this.nowMs);
      for (const hold of due) state.expire(hold.id, this.nowMs);
    }
  }
}

/** What the partition answers about a hold (undefined: it does not know it). */
function holdView(state: PartitionState | undefined, id: string): unknown {
  const hold = state?.holdById(id);
  return hold === undefined ? undefined : hold.actor.reservationView(hold.reservation);
}

/** Each key's full state as plain data: balances, version, holds (all fields), memos. */
function keysOf(states: readonly PartitionState[]): Map<string, unknown> {
  const keys = new Map<string, unknown>();
  for (const state of states) {
    for (const actor of state.actors.values()) {
      keys.set(actor.stockKey, {
        onHand: actor.onHand,
        reserved: actor.reserved,
        version: actor.version,
        holds: [...(actor.reservations?.values() ?? [])].map((hold) => JSON.stringify(hold)),
        memos: [...(actor.adjustKeys?.entries() ?? [])],
      });
    }
  }
  return keys;
}

describe('regroupByProduct', () => {
  it('keeps every key, balance, hold and memo, and finds every hold by its id', () => {
    const steps = fc.array(step, { minLength: 1, maxLength: 200 });
    const property = fc.property(
      fc.integer({ min: 1, max: 9 }),
      retention,
      steps,
      (partitions, policy, plan) => {
        const v1 = new LedgerV1(partitions, policy);
        // Opening stock on every key, so reserves mostly succeed.
        for (let index = 0; index < keyCount; index += 1)
          v1.perform({ kind: 'adjust', key: index, delta: 40, idempotency: -1 });
        for (const next of plan) v1.perform(next);

        const regrouped = regroupByProduct(
          v1.states.map(captureSnapshot),
          partitions,
          policy.retainFinishedMs,
        );
        expect(regrouped.snapshots.map((snapshot) => snapshot.partition)).toStrictEqual(
          Array.from({ length: partitions }, (_, partition) => partition),
        );
        const v2 = regrouped.snapshots.map((snapshot) => restoreSnapshot(snapshot, policy));
        const routes = new Map(regrouped.routes.map((route) => [route.reservationId, route]));
        const routeMap = new Map([...routes].map(([id, route]) => [id, route.partition]));

        expect(compareRegrouped(v1.states, v2, partitions, routeMap)).toStrictEqual([]);
        expect(keysOf(v2)).toStrictEqual(keysOf(v1.states));
        for (const state of v2) {
          for (const actor of state.actors.values())
            expect(partitionOf(actor.productId, partitions)).toBe(state.partition);
          // Finished entries stay in time order, as the partition forgets them oldest first.
          const times = finishedEntriesOf(captureSnapshot(state)).map((entry) => entry[3]);
          expect(times).toStrictEqual([...times].sort((a, b) => a - b));
        }
        checkRoutes(v1, v2, routes, policy);
        // Every hold still retained is found by its id, through its route or the partition the
        // id names, as it was. (Looked up, not read: a read may expire a due hold, and the record
        // prunes the finished queue, whose count bound is per partition and so lands elsewhere.)
        for (const id of v1.held) {
          const before = holdView(v1.states[reservationPartition(id, partitions)], id);
          const at = routeMap.get(id) ?? reservationPartition(id, partitions);
          expect(holdView(v2[at], id)).toStrictEqual(before);
        }
      },
    );
    fc.assert(property, runOptions(500));
  });
});

/** A route exactly for each retained hold its id does not lead to, alive until it is forgotten. */
function checkRoutes(
  v1: LedgerV1,
  v2: readonly PartitionState[],
  routes: ReadonlyMap<string, ReservationRoute>,
  policy: RetentionPolicy,
): void {
  let needed = 0;
  for (const state of v2) {
    for (const id of state.holdIds()) {
      const hold = state.holdById(id)?.reservation;
      if (hold === undefined) throw new Error(`hold ${id} listed but not found`);
      if (reservationPartition(id, v1.partitions) === state.partition) {
        expect(routes.has(id)).toBe(false);
        continue;
      }
      needed += 1;
      expect(routes.get(id)).toStrictEqual({
        reservationId: id,
        partition: state.partition,
        untilMs: Math.max(hold.expiresAtMs, hold.finishedAtMs) + policy.retainFinishedMs,
      });
    }
  }
  expect(routes.size).toBe(needed);
}
