// Journal rows of the v1.1 records (type codes 6 and up), positional like the v1 rows: holds
// with a buyer, reference or cart (6), their changes (7, which also carries a partial confirm),
// extends (8), product settings (9), cart decisions (10) and the steps of cart confirm attempts
// (11), adjusts with a set, a reference or an expected version (12), and one key's record of a
// transfer step (13; lots, when they exist, will be a list field of their own). A hold, a
// change of one or an adjust that crossed a line (sold out, back in stock, low) also takes its
// v1.1 row, with the crossings as three trailing fields (absent in rows written before); so
// does a transfer record. On a key with named lots, a hold's rows, an adjust's and a transfer's
// end with one more field, the lots (a list of [lot id, units, expires_on or '']), after the
// crossings; an adjust naming a lot then adds [lot id, expires_on or ''] as named. Rare next to
// plain holds, so they take msgpackr's general path on decode, then a strict check of every
// field; never renumber.
import { extrasOf, merged } from '../actors/index.js';
import type {
  AdjustedRecord,
  CartConfirmRecord,
  CartHold,
  CartRecord,
  ExtendedRecord,
  HoldExtras,
  JournalRecord,
  LotExpiredRecord,
  LotRequest,
  LotUnits,
  ProductSettings,
  ReservationChangedRecord,
  ReservedRecord,
  SettingsRecord,
  StockSignals,
  TransferRecord,
} from '../actors/index.js';

const codes = {
  reserved: 6,
  changed: 7,
  extended: 8,
  settings: 9,
  cart: 10,
  cartConfirm: 11,
  adjusted: 12,
  transfer: 13,
  lotExpired: 14,
} as const;
const transferSteps = ['out', 'in', 'incoming', 'cancel'] as const;
const confirmSteps = ['pinned', 'unpinned', 'confirmed', 'aborted'] as const;
const changedTypes = { confirmed: 2, released: 3, expired: 4 } as const;
const changedNames = [undefined, undefined, 'confirmed', 'released', 'expired'] as const;

type ErrorClass = new (message: string) => Error;

/** Whether a record needs a v1.1 row (plain holds and adjusts keep their v1 rows). */
export function isV11(record: JournalRecord): boolean {
  switch (record.type) {
    case 'adjusted':
      return (
        record.set !== undefined ||
        record.reference !== undefined ||
        record.expectedVersion !== undefined ||
        record.signals !== undefined ||
        record.lot !== undefined ||
        record.lots !== undefined
      );
    case 'reserved':
      return hasExtras(record) || record.signals !== undefined;
    case 'confirmed':
    case 'released':
    case 'expired':
      return (
        hasExtras(record) || record.confirmedQuantity !== undefined || record.signals !== undefined
      );
    default:
      return true;
  }
}

const hasExtras = (record: HoldExtras): boolean =>
  record.buyerId !== undefined ||
  record.reference !== undefined ||
  record.cartId !== undefined ||
  record.lots !== undefined;

const extrasRow = (record: HoldExtras): string[] => [
  record.buyerId ?? '',
  record.reference ?? '',
  record.cartId ?? '',
];

