// A partition's state as plain arrays and back: what a snapshot stores. Positional tuples keep
// snapshots of large catalogues compact; restore(capture(s)) must equal s (tested).
import { assert } from './assert.js';
import { PartitionState } from './partition-state.js';
import { StockActor, type Reservation } from './stock-actor.js';
import type { ReservationStatus, RetentionPolicy } from './types.js';

type ReservationTuple = [
  id: string,
  quantity: number,
  createdAtMs: number,
  expiresAtMs: number,
  idempotencyKey: string,
  status: ReservationStatus,
  finishedAtMs: number,
  requesterId: string,
];
type AdjustKeyTuple = [
  key: string,
  delta: number,
  reason: string,
  onHand: number,
  reserved: number,
  version: number,
  atMs: number,
];
type ActorTuple = [
  productId: string,
  warehouseId: string,
  onHand: number,
  reserved: number,
  version: number,
  reservations: ReservationTuple[],
  adjustKeys: AdjustKeyTuple[],
];
type FinishedTuple = [actorIndex: number, reservationId: string, adjustKey: string, atMs: number];

export interface PartitionSnapshot {
  readonly partition: number;
  readonly actors: ActorTuple[];
  readonly finished: FinishedTuple[];
}

export function captureSnapshot(state: PartitionState): PartitionSnapshot {
  const actors: ActorTuple[] = [];
  const actorIndex = new Map<StockActor, number>();
  for (const actor of state.actors.values()) {
    actorIndex.set(actor, actors.length);
    const reservations: ReservationTuple[] = [];
    for (const r of actor.reservations?.values() ?? []) {
      reservations.push([
        r.id,
        r.quantity,
        r.createdAtMs,
        r.expiresAtMs,
        r.idempotencyKey,
        r.status,
        r.finishedAtMs,
        r.requesterId,
      ]);
    }
    const adjustKeys: AdjustKeyTuple[] = [];
    for (const [key, m] of actor.adjustKeys ?? []) {
      adjustKeys.push([key, m.delta, m.reason, m.onHand, m.reserved, m.version, m.atMs]);
    }
    const { productId, warehouseId, onHand, reserved, version } = actor;
    actors.push([productId, warehouseId, onHand, reserved, version, reservations, adjustKeys]);
  }
  const finished: FinishedTuple[] = [];
  for (const entry of state.finishedEntries()) {
    const index = actorIndex.get(entry.actor);
    assert(index !== undefined, 'finished entry of an unregistered actor');
    finished.push([index, entry.reservationId, entry.adjustKey, entry.atMs]);
  }
  return { partition: state.partition, actors, finished };
}

export function restoreSnapshot(
  snapshot: PartitionSnapshot,
  retention: RetentionPolicy,
): PartitionState {
  const state = new PartitionState(snapshot.partition, retention);
  const actors: StockActor[] = [];
  for (const tuple of snapshot.actors) {
    const actor = restoreActor(tuple);
    state.register(actor);
    for (const reservation of actor.reservations?.values() ?? []) {
      if (reservation.status === 'PENDING') state.reservationOwners.set(reservation.id, actor);
    }
    actors.push(actor);
  }
  for (const [index, reservationId, adjustKey, atMs] of snapshot.finished) {
    const actor = actors[index];
    assert(actor !== undefined, 'snapshot finished entry points past the actors');
    state.restoreFinished(actor, reservationId, adjustKey, atMs);
  }
  return state;
}

function restoreActor(tuple: ActorTuple): StockActor {
  const [productId, warehouseId, onHand, reserved, version, reservations, adjustKeys] = tuple;
  const actor = new StockActor(productId, warehouseId);
  actor.onHand = onHand;
  actor.reserved = reserved;
  actor.version = version;
  let pendingSum = 0;
  for (const tuple of reservations) {
    const [id, quantity, createdAtMs, expiresAtMs, key, status, finishedAtMs, requesterId] = tuple;
    const reservation: Reservation = {
      id,
      quantity,
      createdAtMs,
      expiresAtMs,
      idempotencyKey: key,
      requesterId,
      status,
      finishedAtMs,
    };
    actor.restoreReservation(reservation);
    if (status === 'PENDING') pendingSum += quantity;
  }
  assert(
    pendingSum === reserved,
    () => `snapshot of ${productId}/${warehouseId}: holds do not sum to reserved`,
  );
  for (const [key, delta, reason, keyOnHand, keyReserved, keyVersion, atMs] of adjustKeys) {
    const memo = {
      delta,
      reason,
      onHand: keyOnHand,
      reserved: keyReserved,
      version: keyVersion,
      atMs,
    };
    actor.restoreAdjustKey(key, memo);
  }
  actor.checkInvariants();
  return actor;
}
