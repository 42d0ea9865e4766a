// One stock key's state and the only code that changes it. Pure and synchronous: the caller
// passes the clock and receives the journal record to persist; nothing here does I/O.
import { assert } from './assert.js';
import type {
  AdjustCommand,
  AdjustedRecord,
  JournalRecord,
  Outcome,
  ReservationChangedRecord,
  ReservationStatus,
  ReservationView,
  ReserveCommand,
  ReservedRecord,
  StockView,
} from './types.js';

export interface Reservation {
  readonly id: string;
  readonly quantity: number;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly idempotencyKey: string;
  readonly requesterId: string;
  status: ReservationStatus;
  /** When it left PENDING; 0 while pending. */
  finishedAtMs: number;
}

/** What an adjust with an idempotency key answered, kept to answer its replays the same way. */
export interface AdjustMemo {
  readonly delta: number;
  readonly reason: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly version: number;
  readonly atMs: number;
}

/** What is asked of a reservation; `read` only expires it if due, `expire` is the sweep's. */
export type FinishKind = 'confirm' | 'release' | 'expire' | 'read';

export interface ActorResult {
  readonly outcome: Outcome;
  readonly record: JournalRecord | undefined;
}

export class StockActor {
  onHand = 0;
  reserved = 0;
  version = 0;
  /** Set by the shard: the journal sequence of this key's newest record (for reply gating). */
  journalSequence = 0;
  // Allocated on first use: most keys of a large catalogue are idle and should stay small.
  reservations: Map<string, Reservation> | undefined;
  reserveKeys: Map<string, Reservation> | undefined;
  adjustKeys: Map<string, AdjustMemo> | undefined;

  constructor(
    readonly productId: string,
    readonly warehouseId: string,
  ) {}

  get available(): number {
    return this.onHand - this.reserved;
  }

  stockView(): StockView {
    return {
      productId: this.productId,
      warehouseId: this.warehouseId,
      onHand: this.onHand,
      reserved: this.reserved,
      available: this.onHand - this.reserved,
      version: this.version,
    };
  }

  reservationView(reservation: Reservation, status = reservation.status): ReservationView {
    return {
      reservationId: reservation.id,
      status,
      productId: this.productId,
      warehouseId: this.warehouseId,
      quantity: reservation.quantity,
      expiresAtMs: reservation.expiresAtMs,
      createdAtMs: reservation.createdAtMs,
    };
  }

  reserve(command: ReserveCommand, nowMs: number): ActorResult {
    const earlier = this.reserveKeys?.get(command.idempotencyKey);
    if (earlier !== undefined) return this.reserveReplay(earlier, command);
    const available = this.onHand - this.reserved;
    if (command.quantity > available) {
      return rejected('insufficient_stock', { available });
    }
    const record: ReservedRecord = {
      type: 'reserved',
      productId: this.productId,
      warehouseId: this.warehouseId,
      version: this.version + 1,
      atMs: nowMs,
      traceId: command.traceId,
      reservationId: command.reservationId,
      quantity: command.quantity,
      expiresAtMs: nowMs + command.ttlSeconds * 1000,
      idempotencyKey: command.idempotencyKey,
      requesterId: command.requesterId,
    };
    const reservation = this.applyReserved(record);
    return {
      outcome: { ok: true, reservation: this.reservationView(reservation), replayed: false },
      record,
    };
  }

  /** Same key and same body: the original answer (status PENDING as first sent), no second hold. */
  private reserveReplay(earlier: Reservation, command: ReserveCommand): ActorResult {
    const ttlMs = earlier.expiresAtMs - earlier.createdAtMs;
    if (earlier.quantity !== command.quantity || ttlMs !== command.ttlSeconds * 1000) {
      return rejected('idempotency_key_reused', { field: 'idempotency_key' });
    }
    const view = this.reservationView(earlier, 'PENDING');
    return { outcome: { ok: true, reservation: view, replayed: true }, record: undefined };
  }

