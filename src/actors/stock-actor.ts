// One stock key's state and the only code that changes it. Pure and synchronous: the caller
// passes the clock and receives the journal record to persist; nothing here does I/O.
import { assert, assertInvariant, fail, failInvariant } from './assert.js';
import { beforeChange } from './change-watch.js';
import { Hold, type Reservation } from './hold.js';
import { LotBook, lotEndMs, lotNeverEndsMs, unitsOf } from './lot-book.js';
import { merged } from './merged.js';
import { ownText, sharedText } from './own-text.js';
import type { QuietKey } from './quiet-keys.js';
import {
  HoldList,
  PendingHolds,
  type FinishedHolds,
  type HoldFields,
  type HoldsView,
} from './pending-holds.js';
import { SplitMap } from './split-map.js';
import type {
  AdjustCommand,
  AdjustedRecord,
  ExtendedRecord,
  HoldExtras,
  LotExpiredRecord,
  LotRequest,
  LotUnits,
  LotView,
  Outcome,
  ReservationChangedRecord,
  ReservationStatus,
  ReservationView,
  ReserveCommand,
  ReservedRecord,
  StockRecord,
  StockView,
  TransferRecord,
  TransferStep,
} from './types.js';

export type { Pin, Reservation } from './hold.js';

/** The extras a hold's records carry: only the ones it has, so a plain hold writes v1 rows. */
export function holdExtras(reservation: Reservation): HoldExtras {
  const extras = extrasOf(reservation.buyerId, reservation.reference, reservation.cartId);
  const lots = reservation.lots;
  return lots === undefined ? extras : merged(extras, { lots });
}

/** What an adjust with an idempotency key answered, kept to answer its replays the same way. */
export interface AdjustMemo {
  readonly delta: number;
  readonly reason: string;
  /** The rest of the request, from `adjustTerms` ('' for a plain v1 adjust). */
  readonly terms: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly version: number;
  readonly atMs: number;
  /** A key with named lots: its lots after the adjust, as the first answer showed them. */
  readonly lots?: readonly LotView[];
  /** Units in transit toward the key then, when any (the first answer showed them). */
  readonly incoming?: number;
}

/**
 * What an adjust asked beyond its delta and reason, as one string a replay must match: the
 * on_hand a set asked for, the reference, the expected version. '' for a plain adjust.
 */
export function adjustTerms(
  setOnHand: number | undefined,
  reference: string,
  expectedVersion: number | undefined,
  lot?: LotRequest,
): string {
  const base = [setOnHand ?? null, reference, expectedVersion ?? null];
  // A lot adds to the terms only when named, so memos written before lots keep matching.
  if (lot !== undefined) return JSON.stringify([...base, lot.lotId, lot.expiresOn ?? null]);
  if (setOnHand === undefined && reference === '' && expectedVersion === undefined) return '';
  return JSON.stringify(base);
}

/** What is asked of a reservation; `read` only expires it if due, `expire` is the sweep's. */
export type FinishKind = 'confirm' | 'release' | 'expire' | 'read';

export interface ActorResult {
  readonly outcome: Outcome;
  readonly record: StockRecord | undefined;
}

/**
 * What only a key with live traffic needs: its holds, its idempotency tables, its lots and its
 * transfers in transit. Idle keys (most of a large catalogue) have none, so the actor stays small.
 */
class BusyKey {
  /** Its pending holds, in its partition's store (pending-holds.ts). */
  holds: HoldList<StockActor> | undefined = undefined;
  // A split map: a hot key's adjust memos may grow to hundreds of thousands (split-map.ts).
  adjustKeys: SplitMap<AdjustMemo> | undefined = undefined;
  /** Only on a key that has had a named lot; then kept for good. */
  lots: LotBook | undefined = undefined;
  /** Units of transfers in transit toward this key: not on hand, not available. */
  incoming = 0;
  /** In its partition's ring of quiet keys (quiet-keys.ts), which lets it go once it leaves. */
  quiet = false;

  /** See `StockActor.stockedAtVersion`: here only while it is not the key's first version. */
  constructor(public stockedAtVersion: number) {}

  get empty(): boolean {
    return (
      (this.holds?.empty ?? true) &&
      (this.adjustKeys?.size ?? 0) === 0 &&
      this.lots === undefined &&
      this.incoming === 0 &&
      this.stockedAtVersion === 1
    );
  }
}

export class StockActor implements QuietKey {
  /**
   * The key's ids. Once registered, the partition's own strings (`KeyIndex.register`): the product
   * id is the string its index is keyed by, the warehouse id one string per warehouse. Never a
   * string from the wire, which may be a slice pinning a whole decoded batch.
   */
  productId: string;
  warehouseId: string;
  onHand = 0;
  reserved = 0;
  version = 0;
  /**
   * Set by the shard: the journal sequence of this key's newest record (for reply gating). Kept
   * here, not in `busy`: the shard sets it on every key it journals, idle ones included.
   */
  journalSequence = 0;
  private busy: BusyKey | undefined = undefined;
  /** Where its pending holds are kept: its partition's store, or its own until it has one. */
  private holdStore: PendingHolds<StockActor> | undefined = undefined;

