// A partition's snapshot taken in slices, exact as of the moment it began: the partition keeps
// changing between slices, and the snapshot still equals `captureSnapshot` at its start, value
// for value and in the same order (so the same bytes: tested against it).
//
// How: at the start (between commands, at the partition's LSN L) the small partition-level parts
// are captured whole (products, carts, confirm attempts, transfers), and the key list and the
// finished entries are noted: keys are never removed and new ones come after, and the finished
// entries at L stay in the columns noted (see PartitionState.retainedView). Keys are then
// captured one slice at a time, in order. A key is "started" when its counts, lots and the lists
// of its holds and memos are noted (its holds as a view of its list in the partition's store,
// which keeps an ending hold linked while the view is open: pending-holds.ts); its holds' tuples
// are made as the slices reach them.
// Copy on write keeps that exact: before a key changes (change-watch.ts), a key not started yet is
// started, and before a hold's fields change, the hold's tuple is made then. Memos never change
// (a new one is a new object); holds and memos that come or go after L are not on the noted
// lists, or stay on them. What is captured goes to a sink value by value (msgpack, in slices).
import { assert, fail } from './assert.js';
import { watchChanges, type ChangeWatcher } from './change-watch.js';
import type { PartitionState } from './partition-state.js';
import {
  actorHead,
  actorTail,
  captureConfirms,
  captureProducts,
  captureTransfers,
  finishedTuple,
  memoTuple,
  reservationTuple,
  type ReservationTuple,
} from './snapshot.js';
import type { RetainedColumns } from './retained-holds.js';
import type { HoldsView } from './pending-holds.js';
import type { AdjustMemo, Reservation, StockActor } from './stock-actor.js';

/** Where a capture puts the snapshot: msgpack's structure, then each value whole. */
export interface SnapshotSink {
  map(size: number): void;
  array(length: number): void;
  value(value: unknown): void;
  /** Encodes the values given so far: they may change afterwards. */
  flush(): void;
}

/** A key as it was at L, all but its holds' tuples (made when the slices reach them). */
interface StartedKey {
  readonly head: readonly unknown[];
  readonly tail: readonly unknown[];
  /**
   * Its holds at L: a view of the key's list of holds, which keeps them linked while it is open.
   * A hot key's hundreds of thousands of holds are never copied at once.
   */
  readonly holds: HoldsView;
  readonly memoKeys: readonly string[];
  readonly memos: readonly AdjustMemo[];
}

const noHolds: HoldsView = {
  size: 0,
  next: () => -1,
  hold: (slot) => fail(`no hold ${slot} in an empty view`),
  close: () => undefined,
};

function startKey(actor: StockActor): StartedKey {
  const adjustKeys = actor.adjustKeys;
  return {
    head: actorHead(actor),
    tail: actorTail(actor),
    holds: actor.holdsView() ?? noHolds,
    memoKeys: adjustKeys === undefined ? [] : Array.from(adjustKeys.keys()),
    memos: adjustKeys === undefined ? [] : Array.from(adjustKeys.values()),
  };
}

/** Hold tuples reused from one batch to the next: a hot key's 150,000 holds make no garbage. */
const poolSize = 256;

/** `reservationTuple` into a tuple of the pool (its lots not copied: it is encoded at once). */
function fillTuple(tuple: unknown[], r: Reservation): void {
  tuple[0] = r.id;
  tuple[1] = r.quantity;
  tuple[2] = r.createdAtMs;
  tuple[3] = r.expiresAtMs;
  tuple[4] = r.idempotencyKey;
  tuple[5] = r.status;
  tuple[6] = r.finishedAtMs;
  tuple[7] = r.requesterId;
  tuple[8] = r.originalExpiresAtMs;
  tuple[9] = r.buyerId;
  tuple[10] = r.reference;
  tuple[11] = r.cartId;
  tuple[12] = r.confirmedQuantity;
  if (r.lots === undefined) tuple.length = 13;
  else tuple[13] = r.lots;
}

/** The partition-level parts after the finished queue, in `captureSnapshot`'s order. */
type Rest = [name: string, values: readonly unknown[]][];

