// A movement: one change of one stock key, as the history shows it. Every journal record that
// moves a key's version is one movement of that key; records that change no key (a cart's
// decision, a cart confirm's steps, a product's settings) and an extend (no stock moves, the
// version stays) are none. A movement is rendered from the record itself plus the key's counts
// after the change, which some records do not carry (a hold's records): the shard knows them
// when it journals the record and keeps them beside it (src/persistence, ledger_movements).
import { merged } from './merged.js';
import type { JournalRecord, LotUnits, StockRecord, TransferStep } from './types.js';

export type MovementType =
  | 'reserve'
  | 'confirm'
  | 'release'
  | 'expire'
  | 'adjust'
  | 'set'
  | 'transfer_out'
  | 'transfer_in'
  | 'transfer_incoming'
  | 'transfer_cancel'
  /** A lot's unheld units written off at the end of its expiry day. */
  | 'lot_expired';

/** A key's counts right after a change. */
export interface MovementCounts {
  readonly onHand: number;
  readonly reserved: number;
  readonly incoming: number;
}

export interface Movement extends MovementCounts {
  /** The key's version after the change. */
  readonly version: number;
  readonly type: MovementType;
  /** Units moved; signed for an adjust and a set (the change of on_hand). */
  readonly quantity: number;
  readonly atMs: number;
  readonly reservationId?: string;
  readonly cartId?: string;
  readonly transferId?: string;
  /** On a key with named lots: the units the change took from or gave to each lot. */
  readonly lots?: readonly LotUnits[];
  readonly buyerId?: string;
  readonly reason?: string;
  readonly reference?: string;
  /** Who asked for the change (the caller's token subject); absent for the ledger's own. */
  readonly subject?: string;
  readonly traceId?: string;
}

/** A record that is a movement of its key: a stock record that moved the version. */
export type MovementRecord = Exclude<StockRecord, { type: 'extended' }>;

export function isMovement(record: JournalRecord): record is MovementRecord {
  switch (record.type) {
    case 'reserved':
    case 'confirmed':
    case 'released':
    case 'expired':
    case 'adjusted':
    case 'transfer':
    case 'lot-expired':
      return true;
    default:
      return false;
  }
}

const transferTypes: Readonly<Record<TransferStep, MovementType>> = {
  out: 'transfer_out',
  in: 'transfer_in',
  incoming: 'transfer_incoming',
  cancel: 'transfer_cancel',
};

const holdTypes = {
  reserved: 'reserve',
  confirmed: 'confirm',
  released: 'release',
  expired: 'expire',
} as const;

/**
 * The key's counts before a record, from those after it: what lets the shard work out each
 * record's counts in a change of several records on one key (a cart) from the key's final state.
 */
export function countsBefore(record: MovementRecord, after: MovementCounts): MovementCounts {
  const { onHand, reserved, incoming } = after;
  switch (record.type) {
    case 'reserved':
      return { onHand, reserved: reserved - record.quantity, incoming };
    case 'confirmed':
      return {
        onHand: onHand + (record.confirmedQuantity ?? record.quantity),
        reserved: reserved + record.quantity,
        incoming,
      };
    case 'released':
    case 'expired':
      return { onHand, reserved: reserved + record.quantity, incoming };
    case 'adjusted':
      return { onHand: onHand - record.delta, reserved, incoming };
    case 'transfer':
      return transferBefore(record, after);
    case 'lot-expired':
      return { onHand: onHand + record.quantity, reserved, incoming };
  }
}

function transferBefore(
  record: Extract<MovementRecord, { type: 'transfer' }>,
  after: MovementCounts,
): MovementCounts {
  const { onHand, reserved, incoming } = after;
  const { quantity } = record;
  const source = record.fromWarehouseId === record.warehouseId;
  switch (record.step) {
    case 'out':
      return { onHand: onHand + quantity, reserved, incoming };
    case 'incoming':
      return { onHand, reserved, incoming: incoming - quantity };
    case 'in':
      return record.inTransit
        ? { onHand: onHand - quantity, reserved, incoming: incoming + quantity }
        : { onHand: onHand - quantity, reserved, incoming };
    case 'cancel':
      return source
        ? { onHand: onHand - quantity, reserved, incoming }
        : { onHand, reserved, incoming: incoming + quantity };
  }
}

/** The caller a record names, if it names one (a hold's end does not: see the shard). */
export function subjectOf(record: MovementRecord): string {
  if (record.type === 'reserved') return record.requesterId;
  if (record.type === 'adjusted' || record.type === 'transfer') return record.actorId;
  return '';
}

const present = <Name extends string>(name: Name, value: string | undefined) =>
  value === undefined || value === '' ? {} : ({ [name]: value } as Record<Name, string>);

const lotsOf = (lots: readonly LotUnits[] | undefined): { lots?: readonly LotUnits[] } =>
  lots === undefined || lots.length === 0 ? {} : { lots };

/** The movement a record is, with the key's counts after it and the caller's subject. */
export function movementOf(
  record: MovementRecord,
  counts: MovementCounts,
  subject: string,
): Movement {
  const base = {
    version: record.version,
    ...counts,
    atMs: record.atMs,
  };
  const common = merged(present('subject', subject), present('traceId', record.traceId));
  switch (record.type) {
    case 'adjusted':
      return merged(base, {
        type: record.set === true ? 'set' : 'adjust',
        quantity: record.delta,
        ...lotsOf(record.lots),
        ...present('reason', record.reason),
        ...present('reference', record.reference),
        ...common,
      });
    case 'transfer':
      return merged(base, {
        type: transferTypes[record.step],
        quantity: record.quantity,
        transferId: record.transferId,
        ...lotsOf(record.lots),
        ...present('reason', record.reason),
        ...present('reference', record.reference),
        ...common,
      });
    case 'lot-expired': {
      const { lotId, quantity, expiresOn } = record;
      return merged(base, {
        type: 'lot_expired',
        quantity,
        lots: [{ lotId, quantity, expiresOn }],
      });
    }
    default:
      return merged(base, {
        type: holdTypes[record.type],
        quantity:
          record.type === 'confirmed'
            ? (record.confirmedQuantity ?? record.quantity)
            : record.quantity,
        reservationId: record.reservationId,
        ...lotsOf(record.lots),
        ...present('cartId', record.cartId),
        ...present('buyerId', record.buyerId),
        ...present('reference', record.reference),
        ...common,
      });
  }
}
