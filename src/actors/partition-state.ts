// One partition's actors: its stock keys (found by product, key-index.ts), the index from a
// pending hold's id to its key, and the bounded retention of finished holds and adjusts'
// idempotency keys (retained-holds.ts). Still pure: the shard owns the I/O.
import { AssertionError, assert, fail } from './assert.js';
import { CartBook, homePartitionOf } from './cart-book.js';
import { applyConfirmStep, cartCommand, replayCart, type CartWork } from './cart-work.js';
import { KeyIndex, StockKeyMap } from './key-index.js';
import { merged } from './merged.js';
import { QuietKeys } from './quiet-keys.js';
import { RetainedHolds, type RetainedView } from './retained-holds.js';
import { PendingHolds } from './pending-holds.js';
import { defaultSettings, mergeSettings, sameSettings, type Product } from './product-book.js';
import type { ApplyResult, Write } from './apply-result.js';
import { StockActor, type ActorResult, type Reservation } from './stock-actor.js';
import { TransferBook } from './transfer-book.js';
import { transferCommand, type TransferWork } from './transfer-work.js';
import {
  stockSignal,
  type Command,
  type ExtendCommand,
  type JournalRecord,
  type Outcome,
  type ReservationCommand,
  type ReserveCommand,
  type RetentionPolicy,
  type SettingsCommand,
  type SettingsRecord,
  type StockRecord,
  type StockSignals,
  type TransferRecord,
} from './types.js';

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
  private readonly keys = new KeyIndex();
  private readonly keyMap = new StockKeyMap(this.keys);
  /**
   * The actor of the latest command or record that named a key. A hot key's next command mostly
   * names it again, and checking that is cheaper than building and hashing the key string.
   */
  private recent: StockActor | undefined = undefined;
  /** Pending holds, each in its key's list, by id and by key and idempotency key. */
  readonly pending = new PendingHolds<StockActor>();
  /**
   * Finished holds (out of their actors' maps) and adjusts' idempotency keys, in the order they
   * finished (which is also time order), until retention forgets them.
   */
  private readonly retained = new RetainedHolds();
  /** Keys whose hold tables have emptied, kept with them a while (quiet-keys.ts). */
  private readonly quietKeys = new QuietKeys<StockActor>();
  readonly carts = new CartBook();
  readonly transfers = new TransferBook();

  /** What the cart code may see and do of this partition (cart-work.ts). */
  private readonly cartWork: CartWork;
  /** What the transfer code may see and do of this partition (transfer-work.ts). */
  private readonly transferWork: TransferWork;

  constructor(
    readonly partition: number,
    readonly retention: RetentionPolicy,
  ) {
    this.cartWork = this.cartView();
    this.transferWork = {
      transfers: this.transfers,
      retention,
      actor: (productId, warehouseId) => this.actorOf(productId, warehouseId),
      register: (actor) => this.register(actor),
      recorded: (actor, record) => this.afterRecord(actor, record) as TransferRecord,
    };
  }

  /** The stock keys, by `StockActor.stockKey`. A key once added is never removed. */
  get actors(): ReadonlyMap<string, StockActor> {
    return this.keyMap;
  }

  /** Finished entries retained: holds and adjusts' idempotency keys. */
  get finishedCount(): number {
    return this.retained.size;
  }

  /** Holds kept: pending ones and retained finished ones. */
  get holdCount(): number {
    return this.pending.size + this.retained.holdCount;
  }

  /**
   * A hold by id, pending or retained (a retained one as an object of its own: changing it changes
   * nothing); undefined if there is none.
   */
  holdById(id: string): { actor: StockActor; reservation: Reservation } | undefined {
    const pending = this.pendingHold(id);
    if (pending !== undefined) return pending;
    const index = this.retained.find(id);
    if (index < 0) return undefined;
    return { actor: this.retained.actorAt(index), reservation: this.retained.hold(index) };
  }

  /** A hold's expires_at (pending or retained), without making a retained one an object. */
  holdExpiresAtMs(id: string): number | undefined {
    const pending = this.pendingHold(id);
    if (pending !== undefined) return pending.reservation.expiresAtMs;
    const index = this.retained.find(id);
    return index < 0 ? undefined : this.retained.expiresAtMsAt(index);
  }

  /** A pending hold by id (a handle on it: for this command only), and its key. */
  pendingHold(id: string): { actor: StockActor; reservation: Reservation } | undefined {
    const slot = this.pending.findId(id);
    if (slot < 0) return undefined;
    return { actor: this.pending.ownerAt(slot), reservation: this.pending.hold(slot) };
  }

  apply(command: Command, nowMs: number): ApplyResult {
    switch (command.kind) {
      case 'reserve':
        return this.reserve(command, nowMs);
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
      case 'extend':
        return this.extend(command, nowMs);
      case 'put-settings':
        return this.putSettings(command, nowMs);
      case 'read-settings': {
        const settings = this.keys.product(command.productId)?.settings ?? defaultSettings;
        return answer({ ok: true, settings, replayed: false });
      }
      case 'read-product-stock': {
        const product = this.keys.productView(command.productId);
        if (product === undefined || product.keys.length === 0)
          return notFound('This product has no stock key.');
        const productStock = product.stockView();
        return merged(answer({ ok: true, productStock, replayed: false }), {
          observed: product.keys,
        });
      }
      case 'confirm':
      case 'release':
      case 'read-reservation':
        return this.finishCommand(command, nowMs);
      case 'transfer':
      case 'transfer-receive':
      case 'transfer-cancel':
      case 'read-transfer':
        return transferCommand(this.transferWork, command, nowMs);
      default:
        return cartCommand(this.cartWork, command, nowMs);
    }
  }

  private reserve(command: ReserveCommand, nowMs: number): ApplyResult {
    const actor = this.actorOf(command.productId, command.warehouseId);
    if (actor === undefined) return notFound('This stock key was never stocked.');
    // Only a buyer's reserve can meet a limit: the hot path without one pays nothing here.
    const buyerId = command.buyerId ?? '';
    const refusal = buyerId === '' ? undefined : this.limitRefusal(actor, command, buyerId, nowMs);
    if (refusal !== undefined) return refusal;
    // A retry of a hold that has finished since: the actor no longer has it, the partition does.
    const index = this.retained.findKey(actor, command.idempotencyKey);
    const earlier = index < 0 ? undefined : this.retained.hold(index);
    const result =
      earlier === undefined ? actor.reserve(command, nowMs) : actor.reserveReplay(earlier, command);
    return this.recorded(actor, result);
  }

  /** A buyer's reserve over the product's limit (a replay is answered as it was, not limited). */
  private limitRefusal(
    actor: StockActor,
    command: ReserveCommand,
    buyerId: string,
    nowMs: number,
  ): ApplyResult | undefined {
    const product = this.keys.product(command.productId);
    const limit = product?.settings.maxPerBuyer ?? null;
    if (product === undefined || limit === null) return undefined;
    const key = command.idempotencyKey;
    if (actor.holdByKey(key) !== undefined || this.retained.findKey(actor, key) >= 0) {
      return undefined;
    }
    if (!product.admits(buyerId, this.buyersMax)) return overloaded(actor);
    const held = product.heldBy(buyerId, nowMs);
    if (held + command.quantity <= limit) return undefined;
    const outcome: Outcome = {
      ok: false,
      code: 'purchase_limit_exceeded',
      message: `This buyer may hold at most ${limit} units of this product.`,
      details: { limit, held },
    };
    return { outcome, record: undefined, actor };
  }

  private finishCommand(command: ReservationCommand, nowMs: number): ApplyResult {
    const hold = this.holdById(command.reservationId);
    if (hold === undefined) return notFound('No such reservation.');
    const { actor, reservation } = hold;
    const kind = command.kind === 'read-reservation' ? 'read' : command.kind;
    // A hold pinned by its cart's confirm attempt is the attempt's to confirm (with its units).
    if (kind === 'confirm' && reservation.status === 'PENDING' && reservation.pin !== undefined) {
      const message = 'This hold is being confirmed with its cart; retry shortly.';
      return { outcome: { ok: false, code: 'unavailable', message }, record: undefined, actor };
    }
    const sold = command.quantity ?? reservation.quantity;
    if (kind === 'confirm' && reservation.status === 'PENDING' && sold > reservation.quantity) {
      const outcome: Outcome = {
        ok: false,
        code: 'validation_failed',
        message: `quantity may not exceed the ${reservation.quantity} units held`,
        details: { field: 'quantity' },
      };
      return { outcome, record: undefined, actor };
    }
    return this.recorded(actor, actor.finish(reservation, kind, nowMs, command.traceId, sold));
  }

  private extend(command: ExtendCommand, nowMs: number): ApplyResult {
    const hold = this.holdById(command.reservationId);
    if (hold === undefined) return notFound('No such reservation.');
    const { actor, reservation } = hold;
    const { ttlSeconds, lifetimeMaxMs, traceId } = command;
    return this.recorded(
      actor,
      actor.extend(reservation, ttlSeconds, lifetimeMaxMs, nowMs, traceId),
    );
  }

  private putSettings(command: SettingsCommand, nowMs: number): ApplyResult {
    const current = this.keys.product(command.productId)?.settings ?? defaultSettings;
    const settings = mergeSettings(current, command.changes);
    // Nothing changes: nothing to journal, and the answer is the settings as they are.
    if (sameSettings(current, settings)) return answer({ ok: true, settings, replayed: false });
    const record: SettingsRecord = {
      type: 'settings',
      productId: command.productId,
      settings,
      atMs: nowMs,
      traceId: command.traceId,
      actorId: command.actorId,
    };
    this.applySettings(record);
    return {
      outcome: { ok: true, settings, replayed: false },
      record,
      actor: undefined,
    };
  }

  private applySettings(record: SettingsRecord): void {
    this.productOf(record.productId).settings = record.settings;
  }

  /** The product's entry, made on first use. */
  productOf(productId: string): Product {
    return this.keys.productOf(productId);
  }

  private cartView(): CartWork {
    return {
      partition: this.partition,
      carts: this.carts,
      product: (productId) => this.keys.productView(productId),
      actor: (productId, warehouseId) => this.actorOf(productId, warehouseId),
      holdOf: (reservationId) => this.holdById(reservationId),
      recorded: (actor, result) =>
        result.record === undefined ? undefined : this.afterRecord(actor, result.record),
      decided: (record) => {
        this.carts.decide(record);
        this.pruneCarts(record.atMs);
      },
      retention: this.retention,
      buyersMax: this.buyersMax,
    };
  }

  /**
   * Expires a hold if it is still pending and due (the result then carries the record);
   * undefined if the hold is gone or no longer pending.
   */
  expire(reservationId: string, nowMs: number): ApplyResult | undefined {
    return this.expireHeld(this.pendingHold(reservationId), nowMs);
  }

  /** `expire` of the hold in a store slot, if it is still the one made with `serial`. */
  expireHold(slot: number, serial: number, nowMs: number): ApplyResult | undefined {
    return this.expireHeld(this.heldAt(slot, serial), nowMs);
  }

  private expireHeld(
    hold: { actor: StockActor; reservation: Reservation } | undefined,
    nowMs: number,
  ): ApplyResult | undefined {
    if (hold === undefined || hold.reservation.status !== 'PENDING') return undefined;
    const { actor, reservation } = hold;
    return this.recorded(actor, actor.finish(reservation, 'expire', nowMs, ''));
  }

  /** The pending hold in a store slot, if it is still the one made with `serial`. */
  private heldAt(
    slot: number,
    serial: number,
  ): { actor: StockActor; reservation: Reservation } | undefined {
    if (!this.pending.isLive(slot, serial)) return undefined;
    return { actor: this.pending.ownerAt(slot), reservation: this.pending.hold(slot) };
  }

  /**
   * A pending hold's slot in the store (-1 if it is not pending here): with `holdSerial`, it names
   * the hold for the shard's expiry schedule without its id (a string).
   */
  holdSlot(id: string): number {
    return this.pending.findId(id);
  }

  /** The serial the hold in a store slot was made with. */
  holdSerial(slot: number): number {
    return this.pending.serialAt(slot);
  }

  /** The id of the hold in a store slot, if it is still the one made with `serial`; else ''. */
  holdIdAt(slot: number, serial: number): string {
    return this.pending.isLive(slot, serial) ? this.pending.textAt(slot, 0) : '';
  }

  /** Whether the hold in a store slot (made with `serial`) is still there and PENDING. */
  isPendingHold(slot: number, serial: number): boolean {
    return this.heldAt(slot, serial)?.reservation.status === 'PENDING';
  }

  /** `isPinned` of the hold in a store slot, if it is still the one made with `serial`. */
  isPinnedHold(slot: number, serial: number): boolean {
    const reservation = this.heldAt(slot, serial)?.reservation;
    return reservation?.status === 'PENDING' && reservation.pin !== undefined;
  }

  /**
   * Writes off the key's lots whose day is over at `nowMs` (their unheld units), one record per
   * lot, as a group; undefined if none is due (or the key is unknown).
   */
  writeOffLots(productId: string, warehouseId: string, nowMs: number): ApplyResult | undefined {
    const actor = this.actorOf(productId, warehouseId);
    if (actor === undefined) return undefined;
    const writes: Write[] = [];
    for (let record = actor.writeOff(nowMs); record !== undefined; record = actor.writeOff(nowMs)) {
      writes.push({ record: this.afterRecord(actor, record), actor });
    }
    if (writes.length === 0) return undefined;
    const outcome: Outcome = { ok: true, stock: actor.stockView(), replayed: false };
    return { outcome, record: undefined, actor, writes };
  }

  /** Whether a pending hold is pinned by its cart's confirm attempt (it may not expire). */
  isPinned(reservationId: string): boolean {
    const reservation = this.pendingHold(reservationId)?.reservation;
    return reservation?.status === 'PENDING' && reservation.pin !== undefined;
  }

  private adjust(command: Extract<Command, { kind: 'adjust' }>, nowMs: number): ApplyResult {
    const existing = this.actorOf(command.productId, command.warehouseId);
    const actor = existing ?? new StockActor(command.productId, command.warehouseId);
    const { onHandMax, lotsPerKeyMax } = this.retention;
    const result = actor.adjust(command, nowMs, onHandMax, lotsPerKeyMax);
    // A key comes to exist only through an adjust that changed it.
    if (existing === undefined && result.record !== undefined) this.register(actor);
    if (existing === undefined && result.record === undefined)
      return { outcome: result.outcome, record: undefined, actor: undefined };
    return this.recorded(actor, result);
  }

  private actorOf(productId: string, warehouseId: string): StockActor | undefined {
    const recent = this.recent;
    if (recent !== undefined && recent.isKeyOf(productId, warehouseId)) return recent;
    const actor = this.keys.get(productId, warehouseId);
    if (actor !== undefined) this.recent = actor;
    return actor;
  }

  /** Whether `actor` is this partition's key (not another partition's, nor one never added). */
  owns(actor: StockActor): boolean {
    return this.keys.get(actor.productId, actor.warehouseId) === actor;
  }

  /** Adds a new stock key (live, replayed or restored from a snapshot). */
  register(actor: StockActor): void {
    this.keys.register(actor);
    actor.useHolds(this.pending);
  }

  /** The products this partition knows (settings, keys, buyers), for snapshots. */
  productEntries(): Iterable<Product> {
    return this.keys.products();
  }

  private recorded(actor: StockActor, result: ActorResult): ApplyResult {
    const record = result.record === undefined ? undefined : this.afterRecord(actor, result.record);
    return { outcome: result.outcome, record, actor };
  }

  /**
   * After a live change: its bookkeeping, and the record to journal, with the lines the change
   * crossed (sold out, back in stock, low) worked out now that it applied. Replay takes a
   * record's crossings as journaled: they feed events only, never state.
   */
  private afterRecord(actor: StockActor, record: StockRecord): StockRecord {
    this.bookkeeping(actor, record);
    if (record.type === 'extended') return record;
    const threshold = this.keys.product(actor.productId)?.settings.lowStockThreshold ?? null;
    const signals = signalsOf(actor, record, threshold);
    return signals === undefined ? record : merged(record, { signals });
  }

  /** Bookkeeping shared by live applies and replay, so both keep the same retained set. */
  private bookkeeping(actor: StockActor, record: JournalRecord): void {
    if (record.type === 'reserved') {
      // Only a buyer's hold or a cart's needs more (the record says so: no lookup otherwise).
      if (record.buyerId !== undefined || record.cartId !== undefined) {
        this.holdMade(actor, record.reservationId, record.atMs);
      }
    } else if (record.type === 'adjusted') {
      if (record.idempotencyKey !== '')
        this.retained.pushAdjustKey(actor, record.idempotencyKey, record.atMs);
    } else if (
      record.type === 'confirmed' ||
      record.type === 'released' ||
      record.type === 'expired'
    ) {
      if (record.buyerId !== undefined || record.cartId !== undefined) {
        this.holdEnded(actor, record.reservationId);
      }
      this.retire(actor, record.reservationId);
    }
    this.prune(record.atMs);
  }

  /** A buyer's hold counts toward the limit; a cart's hold not decided here is in doubt. */
  private holdMade(actor: StockActor, reservationId: string, atMs: number): void {
    const hold = this.pendingHold(reservationId)?.reservation as Reservation;
    const product = hold.buyerId === '' ? undefined : this.productOf(actor.productId);
    if (product?.admits(hold.buyerId, this.buyersMax) === true) product.addHold(hold);
    // In doubt unless this partition knows its cart committed (an abort still has to release it).
    if (hold.cartId === '' || this.carts.decided.get(hold.cartId)?.decision === 'committed') return;
    this.carts.addInDoubt(hold.cartId, homePartitionOf(hold.cartId), hold.id, atMs);
  }

  private holdEnded(actor: StockActor, reservationId: string): void {
    const hold = this.pendingHold(reservationId)?.reservation as Reservation;
    if (hold.buyerId !== '' && hold.status !== 'CONFIRMED') {
      this.keys.product(actor.productId)?.dropHold(hold);
    }
    if (hold.cartId !== '') this.carts.holdEnded(hold.cartId, hold.id);
  }

  private get buyersMax(): number {
    return this.retention.buyersPerProductMax ?? buyersPerProductDefaultMax;
  }

  private pruneCarts(nowMs: number): void {
    const lifetimeMs = this.retention.holdLifetimeMaxMs ?? 0;
    const keepMs = this.retention.retainFinishedMs + lifetimeMs;
    this.carts.prune(nowMs - keepMs, this.retention.retainFinishedMax, nowMs - lifetimeMs);
  }

  /**
   * Forgets the oldest finished entries beyond the count bound or older than the retention time.
   * It runs only when a record is written (or replayed), with that record's time, so a replay of
   * the journal keeps exactly the entries the live partition kept.
   */
  private prune(nowMs: number): void {
    this.transfers.prune(nowMs, this.retention);
    const oldestKeptMs = nowMs - this.retention.retainFinishedMs;
    const { retainFinishedMax } = this.retention;
    const retained = this.retained;
    for (let atMs = retained.oldestAtMs(); atMs !== undefined; atMs = retained.oldestAtMs()) {
      if (retained.size <= retainFinishedMax && atMs >= oldestKeptMs) break;
      const adjust = retained.shift();
      if (adjust !== undefined) {
        adjust.actor.forgetAdjustKey(adjust.adjustKey, adjust.atMs);
        this.noteIfQuiet(adjust.actor);
      }
    }
  }

  /** A key whose hold tables have just emptied keeps them until it leaves the quiet keys' ring. */
  private noteIfQuiet(actor: StockActor): void {
    if (actor.quietened()) this.quietKeys.push(actor);
  }

  /** Rebuilds state from one journal record, checking it against the state it lands on. */
  replay(record: JournalRecord): void {
    if (record.type === 'settings') {
      this.applySettings(record);
      return;
    }
    if (record.type === 'cart') {
      replayCart(this.cartWork, record);
      return;
    }
    if (record.type === 'cart-confirm') {
      applyConfirmStep(this.cartWork, record);
      return;
    }
    if (record.type === 'transfer') {
      this.replayTransfer(record);
      return;
    }
    if (record.type === 'lot-expired') {
      const actor = this.actorOf(record.productId, record.warehouseId);
      assert(actor !== undefined, 'a lot-expired record for an unknown stock key');
      actor.applyLotExpired(record);
      this.bookkeeping(actor, record);
      return;
    }
    if (record.type === 'reserved' || record.type === 'adjusted') {
      let actor = this.actorOf(record.productId, record.warehouseId);
      if (actor === undefined) {
        if (record.type !== 'adjusted') fail(`a ${record.type} record for an unknown stock key`);
        actor = new StockActor(record.productId, record.warehouseId);
        this.register(actor);
      }
      if (record.type === 'reserved') actor.applyReserved(record);
      else actor.applyAdjusted(record);
      this.bookkeeping(actor, record);
      return;
    }
    // A hold is found by its id rather than by building the stock key string; the record must
    // still name the key that holds it.
    const pending = this.pendingHold(record.reservationId);
    let [actor, reservation] = [pending?.actor, pending?.reservation];
    if (reservation === undefined) {
      // Not pending: a finished hold (its record then fails as the actor checks it), or none.
      const hold = this.holdById(record.reservationId);
      [actor, reservation] = [hold?.actor, hold?.reservation];
    }
    if (
      actor === undefined ||
      reservation === undefined ||
      !actor.isKeyOf(record.productId, record.warehouseId)
    ) {
      this.refuseFinishing(record);
    }
    if (record.type === 'extended') actor.applyExtended(record, reservation);
    else actor.applyFinished(record, reservation);
    this.bookkeeping(actor, record);
  }

  /** A transfer record: its key (made by the destination's first record), then the transfer. */
  private replayTransfer(record: TransferRecord): void {
    let actor = this.actorOf(record.productId, record.warehouseId);
    if (actor === undefined) {
      if (!((record.step === 'in' || record.step === 'incoming') && record.version === 1)) {
        fail(`a transfer ${record.step} record for an unknown stock key`);
      }
      actor = new StockActor(record.productId, record.warehouseId);
      this.register(actor);
    }
    actor.applyTransfer(record);
    this.transfers.apply(record, actor.stockView());
    this.bookkeeping(actor, record);
  }

  /** Fails the same way replay by stock key would: unknown key first, then unknown hold. */
  private refuseFinishing(
    record: Exclude<StockRecord, { type: 'reserved' | 'adjusted' | 'transfer' | 'lot-expired' }>,
  ): never {
    const known = this.keys.get(record.productId, record.warehouseId) !== undefined;
    if (!known) fail(`a ${record.type} record for an unknown stock key`);
    throw new AssertionError(`a ${record.type} record for an unknown reservation`);
  }

  /**
   * Every pending hold's slot in the store, serial and expires_at (for the shard's expiry
   * schedule after recovery).
   */
  *pendingExpiries(): Generator<[slot: number, serial: number, expiresAtMs: number]> {
    for (const slot of this.pending.allSlots()) {
      const hold = this.pending.hold(slot);
      if (hold.status === 'PENDING') yield [slot, this.pending.serialAt(slot), hold.expiresAtMs];
    }
  }

  /** Every pending hold. */
  *pendingReservations(): Generator<Reservation> {
    for (const actor of this.keys.actors()) {
      if (actor.reservations === undefined) continue;
      for (const reservation of actor.reservations.values()) {
        if (reservation.status === 'PENDING') yield reservation;
      }
    }
  }

  /**
   * The finished entries as they stand, oldest first, for snapshots: entries [head, end) of the
   * columns noted never change afterwards (they only append; a new generation is new columns).
   */
  retainedView(): RetainedView {
    return this.retained.noted();
  }

  /** The id of every hold kept: pending ones, then the retained finished ones, oldest first. */
  *holdIds(): Generator<string, undefined> {
    yield* this.pending.ids();
    const { columns, head, end } = this.retained.noted();
    for (let index = head; index < end; index += 1) {
      if (columns?.isHold(index) === true) yield columns.idAt(index);
    }
    return undefined;
  }

  /**
   * Snapshot restore: a restored pending hold counts again (limits, carts in doubt). One with no
   * buyer and no cart counts for neither: it is not looked up again (most of a hot key's holds).
   */
  restoreHold(actor: StockActor, hold: Reservation): void {
    if (hold.status !== 'PENDING' || (hold.buyerId === '' && hold.cartId === '')) return;
    this.holdMade(actor, hold.id, hold.createdAtMs);
  }

  /**
   * Used by snapshot restore: appends a finished entry without pruning. A finished hold comes
   * whole, or (a snapshot written before holds were retained by the partition) it is still in
   * its actor, restored with the key.
   */
  restoreFinished(
    actor: StockActor,
    reservationId: string,
    adjustKey: string,
    atMs: number,
    hold?: Reservation,
  ): void {
    if (reservationId === '') this.retained.pushAdjustKey(actor, adjustKey, atMs);
    else if (hold !== undefined) this.retained.pushHold(actor, hold);
    else this.retire(actor, reservationId);
  }

  /** A finished hold leaves its key for the retained ones; the key may have gone quiet. */
  private retire(actor: StockActor, reservationId: string): void {
    actor.retire(reservationId, this.retained);
    this.noteIfQuiet(actor);
  }
}