export function encodeV11(record: JournalRecord): unknown[] {
  switch (record.type) {
    case 'reserved': {
      const { productId, warehouseId, version, atMs, traceId, reservationId } = record;
      const { quantity, expiresAtMs, idempotencyKey, requesterId } = record;
      const head = [codes.reserved, productId, warehouseId, version, atMs, traceId];
      const hold = [reservationId, quantity, expiresAtMs, idempotencyKey, requesterId];
      return [...head, ...hold, ...extrasRow(record), ...signalsRow(record), ...lotsRow(record)];
    }
    case 'confirmed':
    case 'released':
    case 'expired': {
      const { productId, warehouseId, version, atMs, traceId, reservationId } = record;
      const head = [codes.changed, changedTypes[record.type], productId, warehouseId, version];
      const hold = [atMs, traceId, reservationId, record.quantity, record.requesterId];
      const sold = record.confirmedQuantity ?? 0;
      const tail = [...signalsRow(record), ...lotsRow(record)];
      return [...head, ...hold, ...extrasRow(record), sold, ...tail];
    }
    case 'extended': {
      const { productId, warehouseId, version, atMs, traceId, reservationId } = record;
      const head = [codes.extended, productId, warehouseId, version, atMs, traceId];
      const hold = [reservationId, record.quantity, record.expiresAtMs, record.requesterId];
      return [...head, ...hold, ...extrasRow(record), ...lotsRow(record)];
    }
    case 'settings': {
      const { maxPerBuyer, limitWindowSeconds, warehousePriority, lowStockThreshold } =
        record.settings;
      const head = [codes.settings, record.productId, record.atMs, record.traceId];
      const settings = [maxPerBuyer, limitWindowSeconds, warehousePriority, lowStockThreshold];
      return [...head, record.actorId, ...settings];
    }
    case 'cart':
      return encodeCart(record);
    case 'adjusted': {
      const { productId, warehouseId, version, atMs, traceId, delta, onHand, reserved } = record;
      const head = [codes.adjusted, productId, warehouseId, version, atMs, traceId];
      const change = [delta, onHand, reserved, record.reason, record.idempotencyKey];
      const terms = [
        record.set === true ? 1 : 0,
        record.reference ?? '',
        record.expectedVersion ?? -1,
      ];
      const { lot } = record;
      // A named lot always comes with the lots moved (maybe none), so the fields stay in order.
      const lots = lot === undefined ? lotsRow(record) : [lotsOf(record.lots ?? [])];
      const named = lot === undefined ? [] : [[lot.lotId, lot.expiresOn ?? '']];
      return [
        ...head,
        ...change,
        record.actorId,
        ...terms,
        ...signalsRow(record),
        ...lots,
        ...named,
      ];
    }
    case 'transfer':
      return encodeTransfer(record);
    case 'lot-expired':
      return encodeLotExpired(record);
    case 'cart-confirm': {
      const { cartId, attempt, atMs, traceId } = record;
      const holds = record.holds.map((hold) => [hold.reservationId, hold.quantity]);
      const step = confirmSteps.indexOf(record.step);
      return [codes.cartConfirm, cartId, attempt, step, atMs, traceId, holds];
    }
    default:
      throw new TypeError(`no v1.1 row for a ${(record as JournalRecord).type} record`);
  }
}

function encodeTransfer(record: TransferRecord): unknown[] {
  const { productId, warehouseId, version, atMs, traceId, transferId } = record;
  const head = [codes.transfer, productId, warehouseId, version, atMs, traceId, transferId];
  const step = transferSteps.indexOf(record.step);
  const move = [step, record.fromWarehouseId, record.toWarehouseId, record.quantity];
  const counts = [record.inTransit ? 1 : 0, record.onHand, record.reserved, record.incoming];
  const terms = [record.idempotencyKey, record.reason, record.reference, record.actorId];
  const tail = [...signalsRow(record), ...lotsRow(record)];
  return [...head, ...move, ...counts, ...terms, record.createdAtMs, ...tail];
}

function encodeLotExpired(record: LotExpiredRecord): unknown[] {
  const { productId, warehouseId, version, atMs, traceId, lotId, expiresOn } = record;
  const head = [codes.lotExpired, productId, warehouseId, version, atMs, traceId];
  const counts = [record.quantity, record.onHand, record.reserved];
  return [...head, lotId, expiresOn, ...counts, ...signalsRow(record)];
}

function lotsOf(lots: readonly LotUnits[]): unknown[] {
  return lots.map((units) => [units.lotId, units.quantity, units.expiresOn ?? '']);
}

/** A record's lots as one trailing field; none on a key without lots. */
function lotsRow(record: { readonly lots?: readonly LotUnits[] }): unknown[] {
  return record.lots === undefined ? [] : [lotsOf(record.lots)];
}