  /**
   * Moves a reservation out of PENDING. A hold whose time has passed expires first, whatever was
   * asked, so a late confirm can never turn an expired hold into a sale.
   */
  finish(reservation: Reservation, kind: FinishKind, nowMs: number, traceId: string): ActorResult {
    if (reservation.status !== 'PENDING') return this.finishedAnswer(reservation, kind);
    const due = nowMs >= reservation.expiresAtMs;
    if ((kind === 'expire' || kind === 'read') && !due) return this.viewResult(reservation, false);
    const type = due ? 'expired' : kind === 'confirm' ? 'confirmed' : 'released';
    const record: ReservationChangedRecord = {
      type,
      productId: this.productId,
      warehouseId: this.warehouseId,
      version: this.version + 1,
      atMs: nowMs,
      traceId,
      reservationId: reservation.id,
      quantity: reservation.quantity,
      requesterId: reservation.requesterId,
    };
    this.applyFinished(record, reservation);
    if (due && (kind === 'confirm' || kind === 'release')) {
      return { outcome: { ok: false, code: 'reservation_expired' }, record };
    }
    return { ...this.viewResult(reservation, false), record };
  }

  private viewResult(reservation: Reservation, replayed: boolean): ActorResult {
    const view = this.reservationView(reservation);
    return { outcome: { ok: true, reservation: view, replayed }, record: undefined };
  }

  /** Confirming a confirmed hold (or releasing a released one) answers 200 again. */
  private finishedAnswer(reservation: Reservation, kind: FinishKind): ActorResult {
    const status = reservation.status;
    if (kind === 'expire' || kind === 'read') return this.viewResult(reservation, false);
    if (kind === 'confirm' && status === 'CONFIRMED') return this.viewResult(reservation, true);
    if (kind === 'release' && status === 'RELEASED') return this.viewResult(reservation, true);
    const code =
      status === 'CONFIRMED'
        ? 'reservation_confirmed'
        : status === 'RELEASED'
          ? 'reservation_released'
          : 'reservation_expired';
    return rejected(code);
  }

  adjust(command: AdjustCommand, nowMs: number, onHandMax: number): ActorResult {
    const memo =
      command.idempotencyKey === '' ? undefined : this.adjustKeys?.get(command.idempotencyKey);
    if (memo !== undefined) return this.adjustReplay(memo, command);
    const onHand = this.onHand + command.delta;
    if (onHand < 0 || onHand < this.reserved) {
      return rejected('insufficient_stock', { available: this.onHand - this.reserved });
    }
    if (onHand > onHandMax) {
      return rejected(
        'validation_failed',
        { field: 'delta' },
        `on_hand may not exceed ${onHandMax}`,
      );
    }
    const record: AdjustedRecord = {
      type: 'adjusted',
      productId: this.productId,
      warehouseId: this.warehouseId,
      version: this.version + 1,
      atMs: nowMs,
      traceId: command.traceId,
      delta: command.delta,
      onHand,
      reserved: this.reserved,
      reason: command.reason,
      idempotencyKey: command.idempotencyKey,
      actorId: command.actorId,
    };
    this.applyAdjusted(record);
    return { outcome: { ok: true, stock: this.stockView(), replayed: false }, record };
  }

  private adjustReplay(memo: AdjustMemo, command: AdjustCommand): ActorResult {
    if (memo.delta !== command.delta || memo.reason !== command.reason) {
      return rejected('idempotency_key_reused', { field: 'idempotency_key' });
    }
    const stock: StockView = {
      productId: this.productId,
      warehouseId: this.warehouseId,
      onHand: memo.onHand,
      reserved: memo.reserved,
      available: memo.onHand - memo.reserved,
      version: memo.version,
    };
    return { outcome: { ok: true, stock, replayed: true }, record: undefined };
  }

  // The apply* methods are the only writers of state; live commands and replay share them, so
  // recovery rebuilds exactly what was acknowledged.

