// One partition's actors: the registry of stock keys, the index from reservation id to its key,
// and the bounded retention of finished reservations. Still pure: the shard owns the I/O.
import { assert } from './assert.js';
import { StockActor, type ActorResult, type Reservation } from './stock-actor.js';
import type { Command, JournalRecord, Outcome, RetentionPolicy } from './types.js';

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
  readonly actors = new Map<string, StockActor>();
  /** Live and retained reservations, by id, to the actor that owns them. */
  readonly reservationOwners = new Map<string, StockActor>();
  /** Finished entries in the order they finished (which is also time order). */
  private finished: Finished[] = [];
  private finishedHead = 0;

  constructor(
    readonly partition: number,
    readonly retention: RetentionPolicy,
  ) {}

  get finishedCount(): number {
    return this.finished.length - this.finishedHead;
  }

  apply(command: Command, nowMs: number): ApplyResult {
    switch (command.kind) {
      case 'reserve': {
        const actor = this.actors.get(stockKey(command.productId, command.warehouseId));
        if (actor === undefined) return notFound('This stock key was never stocked.');
        return this.recorded(actor, actor.reserve(command, nowMs));
      }
      case 'adjust':
        return this.adjust(command, nowMs);
      case 'read-stock': {
        const actor = this.actors.get(stockKey(command.productId, command.warehouseId));
        if (actor === undefined) return notFound('This stock key was never stocked.');
        return {
          outcome: { ok: true, stock: actor.stockView(), replayed: false },
          record: undefined,
          actor,
        };
      }
      default: {
        const found = this.findReservation(command.reservationId);
        if (found === undefined) return notFound('No such reservation.');
        const [actor, reservation] = found;
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
    const found = this.findReservation(reservationId);
    if (found === undefined || found[1].status !== 'PENDING') return undefined;
    const [actor, reservation] = found;
    return this.recorded(actor, actor.finish(reservation, 'expire', nowMs, ''));
  }

  private adjust(command: Extract<Command, { kind: 'adjust' }>, nowMs: number): ApplyResult {
    const key = stockKey(command.productId, command.warehouseId);
    const existing = this.actors.get(key);
    const actor = existing ?? new StockActor(command.productId, command.warehouseId);
    const result = actor.adjust(command, nowMs, this.retention.onHandMax);
    // A key comes to exist only through an adjust that changed it.
    if (existing === undefined && result.record !== undefined) this.actors.set(key, actor);
    if (existing === undefined && result.record === undefined)
      return { ...result, actor: undefined };
    return this.recorded(actor, result);
  }

  private findReservation(id: string): [StockActor, Reservation] | undefined {
    const actor = this.reservationOwners.get(id);
    const reservation = actor?.reservations?.get(id);
    if (actor === undefined || reservation === undefined) return undefined;
    return [actor, reservation];
  }

  private recorded(actor: StockActor, result: ActorResult): ApplyResult {
    if (result.record !== undefined) this.afterRecord(actor, result.record);
    return { ...result, actor };
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
    this.finished.push({ actor, reservationId, adjustKey, atMs });
  }

  /**
   * Forgets the oldest finished entries beyond the count bound or older than the retention time.
   * It runs only when a record is written (or replayed), with that record's time, so a replay of
   * the journal keeps exactly the entries the live partition kept.
   */
  private prune(nowMs: number): void {
    const oldestKeptMs = nowMs - this.retention.retainFinishedMs;
    while (this.finishedHead < this.finished.length) {
      const entry = this.finished[this.finishedHead];
      assert(entry !== undefined, 'finished queue hole');
      const over = this.finished.length - this.finishedHead > this.retention.retainFinishedMax;
      if (!over && entry.atMs >= oldestKeptMs) break;
      this.forget(entry);
      this.finishedHead += 1;
    }
    // Compact now and then so the array does not grow without bound.
    if (this.finishedHead > 1024 && this.finishedHead * 2 > this.finished.length) {
      this.finished = this.finished.slice(this.finishedHead);
      this.finishedHead = 0;
    }
  }

  private forget(entry: Finished): void {
    if (entry.adjustKey !== '') {
      entry.actor.forgetAdjustKey(entry.adjustKey, entry.atMs);
      return;
    }
    entry.actor.forgetReservation(entry.reservationId);
    this.reservationOwners.delete(entry.reservationId);
  }

  /** Rebuilds state from one journal record, checking it against the state it lands on. */
  replay(record: JournalRecord): void {
    const key = stockKey(record.productId, record.warehouseId);
    let actor = this.actors.get(key);
    if (actor === undefined) {
      assert(record.type === 'adjusted', () => `a ${record.type} record for an unknown stock key`);
      actor = new StockActor(record.productId, record.warehouseId);
      this.actors.set(key, actor);
    }
    if (record.type === 'reserved') actor.applyReserved(record);
    else if (record.type === 'adjusted') actor.applyAdjusted(record);
    else {
      const reservation = actor.reservations?.get(record.reservationId);
      assert(reservation !== undefined, () => `a ${record.type} record for an unknown reservation`);
      actor.applyFinished(record, reservation);
    }
    this.afterRecord(actor, record);
  }

  /** Every pending hold (for the shard's expiry schedule after recovery). */
  *pendingReservations(): Generator<Reservation> {
    for (const actor of this.actors.values()) {
      if (actor.reservations === undefined) continue;
      for (const reservation of actor.reservations.values()) {
        if (reservation.status === 'PENDING') yield reservation;
      }
    }
  }

  /** The finished queue, oldest first, for snapshots. */
  *finishedEntries(): Generator<Readonly<Finished>> {
    for (let index = this.finishedHead; index < this.finished.length; index += 1) {
      const entry = this.finished[index];
      if (entry !== undefined) yield entry;
    }
  }

  /** Used by snapshot restore: appends a finished entry without pruning. */
  restoreFinished(actor: StockActor, reservationId: string, adjustKey: string, atMs: number): void {
    if (reservationId !== '') this.reservationOwners.set(reservationId, actor);
    this.pushFinished(actor, reservationId, adjustKey, atMs);
  }
}

export type { Outcome };