/** The trailing lots, if the row has them. */
function lotsRead(read: RowReader): { lots?: LotUnits[] } {
  if (!read.more()) return {};
  const lots = read.list((units) => {
    const lotId = units.text();
    const quantity = units.number();
    const expiresOn = units.text();
    return units.done(expiresOn === '' ? { lotId, quantity } : { lotId, quantity, expiresOn });
  });
  return { lots };
}

/** An adjust's lot as named, after its lots. */
function lotNamedRead(read: RowReader): { lot?: LotRequest } {
  if (!read.more()) return {};
  return {
    lot: read.tuple((named) => {
      const lotId = named.text();
      const expiresOn = named.text();
      return named.done(expiresOn === '' ? { lotId } : { lotId, expiresOn });
    }),
  };
}

function encodeCart(record: CartRecord): unknown[] {
  // A hold on a key with named lots ends with its lots (rows written before end earlier).
  const holds = record.holds.map((hold) => [
    hold.line,
    hold.partition,
    hold.reservationId,
    hold.productId,
    hold.warehouseId,
    hold.quantity,
    ...lotsRow(hold),
  ]);
  return [
    codes.cart,
    record.cartId,
    record.decision === 'committed' ? 1 : 0,
    record.idempotencyKey,
    record.fingerprint,
    record.createdAtMs,
    record.expiresAtMs,
    record.buyerId,
    record.reference,
    record.requesterId,
    record.atMs,
    record.traceId,
    holds,
  ];
}

/** A row of a v1.1 type code back to its record; anything off is `Failure`. */
export function decodeV11(row: unknown[], Failure: ErrorClass): JournalRecord {
  const read = new RowReader(row, Failure);
  switch (row[0]) {
    case codes.reserved:
      return read.done(reservedOf(read));
    case codes.changed:
      return read.done(changedOf(read));
    case codes.extended:
      return read.done(extendedOf(read));
    case codes.settings:
      return read.done(settingsOf(read));
    case codes.cart:
      return read.done(cartOf(read));
    case codes.cartConfirm:
      return read.done(cartConfirmOf(read));
    case codes.adjusted:
      return read.done(adjustedOf(read));
    case codes.transfer:
      return read.done(transferOf(read));
    case codes.lotExpired:
      return read.done(lotExpiredOf(read));
    default:
      throw new Failure(`unknown journal record type code ${String(row[0])}`);
  }
}

/** The row's buyer, reference and cart ('' = none), as the record's extras. */
/** A change's crossings, as trailing fields: none when it crossed nothing. */
function signalsRow(record: { readonly signals?: StockSignals }): number[] {
  const signals = record.signals;
  return signals === undefined ? [] : [signals.flags, signals.onHand, signals.reserved];
}

/** The trailing crossings, if the row has them (rows written before them end earlier). */
function signalsRead(read: RowReader): { signals?: StockSignals } {
  // The lots, a list, may follow without crossings before them.
  if (!read.more() || read.nextIsList()) return {};
  const flags = read.number();
  if (!(Number.isSafeInteger(flags) && flags >= 1 && flags <= 7))
    read.fail('crossings out of range');
  return { signals: { flags, onHand: read.number(), reserved: read.number() } };
}

function extrasRead(read: RowReader): HoldExtras {
  const buyerId = read.text();
  const reference = read.text();
  return extrasOf(buyerId, reference, read.text());
}

function reservedOf(read: RowReader): ReservedRecord {
  return {
    type: 'reserved',
    ...holdHead(read),
    expiresAtMs: read.number(),
    idempotencyKey: read.text(),
    requesterId: read.text(),
    ...extrasRead(read),
    ...signalsRead(read),
    ...lotsRead(read),
  };
}

