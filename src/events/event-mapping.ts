// One journal record -> one event (API.md, "Events (NATS)"): its subject, its JSON body and the
// id that JetStream deduplicates on. Pure, so the schema tests can check every record type.
import {
  stockSignal,
  type CartRecord,
  type JournalRecord,
  type LotUnits,
  type SettingsRecord,
  type TransferRecord,
} from '../actors/index.js';
import { isoTime } from '../iso-time.js';

/**
 * The records that become events. A cart confirm attempt's steps (pins, the home's decision)
 * publish nothing of their own: each hold's confirm publishes `inventory.reserve.confirmed`.
 */
export type PublishedRecord = Exclude<JournalRecord, { readonly type: 'cart-confirm' }>;

export function isPublished(record: JournalRecord): record is PublishedRecord {
  return record.type !== 'cart-confirm';
}

/** Subjects per record type, under the configured prefix (empty in production). */
export const eventSubjects = {
  reserved: 'inventory.reserve.request',
  confirmed: 'inventory.reserve.confirmed',
  released: 'inventory.reserve.released',
  expired: 'inventory.reserve.expired',
  extended: 'inventory.reserve.extended',
  adjusted: 'inventory.stock.adjusted',
  settings: 'inventory.product.settings',
  cart: 'inventory.cart.committed',
  /** A transfer record's subject is its step's: see `transferSubjects`. */
  transfer: 'inventory.transfer.received',
  'lot-expired': 'inventory.lot.expired',
} as const satisfies Record<PublishedRecord['type'], string>;

/** A cart record's subject depends on its decision. */
export const cartAbortedSubject = 'inventory.cart.aborted';
/** An adjusted record made by `POST /v1/stock/set`. */
export const stockSetSubject = 'inventory.stock.set';

/**
 * The transfer event of each step, published by the destination's record of it (a transfer
 * made in transit: shipped; one that arrives, made direct or received: received; a cancel:
 * cancelled). The source's record of a step publishes only the lines it crossed.
 */
export const transferSubjects = {
  incoming: 'inventory.transfer.shipped',
  in: 'inventory.transfer.received',
  cancel: 'inventory.transfer.cancelled',
} as const;

/** Whether a record has an event of its own (a transfer's source record has none). */
export function hasOwnEvent(record: PublishedRecord): boolean {
  return record.type !== 'transfer' || record.warehouseId === record.toWarehouseId;
}

/** What the stream captures: every subject above, and nothing else of ours. */
export const streamSubjectFilter = 'inventory.>';

export interface ReservationEvent {
  readonly event_id: string;
  readonly reservation_id: string;
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly quantity: number;
  /** Who made the hold: the token's subject; empty while auth is off. */
  readonly requester_id: string;
  readonly timestamp: string;
  /** The request's trace id; empty for a change no request caused (an expiry). */
  readonly trace_id: string;
  /** Optional field: the stock key's version after this change. */
  readonly version: number;
  /** Optional field, inventory.reserve.request and .extended: when the hold expires. */
  readonly expires_at?: string;
  readonly cart_id?: string;
  readonly buyer_id?: string;
  readonly reference?: string;
  /** inventory.reserve.confirmed only: the units sold (fewer than quantity when partial). */
  readonly confirmed_quantity?: number;
  /** On a key with named lots: the units held, lot by lot. */
  readonly lots?: readonly LotUnitsEvent[];
}

/** Units of one lot in an event (the unnamed lot as ''). */
export interface LotUnitsEvent {
  readonly lot_id: string;
  readonly quantity: number;
  readonly expires_on?: string;
}

function lotUnitsEvents(lots: readonly LotUnits[] | undefined): { lots?: LotUnitsEvent[] } {
  if (lots === undefined) return {};
  return {
    lots: lots.map((units) => ({
      lot_id: units.lotId,
      quantity: units.quantity,
      ...(units.expiresOn === undefined ? {} : { expires_on: units.expiresOn }),
    })),
  };
}

export interface SettingsEvent {
  readonly event_id: string;
  readonly product_id: string;
  readonly settings: {
    readonly max_per_buyer: number | null;
    readonly limit_window_seconds: number;
    readonly warehouse_priority: readonly string[] | null;
    readonly low_stock_threshold: number | null;
  };
  readonly timestamp: string;
  readonly trace_id: string;
}

