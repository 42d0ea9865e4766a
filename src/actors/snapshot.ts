// A partition's state as plain arrays and back: what a snapshot stores. Positional tuples keep
// snapshots of large catalogues compact; restore(capture(s)) must equal s (tested).
import { assert, fail } from './assert.js';
import { Hold } from './hold.js';
import { LotBook } from './lot-book.js';
import { merged } from './merged.js';
import { PartitionState } from './partition-state.js';
import type { HoldFields, PendingHolds } from './pending-holds.js';
import type { RetainedColumns } from './retained-holds.js';
import { defaultSettings } from './product-book.js';
import {
  StockActor,
  type AdjustMemo,
  type Reservation,
  type TransferTerms,
} from './stock-actor.js';
import { termsOf } from './transfer-book.js';
import type {
  LotUnits,
  LotView,
  CartConfirmRecord,
  CartRecord,
  ProductSettings,
  ReservationStatus,
  RetentionPolicy,
  StockView,
  TransferStatus,
} from './types.js';

export type ReservationTuple = [
  id: string,
  quantity: number,
  createdAtMs: number,
  expiresAtMs: number,
  idempotencyKey: string,
  status: ReservationStatus,
  finishedAtMs: number,
  requesterId: string,
  // Since v1.1 (a snapshot written before has only the fields above):
  originalExpiresAtMs?: number,
  buyerId?: string,
  reference?: string,
  cartId?: string,
  confirmedQuantity?: number,
  // Since lots (absent: a hold on a key without lots, or made before its first named lot):
  lots?: LotUnits[],
];
/** A confirmed hold of a buyer that still counts toward a limit (it may be retained no more). */
type BuyerHoldTuple = [
  buyerId: string,
  reservationId: string,
  createdAtMs: number,
  confirmedQuantity: number,
];
type ProductTuple = [productId: string, settings: ProductSettings, confirmed: BuyerHoldTuple[]];
export type AdjustKeyTuple = [
  key: string,
  delta: number,
  reason: string,
  onHand: number,
  reserved: number,
  version: number,
  atMs: number,
  // Since v1.1 (absent: '', a plain adjust):
  terms?: string,
  // Since lots (absent, or null before an incoming: a key without lots): the lots it showed.
  lots?: LotView[] | null,
  // Units in transit toward the key when it applied (absent: none).
  incoming?: number,
];
/** A key: its counts, its holds (as `Holds`), its adjusts' memos, and what came later. */
type ActorTupleOf<Holds> = [
  productId: string,
  warehouseId: string,
  onHand: number,
  reserved: number,
  version: number,
  reservations: Holds,
  adjustKeys: AdjustKeyTuple[],
  // Since transfers (absent: 0, and 1: every key made before transfers was stocked at once):
  incoming?: number,
  stockedAtVersion?: number,
  // Since lots (absent: the key has never had a named lot):
  lots?: LotsTuple,
];
type ActorTuple = ActorTupleOf<ReservationTuple[]>;
/** A key's tuple as restore takes it: its holds visited one at a time. */
export type RestorableActor = ActorTupleOf<Tuples<ReservationTuple>>;
/** A key's lots: the next first-received number, and each lot (any order: FEFO is rebuilt). */
type LotsTuple = [
  nextSequence: number,
  lots: [
    lotId: string,
    expiresOn: string,
    receivedAtMs: number,
    sequence: number,
    onHand: number,
    reserved: number,
  ][],
];
/** A transfer (its terms, its state and its first answer's views); finished ones are retained. */
type TransferTuple = [
  terms: TransferTerms,
  productId: string,
  status: TransferStatus,
  finishedAtMs: number,
  firstFrom: StockView,
  firstTo: StockView | null,
];
export type FinishedTuple = [
  actorIndex: number,
  reservationId: string,
  adjustKey: string,
  atMs: number,
  // Since holds are retained by the partition (absent: the hold is in its key's tuple):
  hold?: ReservationTuple,
];