  applyReserved(record: ReservedRecord): Reservation {
    this.checkVersion(record);
    assert(record.quantity > 0, 'reserved quantity must be positive');
    const reservation: Reservation = {
      id: record.reservationId,
      quantity: record.quantity,
      createdAtMs: record.atMs,
      expiresAtMs: record.expiresAtMs,
      idempotencyKey: record.idempotencyKey,
      requesterId: record.requesterId,
      status: 'PENDING',
      finishedAtMs: 0,
    };
    this.reservations ??= new Map();
    assert(
      !this.reservations.has(reservation.id),
      () => `duplicate reservation id ${reservation.id}`,
    );
    this.reservations.set(reservation.id, reservation);
    this.reserveKeys ??= new Map();
    this.reserveKeys.set(record.idempotencyKey, reservation);
    this.reserved += record.quantity;
    this.version = record.version;
    this.checkInvariants();
    return reservation;
  }

  applyFinished(record: ReservationChangedRecord, reservation: Reservation): void {
    this.checkVersion(record);
    assert(
      reservation.status === 'PENDING',
      () => `${record.type} of a ${reservation.status} hold`,
    );
    assert(reservation.quantity === record.quantity, 'record quantity differs from the hold');
    this.reserved -= reservation.quantity;
    if (record.type === 'confirmed') this.onHand -= reservation.quantity;
    reservation.status =
      record.type === 'confirmed'
        ? 'CONFIRMED'
        : record.type === 'released'
          ? 'RELEASED'
          : 'EXPIRED';
    reservation.finishedAtMs = record.atMs;
    this.version = record.version;
    this.checkInvariants();
  }

  applyAdjusted(record: AdjustedRecord): void {
    this.checkVersion(record);
    this.onHand += record.delta;
    assert(this.onHand === record.onHand, 'replayed on_hand differs from the record');
    assert(this.reserved === record.reserved, 'replayed reserved differs from the record');
    this.version = record.version;
    if (record.idempotencyKey !== '') {
      this.adjustKeys ??= new Map();
      this.adjustKeys.set(record.idempotencyKey, {
        delta: record.delta,
        reason: record.reason,
        onHand: record.onHand,
        reserved: record.reserved,
        version: record.version,
        atMs: record.atMs,
      });
    }
    this.checkInvariants();
  }

  /** Forgets a finished reservation (retention ran out); its idempotency key goes with it. */
  forgetReservation(id: string): void {
    const reservation = this.reservations?.get(id);
    if (reservation === undefined) return;
    assert(reservation.status !== 'PENDING', 'a pending reservation cannot be forgotten');
    this.reservations?.delete(id);
    if (this.reserveKeys?.get(reservation.idempotencyKey) === reservation) {
      this.reserveKeys.delete(reservation.idempotencyKey);
    }
  }

  forgetAdjustKey(key: string, atMs: number): void {
    if (this.adjustKeys?.get(key)?.atMs === atMs) this.adjustKeys.delete(key);
  }

  private checkVersion(record: JournalRecord): void {
    assert(
      record.version === this.version + 1,
      () =>
        `version gap on ${this.productId}/${this.warehouseId}: ` +
        `at ${this.version}, record ${record.version}`,
    );
  }

  checkInvariants(): void {
    assert(
      Number.isSafeInteger(this.onHand) && Number.isSafeInteger(this.reserved),
      'stock counters must be safe integers',
    );
    assert(
      this.reserved >= 0 && this.reserved <= this.onHand,
      () =>
        `invariant 0 <= reserved <= on_hand broken: reserved ${this.reserved}, on_hand ${this.onHand}`,
    );
  }
}

function rejected(
  code: Exclude<Outcome, { ok: true }>['code'],
  details?: Readonly<Record<string, string | number>>,
  message?: string,
): ActorResult {
  const outcome: Outcome =
    message === undefined ? { ok: false, code, details } : { ok: false, code, details, message };
  return { outcome, record: undefined };
}