export interface CartEvent {
  readonly event_id: string;
  readonly cart_id: string;
  readonly holds: readonly {
    readonly line: number;
    readonly reservation_id: string;
    readonly product_id: string;
    readonly warehouse_id: string;
    readonly quantity: number;
  }[];
  readonly buyer_id?: string;
  readonly reference?: string;
  readonly timestamp: string;
  readonly trace_id: string;
}

export interface StockAdjustedEvent {
  readonly event_id: string;
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly delta: number;
  readonly on_hand: number;
  readonly reserved: number;
  readonly timestamp: string;
  readonly trace_id: string;
  /** Optional fields: the stock key's version after this change, and the adjustment's reason. */
  readonly version: number;
  readonly reason: string;
  /** The caller's reference, when the adjust or set carried one. */
  readonly reference?: string;
}

/** inventory.transfer.shipped, .received and .cancelled. */
export interface TransferEvent {
  readonly event_id: string;
  readonly transfer_id: string;
  readonly product_id: string;
  readonly from_warehouse_id: string;
  readonly to_warehouse_id: string;
  readonly quantity: number;
  readonly timestamp: string;
  readonly trace_id: string;
  /** The caller's reference, when the transfer carried one. */
  readonly reference?: string;
  /** From a source with named lots: the units moved, lot by lot. */
  readonly lots?: readonly LotUnitsEvent[];
}

/** inventory.lot.expired: a lot's day ended; its unheld units were written off. */
export interface LotExpiredEvent {
  readonly event_id: string;
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly lot_id: string;
  readonly quantity: number;
  readonly timestamp: string;
}

/** inventory.stock.sold_out, .back_in_stock and .low: a key's available crossed a line. */
export interface StockLevelEvent {
  readonly event_id: string;
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly available: number;
  readonly on_hand: number;
  readonly reserved: number;
  readonly timestamp: string;
  readonly trace_id: string;
}

export interface OutboundEvent {
  readonly subject: string;
  /**
   * `<partition>-<lsn>` (the record's first event) or `<partition>-<lsn>-<n>` (its n-th further
   * one): the Nats-Msg-Id header and the body's event_id.
   */
  readonly msgId: string;
  readonly body:
    | ReservationEvent
    | StockAdjustedEvent
    | SettingsEvent
    | CartEvent
    | StockLevelEvent
    | TransferEvent
    | LotExpiredEvent;
}

export function eventId(partition: number, lsn: number, further = 0): string {
  return further === 0 ? `${partition}-${lsn}` : `${partition}-${lsn}-${further}`;
}

/** The crossings' subjects, in the contract's order (after the record's own event). */
const crossings = [
  [stockSignal.soldOut, 'inventory.stock.sold_out'],
  [stockSignal.backInStock, 'inventory.stock.back_in_stock'],
  [stockSignal.low, 'inventory.stock.low'],
] as const;

/**
 * Every event of a journal record, in order: none for a record that publishes nothing, else its
 * own event, then one per line its change crossed (sold out, back in stock, low stock).
 */
export function eventsOf(
  partition: number,
  lsn: number,
  record: JournalRecord,
  subjectPrefix = '',
): OutboundEvent[] {
  if (!isPublished(record)) return [];
  const events = hasOwnEvent(record) ? [eventOf(partition, lsn, record, subjectPrefix)] : [];
  const signals = 'signals' in record ? record.signals : undefined;
  if (signals === undefined || record.type === 'settings' || record.type === 'cart') return events;
  const timestamp = isoTime(record.atMs);
  // Named by position: a transfer's source record has no event of its own, so its first
  // crossing is `<partition>-<lsn>` (every record's events are named alike, which the
  // publisher checks).
  for (const [flag, subject] of crossings) {
    if ((signals.flags & flag) === 0) continue;
    const id = eventId(partition, lsn, events.length);
    const body: StockLevelEvent = {
      event_id: id,
      product_id: record.productId,
      warehouse_id: record.warehouseId,
      available: signals.onHand - signals.reserved,
      on_hand: signals.onHand,
      reserved: signals.reserved,
      timestamp,
      trace_id: record.traceId,
    };
    events.push({ subject: `${subjectPrefix}${subject}`, msgId: id, body });
  }
  return events;
}