/**
 * Tuples as restore visits them, one at a time in order: an array, or a run still in its bytes
 * that is decoded as it is visited (snapshot-codec.ts), so that a hot key's million holds are
 * never all tuples at once.
 */
export interface Tuples<T> {
  forEach(visit: (tuple: T) => void): void;
}

export interface PartitionSnapshot {
  readonly partition: number;
  readonly actors: ActorTuple[];
  /**
   * The finished entries, oldest first, each finished hold whole (the partition retains them,
   * not their keys). Written since then instead of `finished`: an older ledger, which reads
   * `finished` only, stops on such a snapshot rather than restore it without its finished holds.
   */
  readonly retained?: FinishedTuple[];
  /** Before: the same entries, their finished holds in their keys' tuples. */
  readonly finished?: FinishedTuple[];
  /** Since v1.1: products with settings or counted confirmed holds, and decided carts. */
  readonly products?: ProductTuple[];
  readonly carts?: CartRecord[];
  /** Cart confirm attempts: the home's decisions and the holds pinned here, as their records. */
  readonly confirms?: CartConfirmRecord[];
  /** Since transfers: every transfer kept, and the finished ones' queue, oldest first. */
  readonly transfers?: TransferTuple[];
  readonly transfersFinished?: [transferId: string, atMs: number][];
}

/** A snapshot as restore takes it: its holds and finished entries visited one at a time. */
export interface RestorableSnapshot extends Omit<
  PartitionSnapshot,
  'actors' | 'retained' | 'finished'
> {
  readonly actors: readonly RestorableActor[];
  readonly retained?: Tuples<FinishedTuple>;
  readonly finished?: Tuples<FinishedTuple>;
}

export function captureSnapshot(state: PartitionState): PartitionSnapshot {
  const actors: ActorTuple[] = [];
  const actorIndex = new Map<StockActor, number>();
  for (const actor of state.actors.values()) {
    actorIndex.set(actor, actors.length);
    const reservations: ReservationTuple[] = [];
    for (const r of actor.reservations?.values() ?? []) reservations.push(reservationTuple(r));
    const adjustKeys: AdjustKeyTuple[] = [];
    for (const [key, m] of actor.adjustKeys ?? []) {
      adjustKeys.push(memoTuple(key, m));
    }
    actors.push([...actorHead(actor), reservations, adjustKeys, ...actorTail(actor)] as ActorTuple);
  }
  const retained: FinishedTuple[] = [];
  const { columns, head, end } = state.retainedView();
  for (let index = head; index < end; index += 1) {
    const entries = columns as RetainedColumns;
    const place = actorIndex.get(entries.actorAt(index));
    assert(place !== undefined, 'finished entry of an unregistered actor');
    retained.push(finishedTuple(entries, index, place));
  }
  const products = captureProducts(state);
  const carts = [...state.carts.decided.values()];
  const confirms = captureConfirms(state);
  const { partition } = state;
  return { partition, actors, retained, products, carts, confirms, ...captureTransfers(state) };
}

/** A snapshot's finished entries, in either layout. */
export function finishedEntriesOf(snapshot: PartitionSnapshot): readonly FinishedTuple[] {
  return snapshot.retained ?? snapshot.finished ?? [];
}

/** A key's tuple up to its holds: ids and counts. */
export function actorHead(
  actor: StockActor,
): [productId: string, warehouseId: string, onHand: number, reserved: number, version: number] {
  const { productId, warehouseId, onHand, reserved, version } = actor;
  return [productId, warehouseId, onHand, reserved, version];
}

/** A key's tuple after its memos: the optional fields, only as far as the last one it has. */
export function actorTail(actor: StockActor): unknown[] {
  const tail: unknown[] = [];
  const book = actor.lots;
  const { incoming } = actor;
  if (incoming !== 0 || actor.stockedAtVersion !== 1 || book !== undefined) tail.push(incoming);
  if (actor.stockedAtVersion !== 1 || book !== undefined) tail.push(actor.stockedAtVersion);
  if (book !== undefined) tail.push(captureLots(book));
  return tail;
}