  constructor(productId: string, warehouseId: string) {
    // Validated ids never hold NUL, so `stockKey` names one key only.
    assert(!productId.includes('\u0000'), 'a product id may not contain NUL');
    this.productId = productId;
    this.warehouseId = warehouseId;
  }

  /** The partition's index hands the key its own strings for the same ids. */
  shareIds(productId: string, warehouseId: string): void {
    assert(productId === this.productId && warehouseId === this.warehouseId, 'other ids shared');
    this.productId = productId;
    this.warehouseId = warehouseId;
  }

  /** `product NUL warehouse`: one string for the pair (built when asked, never kept). */
  get stockKey(): string {
    return `${this.productId}\u0000${this.warehouseId}`;
  }

  isKeyOf(productId: string, warehouseId: string): boolean {
    return this.productId === productId && this.warehouseId === warehouseId;
  }

  /** Units of transfers in transit toward this key: not on hand, not available. */
  get incoming(): number {
    return this.busy?.incoming ?? 0;
  }

  set incoming(units: number) {
    if (units !== 0 || this.busy !== undefined) this.busyKey().incoming = units;
  }

  /**
   * The version of the key's first stocking (its `back_in_stock` is never that change): the
   * record that made it, or for a key made by a transfer in transit (incoming only) its first
   * record that was not a transfer's incoming; 0 until then. Nearly always 1, which an actor
   * without its busy part stands for.
   */
  get stockedAtVersion(): number {
    return this.busy?.stockedAtVersion ?? 1;
  }

  set stockedAtVersion(version: number) {
    if (version !== 1 || this.busy !== undefined) this.busyKey().stockedAtVersion = version;
  }

  /**
   * Keeps its pending holds in `store` (its partition's) from now on: set as the partition takes
   * the key, before it has any.
   */
  useHolds(store: PendingHolds<StockActor>): void {
    if (store === this.holdStore) return;
    const busy = this.busy;
    assert(busy?.holds?.empty ?? true, 'a key with holds moved to another store');
    if (busy !== undefined) busy.holds = undefined;
    this.holdStore = store;
  }

  /** The store, its own if no partition gave it one (an actor on its own: tests, tools). */
  private store(): PendingHolds<StockActor> {
    this.holdStore ??= new PendingHolds<StockActor>();
    return this.holdStore;
  }

  /** Pending holds, by id; undefined while the key has none (finished ones are the partition's). */
  get reservations(): ReadonlyMap<string, Reservation> | undefined {
    return this.busy?.holds;
  }

  /** Its pending hold made with this idempotency key, if any. */
  holdByKey(key: string): Reservation | undefined {
    const store = this.holdStore;
    if (store === undefined || this.busy?.holds === undefined) return undefined;
    const slot = store.findKey(this, key);
    return slot < 0 ? undefined : store.hold(slot);
  }

  /** A view of its pending holds as they are now, for a snapshot in slices (closed when read). */
  holdsView(): HoldsView | undefined {
    const list = this.busy?.holds;
    return list === undefined ? undefined : list.store.view(list);
  }

  get adjustKeys(): ReadonlyMap<string, AdjustMemo> | undefined {
    return this.busy?.adjustKeys;
  }

  /** The key's lots; undefined while it has never had a named lot. */
  get lots(): LotBook | undefined {
    return this.busy?.lots;
  }

  /** The key's book of lots, made on its first named lot: units it had go to the unnamed lot. */
  private lotBook(atMs: number): LotBook {
    const busy = this.busyKey();
    if (busy.lots !== undefined) return busy.lots;
    const book = new LotBook();
    if (this.onHand > 0) {
      const unnamed = book.add('', '', atMs);
      unnamed.onHand = this.onHand;
      unnamed.reserved = this.reserved;
    }
    busy.lots = book;
    return book;
  }

  /** Snapshot restore: the key's lots as captured. */
  restoreLots(book: LotBook): void {
    this.busyKey().lots = book;
  }

  /**
   * Units a hold ending at `holdEndMs` may take: on a key with lots, only the unheld units of
   * lots still sellable then.
   */
  availableUntil(holdEndMs: number): number {
    const book = this.busy?.lots;
    return book === undefined ? this.onHand - this.reserved : book.availableUntil(holdEndMs);
  }

  private holdList(busy: BusyKey): HoldList<StockActor> {
    busy.holds ??= new HoldList(this.store(), this);
    return busy.holds;
  }

  private busyKey(): BusyKey {
    this.busy ??= new BusyKey(1);
    return this.busy;
  }

  /**
   * True once, when the busy part has emptied (its last hold finished, its last adjust memo
   * forgotten, nothing else of it left) and the key is not yet in its partition's ring of quiet
   * keys: the partition puts it there, and it lets its busy part go when it leaves the ring
   * (unless busy again by then).
   */
  quietened(): boolean {
    const busy = this.busy;
    if (busy === undefined || busy.quiet || !busy.empty) return false;
    busy.quiet = true;
    return true;
  }