/** What every hold row starts with: its key and version, when and why, the hold and its units. */
function holdHead(read: RowReader) {
  return {
    productId: read.text(),
    warehouseId: read.text(),
    version: read.number(),
    atMs: read.number(),
    traceId: read.text(),
    reservationId: read.text(),
    quantity: read.number(),
  };
}

function changedOf(read: RowReader): ReservationChangedRecord {
  const type = changedNames[read.number()];
  if (type === undefined) read.fail('unknown change of a hold');
  const base = {
    type,
    ...holdHead(read),
    requesterId: read.text(),
    ...extrasRead(read),
  };
  const confirmedQuantity = read.number();
  const sold = confirmedQuantity === 0 ? {} : { confirmedQuantity };
  return merged(base, sold, signalsRead(read), lotsRead(read));
}

function extendedOf(read: RowReader): ExtendedRecord {
  return {
    type: 'extended',
    ...holdHead(read),
    expiresAtMs: read.number(),
    requesterId: read.text(),
    ...extrasRead(read),
    ...lotsRead(read),
  };
}

function settingsOf(read: RowReader): SettingsRecord {
  const productId = read.text();
  const atMs = read.number();
  const traceId = read.text();
  const actorId = read.text();
  const settings: ProductSettings = {
    maxPerBuyer: read.numberOrNull(),
    limitWindowSeconds: read.number(),
    warehousePriority: read.textsOrNull(),
    lowStockThreshold: read.numberOrNull(),
  };
  return { type: 'settings', productId, settings, atMs, traceId, actorId };
}

function cartOf(read: RowReader): CartRecord {
  const cartId = read.text();
  const committed = read.number();
  if (committed !== 0 && committed !== 1) read.fail('a cart decision other than 0 or 1');
  return {
    type: 'cart',
    cartId,
    decision: committed === 1 ? 'committed' : 'aborted',
    idempotencyKey: read.text(),
    fingerprint: read.text(),
    createdAtMs: read.number(),
    expiresAtMs: read.number(),
    buyerId: read.text(),
    reference: read.text(),
    requesterId: read.text(),
    atMs: read.number(),
    traceId: read.text(),
    holds: read.list((hold) => holdOf(hold)),
  };
}

function adjustedOf(read: RowReader): AdjustedRecord {
  const base = {
    type: 'adjusted' as const,
    productId: read.text(),
    warehouseId: read.text(),
    version: read.number(),
    atMs: read.number(),
    traceId: read.text(),
    delta: read.number(),
    onHand: read.number(),
    reserved: read.number(),
    reason: read.text(),
    idempotencyKey: read.text(),
    actorId: read.text(),
  };
  const set = read.number();
  if (set !== 0 && set !== 1) read.fail('a set flag other than 0 or 1');
  const reference = read.text();
  const expectedVersion = read.number();
  return merged(
    base,
    set === 1 ? { set: true as const } : undefined,
    reference === '' ? undefined : { reference },
    expectedVersion === -1 ? undefined : { expectedVersion },
    signalsRead(read),
    nonEmpty(lotsRead(read)),
    lotNamedRead(read),
  );
}

/** An adjust naming a lot writes its lots even when none moved: none is no field. */
function nonEmpty(lots: { lots?: LotUnits[] }): { lots?: LotUnits[] } {
  return lots.lots === undefined || lots.lots.length === 0 ? {} : lots;
}

function transferOf(read: RowReader): TransferRecord {
  const head = {
    productId: read.text(),
    warehouseId: read.text(),
    version: read.number(),
    atMs: read.number(),
    traceId: read.text(),
    transferId: read.text(),
  };
  const step = transferSteps[read.number()];
  if (step === undefined) read.fail('a transfer step out of range');
  const fromWarehouseId = read.text();
  const toWarehouseId = read.text();
  const quantity = read.number();
  const inTransit = read.number();
  if (inTransit !== 0 && inTransit !== 1) read.fail('an in-transit flag other than 0 or 1');
  return {
    type: 'transfer',
    ...head,
    step,
    fromWarehouseId,
    toWarehouseId,
    quantity,
    inTransit: inTransit === 1,
    onHand: read.number(),
    reserved: read.number(),
    incoming: read.number(),
    idempotencyKey: read.text(),
    reason: read.text(),
    reference: read.text(),
    actorId: read.text(),
    createdAtMs: read.number(),
    ...signalsRead(read),
    ...lotsRead(read),
  };
}

