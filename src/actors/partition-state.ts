// One partition's actors: the registry of stock keys, the index from reservation id to its key,
// and the bounded retention of finished reservations. Still pure: the shard owns the I/O.
import { AssertionError, assert } from './assert.js';
import { StockActor, type ActorResult, type Reservation } from './stock-actor.js';
import type {
  Command,
  JournalRecord,
  Outcome,
  ReservationChangedRecord,
  RetentionPolicy,
} from './types.js';

export interface ApplyResult extends ActorResult {
  /** The actor whose state the outcome observed; undefined when no stock key was involved. */
  readonly actor: StockActor | undefined;
}

/** A finished entry waiting to be forgotten: a reservation, or an adjust's idempotency key. */
interface Finished {
  readonly actor: StockActor;
  readonly reservationId: string;
  readonly adjustKey: string;
  readonly atMs: number;
}

export function stockKey(productId: string, warehouseId: string): string {
  // NUL never appears in validated ids, so the pair maps to one string without ambiguity.
  return `${productId}\u0000${warehouseId}`;
}

const notFound = (message: string): ApplyResult => ({
  outcome: { ok: false, code: 'not_found', message },
  record: undefined,
  actor: undefined,
});

export class PartitionState {
  private readonly registry = new Map<string, StockActor>();
  /**
   * The actor of the latest command or record that named a key. A hot key's next command mostly
   * names it again, and checking that is cheaper than building and hashing the key string.
   */
  private recent: StockActor | undefined = undefined;
  /** Live and retained reservations, by id, to the actor that owns them. */
  readonly reservationOwners = new Map<string, StockActor>();
  // Finished entries in the order they finished (which is also time order), as parallel arrays
  // from `finishedHead` on: no object per entry, which replay would make by the hundred thousand.
  private finishedActors: StockActor[] = [];
  private finishedReservationIds: string[] = [];
  private finishedAdjustKeys: string[] = [];
  private finishedAtMs: number[] = [];
  private finishedHead = 0;

  constructor(
    readonly partition: number,
    readonly retention: RetentionPolicy,
  ) {}

  /** The stock keys, by `StockActor.stockKey`. A key once added is never removed. */
  get actors(): ReadonlyMap<string, StockActor> {
    return this.registry;
  }

  get finishedCount(): number {
    return this.finishedActors.length - this.finishedHead;
  }

  apply(command: Command, nowMs: number): ApplyResult {
    switch (command.kind) {
      case 'reserve': {
        const actor = this.actorOf(command.productId, command.warehouseId);
        if (actor === undefined) return notFound('This stock key was never stocked.');
        return this.recorded(actor, actor.reserve(command, nowMs));
      }
      case 'adjust':
        return this.adjust(command, nowMs);
      case 'read-stock': {
        const actor = this.actorOf(command.productId, command.warehouseId);
        if (actor === undefined) return notFound('This stock key was never stocked.');
        return {
          outcome: { ok: true, stock: actor.stockView(), replayed: false },
          record: undefined,
          actor,
        };
      }
      default: {
        const actor = this.reservationOwners.get(command.reservationId);
        const reservation = actor?.reservations?.get(command.reservationId);
        if (actor === undefined || reservation === undefined)
          return notFound('No such reservation.');
        const kind = command.kind === 'read-reservation' ? 'read' : command.kind;
        return this.recorded(actor, actor.finish(reservation, kind, nowMs, command.traceId));
      }
    }
  }

  /**
   * Expires a hold if it is still pending and due (the result then carries the record);
   * undefined if the hold is gone or no longer pending.
   */
  expire(reservationId: string, nowMs: number): ApplyResult | undefined {
    const actor = this.reservationOwners.get(reservationId);
    const reservation = actor?.reservations?.get(reservationId);
    if (actor === undefined || reservation === undefined || reservation.status !== 'PENDING')
      return undefined;
    return this.recorded(actor, actor.finish(reservation, 'expire', nowMs, ''));
  }

  private adjust(command: Extract<Command, { kind: 'adjust' }>, nowMs: number): ApplyResult {
    const existing = this.actorOf(command.productId, command.warehouseId);
    const actor = existing ?? new StockActor(command.productId, command.warehouseId);
    const result = actor.adjust(command, nowMs, this.retention.onHandMax);
    // A key comes to exist only through an adjust that changed it.
    if (existing === undefined && result.record !== undefined) this.register(actor);
    if (existing === undefined && result.record === undefined)
      return { outcome: result.outcome, record: undefined, actor: undefined };
    return this.recorded(actor, result);
  }

  private actorOf(productId: string, warehouseId: string): StockActor | undefined {
    const recent = this.recent;
    if (recent !== undefined && recent.isKeyOf(productId, warehouseId)) return recent;
    const actor = this.registry.get(stockKey(productId, warehouseId));
    if (actor !== undefined) this.recent = actor;
    return actor;
  }

  /** Adds a new stock key (live, replayed or restored from a snapshot). */
  register(actor: StockActor): void {
    assert(!this.registry.has(actor.stockKey), 'stock key registered twice');
    this.registry.set(actor.stockKey, actor);
  }

  private recorded(actor: StockActor, result: ActorResult): ApplyResult {
    if (result.record !== undefined) this.afterRecord(actor, result.record);
    return { outcome: result.outcome, record: result.record, actor };
  }