/** The snapshot's top-level fields (`PartitionSnapshot`, as `captureSnapshot` makes it). */
const fieldCount = 8;

export class SnapshotCapture implements ChangeWatcher {
  private readonly keys: StockActor[];
  private readonly queue: ReturnType<PartitionState['retainedView']>;
  private readonly rest: Rest;
  /** Keys started ahead of the slices (they changed), and the one being captured. */
  private readonly started = new Map<StockActor, StartedKey>();
  /** Holds whose fields changed before the slices reached them: their tuples at L, by id. */
  private readonly heldAtStart = new Map<string, ReservationTuple>();
  /** Keys captured whole, by their place in the snapshot (finished entries name it). */
  private readonly actorIndex = new Map<StockActor, number>();
  private readonly pool: unknown[][] = Array.from({ length: poolSize }, () => []);
  private unwatch: (() => void) | undefined;
  // Where the slices are: the phase; the key, and within it the step and the hold or memo; the
  // finished queue's entry; the rest's field and value.
  private phase: 'keys' | 'finished' | 'rest' | 'complete' | 'cancelled' = 'keys';
  private keyIndex = 0;
  private current: StartedKey | undefined;
  private step: 'holds' | 'memos' = 'holds';
  private itemIndex = 0;
  /** The slot of the current key's last hold captured (-1: none yet). */
  private holdCursor = -1;
  private finishedIndex: number;
  private restIndex = 0;
  private restItem = -1;

  /** Starts a capture of `state` as it is now; `sink` gets the first fields at once. */
  constructor(
    readonly state: PartitionState,
    private readonly sink: SnapshotSink,
  ) {
    this.keys = Array.from(state.actors.values());
    this.queue = state.retainedView();
    this.finishedIndex = this.queue.head;
    const { transfers, transfersFinished } = captureTransfers(state);
    this.rest = [
      ['products', captureProducts(state)],
      ['carts', [...state.carts.decided.values()]],
      ['confirms', captureConfirms(state)],
      ['transfers', transfers],
      ['transfersFinished', transfersFinished],
    ];
    this.unwatch = watchChanges(this);
    sink.map(fieldCount);
    sink.value('partition');
    sink.value(state.partition);
    sink.value('actors');
    sink.array(this.keys.length);
  }

  /** The sink has the whole snapshot. */
  get complete(): boolean {
    return this.phase === 'complete';
  }

  beforeChange(actor: StockActor, hold: Reservation | undefined): void {
    if (this.phase !== 'keys' || this.actorIndex.has(actor)) return;
    // A key of another partition (captures of several may be under way), or one made since L
    // (started for nothing: harmless, never reached).
    if (!this.state.owns(actor)) return;
    if (!this.started.has(actor)) this.started.set(actor, startKey(actor));
    if (hold !== undefined && !this.heldAtStart.has(hold.id)) {
      this.heldAtStart.set(hold.id, reservationTuple(hold));
    }
  }

  /**
   * Captures about `units` more values (starting a key counts its lists' length / 16); returns
   * whether the capture is complete.
   */
  advance(units: number): boolean {
    let left = units;
    while (left > 0) {
      if (this.phase === 'keys') left -= this.advanceKeys(left);
      else if (this.phase === 'finished') left -= this.advanceFinished(left);
      else if (this.phase === 'rest') left -= this.advanceRest(left);
      else break;
    }
    return this.phase === 'complete';
  }

  /** Abandons the capture (if not complete): it stops watching, and the sink is not finished. */
  cancel(): void {
    if (this.phase !== 'complete') this.phase = 'cancelled';
    this.stopWatching();
  }

  private stopWatching(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    for (const key of this.started.values()) key.holds.close();
    this.started.clear();
    this.heldAtStart.clear();
  }