/** A hold as a snapshot keeps it (its lots copied: the tuple must not change with the hold). */
export function reservationTuple(r: Reservation): ReservationTuple {
  const reservation: ReservationTuple = [
    r.id,
    r.quantity,
    r.createdAtMs,
    r.expiresAtMs,
    r.idempotencyKey,
    r.status,
    r.finishedAtMs,
    r.requesterId,
    r.originalExpiresAtMs,
    r.buyerId,
    r.reference,
    r.cartId,
    r.confirmedQuantity,
  ];
  if (r.lots !== undefined) reservation.push([...r.lots]);
  return reservation;
}

/** A retained entry: an adjust's idempotency key, or a finished hold with all it keeps. */
export function finishedTuple(
  columns: RetainedColumns,
  index: number,
  actorIndex: number,
): FinishedTuple {
  if (!columns.isHold(index)) return [actorIndex, '', columns.keyAt(index), columns.atMsAt(index)];
  const hold = columns.holdAt(index);
  return [actorIndex, hold.id, '', hold.finishedAtMs, reservationTuple(hold)];
}

/** An adjust's idempotency memo; the optional fields only as far as the last one it has. */
export function memoTuple(key: string, m: AdjustMemo): AdjustKeyTuple {
  const tuple: AdjustKeyTuple = [key, m.delta, m.reason, m.onHand, m.reserved, m.version, m.atMs];
  const incoming = m.incoming ?? 0;
  if (m.terms !== '' || m.lots !== undefined || incoming !== 0) tuple.push(m.terms);
  if (m.lots !== undefined || incoming !== 0) tuple.push(m.lots === undefined ? null : [...m.lots]);
  if (incoming !== 0) tuple.push(incoming);
  return tuple;
}

function captureLots(book: LotBook): LotsTuple {
  const lots = book.lots.map((lot): LotsTuple[1][number] => [
    lot.lotId,
    lot.expiresOn,
    lot.receivedAtMs,
    lot.sequence,
    lot.onHand,
    lot.reserved,
  ]);
  return [book.nextSequence, lots];
}

function restoreLots([nextSequence, lots]: LotsTuple): LotBook {
  const book = new LotBook();
  for (const [lotId, expiresOn, receivedAtMs, sequence, onHand, reserved] of lots) {
    const lot = book.add(lotId, expiresOn, receivedAtMs, sequence);
    lot.onHand = onHand;
    lot.reserved = reserved;
  }
  book.nextSequence = nextSequence;
  return book;
}

export function captureTransfers(state: PartitionState) {
  const transfers: TransferTuple[] = [...state.transfers.byId.values()].map((t) => [
    termsOf(t),
    t.productId,
    t.status,
    t.finishedAtMs,
    t.firstFrom,
    t.firstTo ?? null,
  ]);
  const transfersFinished = [...state.transfers.finishedEntries()].map(
    ([id, atMs]): [string, number] => [id, atMs],
  );
  return { transfers, transfersFinished };
}

export function captureConfirms(state: PartitionState): CartConfirmRecord[] {
  const records: CartConfirmRecord[] = [];
  const step = (cartId: string, attempt: string, kind: CartConfirmRecord['step']) => {
    records.push({
      type: 'cart-confirm',
      cartId,
      attempt,
      step: kind,
      holds: [],
      atMs: 0,
      traceId: '',
    });
  };
  for (const [cartId, decisions] of state.carts.confirms) {
    for (const attempt of decisions.aborted) step(cartId, attempt, 'aborted');
    if (decisions.confirmed !== '') step(cartId, decisions.confirmed, 'confirmed');
  }
  for (const [cartId, pinned] of state.carts.pinned) {
    const holds = [...pinned.holdIds].map((reservationId) => {
      const hold = state.pendingHold(reservationId)?.reservation;
      if (hold?.pin === undefined) fail(`pinned hold ${reservationId} has no pin`);
      return { reservationId, quantity: hold.pin.quantity };
    });
    const { attempt, sinceMs: atMs, traceId } = pinned;
    records.push({ type: 'cart-confirm', cartId, attempt, step: 'pinned', holds, atMs, traceId });
  }
  return records;
}