function lotExpiredOf(read: RowReader): LotExpiredRecord {
  return {
    type: 'lot-expired',
    productId: read.text(),
    warehouseId: read.text(),
    version: read.number(),
    atMs: read.number(),
    traceId: read.text(),
    lotId: read.text(),
    expiresOn: read.text(),
    quantity: read.number(),
    onHand: read.number(),
    reserved: read.number(),
    ...signalsRead(read),
  };
}

function cartConfirmOf(read: RowReader): CartConfirmRecord {
  const cartId = read.text();
  const attempt = read.text();
  const step = confirmSteps[read.number()];
  if (step === undefined) read.fail('a cart confirm step out of range');
  return {
    type: 'cart-confirm',
    cartId,
    attempt,
    step,
    atMs: read.number(),
    traceId: read.text(),
    holds: read.list((hold) => hold.done({ reservationId: hold.text(), quantity: hold.number() })),
  };
}

function holdOf(read: RowReader): CartHold {
  return read.done({
    line: read.number(),
    partition: read.number(),
    reservationId: read.text(),
    productId: read.text(),
    warehouseId: read.text(),
    quantity: read.number(),
    ...lotsRead(read),
  });
}

/** Reads a row's fields in order, each of the type asked for, and checks nothing is left. */
class RowReader {
  private next: number;

  constructor(
    private readonly row: readonly unknown[],
    private readonly Failure: ErrorClass,
    first = 1,
  ) {
    this.next = first;
  }

  fail(message: string): never {
    throw new this.Failure(`v1.1 record type ${String(this.row[0])}: ${message}`);
  }

  private field(): unknown {
    if (this.next >= this.row.length) this.fail(`ends before field ${this.next}`);
    const value = this.row[this.next];
    this.next += 1;
    return value;
  }

  text(): string {
    const value = this.field();
    if (typeof value !== 'string') this.fail(`field ${this.next - 1} is not a string`);
    return value;
  }

  number(): number {
    const value = this.field();
    if (typeof value !== 'number') this.fail(`field ${this.next - 1} is not a number`);
    return value;
  }

  numberOrNull(): number | null {
    const value = this.field();
    if (value !== null && typeof value !== 'number') this.fail(`field ${this.next - 1}`);
    return value;
  }

  textsOrNull(): string[] | null {
    const value = this.field();
    if (value === null) return null;
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
      this.fail(`field ${this.next - 1} is not a list of strings`);
    }
    return value as string[];
  }

  list<T>(each: (reader: RowReader) => T): T[] {
    const value = this.field();
    if (!Array.isArray(value)) this.fail(`field ${this.next - 1} is not a list`);
    return value.map((item: unknown) => {
      if (!Array.isArray(item)) this.fail(`field ${this.next - 1} holds a non-list`);
      return each(new RowReader(item, this.Failure, 0));
    });
  }

  /** One field that is itself a row of fields. */
  tuple<T>(each: (reader: RowReader) => T): T {
    const value = this.field();
    if (!Array.isArray(value)) this.fail(`field ${this.next - 1} is not a list`);
    return each(new RowReader(value, this.Failure, 0));
  }

  nextIsList(): boolean {
    return Array.isArray(this.row[this.next]);
  }

  /** Whether fields are left (a row of an older writer may end before optional ones). */
  more(): boolean {
    return this.next < this.row.length;
  }

  done<T>(value: T): T {
    if (this.next !== this.row.length) this.fail(`${this.row.length - this.next} fields too many`);
    return value;
  }
}
