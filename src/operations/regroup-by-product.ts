// Regrouping a journal's partitions from hash v1 (by stock key) to hash v2 (by product), through
// snapshots: each stock key's actor tuple moves whole (balances, holds, idempotency memos) to its
// product's partition, and the finished queues follow their actors, merged in time order. Pure:
// migrate-partitions.ts does the I/O around it, and the property tests drive it directly.
import { finishedEntriesOf, type PartitionSnapshot } from '../actors/index.js';
import type { ReservationRoute } from '../persistence/index.js';
import { partitionOf, partitionOfV1, reservationPartition } from '../router/index.js';

type ActorTuple = PartitionSnapshot['actors'][number];
type FinishedTuple = ReturnType<typeof finishedEntriesOf>[number];

/** The input is not what a hash v1 journal of this partition count can hold. */
export class RegroupError extends Error {
  override readonly name = 'RegroupError';
}

export interface Regrouped {
  /** One snapshot per partition of hash v2, in partition order, empty ones included. */
  readonly snapshots: PartitionSnapshot[];
  /** Holds whose id names a partition other than the one that now holds them. */
  readonly routes: ReservationRoute[];
}

/** Where a v1 actor went: its v2 partition and its index among that partition's actors. */
interface Place {
  readonly partition: number;
  readonly index: number;
}

interface QueuedFinished {
  readonly place: Place;
  readonly entry: FinishedTuple;
  /** The latest atMs of its source queue up to here: never decreases along one source. */
  readonly sortMs: number;
  readonly source: number;
}

/**
 * `sources`: a snapshot of every v1 partition (any order). `retainFinishedMs`: how long the
 * ledger keeps a finished hold, which is how long a route to it is needed.
 */
export function regroupByProduct(
  sources: readonly PartitionSnapshot[],
  partitions: number,
  retainFinishedMs: number,
): Regrouped {
  const targets: PartitionSnapshot[] = Array.from({ length: partitions }, (_, partition) => ({
    partition,
    actors: [],
    retained: [] as FinishedTuple[],
  }));
  const ordered = [...sources].sort((a, b) => a.partition - b.partition);
  const queued: QueuedFinished[] = [];
  ordered.forEach((source, order) => {
    if (order > 0 && ordered[order - 1]?.partition === source.partition)
      throw new RegroupError(`partition ${source.partition} given twice`);
    const places = moveActors(source, targets, partitions);
    queueFinished(source, order, places, queued);
  });
  // PartitionState forgets finished entries oldest first, from the head of its queue: the merged
  // queue must be in time order too. The sort is stable and keyed by each source's running
  // maximum, so every source keeps its own order even if its clock once stepped back.
  queued.sort((a, b) => a.sortMs - b.sortMs || a.source - b.source);
  for (const { place, entry } of queued) {
    const [, reservationId, adjustKey, atMs, hold] = entry;
    const moved: FinishedTuple = [place.index, reservationId, adjustKey, atMs];
    if (hold !== undefined) moved.push(hold);
    targets[place.partition]?.retained?.push(moved);
  }
  return { snapshots: targets, routes: routesOf(targets, partitions, retainFinishedMs) };
}

function moveActors(
  source: PartitionSnapshot,
  targets: readonly PartitionSnapshot[],
  partitions: number,
): Place[] {
  if (!(source.partition >= 0 && source.partition < partitions))
    throw new RegroupError(`partition ${source.partition} is not one of ${partitions}`);
  return source.actors.map((tuple: ActorTuple) => {
    const [productId, warehouseId] = tuple;
    const v1 = partitionOfV1(productId, warehouseId, partitions);
    if (v1 !== source.partition) {
      throw new RegroupError(
        `stock key ${productId}/${warehouseId} is in partition ${source.partition}, but hash ` +
          `v1 puts it in ${v1}: not a hash v1 journal of ${partitions} partitions`,
      );
    }
    const partition = partitionOf(productId, partitions);
    const target = targets[partition] as PartitionSnapshot;
    target.actors.push(tuple);
    return { partition, index: target.actors.length - 1 };
  });
}

function queueFinished(
  source: PartitionSnapshot,
  order: number,
  places: readonly Place[],
  queued: QueuedFinished[],
): void {
  let sortMs = Number.NEGATIVE_INFINITY;
  for (const entry of finishedEntriesOf(source)) {
    const place = places[entry[0]];
    if (place === undefined)
      throw new RegroupError(`partition ${source.partition}: finished entry past its actors`);
    sortMs = Math.max(sortMs, entry[3]);
    queued.push({ place, entry, sortMs, source: order });
  }
}

function routesOf(
  targets: readonly PartitionSnapshot[],
  partitions: number,
  retainFinishedMs: number,
): ReservationRoute[] {
  const routes: ReservationRoute[] = [];
  for (const { partition, actors, retained = [] } of targets) {
    // A key's holds, and the finished holds its partition retains (a snapshot written before
    // that has them with their keys).
    const holds = actors.flatMap((tuple) => tuple[5]);
    for (const entry of retained) if (entry[4] !== undefined) holds.push(entry[4]);
    for (const [reservationId, , , expiresAtMs, , , finishedAtMs] of holds) {
      if (reservationPartition(reservationId, partitions) === partition) continue;
      // The ledger forgets a hold retainFinishedMs after it finishes; a pending one finishes
      // at its expiry at the latest.
      const untilMs = Math.max(expiresAtMs, finishedAtMs) + retainFinishedMs;
      routes.push({ reservationId, partition, untilMs });
    }
  }
  return routes;
}