export function captureProducts(state: PartitionState): ProductTuple[] {
  const products: ProductTuple[] = [];
  for (const product of state.productEntries()) {
    const confirmed: BuyerHoldTuple[] = [];
    for (const [buyerId, holds] of product.buyers) {
      for (const hold of holds) {
        if (hold.status !== 'CONFIRMED') continue;
        confirmed.push([buyerId, hold.id, hold.createdAtMs, hold.confirmedQuantity]);
      }
    }
    if (product.settings === defaultSettings && confirmed.length === 0) continue;
    products.push([product.productId, product.settings, confirmed]);
  }
  return products;
}

export function restoreSnapshot(
  snapshot: RestorableSnapshot,
  retention: RetentionPolicy,
): PartitionState {
  const state = new PartitionState(snapshot.partition, retention);
  const actors: StockActor[] = [];
  // Each key's holds kept as objects (a buyer, a cart, lots...), in its order: the plain ones
  // mean nothing to a buyer's limit or a cart.
  const withExtras: Hold[][] = [];
  for (const tuple of snapshot.actors) {
    const extras: Hold[] = [];
    const actor = restoreActor(tuple, state.pending, extras);
    state.register(actor);
    actors.push(actor);
    withExtras.push(extras);
  }
  (snapshot.retained ?? snapshot.finished)?.forEach(
    ([index, reservationId, adjustKey, atMs, hold]) => {
      const actor = actors[index];
      assert(actor !== undefined, 'snapshot finished entry points past the actors');
      const finished = hold === undefined ? undefined : reservationOf(hold);
      state.restoreFinished(actor, reservationId, adjustKey, atMs, finished);
    },
  );
  // Carts first: a pending hold of a cart decided here is then not in doubt.
  for (const record of snapshot.carts ?? []) state.carts.decide(record);
  actors.forEach((actor, index) => {
    for (const hold of withExtras[index] ?? []) state.restoreHold(actor, hold);
  });
  // Then the confirm attempts: decisions, and pins on the holds just restored.
  for (const record of snapshot.confirms ?? []) state.replay(record);
  for (const [terms, productId, status, finishedAtMs, firstFrom, firstTo] of snapshot.transfers ??
    []) {
    state.transfers.add(
      merged(terms, { productId, status, finishedAtMs, firstFrom, firstTo: firstTo ?? undefined }),
    );
  }
  for (const [transferId, atMs] of snapshot.transfersFinished ?? []) {
    state.transfers.restoreFinished(transferId, atMs);
  }
  for (const [productId, settings, confirmed] of snapshot.products ?? []) {
    const product = state.productOf(productId);
    product.settings = settings;
    for (const [buyerId, id, createdAtMs, confirmedQuantity] of confirmed) {
      product.addHold(confirmedHold(buyerId, id, createdAtMs, confirmedQuantity));
    }
  }
  return state;
}

/** A confirmed hold as the limit counts it; final, so a copy stands for the original. */
function confirmedHold(
  buyerId: string,
  id: string,
  createdAtMs: number,
  confirmedQuantity: number,
): Reservation {
  return {
    id,
    quantity: confirmedQuantity,
    createdAtMs,
    expiresAtMs: createdAtMs,
    originalExpiresAtMs: createdAtMs,
    idempotencyKey: '',
    requesterId: '',
    buyerId,
    reference: '',
    cartId: '',
    status: 'CONFIRMED',
    finishedAtMs: createdAtMs,
    confirmedQuantity,
    pin: undefined,
  };
}

function reservationOf(tuple: ReservationTuple): Hold {
  const fields = holdFields(tuple);
  const hold = Hold.make(
    fields.id,
    fields.quantity,
    fields.createdAtMs,
    fields.expiresAtMs,
    fields.originalExpiresAtMs,
    fields.idempotencyKey,
    fields.requesterId,
    {
      buyerId: tuple[9] ?? '',
      reference: tuple[10] ?? '',
      cartId: tuple[11] ?? '',
      lots: tuple[13],
    },
  );
  hold.status = fields.status;
  hold.finishedAtMs = fields.finishedAtMs;
  hold.confirmedQuantity = fields.confirmedQuantity;
  return hold;
}