  private advanceKeys(units: number): number {
    if (this.keyIndex === this.keys.length) {
      // Every key is captured: nothing after this changes with the partition.
      this.stopWatching();
      this.sink.value('retained');
      this.sink.array(this.queue.end - this.queue.head);
      this.phase = 'finished';
      return 1;
    }
    const sink = this.sink;
    const actor = this.keys[this.keyIndex] as StockActor;
    let used = 0;
    let key = this.current;
    if (key === undefined) {
      key = this.started.get(actor);
      if (key === undefined) {
        key = startKey(actor);
        this.started.set(actor, key);
        used += Math.floor(key.memos.length / 16);
      }
      this.current = key;
      this.step = 'holds';
      this.itemIndex = 0;
      this.holdCursor = -1;
      sink.array(7 + key.tail.length);
      for (const value of key.head) sink.value(value);
      sink.array(key.holds.size);
      used += 1;
    }
    if (this.step === 'holds') {
      const { holds } = key;
      const end = Math.min(holds.size, this.itemIndex + Math.max(1, units - used));
      this.captureHolds(holds, end);
      used += end - this.itemIndex;
      this.itemIndex = end;
      if (end < holds.size) return used;
      holds.close();
      this.step = 'memos';
      this.itemIndex = 0;
      sink.array(key.memos.length);
    }
    const { memos, memoKeys } = key;
    const end = Math.min(memos.length, this.itemIndex + Math.max(1, units - used));
    for (let index = this.itemIndex; index < end; index += 1) {
      sink.value(memoTuple(memoKeys[index] as string, memos[index] as AdjustMemo));
    }
    used += end - this.itemIndex;
    this.itemIndex = end;
    if (end < memos.length) return used;
    for (const value of key.tail) sink.value(value);
    // Captured: its changes from now on are none of this snapshot's business.
    this.actorIndex.set(actor, this.keyIndex);
    this.started.delete(actor);
    this.current = undefined;
    this.keyIndex += 1;
    return Math.max(1, used);
  }

  /** The current key's next hold at L, in its view's order. */
  private nextHold(holds: HoldsView): Reservation {
    const slot = holds.next(this.holdCursor);
    assert(slot >= 0, 'a view with fewer holds than it counted');
    this.holdCursor = slot;
    return holds.hold(slot);
  }

  /** Holds from `itemIndex` to `end`: as they were when the slices began, or kept since. */
  private captureHolds(holds: HoldsView, end: number): void {
    const { sink, heldAtStart: early } = this;
    let pooled = 0;
    for (let index = this.itemIndex; index < end; index += 1) {
      const hold = this.nextHold(holds);
      const kept = early.size > 0 ? early.get(hold.id) : undefined;
      if (kept !== undefined) {
        sink.value(kept);
        continue;
      }
      const tuple = this.pool[pooled] as unknown[];
      fillTuple(tuple, hold);
      sink.value(tuple);
      pooled += 1;
      if (pooled === poolSize) {
        sink.flush();
        pooled = 0;
      }
    }
    if (pooled > 0) sink.flush();
  }

  private advanceFinished(units: number): number {
    const { columns, end } = this.queue;
    const stop = Math.min(end, this.finishedIndex + units);
    for (let index = this.finishedIndex; index < stop; index += 1) {
      const entries = columns as RetainedColumns;
      const actorIndex = this.actorIndex.get(entries.actorAt(index));
      assert(actorIndex !== undefined, 'finished entry of an unregistered actor');
      this.sink.value(finishedTuple(entries, index, actorIndex));
    }
    const used = stop - this.finishedIndex;
    this.finishedIndex = stop;
    if (stop === end) this.phase = 'rest';
    return Math.max(1, used);
  }

  private advanceRest(units: number): number {
    const [name, values] = this.rest[this.restIndex] as Rest[number];
    if (this.restItem < 0) {
      this.sink.value(name);
      this.sink.array(values.length);
      this.restItem = 0;
    }
    const stop = Math.min(values.length, this.restItem + units);
    for (let index = this.restItem; index < stop; index += 1) this.sink.value(values[index]);
    const used = Math.max(1, stop - this.restItem);
    this.restItem = stop;
    if (stop === values.length) {
      this.restIndex += 1;
      this.restItem = -1;
      if (this.restIndex === this.rest.length) this.phase = 'complete';
    }
    return used;
  }
}
