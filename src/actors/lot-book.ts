// A stock key's lots (batches), kept only by keys that have named ones: most keys never do, and
// they pay nothing for this (the book hangs off the key's busy part). The book splits the key's
// on_hand and reserved over its lots, the unnamed lot ('') included, and always sums to them.
// Pure and synchronous like the actor that owns it.
import { merged } from './merged.js';
import { assert, fail } from './assert.js';
import type { LotUnits, LotView } from './types.js';

/** A lot's sellable end for a lot without a date: it never expires. */
export const lotNeverEndsMs = Number.MAX_SAFE_INTEGER;

export interface Lot {
  /** '' for the key's unnamed lot. */
  readonly lotId: string;
  /** 'YYYY-MM-DD', or '' for a lot without a date. */
  readonly expiresOn: string;
  /** The end of its expires_on day (UTC): sellable before this instant; never for ''. */
  readonly endMs: number;
  readonly receivedAtMs: number;
  /** First-received order within the key: FEFO's tie-break. */
  readonly sequence: number;
  onHand: number;
  reserved: number;
}

/** The instant a lot stops being sellable: the end of its expires_on day, UTC. */
export function lotEndMs(expiresOn: string): number {
  if (expiresOn === '') return lotNeverEndsMs;
  const [year, month, day] = expiresOn.split('-').map(Number) as [number, number, number];
  return Date.UTC(year, month - 1, day + 1);
}

/** FEFO: the earliest end first, lots without a date last, ties by first receipt. */
function fefo(a: Lot, b: Lot): number {
  return a.endMs - b.endMs || a.sequence - b.sequence;
}

export class LotBook {
  /** In FEFO order. A handful per key; bounded by the retention policy's `lotsPerKeyMax`. */
  readonly lots: Lot[] = [];
  /** The next lot's first-received number. */
  nextSequence = 0;

  get(lotId: string): Lot | undefined {
    return this.lots.find((lot) => lot.lotId === lotId);
  }

  /** Adds a lot (live, replayed or restored); `sequence` is given only by a snapshot restore. */
  add(lotId: string, expiresOn: string, receivedAtMs: number, sequence = this.nextSequence): Lot {
    if (this.get(lotId) !== undefined) fail(`lot ${lotId} added twice`);
    const lot: Lot = {
      lotId,
      expiresOn,
      endMs: lotEndMs(expiresOn),
      receivedAtMs,
      sequence,
      onHand: 0,
      reserved: 0,
    };
    this.lots.push(lot);
    this.lots.sort(fefo);
    this.nextSequence = Math.max(this.nextSequence, sequence + 1);
    return lot;
  }

  /** Unheld units of the lots still sellable when a hold ending at `holdEndMs` ends. */
  availableUntil(holdEndMs: number): number {
    let total = 0;
    for (const lot of this.lots) if (lot.endMs >= holdEndMs) total += lot.onHand - lot.reserved;
    return total;
  }

  /**
   * Unheld units to take, FEFO, from lots sellable until `untilMs` (0: any lot): the lots and
   * units taken, each with its date. The caller has checked there are enough.
   */
  takeFefo(quantity: number, untilMs: number): LotUnits[] {
    const taken: LotUnits[] = [];
    let remaining = quantity;
    for (const lot of this.lots) {
      if (remaining === 0) break;
      if (lot.endMs < untilMs) continue;
      const units = Math.min(remaining, lot.onHand - lot.reserved);
      if (units <= 0) continue;
      taken.push(unitsOf(lot, units));
      remaining -= units;
    }
    if (remaining !== 0) fail(`${remaining} units short in the lots`);
    return taken;
  }

  /** Receives units (on_hand up), making the lot on first use. */
  receive(units: LotUnits, atMs: number): void {
    const lot = this.get(units.lotId) ?? this.add(units.lotId, units.expiresOn ?? '', atMs);
    if (lot.expiresOn !== (units.expiresOn ?? '')) {
      fail(`lot ${lot.lotId} received with another date`);
    }
    lot.onHand += units.quantity;
  }

  /** Takes unheld units away (on_hand down). */
  remove(units: LotUnits): void {
    const lot = this.lotOf(units);
    if (!(lot.onHand - lot.reserved >= units.quantity)) fail(`lot ${lot.lotId} oversold`);
    lot.onHand -= units.quantity;
  }

  /** Holds units (reserved up); `sign` -1 gives them back. */
  hold(units: LotUnits, sign: 1 | -1): void {
    const lot = this.lotOf(units);
    lot.reserved += sign * units.quantity;
    if (!(lot.reserved >= 0 && lot.reserved <= lot.onHand)) {
      fail(`lot ${lot.lotId} held ${lot.reserved} of ${lot.onHand}`);
    }
  }

  /**
   * A hold ends: its units go back to their lots, but the first `sold` of them (in the hold's
   * FEFO order) leave on_hand as sold.
   */
  finishHold(held: readonly LotUnits[], sold: number): void {
    let remaining = sold;
    for (const units of held) {
      this.hold(units, -1);
      const gone = Math.min(remaining, units.quantity);
      if (gone > 0) this.remove({ lotId: units.lotId, quantity: gone });
      remaining -= gone;
    }
    assert(remaining === 0, 'a hold sold more units than it held');
  }

  private lotOf(units: LotUnits): Lot {
    const lot = this.get(units.lotId);
    if (lot === undefined) fail(`unknown lot ${units.lotId}`);
    return lot;
  }

  /**
   * When the next write-off is due: the earliest end of a lot with unheld units (a lot past its
   * end with unheld units is due at once); Infinity when none.
   */
  writeOffDueMs(): number {
    for (const lot of this.lots) {
      if (lot.endMs === lotNeverEndsMs) break;
      if (lot.onHand > lot.reserved) return lot.endMs;
    }
    return Number.POSITIVE_INFINITY;
  }

  /** The lots whose day is over at `nowMs` and that have unheld units: to be written off. */
  writeOffs(nowMs: number): Lot[] {
    return this.lots.filter((lot) => lot.endMs <= nowMs && lot.onHand > lot.reserved);
  }

  /** The lots with units, in FEFO order, as the stock view shows them. */
  views(): LotView[] {
    const views: LotView[] = [];
    for (const lot of this.lots) {
      if (lot.onHand === 0) continue;
      const view = {
        lotId: lot.lotId,
        onHand: lot.onHand,
        reserved: lot.reserved,
        receivedAtMs: lot.receivedAtMs,
      };
      views.push(lot.expiresOn === '' ? view : merged(view, { expiresOn: lot.expiresOn }));
    }
    return views;
  }

  /** Checks the lots add up to the key's counts and none is oversold. */
  check(onHand: number, reserved: number): void {
    let lotsOnHand = 0;
    let lotsReserved = 0;
    for (const lot of this.lots) {
      if (!(lot.reserved >= 0 && lot.reserved <= lot.onHand)) {
        fail(`lot ${lot.lotId}: reserved ${lot.reserved}, on_hand ${lot.onHand}`);
      }
      lotsOnHand += lot.onHand;
      lotsReserved += lot.reserved;
    }
    if (lotsOnHand !== onHand || lotsReserved !== reserved) {
      fail(`lots hold ${lotsOnHand}/${lotsReserved}, the key ${onHand}/${reserved}`);
    }
  }
}

/** Units of a lot, with its date when it has one. */
export function unitsOf(lot: Lot, quantity: number): LotUnits {
  return lot.expiresOn === ''
    ? { lotId: lot.lotId, quantity }
    : { lotId: lot.lotId, quantity, expiresOn: lot.expiresOn };
}