  /** Out of the ring of quiet keys: an empty busy part goes, so a key gone quiet is small again. */
  leaveQuiet(): void {
    const busy = this.busy;
    if (busy === undefined) return;
    busy.quiet = false;
    if (busy.empty) this.busy = undefined;
  }

  get available(): number {
    return this.onHand - this.reserved;
  }

  stockView(): StockView {
    return this.stockViewOf(this.productId, this.warehouseId);
  }

  private stockViewOf(productId: string, warehouseId: string): StockView {
    const view: StockView = {
      productId,
      warehouseId,
      onHand: this.onHand,
      reserved: this.reserved,
      available: this.onHand - this.reserved,
      version: this.version,
    };
    const lots = this.busy?.lots;
    // Most keys never see a transfer or a lot: their view stays the plain literal.
    if (this.incoming === 0 && lots === undefined) return view;
    return merged(
      view,
      this.incoming === 0 ? undefined : { incoming: this.incoming },
      lots === undefined ? undefined : { lots: lots.views() },
    );
  }

  reservationView(reservation: Reservation, status = reservation.status): ReservationView {
    const view: ReservationView = {
      reservationId: reservation.id,
      status,
      productId: this.productId,
      warehouseId: this.warehouseId,
      quantity: reservation.quantity,
      expiresAtMs: reservation.expiresAtMs,
      createdAtMs: reservation.createdAtMs,
    };
    // The common hold has none of the extras: one object, no copies.
    if (status !== 'CONFIRMED' && holdExtras(reservation) === noExtras) return view;
    return merged(
      view,
      status === 'CONFIRMED' ? { confirmedQuantity: reservation.confirmedQuantity } : undefined,
      holdExtras(reservation),
    );
  }

  /** `reservationView` of a plain hold just made, from its record. */
  private pendingView(record: ReservedRecord): ReservationView {
    return {
      reservationId: record.reservationId,
      status: 'PENDING',
      productId: this.productId,
      warehouseId: this.warehouseId,
      quantity: record.quantity,
      expiresAtMs: record.expiresAtMs,
      createdAtMs: record.atMs,
    };
  }

  reserve(command: ReserveCommand, nowMs: number): ActorResult {
    const earlier = this.holdByKey(command.idempotencyKey);
    if (earlier !== undefined) return this.reserveReplay(earlier, command);
    const available = this.availableUntil(nowMs + command.ttlSeconds * 1000);
    if (command.quantity > available) {
      return rejected('insufficient_stock', { available });
    }
    return this.hold(command, nowMs);
  }

  /** A reserve the caller has already checked (stock, purchase limit): the hold is made. */
  hold(
    command: Pick<
      ReserveCommand,
      | 'quantity'
      | 'idempotencyKey'
      | 'ttlSeconds'
      | 'reservationId'
      | 'requesterId'
      | 'traceId'
      | 'buyerId'
      | 'reference'
    > & { readonly cartId?: string },
    nowMs: number,
  ): ActorResult {
    const expiresAtMs = nowMs + command.ttlSeconds * 1000;
    assert(command.quantity <= this.availableUntil(expiresAtMs), 'a hold beyond available');
    const busy = this.busyKey();
    const lots = busy.lots?.takeFefo(command.quantity, expiresAtMs);
    const extras = extrasOf(
      command.buyerId === undefined ? undefined : ownText(command.buyerId),
      command.reference === undefined ? undefined : ownText(command.reference),
      command.cartId === undefined ? undefined : ownText(command.cartId),
    );
    // A hold with extras stays an object that keeps its strings: they are made its own, as they
    // come they may pin a whole decoded batch (own-text.ts). A plain hold's are copied into the
    // store's columns, and its record is soon written and gone.
    const kept = extras !== noExtras || lots !== undefined;
    const plain: ReservedRecord = {
      type: 'reserved',
      productId: this.productId,
      warehouseId: this.warehouseId,
      version: this.version + 1,
      atMs: nowMs,
      traceId: command.traceId,
      reservationId: kept ? ownText(command.reservationId) : command.reservationId,
      quantity: command.quantity,
      expiresAtMs,
      idempotencyKey: kept ? ownText(command.idempotencyKey) : command.idempotencyKey,
      requesterId: sharedText(command.requesterId),
    };
    // A plain hold's record stays one literal (the hot path); extras make a copy, rarely.
    const record = kept ? merged(plain, extras, lots === undefined ? undefined : { lots }) : plain;
    const slot = this.applyReserved(record);
    // A plain hold's answer is made from its record: its columns are not read back.
    const reservation = kept
      ? this.reservationView(this.store().hold(slot))
      : this.pendingView(record);
    return { outcome: { ok: true, reservation, replayed: false }, record };
  }

  /** Same key and same body: the original answer (status PENDING as first sent), no second hold. */
  reserveReplay(earlier: Reservation, command: ReserveCommand): ActorResult {
    // The original TTL, not the current one: an extend does not change what was asked.
    const ttlMs = earlier.originalExpiresAtMs - earlier.createdAtMs;
    if (
      earlier.quantity !== command.quantity ||
      ttlMs !== command.ttlSeconds * 1000 ||
      earlier.buyerId !== (command.buyerId ?? '') ||
      earlier.reference !== (command.reference ?? '')
    ) {
      return rejected('idempotency_key_reused', { field: 'idempotency_key' });
    }
    const view = this.reservationView(earlier, 'PENDING');
    const first = merged(view, { expiresAtMs: earlier.originalExpiresAtMs });
    return { outcome: { ok: true, reservation: first, replayed: true }, record: undefined };
  }

