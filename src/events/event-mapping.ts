// One journal record -> one event (API.md, "Events (NATS)"): its subject, its JSON body and the
// id that JetStream deduplicates on. Pure, so the schema tests can check every record type.
import type { JournalRecord } from '../actors/index.js';

/** Subjects per record type, under the configured prefix (empty in production). */
export const eventSubjects = {
  reserved: 'inventory.reserve.request',
  confirmed: 'inventory.reserve.confirmed',
  released: 'inventory.reserve.released',
  expired: 'inventory.reserve.expired',
  adjusted: 'inventory.stock.adjusted',
} as const satisfies Record<JournalRecord['type'], string>;

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
  /** Optional field, inventory.reserve.request only: when the hold expires. */
  readonly expires_at?: string;
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
}

export interface OutboundEvent {
  readonly subject: string;
  /** `<partition>-<lsn>`: the Nats-Msg-Id header and the body's event_id. */
  readonly msgId: string;
  readonly body: ReservationEvent | StockAdjustedEvent;
}

export function eventId(partition: number, lsn: number): string {
  return `${partition}-${lsn}`;
}

export function eventOf(
  partition: number,
  lsn: number,
  record: JournalRecord,
  subjectPrefix = '',
): OutboundEvent {
  const id = eventId(partition, lsn);
  const subject = `${subjectPrefix}${eventSubjects[record.type]}`;
  const timestamp = new Date(record.atMs).toISOString();
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
    ...(record.type === 'reserved'
      ? { expires_at: new Date(record.expiresAtMs).toISOString() }
      : {}),
  };
  return { subject, msgId: id, body };
}