/**
 * A hold with nothing but the fields every hold has (no buyer, reference, cart or lots) goes to
 * the store's columns as they are, through one fields object for all (`holdFields`): made a
 * `Hold` first, as a hold with extras is, a hot key's million were a million objects for the
 * scavenger, each dropped at once.
 */
function isPlain(tuple: ReservationTuple): boolean {
  return (
    (tuple[9] ?? '') === '' &&
    (tuple[10] ?? '') === '' &&
    (tuple[11] ?? '') === '' &&
    tuple[13] === undefined
  );
}

/** The fields every hold has, as `PendingHolds.add` reads them. */
type MutableFields = { -readonly [K in keyof HoldFields]: HoldFields[K] };

/** One object for every hold restored: read at once where it is handed (add, Hold.make). */
const fieldsOfHold: MutableFields = {
  id: '',
  quantity: 0,
  createdAtMs: 0,
  expiresAtMs: 0,
  originalExpiresAtMs: 0,
  idempotencyKey: '',
  requesterId: '',
  status: 'PENDING',
  finishedAtMs: 0,
  confirmedQuantity: 0,
};

/** The tuple's fields every hold has, with the defaults of a tuple written before v1.1. */
function holdFields(tuple: ReservationTuple): HoldFields {
  const [id, quantity, createdAtMs, expiresAtMs, key, status, finishedAtMs, requesterId] = tuple;
  const fields = fieldsOfHold;
  fields.id = id;
  fields.quantity = quantity;
  fields.createdAtMs = createdAtMs;
  fields.expiresAtMs = expiresAtMs;
  fields.originalExpiresAtMs = tuple[8] ?? expiresAtMs;
  fields.idempotencyKey = key;
  fields.requesterId = requesterId;
  fields.status = status;
  fields.finishedAtMs = finishedAtMs;
  fields.confirmedQuantity = tuple[12] ?? (status === 'CONFIRMED' ? quantity : 0);
  return fields;
}

/** Restores a key and its holds; its holds with extras are appended to `extras`, in order. */
function restoreActor(
  tuple: RestorableActor,
  store: PendingHolds<StockActor>,
  extras: Hold[],
): StockActor {
  const [productId, warehouseId, onHand, reserved, version, reservations, adjustKeys] = tuple;
  const actor = new StockActor(productId, warehouseId);
  actor.useHolds(store);
  actor.onHand = onHand;
  actor.reserved = reserved;
  actor.incoming = tuple[7] ?? 0;
  actor.stockedAtVersion = tuple[8] ?? 1;
  actor.version = version;
  if (tuple[9] !== undefined) actor.restoreLots(restoreLots(tuple[9]));
  let pendingSum = 0;
  reservations.forEach((hold) => {
    if (isPlain(hold)) {
      actor.restoreReservation(holdFields(hold));
    } else {
      const reservation = reservationOf(hold);
      actor.restoreReservation(reservation, reservation);
      extras.push(reservation);
    }
    if (hold[5] === 'PENDING') pendingSum += hold[1];
  });
  if (pendingSum !== reserved) {
    fail(`snapshot of ${productId}/${warehouseId}: holds do not sum to reserved`);
  }
  for (const memoTuple of adjustKeys) {
    const [key, delta, reason, keyOnHand, keyReserved, keyVersion, atMs, terms] = memoTuple;
    const [lots, incoming] = [memoTuple[8], memoTuple[9]];
    const memo = {
      delta,
      reason,
      terms: terms ?? '',
      onHand: keyOnHand,
      reserved: keyReserved,
      version: keyVersion,
      atMs,
      ...(lots === undefined || lots === null ? {} : { lots }),
      ...(incoming === undefined ? {} : { incoming }),
    };
    actor.restoreAdjustKey(key, memo);
  }
  actor.checkInvariants();
  return actor;
}
