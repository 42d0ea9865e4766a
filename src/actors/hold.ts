// A pending hold with more to it than a plain one (a buyer, a reference, a cart, lots, a cart
// confirm's pin), as its partition's store keeps it: an object in its slot (pending-holds.ts
// keeps plain holds as no object at all, in columns). Also the object a snapshot's hold is read
// into before the store takes it.
//
// It is still one object, nothing hanging off it in the common case of its kind:
// - Its times are kept as two small integers each. V8 keeps a field that has ever held a number
//   outside its small-integer range (any epoch time in ms) as a separate boxed number, one more
//   object per field per hold: four of them.
// - What few holds have sits in one further object only on those holds.
// - It is an object literal made at one place (`Hold.make`), so V8 can allocate long-lived holds
//   in the old generation directly, and the scavenges do not copy them.
import { merged } from './merged.js';
import type { LotUnits, ReservationStatus } from './types.js';

export interface Reservation {
  readonly id: string;
  readonly quantity: number;
  readonly createdAtMs: number;
  /** Moved only by an extend. */
  expiresAtMs: number;
  /** As first made: an idempotent replay answers with it, whatever extends came since. */
  readonly originalExpiresAtMs: number;
  /** '' for a cart's hold: the cart holds the key. */
  readonly idempotencyKey: string;
  readonly requesterId: string;
  /** '' when the request had none. */
  readonly buyerId: string;
  readonly reference: string;
  readonly cartId: string;
  status: ReservationStatus;
  /** When it left PENDING; 0 while pending. */
  finishedAtMs: number;
  /** Units sold once CONFIRMED (fewer than `quantity` after a partial confirm); else 0. */
  confirmedQuantity: number;
  /**
   * The cart confirm attempt that pinned this PENDING hold (journaled): until the attempt's
   * decision nothing else may confirm, release, extend or expire it, so a confirm across
   * partitions is never half done. Undefined: not pinned.
   */
  pin: Pin | undefined;
  /**
   * On a key with named lots: the units held, lot by lot (absent: all from the unnamed lot).
   * Set once, right after the hold is made.
   */
  lots?: readonly LotUnits[];
}

/** A cart confirm attempt's hold on a reservation: the units it sells if confirmed. */
export interface Pin {
  readonly attempt: string;
  readonly quantity: number;
}

/** The fields only some holds have ('' and undefined: none). */
export interface HoldOptions {
  readonly buyerId: string;
  readonly reference: string;
  readonly cartId: string;
  readonly lots: readonly LotUnits[] | undefined;
}

interface Rare extends HoldOptions {
  pin: Pin | undefined;
}

// A time t in ms is kept as high * split + low, 0 <= low < split: both small integers for any
// safe integer t. Anything else (a fraction, an infinity, -0) is kept as high = t with low = -1.
const split = 2 ** 30;
const whole = -1;

function splits(ms: number): boolean {
  return Number.isSafeInteger(ms) && !Object.is(ms, -0);
}

function highOf(ms: number): number {
  return splits(ms) ? Math.floor(ms / split) : ms;
}

function lowOf(ms: number): number {
  return splits(ms) ? ms - Math.floor(ms / split) * split : whole;
}

function timeOf(high: number, low: number): number {
  return low === whole ? high : high * split + low;
}

/**
 * A pending hold. Made only by `Hold.make`, never by `new`: see there. Its fields are declared,
 * not initialized, so that the class itself defines none.
 */
export class Hold implements Reservation {
  declare readonly id: string;
  declare readonly quantity: number;
  declare readonly idempotencyKey: string;
  declare readonly requesterId: string;
  declare status: ReservationStatus;
  declare confirmedQuantity: number;
  declare private createdHigh: number;
  declare private createdLow: number;
  declare private expiresHigh: number;
  declare private expiresLow: number;
  declare private originalHigh: number;
  declare private originalLow: number;
  declare private finishedHigh: number;
  declare private finishedLow: number;
  declare private rare: Rare | undefined;

  private constructor() {
    throw new Error('a hold is made by Hold.make');
  }