  /**
   * Moves a reservation out of PENDING. A hold whose time has passed expires first, whatever was
   * asked, so a late confirm can never turn an expired hold into a sale; unless a cart's confirm
   * pinned it in time (then its confirm goes through, and nothing else may end it meanwhile).
   * `confirmedQuantity`: a partial confirm's units (already checked to be 1..held).
   */
  finish(
    reservation: Reservation,
    kind: FinishKind,
    nowMs: number,
    traceId: string,
    confirmedQuantity = reservation.quantity,
  ): ActorResult {
    if (reservation.status !== 'PENDING') return this.finishedAnswer(reservation, kind);
    const pinned = reservation.pin !== undefined;
    if (pinned && kind !== 'confirm' && kind !== 'read') {
      if (kind === 'expire') return this.viewResult(reservation, false);
      return rejected('unavailable', undefined, pinnedMessage);
    }
    const due = nowMs >= reservation.expiresAtMs && !pinned;
    if ((kind === 'expire' || kind === 'read') && !due) return this.viewResult(reservation, false);
    const type = due ? 'expired' : kind === 'confirm' ? 'confirmed' : 'released';
    const partial = type === 'confirmed' && confirmedQuantity !== reservation.quantity;
    const plain: ReservationChangedRecord = {
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
    const extras = holdExtras(reservation);
    const record: ReservationChangedRecord =
      extras === noExtras && !partial
        ? plain
        : merged(plain, partial ? { confirmedQuantity } : undefined, extras);
    this.applyFinished(record, reservation);
    if (due && (kind === 'confirm' || kind === 'release')) {
      return { outcome: { ok: false, code: 'reservation_expired' }, record };
    }
    const view = this.reservationView(reservation);
    return { outcome: { ok: true, reservation: view, replayed: false }, record };
  }

  /**
   * Gives a PENDING hold a new expires_at (now + ttl), within its lifetime cap. A due hold
   * expires first and is then not pending; no stock moves, so the version stays.
   */
  extend(
    reservation: Reservation,
    ttlSeconds: number,
    lifetimeMaxMs: number,
    nowMs: number,
    traceId: string,
  ): ActorResult {
    if (reservation.status === 'PENDING' && reservation.pin !== undefined) {
      return rejected('unavailable', undefined, pinnedMessage);
    }
    if (reservation.status === 'PENDING' && nowMs >= reservation.expiresAtMs) {
      const expired = this.finish(reservation, 'expire', nowMs, '');
      return { outcome: notPending('EXPIRED'), record: expired.record };
    }
    if (reservation.status !== 'PENDING') {
      return { outcome: notPending(reservation.status), record: undefined };
    }
    const expiresAtMs = nowMs + ttlSeconds * 1000;
    if (expiresAtMs > reservation.createdAtMs + lifetimeMaxMs) {
      const capSeconds = Math.floor(lifetimeMaxMs / 1000);
      const message = `a hold lives at most ${capSeconds} seconds from its created_at`;
      return rejected('validation_failed', { field: 'ttl_seconds' }, message);
    }
    // No hold outlives the lots it holds: a write-off never has to touch held units.
    const lotsEndMs = Math.min(lotNeverEndsMs, ...(reservation.lots ?? []).map(lotEndOf));
    if (expiresAtMs > lotsEndMs) {
      const message = `the hold's lots stop being sellable at ${new Date(lotsEndMs).toISOString()}`;
      return rejected('validation_failed', { field: 'ttl_seconds' }, message);
    }
    const record: ExtendedRecord = {
      type: 'extended',
      productId: this.productId,
      warehouseId: this.warehouseId,
      version: this.version,
      atMs: nowMs,
      traceId,
      reservationId: reservation.id,
      quantity: reservation.quantity,
      expiresAtMs,
      requesterId: reservation.requesterId,
      ...holdExtras(reservation),
    };
    this.applyExtended(record, reservation);
    const view = this.reservationView(reservation);
    return { outcome: { ok: true, reservation: view, replayed: false }, record };
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

  adjust(
    command: AdjustCommand,
    nowMs: number,
    onHandMax: number,
    lotsMax = lotsPerKeyDefaultMax,
  ): ActorResult {
    const memo =
      command.idempotencyKey === ''
        ? undefined
        : this.busy?.adjustKeys?.get(command.idempotencyKey);
    if (memo !== undefined) return this.adjustReplay(memo, command);
    const { expectedVersion, setOnHand } = command;
    if (expectedVersion !== undefined && expectedVersion !== this.version) {
      const message = `The stock key is at version ${this.version}, not ${expectedVersion}.`;
      return rejected('version_conflict', { version: this.version }, message);
    }
    const delta = setOnHand === undefined ? command.delta : setOnHand - this.onHand;
    const lotRefusal =
      command.lot === undefined ? undefined : this.lotRefusal(command.lot, delta, nowMs, lotsMax);
    if (lotRefusal !== undefined) return lotRefusal;
    const onHand = this.onHand + delta;
    if (onHand < 0 || onHand < this.reserved) {
      return rejected('insufficient_stock', { available: this.onHand - this.reserved });
    }
    if (onHand > onHandMax) {
      const field = setOnHand === undefined ? 'delta' : 'on_hand';
      return rejected('validation_failed', { field }, `on_hand may not exceed ${onHandMax}`);
    }
    const lots = this.lotMoves(command, delta);
    if (lots !== undefined && !Array.isArray(lots)) return lots as ActorResult;
    const { productId, warehouseId } = this;
    const reference = command.reference ?? '';
    const plain: AdjustedRecord = {
      type: 'adjusted',
      productId,
      warehouseId,
      version: this.version + 1,
      atMs: nowMs,
      traceId: command.traceId,
      delta,
      onHand,
      reserved: this.reserved,
      reason: command.reason,
      idempotencyKey: command.idempotencyKey,
      actorId: command.actorId,
    };
    // The v1.1 fields only when there are any, so a plain adjust keeps its v1 journal row.
    const { lot } = command;
    const record: AdjustedRecord =
      setOnHand === undefined &&
      reference === '' &&
      expectedVersion === undefined &&
      lot === undefined &&
      lots === undefined
        ? plain
        : merged(
            plain,
            setOnHand === undefined ? undefined : { set: true as const },
            reference === '' ? undefined : { reference },
            expectedVersion === undefined ? undefined : { expectedVersion },
            lot === undefined ? undefined : { lot: lotRequestOf(lot) },
            lots === undefined ? undefined : { lots: lots as LotUnits[] },
          );
    this.applyAdjusted(record);
    const stock = this.stockViewOf(productId, warehouseId);
    return {
      outcome: { ok: true, stock: withReference(stock, reference), replayed: false },
      record,
    };
  }

  /**
   * Why an adjust naming a lot may not go ahead (422 on its date or the bound on lots, 409 when
   * the lot lacks the unheld units a negative one takes); undefined if it may.
   */
  private lotRefusal(
    asked: LotRequest,
    delta: number,
    nowMs: number,
    lotsMax: number,
  ): ActorResult | undefined {
    const book = this.busy?.lots;
    const lot = book?.get(asked.lotId);
    const field = { field: 'lot.expires_on' };
    if (lot !== undefined && asked.expiresOn !== undefined && asked.expiresOn !== lot.expiresOn) {
      const was = lot.expiresOn === '' ? 'none' : lot.expiresOn;
      return rejected(
        'validation_failed',
        field,
        `the lot's expires_on is ${was}; it cannot change`,
      );
    }
    if (delta > 0 && lotEndMs(asked.expiresOn ?? lot?.expiresOn ?? '') <= nowMs) {
      return rejected('validation_failed', field, 'the lot has expired: expires_on is past');
    }
    if (delta > 0 && lot === undefined && (book?.lots.length ?? 0) >= lotsMax) {
      const message = `a stock key keeps at most ${lotsMax} lots`;
      return rejected('validation_failed', { field: 'lot.lot_id' }, message);
    }
    const unheld = lot === undefined ? 0 : lot.onHand - lot.reserved;
    if (delta < 0 && unheld < -delta) return rejected('insufficient_stock', { available: unheld });
    return undefined;
  }

  /**
   * The units each lot gains or loses by an adjust (already checked to fit the key): undefined
   * on a key without lots, a refusal when a set would take the unnamed lot below what it holds.
   */
  private lotMoves(command: AdjustCommand, delta: number): LotUnits[] | ActorResult | undefined {
    const { lot: asked } = command;
    const book = this.busy?.lots;
    if (delta === 0 || (asked === undefined && book === undefined)) return undefined;
    const named = asked === undefined ? undefined : book?.get(asked.lotId);
    if (asked !== undefined) {
      if (named !== undefined) return [unitsOf(named, Math.abs(delta))];
      const { lotId, expiresOn } = asked;
      return [
        expiresOn === undefined
          ? { lotId, quantity: delta }
          : { lotId, quantity: delta, expiresOn },
      ];
    }
    const lots = book as LotBook;
    if (delta > 0) return [{ lotId: '', quantity: delta }];
    if (command.setOnHand === undefined) return lots.takeFefo(-delta, 0);
    // A set counts the unnamed lot only.
    const unnamed = lots.get('');
    const unheld = unnamed === undefined ? 0 : unnamed.onHand - unnamed.reserved;
    if (unheld < -delta) return rejected('insufficient_stock', { available: unheld });
    return [{ lotId: '', quantity: -delta }];
  }

  private adjustReplay(memo: AdjustMemo, command: AdjustCommand): ActorResult {
    const reference = command.reference ?? '';
    const { setOnHand, expectedVersion } = command;
    const differs =
      memo.terms !== adjustTerms(setOnHand, reference, expectedVersion, command.lot) ||
      memo.reason !== command.reason ||
      (setOnHand === undefined && memo.delta !== command.delta);
    if (differs) return rejected('idempotency_key_reused', { field: 'idempotency_key' });
    const stock: StockView = {
      productId: this.productId,
      warehouseId: this.warehouseId,
      onHand: memo.onHand,
      reserved: memo.reserved,
      available: memo.onHand - memo.reserved,
      version: memo.version,
      ...(memo.incoming === undefined ? {} : { incoming: memo.incoming }),
      ...(memo.lots === undefined ? {} : { lots: memo.lots }),
    };
    return {
      outcome: { ok: true, stock: withReference(stock, reference), replayed: true },
      record: undefined,
    };
  }

  /**
   * This key's record of a transfer step, applied (the caller has checked that it may be: units
   * unheld at the source, the bound on on_hand). `terms` are the transfer's, copied whole.
   */
  transfer(step: TransferStep, terms: TransferTerms, nowMs: number, traceId: string) {
    const source = terms.fromWarehouseId === this.warehouseId;
    const { onHand, incoming } = transferMoves(step, source, terms, this.onHand, this.incoming);
    const record: TransferRecord = {
      type: 'transfer',
      productId: this.productId,
      warehouseId: this.warehouseId,
      version: this.version + 1,
      atMs: nowMs,
      traceId,
      ...terms,
      step,
      onHand,
      reserved: this.reserved,
      incoming,
    };
    this.applyTransfer(record);
    return record;
  }

  /** The next of this key's lot write-offs due at `nowMs`, applied; undefined if none is. */
  writeOff(nowMs: number): LotExpiredRecord | undefined {
    const lot = this.busy?.lots?.writeOffs(nowMs)[0];
    if (lot === undefined) return undefined;
    const quantity = lot.onHand - lot.reserved;
    const record: LotExpiredRecord = {
      type: 'lot-expired',
      productId: this.productId,
      warehouseId: this.warehouseId,
      version: this.version + 1,
      atMs: nowMs,
      traceId: '',
      lotId: lot.lotId,
      expiresOn: lot.expiresOn,
      quantity,
      onHand: this.onHand - quantity,
      reserved: this.reserved,
    };
    this.applyLotExpired(record);
    return record;
  }

  // The apply* methods are the only writers of state; live commands and replay share them, so
  // recovery rebuilds exactly what was acknowledged.

  /** Makes the record's hold; returns its slot in the store. */
  applyReserved(record: ReservedRecord): number {
    this.admitVersion(record);
    assert(record.quantity > 0, 'reserved quantity must be positive');
    const busy = this.busyKey();
    // Every hold on a key with lots names them; the lots then hold its units.
    assert(
      (busy.lots === undefined) === (record.lots === undefined),
      'a hold whose lots do not match the key',
    );
    if (record.lots !== undefined) {
      for (const units of record.lots) busy.lots?.hold(units, 1);
    }
    const fields: HoldFields = {
      id: record.reservationId,
      quantity: record.quantity,
      createdAtMs: record.atMs,
      expiresAtMs: record.expiresAtMs,
      originalExpiresAtMs: record.expiresAtMs,
      // A cart's holds have no key of their own: the cart's key lives with the cart.
      idempotencyKey: record.idempotencyKey,
      requesterId: record.requesterId,
      status: 'PENDING',
      finishedAtMs: 0,
      confirmedQuantity: 0,
    };
    const object =
      record.buyerId === undefined &&
      record.reference === undefined &&
      record.cartId === undefined &&
      record.lots === undefined
        ? undefined
        : Hold.make(
            record.reservationId,
            record.quantity,
            record.atMs,
            record.expiresAtMs,
            record.expiresAtMs,
            record.idempotencyKey,
            record.requesterId,
            {
              buyerId: record.buyerId ?? '',
              reference: record.reference ?? '',
              cartId: record.cartId ?? '',
              lots: record.lots,
            },
          );
    const slot = this.store().add(this.holdList(busy), fields, object);
    this.reserved += record.quantity;
    this.version = record.version;
    this.checkInvariants();
    return slot;
  }

  applyFinished(record: ReservationChangedRecord, reservation: Reservation): void {
    beforeChange(this, reservation);
    this.admitVersion(record);
    if (reservation.status !== 'PENDING') fail(`${record.type} of a ${reservation.status} hold`);
    assert(reservation.quantity === record.quantity, 'record quantity differs from the hold');
    const sold = record.confirmedQuantity ?? reservation.quantity;
    assert(sold >= 1 && sold <= reservation.quantity, 'confirmed units outside 1..held');
    this.reserved -= reservation.quantity;
    if (record.type === 'confirmed') {
      this.onHand -= sold;
      reservation.confirmedQuantity = sold;
    }
    const book = this.busy?.lots;
    if (book !== undefined) {
      // A hold made before the key's first named lot holds units of the unnamed lot.
      const held = reservation.lots ?? [{ lotId: '', quantity: reservation.quantity }];
      book.finishHold(held, record.type === 'confirmed' ? sold : 0);
    }
    reservation.pin = undefined;
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

  applyExtended(record: ExtendedRecord, reservation: Reservation): void {
    beforeChange(this, reservation);
    assert(record.version === this.version, 'an extend moved the version');
    if (reservation.status !== 'PENDING') fail(`extend of a ${reservation.status} hold`);
    assert(reservation.quantity === record.quantity, 'record quantity differs from the hold');
    reservation.expiresAtMs = record.expiresAtMs;
  }

  applyAdjusted(record: AdjustedRecord): void {
    this.admitVersion(record);
    if (record.lots !== undefined) this.moveLots(record.lots, Math.sign(record.delta), record.atMs);
    this.onHand += record.delta;
    assert(this.onHand === record.onHand, 'replayed on_hand differs from the record');
    assert(this.reserved === record.reserved, 'replayed reserved differs from the record');
    this.version = record.version;
    if (record.idempotencyKey !== '') {
      const setOnHand = record.set === true ? record.onHand : undefined;
      (this.busyKey().adjustKeys ??= new SplitMap()).set(record.idempotencyKey, {
        delta: record.delta,
        reason: record.reason,
        terms: adjustTerms(setOnHand, record.reference ?? '', record.expectedVersion, record.lot),
        onHand: record.onHand,
        reserved: record.reserved,
        version: record.version,
        atMs: record.atMs,
        ...(this.busy?.lots === undefined ? {} : { lots: this.busy.lots.views() }),
        ...(this.incoming === 0 ? {} : { incoming: this.incoming }),
      });
    }
    this.checkInvariants();
  }

  applyTransfer(record: TransferRecord): void {
    this.admitVersion(record);
    const source = record.fromWarehouseId === this.warehouseId;
    assert(
      source || record.toWarehouseId === this.warehouseId,
      'a transfer record on a key that is neither end',
    );
    const moved = transferMoves(record.step, source, record, this.onHand, this.incoming);
    // Lots travel with on_hand: they leave the source, arrive at the destination, come back.
    const lotSign = moved.onHand - this.onHand;
    if (lotSign !== 0 && (record.lots !== undefined || this.busy?.lots !== undefined)) {
      const lots = record.lots ?? [{ lotId: '', quantity: record.quantity }];
      this.moveLots(lots, Math.sign(lotSign), record.atMs);
    }
    assert(moved.onHand === record.onHand, 'replayed on_hand differs from the transfer record');
    assert(moved.incoming === record.incoming, 'replayed incoming differs from the record');
    assert(this.reserved === record.reserved, 'replayed reserved differs from the record');
    this.onHand = moved.onHand;
    this.incoming = moved.incoming;
    this.version = record.version;
    this.checkInvariants();
  }

  applyLotExpired(record: LotExpiredRecord): void {
    this.admitVersion(record);
    const lot = this.busy?.lots?.get(record.lotId);
    if (lot === undefined) fail(`a write-off of unknown lot ${record.lotId}`);
    if (!(lot.expiresOn === record.expiresOn && lot.endMs <= record.atMs)) {
      fail(`a write-off of lot ${lot.lotId} before its end`);
    }
    assert(
      lot.onHand - lot.reserved === record.quantity,
      'a write-off of other than its unheld units',
    );
    lot.onHand -= record.quantity;
    this.onHand -= record.quantity;
    assert(this.onHand === record.onHand, 'replayed on_hand differs from the write-off record');
    assert(this.reserved === record.reserved, 'replayed reserved differs from the record');
    this.version = record.version;
    this.checkInvariants();
  }

  /** Units arrive in their lots (`sign` 1; the lots made if new) or leave them (-1), unheld. */
  private moveLots(lots: readonly LotUnits[], sign: number, atMs: number): void {
    // Before the change: the key's units until now go to its unnamed lot.
    const book = this.lotBook(atMs);
    for (const units of lots) {
      if (sign > 0) book.receive(units, atMs);
      else book.remove(units);
    }
  }

  /**
   * Hands a finished hold over to `into`, and it leaves the key with its idempotency key: its
   * partition retains it from now on (retained-holds.ts), or retention has forgotten it.
   */
  retire(id: string, into: FinishedHolds<StockActor>): void {
    const store = this.holdStore;
    const list = this.busy?.holds;
    const slot = store === undefined ? -1 : store.findId(id);
    if (!(store !== undefined && list !== undefined && slot >= 0 && store.ownerAt(slot) === this)) {
      fail(`no hold ${id} to retire`);
    }
    // A plain hold is read from its columns before its slot goes; an object stays itself.
    const object = store.objectAt(slot);
    assert(
      (object?.status ?? store.statusAt(slot)) !== 'PENDING',
      'a pending hold cannot be retired',
    );
    beforeChange(this);
    if (object === undefined) into.pushSlot(this, store, slot);
    else into.pushHold(this, object);
    store.remove(list, slot);
  }

  forgetAdjustKey(key: string, atMs: number): void {
    const adjustKeys = this.busy?.adjustKeys;
    if (adjustKeys === undefined || adjustKeys.get(key)?.atMs !== atMs) return;
    beforeChange(this);
    adjustKeys.delete(key);
  }

  /**
   * Snapshot restore: puts a hold back as it was captured, in the order captured: its fields to
   * the store's columns, or, for a hold with extras (a buyer, reference, cart or lots), the hold
   * itself kept as its object.
   */
  restoreReservation(fields: HoldFields, withExtras?: Hold): void {
    this.store().add(this.holdList(this.busyKey()), fields, withExtras);
  }

  /** Snapshot restore: puts an adjust's idempotency memo back. */
  restoreAdjustKey(key: string, memo: AdjustMemo): void {
    (this.busyKey().adjustKeys ??= new SplitMap()).set(key, memo);
  }

  /** Checks the record follows the key's version, and notes the key's first stocking. */
  private admitVersion(record: StockRecord): void {
    // Every change of the key's counts, lots or maps comes through here first (or above).
    beforeChange(this);
    // Every change but a transfer's arrival on incoming (or its cancel there) stocks the key.
    const incomingOnly =
      record.type === 'transfer' &&
      (record.step === 'incoming' ||
        (record.step === 'cancel' && record.warehouseId === record.toWarehouseId));
    // A key made by a transfer in transit is not stocked yet: the one case its busy part notes.
    if (incomingOnly && this.version === 0) this.stockedAtVersion = 0;
    else if (!incomingOnly && this.stockedAtVersion === 0) this.stockedAtVersion = record.version;
    if (record.version !== this.version + 1) {
      fail(
        `version gap on ${this.productId}/${this.warehouseId}: ` +
          `at ${this.version}, record ${record.version}`,
      );
    }
  }

  checkInvariants(): void {
    assertInvariant(
      Number.isSafeInteger(this.onHand) && Number.isSafeInteger(this.reserved),
      'stock counters must be safe integers',
    );
    if (!(Number.isSafeInteger(this.incoming) && this.incoming >= 0)) {
      failInvariant(`incoming ${this.incoming} below 0`);
    }
    if (!(this.reserved >= 0 && this.reserved <= this.onHand)) {
      failInvariant(
        `invariant 0 <= reserved <= on_hand broken: reserved ${this.reserved}, on_hand ${this.onHand}`,
      );
    }
    this.busy?.lots?.check(this.onHand, this.reserved);
  }
}

/** What a transfer's records repeat: the transfer itself, whichever key and step. */
export type TransferTerms = Pick<
  TransferRecord,
  | 'transferId'
  | 'fromWarehouseId'
  | 'toWarehouseId'
  | 'quantity'
  | 'inTransit'
  | 'idempotencyKey'
  | 'reason'
  | 'reference'
  | 'actorId'
  | 'createdAtMs'
  | 'lots'
>;

/** A key's on_hand and incoming after a transfer step (`source`: the key is the source). */
function transferMoves(
  step: TransferStep,
  source: boolean,
  terms: Pick<TransferRecord, 'quantity' | 'inTransit'>,
  onHand: number,
  incoming: number,
): { onHand: number; incoming: number } {
  const { quantity } = terms;
  switch (step) {
    case 'out':
      assert(source, 'a transfer_out on the destination');
      return { onHand: onHand - quantity, incoming };
    case 'incoming':
      assert(!source, 'a transfer_incoming on the source');
      return { onHand, incoming: incoming + quantity };
    case 'in':
      assert(!source, 'a transfer_in on the source');
      // A transfer in transit arrives from incoming; a direct one straight into on_hand.
      return {
        onHand: onHand + quantity,
        incoming: terms.inTransit ? incoming - quantity : incoming,
      };
    case 'cancel':
      return source
        ? { onHand: onHand + quantity, incoming }
        : { onHand, incoming: incoming - quantity };
  }
}

/** An adjust's answer carries the reference it was given. */
function withReference(stock: StockView, reference: string): StockView {
  return reference === '' ? stock : merged(stock, { reference });
}

const pinnedMessage =
  'This hold is being confirmed with its cart; retry shortly (it will then be CONFIRMED).';

function notPending(status: ReservationStatus): Outcome {
  return {
    ok: false,
    code: 'reservation_not_pending',
    message: `The reservation is ${status}, not PENDING.`,
    details: { status },
  };
}

const noExtras: HoldExtras = {};

const lotsPerKeyDefaultMax = 1000;

/** When a lot a hold holds stops being sellable. */
function lotEndOf(units: LotUnits): number {
  return lotEndMs(units.expiresOn ?? '');
}

/** A lot as a request named it: only the fields it had. */
function lotRequestOf(lot: LotRequest): LotRequest {
  return lot.expiresOn === undefined
    ? { lotId: lot.lotId }
    : { lotId: lot.lotId, expiresOn: lot.expiresOn };
}

/** A hold's extras from its fields ('' = none): absent keys, never empty strings. */
export function extrasOf(buyerId = '', reference = '', cartId = ''): HoldExtras {
  if (buyerId === '' && reference === '' && cartId === '') return noExtras;
  return merged(
    buyerId === '' ? {} : { buyerId },
    reference === '' ? undefined : { reference },
    cartId === '' ? undefined : { cartId },
  );
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
