// Checks that partitions regrouped by product hold exactly what the partitions by stock key held:
// the same keys with the same balances and versions, the same holds (status and all), the same
// idempotency memos, the same finished entries; each key in its product's partition; each hold
// indexed by its partition and reachable from its id (its route, or the partition it embeds).
import {
  captureSnapshot,
  finishedEntriesOf,
  stockKey,
  type PartitionState,
} from '../actors/index.js';
import { partitionOf, reservationPartition } from '../router/index.js';

/** Differences listed in full at most; the rest are counted. */
const problemsListedMax = 10;

interface Contents {
  /** Stock key -> its actor tuple as JSON: balances, version, holds, memos. */
  readonly keys: Map<string, string>;
  /** Every finished entry as JSON `[key, reservation id, adjust key, atMs, hold]`, sorted. */
  readonly finished: string[];
}

class Problems {
  readonly listed: string[] = [];
  count = 0;

  add(problem: string): void {
    this.count += 1;
    if (this.listed.length < problemsListedMax) this.listed.push(problem);
  }
}

/**
 * The v1 partitions' contents, taken once, to compare partitions by product against (the
 * migration compares twice: the regrouped states, then the journal read back).
 */
export class RegroupCheck {
  private readonly before: Contents;
  private readonly beforeProblems = new Problems();

  constructor(
    before: Iterable<PartitionState>,
    private readonly partitions: number,
  ) {
    this.before = contentsOf(before, this.beforeProblems);
  }

  /** The differences of `after` (by product) from the partitions before; [] if none. */
  differences(after: Iterable<PartitionState>, routes: ReadonlyMap<string, number>): string[] {
    const problems = new Problems();
    for (const problem of this.beforeProblems.listed) problems.add(`before: ${problem}`);
    const old = this.before;
    const afterStates = [...after];
    const moved = contentsOf(afterStates, problems);
    for (const state of afterStates) checkPlacement(state, this.partitions, routes, problems);
    if (old.keys.size !== moved.keys.size)
      problems.add(`${old.keys.size} stock keys before, ${moved.keys.size} after`);
    for (const [key, tuple] of old.keys) {
      const other = moved.keys.get(key);
      if (other !== tuple) problems.add(`${printable(key)}: ${tuple} before, ${other} after`);
    }
    const sameFinished =
      old.finished.length === moved.finished.length &&
      old.finished.every((entry, index) => moved.finished[index] === entry);
    if (!sameFinished)
      problems.add(
        `finished entries differ: ${old.finished.length} before, ${moved.finished.length}`,
      );
    const more = problems.count - problems.listed.length;
    return more > 0 ? [...problems.listed, `... and ${more} more`] : problems.listed;
  }
}

/** The differences between `before` (any partitioning) and `after` (by product); [] if none. */
export function compareRegrouped(
  before: Iterable<PartitionState>,
  after: Iterable<PartitionState>,
  partitions: number,
  routes: ReadonlyMap<string, number>,
): string[] {
  return new RegroupCheck(before, partitions).differences(after, routes);
}

function contentsOf(states: Iterable<PartitionState>, problems: Problems): Contents {
  const keys = new Map<string, string>();
  const finished: string[] = [];
  for (const state of states) {
    checkOwners(state, problems);
    const snapshot = captureSnapshot(state);
    const names = snapshot.actors.map(([productId, warehouseId]) =>
      stockKey(productId, warehouseId),
    );
    snapshot.actors.forEach((tuple, index) => {
      const name = names[index] as string;
      if (keys.has(name)) problems.add(`${printable(name)} is in two partitions`);
      keys.set(name, JSON.stringify(tuple));
    });
    for (const [index, reservationId, adjustKey, atMs, hold] of finishedEntriesOf(snapshot))
      finished.push(JSON.stringify([names[index], reservationId, adjustKey, atMs, hold ?? null]));
  }
  finished.sort();
  return { keys, finished };
}

/** Every pending hold is indexed to its actor, and the index holds nothing else. */
function checkOwners(state: PartitionState, problems: Problems): void {
  let holds = 0;
  for (const actor of state.actors.values()) {
    for (const id of actor.reservations?.keys() ?? []) {
      holds += 1;
      if (state.pendingHold(id)?.actor !== actor)
        problems.add(`partition ${state.partition}: hold ${id} not indexed to its key`);
    }
  }
  if (state.pending.size !== holds)
    problems.add(`partition ${state.partition}: ${state.pending.size} indexed holds`);
}

function checkPlacement(
  state: PartitionState,
  partitions: number,
  routes: ReadonlyMap<string, number>,
  problems: Problems,
): void {
  for (const actor of state.actors.values()) {
    if (partitionOf(actor.productId, partitions) !== state.partition)
      problems.add(`${printable(actor.productId)} is not in its product's partition`);
  }
  for (const id of state.holdIds()) {
    const routed = routes.get(id) ?? reservationPartition(id, partitions);
    if (routed !== state.partition)
      problems.add(`hold ${id} routes to ${routed}, is held in ${state.partition}`);
  }
}

/** Ids are client text: shown as JSON, so a control character cannot forge an output line. */
function printable(text: string): string {
  return JSON.stringify(text);
}