  /**
   * A new PENDING hold: an object literal with this class's prototype, made at one place. V8
   * tracks an object literal's allocation site, and once most of what a site made outlives a
   * scavenge it makes the site's objects in the old generation at once (allocation-site
   * pretenuring); objects made by `new` are never tracked. A hot key keeps its holds pending for
   * their time to live, so as objects of a class every one was copied by two scavenges and then
   * promoted; made here, once the site is seen to last, the hold is never copied (its id and key
   * strings still are). Where holds end within milliseconds (reserve, then confirm) the site
   * stays young and they die young. bench/micro/promotion-sources.ts (`partition-lifecycle`)
   * measures both; bench/README.md, "Pending holds made where V8 can pretenure them", has them
   * and what it cost a cold start.
   */
  static make(
    id: string,
    quantity: number,
    createdAtMs: number,
    expiresAtMs: number,
    originalExpiresAtMs: number,
    idempotencyKey: string,
    requesterId: string,
    options: HoldOptions | undefined,
  ): Hold {
    const plain =
      options === undefined ||
      (options.buyerId === '' &&
        options.reference === '' &&
        options.cartId === '' &&
        options.lots === undefined);
    const hold = {
      __proto__: Hold.prototype,
      id,
      quantity,
      idempotencyKey,
      requesterId,
      status: 'PENDING',
      confirmedQuantity: 0,
      createdHigh: highOf(createdAtMs),
      createdLow: lowOf(createdAtMs),
      expiresHigh: highOf(expiresAtMs),
      expiresLow: lowOf(expiresAtMs),
      originalHigh: highOf(originalExpiresAtMs),
      originalLow: lowOf(originalExpiresAtMs),
      finishedHigh: 0,
      finishedLow: 0,
      rare: plain ? undefined : merged(options, { pin: undefined }),
    };
    return hold as unknown as Hold;
  }

  get createdAtMs(): number {
    return timeOf(this.createdHigh, this.createdLow);
  }

  get expiresAtMs(): number {
    return timeOf(this.expiresHigh, this.expiresLow);
  }

  set expiresAtMs(ms: number) {
    this.expiresHigh = highOf(ms);
    this.expiresLow = lowOf(ms);
  }

  get originalExpiresAtMs(): number {
    return timeOf(this.originalHigh, this.originalLow);
  }

  get finishedAtMs(): number {
    return timeOf(this.finishedHigh, this.finishedLow);
  }

  set finishedAtMs(ms: number) {
    this.finishedHigh = highOf(ms);
    this.finishedLow = lowOf(ms);
  }

  get buyerId(): string {
    return this.rare?.buyerId ?? '';
  }

  get reference(): string {
    return this.rare?.reference ?? '';
  }

  get cartId(): string {
    return this.rare?.cartId ?? '';
  }

  get lots(): readonly LotUnits[] | undefined {
    return this.rare?.lots;
  }

  get pin(): Pin | undefined {
    return this.rare?.pin;
  }

  set pin(pin: Pin | undefined) {
    // Every finish clears the pin: a hold that never had one makes nothing for it.
    if (pin === undefined && this.rare === undefined) return;
    this.rare ??= { buyerId: '', reference: '', cartId: '', lots: undefined, pin: undefined };
    this.rare.pin = pin;
  }

  /** The hold as a plain object, every field its own property (tests, diagnostics). */
  toJSON(): Reservation {
    return plainHold(this);
  }
}

/** A hold's fields as a plain object, each its own property (tests, diagnostics, a copy). */
export function plainHold(hold: Reservation): Reservation {
  const plain: Reservation = {
    id: hold.id,
    quantity: hold.quantity,
    createdAtMs: hold.createdAtMs,
    expiresAtMs: hold.expiresAtMs,
    originalExpiresAtMs: hold.originalExpiresAtMs,
    idempotencyKey: hold.idempotencyKey,
    requesterId: hold.requesterId,
    buyerId: hold.buyerId,
    reference: hold.reference,
    cartId: hold.cartId,
    status: hold.status,
    finishedAtMs: hold.finishedAtMs,
    confirmedQuantity: hold.confirmedQuantity,
    pin: hold.pin,
  };
  return hold.lots === undefined ? plain : merged(plain, { lots: hold.lots });
}