const buyersPerProductDefaultMax = 1_000_000;

/**
 * What a change of a key crossed, from the key after it and the record: available before is
 * after minus what the record moved. Undefined when it crossed nothing.
 */
function signalsOf(
  actor: StockActor,
  record: Exclude<StockRecord, { type: 'extended' }>,
  threshold: number | null,
): StockSignals | undefined {
  const after = actor.onHand - actor.reserved;
  let before: number;
  if (record.type === 'transfer') before = after - transferAvailableDelta(actor, record);
  else if (record.type === 'reserved') before = after + record.quantity;
  else if (record.type === 'adjusted') before = after - record.delta;
  else if (record.type === 'lot-expired') before = after + record.quantity;
  else if (record.type === 'confirmed') {
    // A partial sale returns the units not sold to available.
    before = after - (record.quantity - (record.confirmedQuantity ?? record.quantity));
  } else before = after - record.quantity;
  let flags = 0;
  if (before > 0 && after === 0) flags |= stockSignal.soldOut;
  // A key's first stocking is not a return: the change that made it, or for a key made by a
  // transfer in transit (incoming only), its first change that was not a transfer's incoming.
  const firstStocking = record.version === actor.stockedAtVersion;
  if (before === 0 && after > 0 && !firstStocking) flags |= stockSignal.backInStock;
  if (threshold !== null && before >= threshold && after < threshold) flags |= stockSignal.low;
  if (flags === 0) return undefined;
  return { flags, onHand: actor.onHand, reserved: actor.reserved };
}

/** What a transfer record did to its key's available: incoming is never available. */
function transferAvailableDelta(actor: StockActor, record: TransferRecord): number {
  const source = actor.warehouseId === record.fromWarehouseId;
  if (record.step === 'out') return -record.quantity;
  if (record.step === 'in' || (record.step === 'cancel' && source)) return record.quantity;
  return 0;
}

function overloaded(actor: StockActor): ApplyResult {
  const message = 'This product counts as many buyers as it may; retry later.';
  return { outcome: { ok: false, code: 'overloaded', message }, record: undefined, actor };
}

function answer(outcome: Outcome): ApplyResult {
  return { outcome, record: undefined, actor: undefined };
}

export { homePartitionOf };

export type { Outcome };