  /** Bookkeeping shared by live applies and replay, so both keep the same retained set. */
  private afterRecord(actor: StockActor, record: JournalRecord): void {
    if (record.type === 'reserved') {
      this.reservationOwners.set(record.reservationId, actor);
    } else if (record.type === 'adjusted') {
      if (record.idempotencyKey !== '')
        this.pushFinished(actor, '', record.idempotencyKey, record.atMs);
    } else {
      this.pushFinished(actor, record.reservationId, '', record.atMs);
    }
    this.prune(record.atMs);
  }

  private pushFinished(actor: StockActor, reservationId: string, adjustKey: string, atMs: number) {
    this.finishedActors.push(actor);
    this.finishedReservationIds.push(reservationId);
    this.finishedAdjustKeys.push(adjustKey);
    this.finishedAtMs.push(atMs);
  }

  /**
   * Forgets the oldest finished entries beyond the count bound or older than the retention time.
   * It runs only when a record is written (or replayed), with that record's time, so a replay of
   * the journal keeps exactly the entries the live partition kept.
   */
  private prune(nowMs: number): void {
    const oldestKeptMs = nowMs - this.retention.retainFinishedMs;
    const { retainFinishedMax } = this.retention;
    const length = this.finishedActors.length;
    while (this.finishedHead < length) {
      const head = this.finishedHead;
      const atMs = this.finishedAtMs[head];
      assert(atMs !== undefined, 'finished queue hole');
      if (length - head <= retainFinishedMax && atMs >= oldestKeptMs) break;
      this.forget(head);
      this.finishedHead = head + 1;
    }
    // Compact now and then so the arrays do not grow without bound.
    if (this.finishedHead > 1024 && this.finishedHead * 2 > length) this.compactFinished();
  }

  private compactFinished(): void {
    const head = this.finishedHead;
    this.finishedActors = this.finishedActors.slice(head);
    this.finishedReservationIds = this.finishedReservationIds.slice(head);
    this.finishedAdjustKeys = this.finishedAdjustKeys.slice(head);
    this.finishedAtMs = this.finishedAtMs.slice(head);
    this.finishedHead = 0;
  }

  private forget(index: number): void {
    const actor = this.finishedActors[index] as StockActor;
    const adjustKey = this.finishedAdjustKeys[index] as string;
    if (adjustKey !== '') {
      actor.forgetAdjustKey(adjustKey, this.finishedAtMs[index] as number);
      return;
    }
    const reservationId = this.finishedReservationIds[index] as string;
    actor.forgetReservation(reservationId);
    this.reservationOwners.delete(reservationId);
  }

  /** Rebuilds state from one journal record, checking it against the state it lands on. */
  replay(record: JournalRecord): void {
    if (record.type === 'reserved' || record.type === 'adjusted') {
      let actor = this.actorOf(record.productId, record.warehouseId);
      if (actor === undefined) {
        assert(
          record.type === 'adjusted',
          () => `a ${record.type} record for an unknown stock key`,
        );
        actor = new StockActor(record.productId, record.warehouseId);
        this.register(actor);
      }
      if (record.type === 'reserved') actor.applyReserved(record);
      else actor.applyAdjusted(record);
      this.afterRecord(actor, record);
      return;
    }
    // A hold is found by its id (whose hash is then cached for the second lookup) rather than by
    // building the stock key string; the record must still name the key that holds it.
    const actor = this.reservationOwners.get(record.reservationId);
    const reservation = actor?.reservations?.get(record.reservationId);
    if (
      actor === undefined ||
      reservation === undefined ||
      !actor.isKeyOf(record.productId, record.warehouseId)
    ) {
      this.refuseFinishing(record);
    }
    actor.applyFinished(record, reservation);
    this.afterRecord(actor, record);
  }

  /** Fails the same way replay by stock key would: unknown key first, then unknown hold. */
  private refuseFinishing(record: ReservationChangedRecord): never {
    const known = this.registry.has(stockKey(record.productId, record.warehouseId));
    assert(known, () => `a ${record.type} record for an unknown stock key`);
    throw new AssertionError(`a ${record.type} record for an unknown reservation`);
  }

  /** Every pending hold (for the shard's expiry schedule after recovery). */
  *pendingReservations(): Generator<Reservation> {
    for (const actor of this.registry.values()) {
      if (actor.reservations === undefined) continue;
      for (const reservation of actor.reservations.values()) {
        if (reservation.status === 'PENDING') yield reservation;
      }
    }
  }

  /** The finished queue, oldest first, for snapshots. */
  *finishedEntries(): Generator<Readonly<Finished>> {
    for (let index = this.finishedHead; index < this.finishedActors.length; index += 1) {
      yield {
        actor: this.finishedActors[index] as StockActor,
        reservationId: this.finishedReservationIds[index] as string,
        adjustKey: this.finishedAdjustKeys[index] as string,
        atMs: this.finishedAtMs[index] as number,
      };
    }
  }

  /** Used by snapshot restore: appends a finished entry without pruning. */
  restoreFinished(actor: StockActor, reservationId: string, adjustKey: string, atMs: number): void {
    if (reservationId !== '') this.reservationOwners.set(reservationId, actor);
    this.pushFinished(actor, reservationId, adjustKey, atMs);
  }
}

export type { Outcome };