export function eventOf(
  partition: number,
  lsn: number,
  record: PublishedRecord,
  subjectPrefix = '',
): OutboundEvent {
  const id = eventId(partition, lsn);
  const aborted = record.type === 'cart' && record.decision === 'aborted';
  const set = record.type === 'adjusted' && record.set === true;
  const named = aborted ? cartAbortedSubject : set ? stockSetSubject : eventSubjects[record.type];
  const timestamp = isoTime(record.atMs);
  if (record.type === 'transfer') {
    return transferEvent(id, record, timestamp, subjectPrefix);
  }
  const subject = `${subjectPrefix}${named}`;
  if (record.type === 'settings') {
    return { subject, msgId: id, body: settingsEvent(id, record, timestamp) };
  }
  if (record.type === 'cart') return { subject, msgId: id, body: cartEvent(id, record, timestamp) };
  if (record.type === 'lot-expired') {
    const body: LotExpiredEvent = {
      event_id: id,
      product_id: record.productId,
      warehouse_id: record.warehouseId,
      lot_id: record.lotId,
      quantity: record.quantity,
      timestamp,
    };
    return { subject, msgId: id, body };
  }
  if (record.type === 'adjusted') {
    const body: StockAdjustedEvent = {
      event_id: id,
      product_id: record.productId,
      warehouse_id: record.warehouseId,
      delta: record.delta,
      on_hand: record.onHand,
      reserved: record.reserved,
      timestamp,
      trace_id: record.traceId,
      version: record.version,
      reason: record.reason,
      ...(record.reference === undefined ? {} : { reference: record.reference }),
    };
    return { subject, msgId: id, body };
  }
  const body: ReservationEvent = {
    event_id: id,
    reservation_id: record.reservationId,
    product_id: record.productId,
    warehouse_id: record.warehouseId,
    quantity: record.quantity,
    requester_id: record.requesterId,
    timestamp,
    trace_id: record.traceId,
    version: record.version,
    ...(record.type === 'reserved' || record.type === 'extended'
      ? { expires_at: isoTime(record.expiresAtMs) }
      : {}),
    ...(record.cartId === undefined ? {} : { cart_id: record.cartId }),
    ...(record.buyerId === undefined ? {} : { buyer_id: record.buyerId }),
    ...(record.reference === undefined ? {} : { reference: record.reference }),
    ...(record.type === 'confirmed'
      ? { confirmed_quantity: record.confirmedQuantity ?? record.quantity }
      : {}),
    ...lotUnitsEvents(record.lots),
  };
  return { subject, msgId: id, body };
}

function transferEvent(
  id: string,
  record: TransferRecord,
  timestamp: string,
  subjectPrefix: string,
): OutboundEvent {
  if (record.step === 'out' || record.warehouseId !== record.toWarehouseId) {
    throw new TypeError(`a transfer's ${record.step} record on its source has no event`);
  }
  const body: TransferEvent = {
    event_id: id,
    transfer_id: record.transferId,
    product_id: record.productId,
    from_warehouse_id: record.fromWarehouseId,
    to_warehouse_id: record.toWarehouseId,
    quantity: record.quantity,
    timestamp,
    trace_id: record.traceId,
    ...(record.reference === '' ? {} : { reference: record.reference }),
    ...lotUnitsEvents(record.lots),
  };
  return { subject: `${subjectPrefix}${transferSubjects[record.step]}`, msgId: id, body };
}

function settingsEvent(id: string, record: SettingsRecord, timestamp: string): SettingsEvent {
  const { settings } = record;
  return {
    event_id: id,
    product_id: record.productId,
    settings: {
      max_per_buyer: settings.maxPerBuyer,
      limit_window_seconds: settings.limitWindowSeconds,
      warehouse_priority: settings.warehousePriority,
      low_stock_threshold: settings.lowStockThreshold,
    },
    timestamp,
    trace_id: record.traceId,
  };
}

function cartEvent(id: string, record: CartRecord, timestamp: string): CartEvent {
  return {
    event_id: id,
    cart_id: record.cartId,
    holds: record.holds.map((hold) => ({
      line: hold.line,
      reservation_id: hold.reservationId,
      product_id: hold.productId,
      warehouse_id: hold.warehouseId,
      quantity: hold.quantity,
    })),
    ...(record.buyerId === '' ? {} : { buyer_id: record.buyerId }),
    ...(record.reference === '' ? {} : { reference: record.reference }),
    timestamp,
    trace_id: record.traceId,
  };
}
