// The lots of each stock key as the journal alone says they are, for the cart simulator: every
// record that moves units of a key with named lots says which lots, and here they are counted
// again. After every record: no lot holds more than it has (no oversell per lot), the lots add
// up to the key's on_hand and reserved (conservation per lot), a hold never holds a lot past its
// end, and a write-off takes all the unheld units of a lot whose day is over and nothing else.
import type { LotUnits, ReservedRecord, StockRecord } from '../../src/actors/index.js';

interface LandedLot {
  readonly expiresOn: string;
  onHand: number;
  reserved: number;
}

/** The end of a lot's expires_on day (UTC), Infinity without a date. */
function endOf(expiresOn: string): number {
  if (expiresOn === '') return Number.POSITIVE_INFINITY;
  const [year, month, day] = expiresOn.split('-').map(Number) as [number, number, number];
  return Date.UTC(year, month - 1, day + 1);
}

export class LandedLots {
  private readonly books = new Map<string, Map<string, LandedLot>>();
  /** Lots written off, and their units (the simulator's counts). */
  writeOffs = 0;

  constructor(private readonly fail: (reason: string) => void) {}

  get keysWithLots(): number {
    return this.books.size;
  }

  /**
   * A stock record, before the key's counts move (`before`: on_hand and reserved until now, for
   * a key's first lot, which makes them its unnamed lot). `hold`: the hold a change ends.
   */
  apply(
    record: StockRecord,
    before: { readonly onHand: number; readonly reserved: number },
    hold: ReservedRecord | undefined,
  ): void {
    const key = `${record.productId}/${record.warehouseId}`;
    const book = this.books.get(key);
    switch (record.type) {
      case 'adjusted':
        if (record.lots === undefined) {
          if (book !== undefined && record.delta !== 0)
            this.fail(`${key}: an adjust names no lots`);
          return;
        }
        return this.move(key, before, record.lots, Math.sign(record.delta));
      case 'reserved':
        return this.held(key, book, record);
      case 'confirmed':
      case 'released':
      case 'expired': {
        if (book === undefined || hold === undefined) return;
        const sold = record.type === 'confirmed' ? (record.confirmedQuantity ?? hold.quantity) : 0;
        this.finished(key, book, hold, sold);
        return;
      }
      case 'transfer': {
        const source = record.warehouseId === record.fromWarehouseId;
        const sign =
          record.step === 'out'
            ? -1
            : record.step === 'in' || (source && record.step === 'cancel')
              ? 1
              : 0;
        if (sign === 0 || (record.lots === undefined && book === undefined)) return;
        const lots = record.lots ?? [{ lotId: '', quantity: record.quantity }];
        return this.move(key, before, lots, sign);
      }
      case 'lot-expired':
        return this.writtenOff(key, book, record);
      default:
        return;
    }
  }

  /** After the record: the lots add up to the key's counts, and none is oversold. */
  check(key: string, onHand: number, reserved: number): void {
    const book = this.books.get(key);
    if (book === undefined) return;
    let lotsOnHand = 0;
    let lotsReserved = 0;
    for (const [lotId, lot] of book) {
      if (!(lot.reserved >= 0 && lot.reserved <= lot.onHand)) {
        this.fail(
          `oversold lot ${lotId} of ${key}: on_hand ${lot.onHand}, reserved ${lot.reserved}`,
        );
      }
      lotsOnHand += lot.onHand;
      lotsReserved += lot.reserved;
    }
    if (lotsOnHand !== onHand || lotsReserved !== reserved) {
      this.fail(`${key}: lots hold ${lotsOnHand}/${lotsReserved}, the key ${onHand}/${reserved}`);
    }
  }

  private bookOf(key: string, before: { onHand: number; reserved: number }) {
    let book = this.books.get(key);
    if (book === undefined) {
      book = new Map();
      if (before.onHand > 0) book.set('', { expiresOn: '', ...before });
      this.books.set(key, book);
    }
    return book;
  }

  private move(
    key: string,
    before: { onHand: number; reserved: number },
    lots: readonly LotUnits[],
    sign: number,
  ): void {
    const book = this.bookOf(key, before);
    for (const units of lots) {
      const expiresOn = units.expiresOn ?? '';
      let lot = book.get(units.lotId);
      if (lot === undefined) {
        if (sign < 0) this.fail(`${key}: units taken from unknown lot ${units.lotId}`);
        book.set(units.lotId, (lot = { expiresOn, onHand: 0, reserved: 0 }));
      }
      if (lot.expiresOn !== expiresOn) this.fail(`${key}: lot ${units.lotId} changed its date`);
      lot.onHand += sign * units.quantity;
      if (sign < 0 && lot.onHand < lot.reserved) {
        this.fail(`${key}: held units of lot ${units.lotId} taken away`);
      }
    }
  }

  private held(key: string, book: Map<string, LandedLot> | undefined, record: ReservedRecord) {
    if ((book === undefined) !== (record.lots === undefined)) {
      this.fail(`hold ${record.reservationId} on ${key}: its lots do not match the key's`);
      return;
    }
    for (const units of record.lots ?? []) {
      const lot = book?.get(units.lotId);
      if (lot === undefined) {
        this.fail(`hold ${record.reservationId}: unknown lot ${units.lotId}`);
        continue;
      }
      if (endOf(lot.expiresOn) < record.expiresAtMs) {
        this.fail(`hold ${record.reservationId} outlives lot ${units.lotId} of ${key}`);
      }
      lot.reserved += units.quantity;
    }
  }

  /** A hold ends: its units go back, the first `sold` of them (its FEFO order) sold. */
  private finished(key: string, book: Map<string, LandedLot>, hold: ReservedRecord, sold: number) {
    let remaining = sold;
    for (const units of hold.lots ?? [{ lotId: '', quantity: hold.quantity }]) {
      const lot = book.get(units.lotId);
      if (lot === undefined) {
        this.fail(`${key}: hold ${hold.reservationId} of unknown lot ${units.lotId}`);
        continue;
      }
      const gone = Math.min(remaining, units.quantity);
      lot.reserved -= units.quantity;
      lot.onHand -= gone;
      remaining -= gone;
    }
  }

  private writtenOff(
    key: string,
    book: Map<string, LandedLot> | undefined,
    record: Extract<StockRecord, { type: 'lot-expired' }>,
  ): void {
    const lot = book?.get(record.lotId);
    if (lot === undefined || lot.expiresOn !== record.expiresOn) {
      this.fail(`${key}: write-off of unknown lot ${record.lotId}`);
      return;
    }
    if (endOf(lot.expiresOn) > record.atMs) {
      this.fail(`${key}: lot ${record.lotId} written off before its day ended`);
    }
    if (lot.onHand - lot.reserved !== record.quantity) {
      this.fail(
        `${key}: write-off of ${record.quantity}, lot ${record.lotId} has other unheld units`,
      );
    }
    lot.onHand -= record.quantity;
    this.writeOffs += 1;
  }
}
