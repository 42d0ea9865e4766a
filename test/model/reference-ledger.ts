// The reference model of API.md: plain, sequential, written from the contract and the team's
// decisions (README "Choices where the contract leaves room"; for v1.1's checkout features,
// notes/cart-choices.md), sharing no code with src/, so that a test comparing the two cannot
// agree with the ledger's own bugs. Time is a parameter.
import { planCart, productTotals, type PlannedHold } from './cart-plan.js';

export type ModelStatus = 'PENDING' | 'CONFIRMED' | 'RELEASED' | 'EXPIRED';

export type ModelErrorCode =
  | 'not_found'
  | 'insufficient_stock'
  | 'reservation_expired'
  | 'reservation_released'
  | 'reservation_confirmed'
  | 'idempotency_key_reused'
  | 'validation_failed'
  | 'purchase_limit_exceeded'
  | 'reservation_not_pending'
  | 'version_conflict'
  | 'transfer_received'
  | 'transfer_cancelled';

/** API.md's error table, for the codes a valid request can meet. */
export const statusOfCode: Readonly<Record<ModelErrorCode, number>> = {
  not_found: 404,
  insufficient_stock: 409,
  reservation_expired: 409,
  reservation_released: 409,
  reservation_confirmed: 409,
  idempotency_key_reused: 422,
  validation_failed: 422,
  purchase_limit_exceeded: 409,
  version_conflict: 409,
  reservation_not_pending: 409,
  transfer_received: 409,
  transfer_cancelled: 409,
};

/** A short stock key (a line with a warehouse) or product (lines without) of a cart. */
export interface ShortLineDetails {
  readonly index: number;
  readonly product_id: string;
  readonly warehouse_id?: string;
  readonly requested: number;
  readonly available: number;
}

/** A product of a cart over its buyer's purchase limit. */
export interface OverLimitLineDetails {
  readonly index: number;
  readonly product_id: string;
  readonly requested: number;
  readonly limit: number;
  readonly held: number;
}

/**
 * An error's `details`, with the keys of the HTTP body (snake_case) so that a test can compare
 * the body's `error.details` with it directly.
 */
export type ModelErrorDetails =
  | { readonly field: string }
  | { readonly limit: number; readonly held: number }
  | { readonly status: ModelStatus | TransferStatus }
  | { readonly reservation_id: string }
  | { readonly version: number }
  | { readonly lines: readonly ShortLineDetails[] }
  | { readonly lines: readonly OverLimitLineDetails[] };

export interface ReservationBody {
  readonly id: string;
  readonly status: ModelStatus;
  readonly productId: string;
  readonly warehouseId: string;
  readonly quantity: number;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  /** Present only when the reserve (or the hold's cart) carried them. */
  readonly buyerId?: string;
  readonly reference?: string;
  readonly cartId?: string;
  /** Units sold, on a CONFIRMED hold (in the 'v1.1' edition of the body only). */
  readonly confirmedQuantity?: number;
  /** On a key with named lots: the units held, lot by lot, in FEFO order. */
  readonly lots?: readonly LotUnitsBody[];
}

/** Units of one lot (the unnamed lot as ''), with its date when it has one. */
export interface LotUnitsBody {
  readonly lotId: string;
  readonly quantity: number;
  readonly expiresOn?: string;
}

/** One lot of a stock view (API.md, "Lots (batches) and FEFO"). */
export interface LotBody {
  readonly lotId: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly expiresOn?: string;
  readonly receivedAtMs: number;
}

export interface StockBody {
  readonly productId: string;
  readonly warehouseId: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
  readonly version: number;
  /** Units of transfers in transit toward the key; left out while 0. */
  readonly incoming?: number;
  /** The answer of an adjust or a set that carried a reference. */
  readonly reference?: string;
  /** A key with named lots: its lots with units, in FEFO order. */
  readonly lots?: readonly LotBody[];
}

export type TransferStatus = 'IN_TRANSIT' | 'RECEIVED' | 'CANCELLED';

/** `POST /v1/transfers`, its receive and cancel, and `GET /v1/transfers/:id` answer with it. */
export interface TransferBody {
  readonly transferId: string;
  readonly status: TransferStatus;
  readonly productId: string;
  readonly fromWarehouseId: string;
  readonly toWarehouseId: string;
  readonly quantity: number;
  readonly createdAtMs: number;
  readonly receivedAtMs?: number;
  readonly cancelledAtMs?: number;
  readonly reason?: string;
  readonly reference?: string;
  /** From a source with named lots: the units moved, lot by lot. */
  readonly lots?: readonly LotUnitsBody[];
  readonly from: StockBody;
  readonly to: StockBody;
}

/** A product's settings as `GET /v1/products/:product_id/settings` answers them. */
export interface ProductSettings {
  readonly maxPerBuyer: number | null;
  readonly limitWindowSeconds: number;
  readonly warehousePriority: readonly string[] | null;
  readonly lowStockThreshold: number | null;
}

/** `GET /v1/products/:product_id/stock`: sums over the product's keys. */
export interface ProductStockBody {
  readonly productId: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
  /** Units in transit toward the product's keys. */
  readonly incoming: number;
  /** In warehouse_id order. */
  readonly warehouses: readonly StockBody[];
}

/** `POST /v1/carts` and the cart's reads and changes answer with the cart. */
export interface CartBody {
  readonly cartId: string;
  /** PENDING while any hold is, else CONFIRMED if any was, else EXPIRED if any, else RELEASED. */
  readonly status: ModelStatus;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly buyerId?: string;
  readonly reference?: string;
  /** In order of line, then as allocated. */
  readonly holds: readonly CartHoldBody[];
}

export interface CartHoldBody {
  /** The first line the hold serves (a split line has several holds with the same line). */
  readonly line: number;
  readonly reservationId: string;
  readonly productId: string;
  readonly warehouseId: string;
  readonly quantity: number;
  readonly status: ModelStatus;
  /** On CONFIRMED holds (a cart is v1.1 only, so in either edition). */
  readonly confirmedQuantity?: number;
  /** On a key with named lots: the units it holds, lot by lot. */
  readonly lots?: readonly LotUnitsBody[];
}

export interface CartLine {
  readonly productId: string;
  /** Left out: the ledger allocates the line over the product's stock keys. */
  readonly warehouseId?: string;
  readonly quantity: number;
}

export type ModelRequest =
  | {
      readonly kind: 'reserve';
      readonly productId: string;
      readonly warehouseId: string;
      readonly quantity: number;
      readonly idempotencyKey: string;
      readonly ttlSeconds: number;
      /** The id a new hold gets (the ledger mints it; the model is told which). */
      readonly reservationId: string;
      /**
       * When the ledger says it made the hold (its created_at), if known. The hold may take
       * effect later than that, once durable; its times are counted from this instant.
       */
      readonly createdAtMs?: number;
      /** Counts toward the product's purchase limit; echoed in the body. */
      readonly buyerId?: string;
      readonly reference?: string;
    }
  | {
      readonly kind: 'confirm';
      readonly reservationId: string;
      /** Units sold, 1..held (a partial sale); all of them when left out. */
      readonly quantity?: number;
    }
  | { readonly kind: 'release' | 'read-reservation'; readonly reservationId: string }
  | {
      readonly kind: 'adjust';
      readonly productId: string;
      readonly warehouseId: string;
      /** Ignored by a set. */
      readonly delta: number;
      /** v1.1, `POST /v1/stock/set`: the on_hand asked for (a set, not an adjust). */
      readonly setOnHand?: number;
      /** v1.1: compare-and-set on the key's version (0: the key must not exist). */
      readonly expectedVersion?: number;
      readonly reason: string;
      /** v1.1: the caller's reference ('' or absent: none). */
      readonly reference?: string;
      /** v1.1: the lot a positive adjust receives into, or a negative one takes from. */
      readonly lot?: { readonly lotId: string; readonly expiresOn?: string };
      /** '' when the request carried none. */
      readonly idempotencyKey: string;
      /** When the ledger made the change, if known (see `StampedAt`). */
      readonly atMs?: StampedAt;
    }
  | { readonly kind: 'read-stock'; readonly productId: string; readonly warehouseId: string };

/**
 * `atMs` of a change: the instant the ledger says it made it (a lot it made is received then, a
 * transfer is created, received or cancelled then), if known. As a hold's created_at, the change
 * may take effect later than that, once durable (a read in between need not see it); what it
 * records is stamped with this instant. Left out: the instant the model applies it.
 */
export type StampedAt = number | undefined;

/**
 * The requests of API.md's "Additions (v1.1)" the model knows, apart from ModelRequest so that
 * the callers that switch over every ModelRequest (one per v1 endpoint) stay exhaustive.
 */
export type CheckoutRequest =
  | { readonly kind: 'extend'; readonly reservationId: string; readonly ttlSeconds: number }
  | {
      readonly kind: 'put-settings';
      readonly productId: string;
      /** undefined: left out of the body (keeps its value); null clears it. */
      readonly maxPerBuyer?: number | null;
      readonly limitWindowSeconds?: number | null;
      readonly warehousePriority?: readonly string[] | null;
      readonly lowStockThreshold?: number | null;
    }
  | { readonly kind: 'read-settings' | 'read-product-stock'; readonly productId: string }
  | CartRequest
  | { readonly kind: 'read-cart' | 'release-cart'; readonly cartId: string }
  | {
      readonly kind: 'confirm-cart';
      readonly cartId: string;
      /** Partial quantities of some holds; the others are confirmed in full. */
      readonly lines?: readonly { readonly reservationId: string; readonly quantity: number }[];
    }
  | { readonly kind: 'extend-cart'; readonly cartId: string; readonly ttlSeconds: number }
  | TransferRequest
  | {
      readonly kind: 'receive-transfer' | 'cancel-transfer' | 'read-transfer';
      readonly transferId: string;
      /** Receive and cancel: when the ledger made the change, if known (see `StampedAt`). */
      readonly atMs?: StampedAt;
    };

/** `POST /v1/transfers` (admin). */
export interface TransferRequest {
  readonly kind: 'transfer';
  readonly productId: string;
  readonly fromWarehouseId: string;
  readonly toWarehouseId: string;
  readonly quantity: number;
  readonly inTransit: boolean;
  readonly idempotencyKey: string;
  readonly reason?: string;
  readonly reference?: string;
  /** The id a new transfer gets (the ledger mints it; the model is told which). */
  readonly transferId: string;
  /** When the ledger made the transfer (its created_at), if known (see `StampedAt`). */
  readonly atMs?: StampedAt;
}

export interface CartRequest {
  readonly kind: 'cart';
  readonly idempotencyKey: string;
  readonly lines: readonly CartLine[];
  readonly ttlSeconds: number;
  readonly buyerId?: string;
  readonly reference?: string;
  /** The ids a new cart and its holds get (the ledger mints them; the model is told which). */
  readonly cartId: string;
  /** Consumed in hold order (line, then as allocated); ids left over are not used. */
  readonly reservationIds: readonly string[];
  /** The ledger's created_at for the cart, if known (as for reserve). */
  readonly createdAtMs?: number;
}

/** Every request the model answers. */
export type LedgerRequest = ModelRequest | CheckoutRequest;

/**
 * What the contract says the answer is. `replayed` is the `idempotent-replayed` header where
 * the contract or the team's choices define it (reserve, adjust with a key, cart; a confirm or
 * cart confirm answered again); undefined where they are silent. Stateless field checks (bounds,
 * formats, the number of cart lines) are the HTTP layer's: the model is given valid requests.
 */
export type ModelReply =
  | { readonly ok: true; readonly reservation: ReservationBody; readonly replayed?: boolean }
  | { readonly ok: true; readonly stock: StockBody; readonly replayed?: boolean }
  | { readonly ok: true; readonly cart: CartBody; readonly replayed?: boolean }
  | { readonly ok: true; readonly transfer: TransferBody; readonly replayed?: boolean }
  | { readonly ok: true; readonly settings: ProductSettings; readonly replayed?: boolean }
  | { readonly ok: true; readonly productStock: ProductStockBody; readonly replayed?: boolean }
  | {
      readonly ok: false;
      readonly code: ModelErrorCode;
      /** insufficient_stock of a reserve or adjust: `details.available`. */
      readonly available?: number;
      /** Every other code's details, where the contract or the team's choices give some. */
      readonly details?: ModelErrorDetails;
    };

export interface ModelLimits {
  /** The largest on_hand an adjust may produce (beyond: 422 validation_failed on delta). */
  readonly onHandMax: number;
  /** Reserve's largest ttl_seconds; a hold lives at most 3 times it from created_at. */
  readonly ttlSecondsMax?: number;
  /** Lots one stock key may have (the team's bound; beyond: 422 on lot.lot_id). */
  readonly lotsPerKeyMax?: number;
}

const ttlSecondsMaxDefault = 3600;
/** API.md: "Default window 86400". */
const limitWindowSecondsDefault = 86_400;

const defaultSettings: ProductSettings = {
  maxPerBuyer: null,
  limitWindowSeconds: limitWindowSecondsDefault,
  warehousePriority: null,
  lowStockThreshold: null,
};

/**
 * When a due hold turns EXPIRED. `eager`: the moment its expires_at passes, before any request
 * (API.md's wording; the linearizability checks use it). `swept`: only when an expiry sweep
 * reaches it (`sweep`, `expire`), or when a request names the hold itself (a confirm, release,
 * extend or read of a due hold finds it expired: README, "Choices"; a request on a cart names
 * every hold of it); until then its units stay reserved, and count toward purchase limits.
 * The simulator mirrors the shard's own sweeps with it.
 */
export type ExpiryTiming = 'eager' | 'swept';

/**
 * Which edition of API.md's reservation body the model answers with. 'v1.1' puts
 * confirmedQuantity on every CONFIRMED hold (API.md, "Additions (v1.1)": equal to quantity when
 * the confirm named none). 'v1' leaves it out, as the ledger did before v1.1; the comparisons
 * written for v1 (the property tests, the simulator) use it. Every request works in both.
 */
export type BodyEdition = 'v1' | 'v1.1';

interface Hold {
  readonly id: string;
  readonly key: string;
  readonly productId: string;
  readonly quantity: number;
  readonly ttlSeconds: number;
  readonly createdAtMs: number;
  expiresAtMs: number;
  status: ModelStatus;
  /** Units sold, once CONFIRMED (the rest went back to available). */
  confirmedQuantity: number | undefined;
  readonly buyerId: string | undefined;
  readonly reference: string | undefined;
  readonly cartId: string | undefined;
  /** The first line of its cart the hold serves. */
  readonly cartLine: number | undefined;
  /** On a key with named lots: the units it holds, lot by lot, FEFO. */
  readonly lots: readonly LotUnitsBody[] | undefined;
}

/** A lot of a stock key: the unnamed one ('') holds the units received without a lot. */
interface Lot {
  readonly lotId: string;
  readonly expiresOn: string | undefined;
  /** The end of its expires_on day, UTC (Infinity: no date). */
  readonly endMs: number;
  readonly receivedAtMs: number;
  /** First-received order within the key. */
  readonly order: number;
  onHand: number;
  reserved: number;
}

interface Cart {
  readonly id: string;
  /** As sent: a replay compares its lines, ttl, buyer_id and reference. */
  readonly request: CartRequest;
  readonly createdAtMs: number;
  /** As first answered; the cart's view shows its holds' latest expires_at. */
  expiresAtMs: number;
  /** Its holds' ids, in hold order. */
  readonly holdIds: readonly string[];
  /** Set by the first successful confirm-cart: any later one replays its answer. */
  confirmed: boolean;
}

interface AdjustMemo {
  /** Everything the request said but its key: a replay must say the same. */
  readonly body: string;
  readonly answer: StockBody;
}

interface StockRow {
  readonly productId: string;
  readonly warehouseId: string;
  onHand: number;
  reserved: number;
  /** Units of transfers in transit toward this key: neither on hand nor available. */
  incoming: number;
  version: number;
  /** Idempotency keys of requests that changed this stock key: one table per operation. */
  readonly reserveKeys: Map<string, Hold>;
  readonly adjustKeys: Map<string, AdjustMemo>;
  /** Only once the key has had a named lot: every lot, the unnamed one included. */
  lots: Lot[] | undefined;
}

const keyOf = (productId: string, warehouseId: string): string =>
  `${productId}\u0000${warehouseId}`;

export class ReferenceLedger {
  private readonly stocks = new Map<string, StockRow>();
  private readonly holds = new Map<string, Hold>();
  /** Products whose settings differ from the defaults (so equal states print alike). */
  private readonly settings = new Map<string, ProductSettings>();
  private readonly carts = new Map<string, Cart>();
  /** Carts by idempotency key: their own key space over the whole ledger. */
  private readonly cartKeys = new Map<string, Cart>();
  private readonly transfers = new Map<string, Transfer>();
  /** Transfers by product and idempotency key (a transfer's key is scoped to its product). */
  private readonly transferKeys = new Map<string, Transfer>();
  private clockMs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly limits: ModelLimits = { onHandMax: 1_000_000_000_000 },
    readonly expiry: ExpiryTiming = 'eager',
    readonly edition: BodyEdition = 'v1',
  ) {}

  /** The time of the latest request applied (the model's clock never runs backwards). */
  get nowMs(): number {
    return this.clockMs;
  }

  /** The limits with their defaults filled in. */
  get ttlSecondsMax(): number {
    return this.limits.ttlSecondsMax ?? ttlSecondsMaxDefault;
  }

  apply(request: LedgerRequest, nowMs: number): ModelReply {
    this.advanceTo(nowMs);
    // A PENDING hold whose expires_at has passed is EXPIRED, whether or not anyone looked.
    if (this.expiry === 'eager') this.expireDue(nowMs);
    else this.expireNamed(request, nowMs);
    switch (request.kind) {
      case 'reserve':
        return this.reserve(request, nowMs);
      case 'confirm':
        return this.confirm(request.reservationId, request.quantity);
      case 'release':
        return this.release(request.reservationId);
      case 'extend':
        return this.extend(request.reservationId, request.ttlSeconds);
      case 'read-reservation': {
        const hold = this.holds.get(request.reservationId);
        return hold === undefined ? fail('not_found') : { ok: true, reservation: this.view(hold) };
      }
      case 'adjust':
        return this.adjust(request);
      case 'read-stock': {
        const row = this.stocks.get(keyOf(request.productId, request.warehouseId));
        return row === undefined ? fail('not_found') : { ok: true, stock: stockOf(row) };
      }
      case 'put-settings':
        return { ok: true, settings: this.putSettings(request) };
      case 'read-settings':
        return { ok: true, settings: this.settingsOf(request.productId) };
      case 'read-product-stock':
        return this.productStock(request.productId);
      case 'transfer':
        return this.transfer(request, this.stampOf(request.atMs));
      case 'receive-transfer':
      case 'cancel-transfer':
      case 'read-transfer':
        return this.onTransfer(request.kind, request.transferId, this.stampOf(request.atMs));
      default:
        return this.applyToCart(request);
    }
  }

  private applyToCart(request: Extract<CheckoutRequest, { cartId: string }>): ModelReply {
    if (request.kind === 'cart') return this.cart(request);
    const cart = this.carts.get(request.cartId);
    if (cart === undefined) return fail('not_found');
    switch (request.kind) {
      case 'read-cart':
        return { ok: true, cart: this.cartView(cart) };
      case 'confirm-cart':
        return this.confirmCart(cart, request.lines ?? []);
      case 'release-cart':
        for (const hold of this.holdsOf(cart)) {
          if (hold.status === 'PENDING') this.releaseHold(hold);
        }
        return { ok: true, cart: this.cartView(cart) };
      case 'extend-cart':
        return this.extendCart(cart, request.ttlSeconds);
    }
  }

  /** Expires every PENDING hold due at `nowMs`; returns how many. */
  expireDue(nowMs: number): number {
    let expired = 0;
    for (const hold of this.holds.values()) {
      if (hold.status !== 'PENDING' || hold.expiresAtMs > nowMs) continue;
      this.expireHold(hold);
      expired += 1;
    }
    return expired;
  }

  /**
   * A sweep at `nowMs` (swept timing): expires the due PENDING holds earliest first (ties by
   * reservation id), at most `max` of them; returns their ids in that order.
   */
  sweep(nowMs: number, max: number): string[] {
    return ReferenceLedger.sweepAll([this], nowMs, max);
  }

  /** One sweep over several ledgers (one per partition of a shard): a shard's sweep is shared. */
  static sweepAll(ledgers: readonly ReferenceLedger[], nowMs: number, max: number): string[] {
    const due: { hold: Hold; ledger: ReferenceLedger }[] = [];
    for (const ledger of ledgers) {
      ledger.advanceTo(nowMs);
      for (const hold of ledger.holds.values()) {
        if (hold.status === 'PENDING' && hold.expiresAtMs <= nowMs) due.push({ hold, ledger });
      }
    }
    due.sort((a, b) =>
      a.hold.expiresAtMs !== b.hold.expiresAtMs
        ? a.hold.expiresAtMs - b.hold.expiresAtMs
        : a.hold.id < b.hold.id
          ? -1
          : 1,
    );
    const expired = due.slice(0, max);
    for (const { hold, ledger } of expired) ledger.expireHold(hold);
    return expired.map(({ hold }) => hold.id);
  }

  /**
   * Expires one hold at `nowMs`, as a journal's expiry record says happened; throws if the hold
   * is unknown, not PENDING or not yet due (an expiry the contract does not allow).
   */
  expire(id: string, nowMs: number): void {
    this.advanceTo(nowMs);
    const hold = this.holds.get(id);
    if (hold === undefined) throw new Error(`expiry of an unknown hold ${id}`);
    if (hold.status !== 'PENDING') throw new Error(`expiry of a ${hold.status} hold ${id}`);
    if (hold.expiresAtMs > nowMs) throw new Error(`expiry of ${id} before its time`);
    this.expireHold(hold);
  }

  /** The instant a change is stamped with: the ledger's, if known, never after the clock. */
  private stampOf(atMs: StampedAt): number {
    if (atMs === undefined) return this.clockMs;
    if (atMs > this.clockMs) throw new Error(`a change stamped ${atMs}, after it took effect`);
    return atMs;
  }

  private advanceTo(nowMs: number): void {
    if (nowMs < this.clockMs) throw new Error(`model clock ran backwards: ${nowMs}`);
    this.clockMs = nowMs;
  }

  /** Swept timing: a request that names a hold finds it expired if it is due. */
  private expireNamed(request: LedgerRequest, nowMs: number): void {
    if ('reservationId' in request && request.kind !== 'reserve') {
      this.expireIfDue(request.reservationId, nowMs);
    }
    // A request on a cart names every hold of it.
    const cart =
      'cartId' in request && request.kind !== 'cart' ? this.carts.get(request.cartId) : undefined;
    for (const id of cart?.holdIds ?? []) this.expireIfDue(id, nowMs);
  }

  private expireIfDue(id: string, nowMs: number): void {
    const hold = this.holds.get(id);
    if (hold !== undefined && hold.status === 'PENDING' && hold.expiresAtMs <= nowMs) {
      this.expireHold(hold);
    }
  }

  private expireHold(hold: Hold): void {
    const row = this.row(hold.key);
    hold.status = 'EXPIRED';
    finishHeld(row, hold, 0);
    row.reserved -= hold.quantity;
    row.version += 1;
  }

  /**
   * The team's write-off sweep at `nowMs`: every lot whose expires_on day has ended loses its
   * unheld units, one change (version) per lot, in FEFO order within a key. Returns them.
   */
  writeOffLots(nowMs: number): { productId: string; warehouseId: string; lotId: string }[] {
    this.advanceTo(nowMs);
    const done: { productId: string; warehouseId: string; lotId: string }[] = [];
    for (const row of this.stocks.values()) {
      for (const lot of fefoOrder(row.lots ?? [])) {
        const unheld = lot.onHand - lot.reserved;
        if (lot.endMs > nowMs || unheld === 0) continue;
        lot.onHand -= unheld;
        row.onHand -= unheld;
        row.version += 1;
        done.push({ productId: row.productId, warehouseId: row.warehouseId, lotId: lot.lotId });
      }
    }
    return done;
  }

  private reserve(request: Extract<ModelRequest, { kind: 'reserve' }>, nowMs: number): ModelReply {
    // Idempotency keys live on their stock key, so a key seen before implies the key exists:
    // the order replay, 404, purchase limit, stock is the team's.
    const row = this.stocks.get(keyOf(request.productId, request.warehouseId));
    if (row === undefined) return fail('not_found');
    const earlier = row.reserveKeys.get(request.idempotencyKey);
    if (earlier !== undefined) return this.reserveReplay(earlier, request);
    const overLimit = this.limitExceeded(request.buyerId, request.productId, request.quantity);
    if (overLimit !== undefined) {
      return { ok: false, code: 'purchase_limit_exceeded', details: overLimit };
    }
    const createdAtMs = request.createdAtMs ?? nowMs;
    // On a key with lots, only lots still sellable when the hold would expire count.
    const available = availableUntil(row, createdAtMs + request.ttlSeconds * 1000);
    // Refused requests bind no key: a retry may succeed once stock is back.
    if (request.quantity > available) return { ok: false, code: 'insufficient_stock', available };
    const hold = this.newHold({
      id: request.reservationId,
      row,
      quantity: request.quantity,
      ttlSeconds: request.ttlSeconds,
      createdAtMs,
      buyerId: request.buyerId,
      reference: request.reference,
      cartId: undefined,
      cartLine: undefined,
    });
    row.reserveKeys.set(request.idempotencyKey, hold);
    return { ok: true, reservation: this.view(hold), replayed: false };
  }

  private reserveReplay(
    earlier: Hold,
    request: Extract<ModelRequest, { kind: 'reserve' }>,
  ): ModelReply {
    const same =
      earlier.quantity === request.quantity &&
      earlier.ttlSeconds === request.ttlSeconds &&
      earlier.buyerId === request.buyerId &&
      earlier.reference === request.reference;
    if (!same) return fail('idempotency_key_reused');
    return { ok: true, reservation: this.firstView(earlier), replayed: true };
  }

  /** Makes a PENDING hold on `row` (its units reserved, the key's version moved on). */
  private newHold(fields: {
    id: string;
    row: StockRow;
    quantity: number;
    ttlSeconds: number;
    createdAtMs: number;
    buyerId: string | undefined;
    reference: string | undefined;
    cartId: string | undefined;
    cartLine: number | undefined;
  }): Hold {
    const { row, ...rest } = fields;
    if (this.holds.has(fields.id)) throw new Error(`reservation id ${fields.id} issued twice`);
    const expiresAtMs = fields.createdAtMs + fields.ttlSeconds * 1000;
    if (fields.createdAtMs > this.clockMs || expiresAtMs <= this.clockMs) {
      throw new Error('a hold created after it took effect, or expired before it did');
    }
    const lots = row.lots === undefined ? undefined : takeFefo(row, fields.quantity, expiresAtMs);
    for (const units of lots ?? []) lotOf(row, units.lotId).reserved += units.quantity;
    const hold: Hold = {
      ...rest,
      key: keyOf(row.productId, row.warehouseId),
      productId: row.productId,
      expiresAtMs,
      status: 'PENDING',
      confirmedQuantity: undefined,
      lots,
    };
    this.holds.set(hold.id, hold);
    row.reserved += hold.quantity;
    row.version += 1;
    return hold;
  }

  /**
   * The units of `productId` the buyer holds toward its limit: those of its holds created within
   * the window, PENDING ones in full, CONFIRMED ones as sold, RELEASED and EXPIRED ones not at all.
   */
  private heldByBuyer(buyerId: string, productId: string, windowSeconds: number): number {
    const sinceMs = this.clockMs - windowSeconds * 1000;
    let held = 0;
    for (const hold of this.holds.values()) {
      if (hold.buyerId !== buyerId || hold.productId !== productId) continue;
      if (hold.createdAtMs <= sinceMs) continue;
      if (hold.status === 'PENDING') held += hold.quantity;
      if (hold.status === 'CONFIRMED') held += this.soldOf(hold);
    }
    return held;
  }

  /** `{limit, held}` when `requested` more units would take the buyer over the limit. */
  private limitExceeded(
    buyerId: string | undefined,
    productId: string,
    requested: number,
  ): { limit: number; held: number } | undefined {
    const settings = this.settingsOf(productId);
    if (buyerId === undefined || settings.maxPerBuyer === null) return undefined;
    const held = this.heldByBuyer(buyerId, productId, settings.limitWindowSeconds);
    const limit = settings.maxPerBuyer;
    return held + requested > limit ? { limit, held } : undefined;
  }

  private settingsOf(productId: string): ProductSettings {
    return this.settings.get(productId) ?? defaultSettings;
  }

  /** PUT merges: a field left out keeps its value, null clears it (the window to its default). */
  private putSettings(
    request: Extract<CheckoutRequest, { kind: 'put-settings' }>,
  ): ProductSettings {
    const now = this.settingsOf(request.productId);
    const merged: ProductSettings = {
      maxPerBuyer: request.maxPerBuyer === undefined ? now.maxPerBuyer : request.maxPerBuyer,
      limitWindowSeconds:
        request.limitWindowSeconds === undefined
          ? now.limitWindowSeconds
          : (request.limitWindowSeconds ?? limitWindowSecondsDefault),
      warehousePriority:
        request.warehousePriority === undefined
          ? now.warehousePriority
          : request.warehousePriority === null
            ? null
            : [...request.warehousePriority],
      lowStockThreshold:
        request.lowStockThreshold === undefined ? now.lowStockThreshold : request.lowStockThreshold,
    };
    if (canonical(merged) === canonical(defaultSettings)) this.settings.delete(request.productId);
    else this.settings.set(request.productId, merged);
    return merged;
  }

  /** Replay, then purchase limits, then stock: all or nothing; only a 200 binds the key. */
  private cart(request: CartRequest): ModelReply {
    const earlier = this.cartKeys.get(request.idempotencyKey);
    if (earlier !== undefined) {
      if (cartBodyOf(earlier.request) !== cartBodyOf(request)) {
        return fail('idempotency_key_reused');
      }
      return { ok: true, cart: this.firstCartView(earlier), replayed: true };
    }
    const overLimit = this.cartOverLimit(request);
    if (overLimit.length > 0) {
      return { ok: false, code: 'purchase_limit_exceeded', details: { lines: overLimit } };
    }
    const holdEndMs = (request.createdAtMs ?? this.clockMs) + request.ttlSeconds * 1000;
    const keys = [...this.stocks.values()].map((row) => ({
      productId: row.productId,
      warehouseId: row.warehouseId,
      available: availableUntil(row, holdEndMs),
    }));
    const plan = planCart(request.lines, keys, (id) => this.settingsOf(id).warehousePriority);
    if (!plan.ok) return { ok: false, code: 'insufficient_stock', details: { lines: plan.short } };
    const cart = this.newCart(request, plan.holds);
    return { ok: true, cart: this.cartView(cart), replayed: false };
  }

  /** Every product of the cart whose lines, together, take its buyer over the limit. */
  private cartOverLimit(request: CartRequest): OverLimitLineDetails[] {
    const over: OverLimitLineDetails[] = [];
    for (const { index, productId, requested } of productTotals(request.lines)) {
      const exceeded = this.limitExceeded(request.buyerId, productId, requested);
      if (exceeded !== undefined) {
        over.push({ index, product_id: productId, requested, ...exceeded });
      }
    }
    return over;
  }

  private newCart(request: CartRequest, planned: readonly PlannedHold[]): Cart {
    if (this.carts.has(request.cartId)) throw new Error(`cart id ${request.cartId} issued twice`);
    if (planned.length > request.reservationIds.length) {
      throw new Error(
        `a cart of ${planned.length} holds told ${request.reservationIds.length} ids`,
      );
    }
    const createdAtMs = request.createdAtMs ?? this.clockMs;
    const holdIds = planned.map((plan, serial) => {
      const hold = this.newHold({
        id: request.reservationIds[serial] as string,
        row: this.row(keyOf(plan.productId, plan.warehouseId)),
        quantity: plan.quantity,
        ttlSeconds: request.ttlSeconds,
        createdAtMs,
        buyerId: request.buyerId,
        reference: request.reference,
        cartId: request.cartId,
        cartLine: plan.line,
      });
      return hold.id;
    });
    const expiresAtMs = createdAtMs + request.ttlSeconds * 1000;
    const cart: Cart = {
      id: request.cartId,
      request,
      createdAtMs,
      expiresAtMs,
      holdIds,
      confirmed: false,
    };
    this.carts.set(cart.id, cart);
    this.cartKeys.set(request.idempotencyKey, cart);
    return cart;
  }

  /**
   * Confirms every PENDING hold, the named ones with their quantity, or none if any hold has
   * ended otherwise (EXPIRED, due or RELEASED): the first such in hold order is named.
   */
  private confirmCart(
    cart: Cart,
    lines: readonly { readonly reservationId: string; readonly quantity: number }[],
  ): ModelReply {
    if (cart.confirmed) return { ok: true, cart: this.cartView(cart), replayed: true };
    const sold = new Map<string, number>();
    for (const { reservationId, quantity } of lines) {
      const ours = cart.holdIds.includes(reservationId);
      const hold = ours ? this.holds.get(reservationId) : undefined;
      if (hold === undefined || sold.has(reservationId) || quantity > hold.quantity) {
        return invalid('lines');
      }
      sold.set(reservationId, quantity);
    }
    const holds = this.holdsOf(cart);
    const ended = holds.find(({ status }) => status === 'EXPIRED' || status === 'RELEASED');
    if (ended !== undefined) {
      const code = finishedCode(ended.status);
      return { ok: false, code, details: { reservation_id: ended.id } };
    }
    for (const hold of holds) {
      if (hold.status === 'PENDING') this.confirmHold(hold, sold.get(hold.id) ?? hold.quantity);
    }
    cart.confirmed = true;
    return { ok: true, cart: this.cartView(cart), replayed: false };
  }

  /** Every PENDING hold gets now + ttl, within the cap counted from the cart's created_at. */
  private extendCart(cart: Cart, ttlSeconds: number): ModelReply {
    const pending = this.holdsOf(cart).filter(({ status }) => status === 'PENDING');
    if (pending.length === 0) return notPending(this.cartView(cart).status);
    const expiresAtMs = this.clockMs + ttlSeconds * 1000;
    if (expiresAtMs > this.lifetimeEndMs(cart.createdAtMs)) return invalid('ttl_seconds');
    for (const hold of pending) hold.expiresAtMs = expiresAtMs;
    cart.expiresAtMs = expiresAtMs;
    return { ok: true, cart: this.cartView(cart) };
  }

  private holdsOf(cart: Cart): Hold[] {
    return cart.holdIds.map((id) => {
      const hold = this.holds.get(id);
      if (hold === undefined) throw new Error(`cart ${cart.id} names an unknown hold ${id}`);
      return hold;
    });
  }

  private cartView(cart: Cart): CartBody {
    const holds = this.holdsOf(cart).map((hold): CartHoldBody => {
      const row = this.row(hold.key);
      return {
        line: hold.cartLine as number,
        reservationId: hold.id,
        productId: row.productId,
        warehouseId: row.warehouseId,
        quantity: hold.quantity,
        status: hold.status,
        ...(hold.status === 'CONFIRMED' ? { confirmedQuantity: this.soldOf(hold) } : {}),
        ...(hold.lots === undefined ? {} : { lots: hold.lots }),
      };
    });
    const { buyerId, reference } = cart.request;
    return {
      cartId: cart.id,
      status: cartStatusOf(holds.map(({ status }) => status)),
      createdAtMs: cart.createdAtMs,
      // The team's choice: a cart expires when its first PENDING hold does (an extend moves
      // it); with none PENDING, at the earliest expires_at its holds ended with.
      expiresAtMs: this.cartExpiresAtMs(cart),
      ...(buyerId === undefined ? {} : { buyerId }),
      ...(reference === undefined ? {} : { reference }),
      holds,
    };
  }

  private cartExpiresAtMs(cart: Cart): number {
    const holds = cart.holdIds.map((id) => this.holds.get(id) as Hold);
    const pending = holds.filter((hold) => hold.status === 'PENDING');
    return Math.min(...(pending.length > 0 ? pending : holds).map((hold) => hold.expiresAtMs));
  }

  /** The body a cart was first answered with: every hold PENDING, the first expires_at. */
  private firstCartView(cart: Cart): CartBody {
    const view = this.cartView(cart);
    return {
      ...view,
      status: 'PENDING',
      expiresAtMs: cart.createdAtMs + cart.request.ttlSeconds * 1000,
      holds: view.holds.map(({ confirmedQuantity: _sold, ...hold }) => ({
        ...hold,
        status: 'PENDING',
      })),
    };
  }

  private productStock(productId: string): ModelReply {
    const warehouses = this.rowsOf(productId)
      .sort((a, b) => (a.warehouseId < b.warehouseId ? -1 : 1))
      .map(stockOf);
    if (warehouses.length === 0) return fail('not_found');
    const sum = (field: 'onHand' | 'reserved' | 'available' | 'incoming'): number =>
      warehouses.reduce((total, view) => total + (view[field] ?? 0), 0);
    const productStock: ProductStockBody = {
      productId,
      onHand: sum('onHand'),
      reserved: sum('reserved'),
      available: sum('available'),
      incoming: sum('incoming'),
      warehouses,
    };
    return { ok: true, productStock };
  }

  /** The product's stock keys, in the order they came to exist. */
  private rowsOf(productId: string): StockRow[] {
    return [...this.stocks.values()].filter((row) => row.productId === productId);
  }

  private confirm(id: string, quantity: number | undefined): ModelReply {
    const hold = this.holds.get(id);
    if (hold === undefined) return fail('not_found');
    // Again, with any quantity or none: the first confirmation's body, nothing changed.
    if (hold.status === 'CONFIRMED') {
      return { ok: true, reservation: this.view(hold), replayed: true };
    }
    if (hold.status !== 'PENDING') return fail(finishedCode(hold.status));
    if (quantity !== undefined && quantity > hold.quantity) return invalid('quantity');
    this.confirmHold(hold, quantity ?? hold.quantity);
    return { ok: true, reservation: this.view(hold) };
  }

  /** Sells `sold` units of a PENDING hold; the rest of it returns to available at once. */
  private confirmHold(hold: Hold, sold: number): void {
    const row = this.row(hold.key);
    finishHeld(row, hold, sold);
    row.reserved -= hold.quantity;
    row.onHand -= sold;
    row.version += 1;
    hold.status = 'CONFIRMED';
    hold.confirmedQuantity = sold;
  }

  private release(id: string): ModelReply {
    const hold = this.holds.get(id);
    if (hold === undefined) return fail('not_found');
    if (hold.status === 'RELEASED') return { ok: true, reservation: this.view(hold) };
    if (hold.status !== 'PENDING') return fail(finishedCode(hold.status));
    this.releaseHold(hold);
    return { ok: true, reservation: this.view(hold) };
  }

  private releaseHold(hold: Hold): void {
    const row = this.row(hold.key);
    finishHeld(row, hold, 0);
    row.reserved -= hold.quantity;
    row.version += 1;
    hold.status = 'RELEASED';
  }

  /**
   * A PENDING hold gets expires_at = now + ttl (shorter or longer), within its lifetime cap.
   * A due hold was expired before (eagerly, or as the hold this request names).
   */
  private extend(id: string, ttlSeconds: number): ModelReply {
    const hold = this.holds.get(id);
    if (hold === undefined) return fail('not_found');
    if (hold.status !== 'PENDING') return notPending(hold.status);
    const expiresAtMs = this.clockMs + ttlSeconds * 1000;
    if (expiresAtMs > this.lifetimeEndMs(hold.createdAtMs)) return invalid('ttl_seconds');
    // No hold outlives a lot it holds (a write-off never touches held units).
    const lotsEndMs = Math.min(...(hold.lots ?? []).map((units) => lotEndMs(units.expiresOn)));
    if (expiresAtMs > lotsEndMs) return invalid('ttl_seconds');
    // No stock moved: the key's version stays.
    hold.expiresAtMs = expiresAtMs;
    return { ok: true, reservation: this.view(hold) };
  }

  /** A hold lives at most 3 times the TTL maximum from its created_at. */
  private lifetimeEndMs(createdAtMs: number): number {
    return createdAtMs + 3 * this.ttlSecondsMax * 1000;
  }

  private adjust(request: Extract<ModelRequest, { kind: 'adjust' }>): ModelReply {
    const key = keyOf(request.productId, request.warehouseId);
    const existing = this.stocks.get(key);
    const memo =
      request.idempotencyKey === '' ? undefined : existing?.adjustKeys.get(request.idempotencyKey);
    const body = adjustBodyOf(request);
    if (memo !== undefined) {
      if (memo.body !== body) return fail('idempotency_key_reused');
      return { ok: true, stock: withReference(memo.answer, request.reference), replayed: true };
    }
    // A never-stocked key is at version 0: expected_version 0 means "must not exist yet".
    const version = existing?.version ?? 0;
    if (request.expectedVersion !== undefined && request.expectedVersion !== version) {
      return { ok: false, code: 'version_conflict', details: { version } };
    }
    const onHand = request.setOnHand ?? (existing?.onHand ?? 0) + request.delta;
    const delta = onHand - (existing?.onHand ?? 0);
    const lotRefusal = this.lotRefusal(existing, request.lot, delta);
    if (lotRefusal !== undefined) return lotRefusal;
    const reserved = existing?.reserved ?? 0;
    if (onHand < 0 || onHand < reserved) {
      return {
        ok: false,
        code: 'insufficient_stock',
        available: (existing?.onHand ?? 0) - reserved,
      };
    }
    if (onHand > this.limits.onHandMax) return fail('validation_failed');
    // A set counts the unnamed lot only: it may not take that lot below what it holds.
    const unnamed = existing?.lots?.find((lot) => lot.lotId === '');
    const unnamedUnheld = unnamed === undefined ? 0 : unnamed.onHand - unnamed.reserved;
    if (request.setOnHand !== undefined && existing?.lots !== undefined && -delta > unnamedUnheld) {
      return { ok: false, code: 'insufficient_stock', available: unnamedUnheld };
    }
    // An adjust that changed something creates the key (a refused one does not).
    const row = existing ?? this.newRow(request.productId, request.warehouseId);
    this.moveAdjustedLots(row, request, delta, this.stampOf(request.atMs));
    row.onHand = onHand;
    row.version += 1;
    const answer = stockOf(row);
    if (request.idempotencyKey !== '') row.adjustKeys.set(request.idempotencyKey, { body, answer });
    return { ok: true, stock: withReference(answer, request.reference), replayed: false };
  }

  /** An adjust naming a lot that may not go ahead: its date, the bound, its unheld units. */
  private lotRefusal(
    row: StockRow | undefined,
    asked: { readonly lotId: string; readonly expiresOn?: string } | undefined,
    delta: number,
  ): ModelReply | undefined {
    if (asked === undefined) return undefined;
    const lot = row?.lots?.find((candidate) => candidate.lotId === asked.lotId);
    // Its date is set on first use and never changes; a day already over takes no more units.
    if (lot !== undefined && asked.expiresOn !== undefined && asked.expiresOn !== lot.expiresOn) {
      return invalid('lot.expires_on');
    }
    if (delta > 0 && lotEndMs(asked.expiresOn ?? lot?.expiresOn) <= this.clockMs) {
      return invalid('lot.expires_on');
    }
    const lotsMax = this.limits.lotsPerKeyMax ?? lotsPerKeyDefaultMax;
    if (delta > 0 && lot === undefined && (row?.lots?.length ?? 0) >= lotsMax) {
      return invalid('lot.lot_id');
    }
    const unheld = lot === undefined ? 0 : lot.onHand - lot.reserved;
    if (delta < 0 && unheld < -delta)
      return { ok: false, code: 'insufficient_stock', available: unheld };
    return undefined;
  }

  /** What an adjust does to the key's lots (before its on_hand moves). */
  private moveAdjustedLots(
    row: StockRow,
    request: Extract<ModelRequest, { kind: 'adjust' }>,
    delta: number,
    atMs: number,
  ): void {
    const asked = request.lot;
    if (delta === 0 || (asked === undefined && row.lots === undefined)) return;
    if (asked !== undefined) {
      const lot = row.lots?.find((candidate) => candidate.lotId === asked.lotId);
      const expiresOn = lot?.expiresOn ?? asked.expiresOn;
      if (delta > 0) receiveLot(row, { lotId: asked.lotId, quantity: delta, expiresOn }, atMs);
      else lotOf(row, asked.lotId).onHand += delta;
      return;
    }
    if (delta > 0) receiveLot(row, { lotId: '', quantity: delta }, atMs);
    else if (request.setOnHand !== undefined) lotOf(row, '').onHand += delta;
    else
      for (const units of takeFefo(row, -delta, 0))
        lotOf(row, units.lotId).onHand -= units.quantity;
  }

  private newRow(productId: string, warehouseId: string): StockRow {
    const row: StockRow = {
      productId,
      warehouseId,
      onHand: 0,
      reserved: 0,
      incoming: 0,
      version: 0,
      reserveKeys: new Map(),
      adjustKeys: new Map(),
      lots: undefined,
    };
    this.stocks.set(keyOf(productId, warehouseId), row);
    return row;
  }

  /**
   * A transfer takes unheld units from an existing source key; the destination is made if
   * needed. Direct: they arrive at once. In transit: they leave now and wait as the
   * destination's incoming. Same key and body again: the first answer. `atMs`: the instant it
   * is stamped with (its created_at, the lots it brings received then).
   */
  private transfer(request: TransferRequest, atMs: number): ModelReply {
    const scoped = `${request.productId}\u0000${request.idempotencyKey}`;
    const earlier = this.transferKeys.get(scoped);
    if (earlier !== undefined) {
      if (earlier.body !== transferBodyOf(request)) return fail('idempotency_key_reused');
      return { ok: true, transfer: earlier.first, replayed: true };
    }
    if (request.fromWarehouseId === request.toWarehouseId) return invalid('to_warehouse_id');
    const source = this.stocks.get(keyOf(request.productId, request.fromWarehouseId));
    if (source === undefined) return fail('not_found');
    const available = source.onHand - source.reserved;
    if (request.quantity > available) return { ok: false, code: 'insufficient_stock', available };
    const existing = this.stocks.get(keyOf(request.productId, request.toWarehouseId));
    const arriving = (existing?.onHand ?? 0) + (existing?.incoming ?? 0) + request.quantity;
    if (arriving > this.limits.onHandMax) return invalid('quantity');
    // Unheld units leave FEFO, from any lot; their lots and dates travel with them.
    const lots = source.lots === undefined ? undefined : takeFefo(source, request.quantity, 0);
    // The team's choice: units never join a lot of the same id with another date (422).
    if (lotsClash(existing, lots)) return invalid('quantity');
    if (lots !== undefined && this.tooManyLots(existing, lots)) return invalid('quantity');
    const destination = existing ?? this.newRow(request.productId, request.toWarehouseId);
    for (const units of lots ?? []) lotOf(source, units.lotId).onHand -= units.quantity;
    source.onHand -= request.quantity;
    source.version += 1;
    if (request.inTransit) destination.incoming += request.quantity;
    else {
      arriveLots(destination, lots, request.quantity, atMs);
      destination.onHand += request.quantity;
    }
    destination.version += 1;
    const transfer: Transfer = {
      lots,
      request,
      body: transferBodyOf(request),
      createdAtMs: atMs,
      status: request.inTransit ? 'IN_TRANSIT' : 'RECEIVED',
      finishedAtMs: request.inTransit ? undefined : atMs,
      first: undefined as unknown as TransferBody,
    };
    transfer.first = this.transferView(transfer);
    this.transfers.set(request.transferId, transfer);
    this.transferKeys.set(scoped, transfer);
    return { ok: true, transfer: transfer.first, replayed: false };
  }

  /**
   * Receive and cancel: once each, idempotent; the other one afterwards is a 409. `atMs`: the
   * instant a change is stamped with (received_at or cancelled_at, lots made then).
   */
  private onTransfer(
    kind: 'receive-transfer' | 'cancel-transfer' | 'read-transfer',
    transferId: string,
    atMs: number,
  ): ModelReply {
    const transfer = this.transfers.get(transferId);
    if (transfer === undefined) return fail('not_found');
    if (kind === 'read-transfer') return { ok: true, transfer: this.transferView(transfer) };
    const wanted = kind === 'receive-transfer' ? 'RECEIVED' : 'CANCELLED';
    if (transfer.status === wanted) {
      return { ok: true, transfer: this.transferView(transfer), replayed: true };
    }
    if (transfer.status !== 'IN_TRANSIT') {
      const code = transfer.status === 'RECEIVED' ? 'transfer_received' : 'transfer_cancelled';
      return { ok: false, code, details: { status: transfer.status } };
    }
    const { productId, fromWarehouseId, toWarehouseId, quantity } = transfer.request;
    const source = this.row(keyOf(productId, fromWarehouseId));
    const destination = this.row(keyOf(productId, toWarehouseId));
    const back = kind === 'receive-transfer' ? destination : source;
    if (back.onHand + quantity > this.limits.onHandMax) return invalid('quantity');
    if (lotsClash(back, transfer.lots)) return invalid('quantity');
    // Lots made where the units land, since they left, may have used up its bound of lots.
    if (transfer.lots !== undefined && this.tooManyLots(back, transfer.lots)) {
      return invalid('quantity');
    }
    destination.incoming -= quantity;
    destination.version += 1;
    arriveLots(back, transfer.lots, quantity, atMs);
    if (kind === 'receive-transfer') destination.onHand += quantity;
    else {
      source.onHand += quantity;
      source.version += 1;
    }
    transfer.status = wanted;
    transfer.finishedAtMs = atMs;
    return { ok: true, transfer: this.transferView(transfer), replayed: false };
  }

  /** Whether the lots a transfer brings take the destination beyond the bound on lots. */
  private tooManyLots(destination: StockRow | undefined, lots: readonly LotUnitsBody[]): boolean {
    const ids = new Set(
      destination?.lots?.map((lot) => lot.lotId) ?? ((destination?.onHand ?? 0) > 0 ? [''] : []),
    );
    for (const units of lots) ids.add(units.lotId);
    return ids.size > (this.limits.lotsPerKeyMax ?? lotsPerKeyDefaultMax);
  }

  private transferView(transfer: Transfer): TransferBody {
    const { request, status, finishedAtMs } = transfer;
    const { productId, fromWarehouseId, toWarehouseId } = request;
    return {
      transferId: request.transferId,
      status,
      productId,
      fromWarehouseId,
      toWarehouseId,
      quantity: request.quantity,
      createdAtMs: transfer.createdAtMs,
      ...(status === 'RECEIVED' ? { receivedAtMs: finishedAtMs } : {}),
      ...(status === 'CANCELLED' ? { cancelledAtMs: finishedAtMs } : {}),
      ...(request.reason === undefined || request.reason === '' ? {} : { reason: request.reason }),
      ...(request.reference === undefined || request.reference === ''
        ? {}
        : { reference: request.reference }),
      ...(transfer.lots === undefined ? {} : { lots: transfer.lots }),
      from: stockOf(this.row(keyOf(productId, fromWarehouseId))),
      to: stockOf(this.row(keyOf(productId, toWarehouseId))),
    };
  }

  /** Every transfer ever made, oldest first, as it stands. */
  transferViews(): TransferBody[] {
    return [...this.transfers.values()].map((transfer) => this.transferView(transfer));
  }

  private row(key: string): StockRow {
    const row = this.stocks.get(key);
    if (row === undefined) throw new Error('a hold on a stock key that does not exist');
    return row;
  }

  /** Units a CONFIRMED hold sold. */
  private soldOf(hold: Hold): number {
    return hold.confirmedQuantity ?? hold.quantity;
  }

  private view(hold: Hold): ReservationBody {
    const row = this.row(hold.key);
    return {
      id: hold.id,
      status: hold.status,
      productId: row.productId,
      warehouseId: row.warehouseId,
      quantity: hold.quantity,
      createdAtMs: hold.createdAtMs,
      expiresAtMs: hold.expiresAtMs,
      // Optional fields only when present, so that a v1 body keeps exactly its v1 fields.
      ...(hold.buyerId === undefined ? {} : { buyerId: hold.buyerId }),
      ...(hold.reference === undefined ? {} : { reference: hold.reference }),
      ...(hold.cartId === undefined ? {} : { cartId: hold.cartId }),
      ...(hold.status === 'CONFIRMED' && this.edition === 'v1.1'
        ? { confirmedQuantity: this.soldOf(hold) }
        : {}),
      ...(hold.lots === undefined ? {} : { lots: hold.lots }),
    };
  }

  /** The body a hold was first answered with (a reserve's replay answers it again). */
  private firstView(hold: Hold): ReservationBody {
    const { confirmedQuantity: _sold, ...view } = this.view(hold);
    return { ...view, status: 'PENDING', expiresAtMs: hold.createdAtMs + hold.ttlSeconds * 1000 };
  }

  /** The stock view of a key as it stands (no clock change), or undefined if never stocked. */
  stock(productId: string, warehouseId: string): StockBody | undefined {
    const row = this.stocks.get(keyOf(productId, warehouseId));
    return row === undefined ? undefined : stockOf(row);
  }

  /** Every stock key that exists, in the order they came to exist. */
  stockKeys(): { productId: string; warehouseId: string }[] {
    return [...this.stocks.values()].map(({ productId, warehouseId }) => ({
      productId,
      warehouseId,
    }));
  }

  reservation(id: string): ReservationBody | undefined {
    const hold = this.holds.get(id);
    return hold === undefined ? undefined : this.view(hold);
  }

  /** Every hold ever created, oldest first. */
  reservations(): ReservationBody[] {
    return [...this.holds.values()].map((hold) => this.view(hold));
  }

  /** Expiry times of PENDING holds (where the answer to a request can change with time). */
  pendingExpiries(): number[] {
    const times: number[] = [];
    for (const hold of this.holds.values()) {
      if (hold.status === 'PENDING') times.push(hold.expiresAtMs);
    }
    return times;
  }

  clone(): ReferenceLedger {
    const copy = new ReferenceLedger(this.limits, this.expiry, this.edition);
    copy.clockMs = this.clockMs;
    for (const [productId, settings] of this.settings) copy.settings.set(productId, settings);
    for (const cart of this.carts.values()) copy.carts.set(cart.id, { ...cart });
    for (const [idempotencyKey, cart] of this.cartKeys) {
      copy.cartKeys.set(idempotencyKey, copy.carts.get(cart.id) as Cart);
    }
    for (const hold of this.holds.values()) copy.holds.set(hold.id, { ...hold });
    for (const transfer of this.transfers.values()) {
      copy.transfers.set(transfer.request.transferId, { ...transfer });
    }
    for (const [scoped, transfer] of this.transferKeys) {
      copy.transferKeys.set(scoped, copy.transfers.get(transfer.request.transferId) as Transfer);
    }
    for (const [key, row] of this.stocks) {
      const reserveKeys = new Map<string, Hold>();
      for (const [idempotencyKey, hold] of row.reserveKeys) {
        reserveKeys.set(idempotencyKey, copy.holds.get(hold.id) as Hold);
      }
      const lots = row.lots?.map((lot) => ({ ...lot }));
      copy.stocks.set(key, { ...row, reserveKeys, adjustKeys: new Map(row.adjustKeys), lots });
    }
    return copy;
  }

  /** A canonical text of the whole state but the clock: equal text, equal future answers. */
  fingerprint(): string {
    const parts: string[] = [];
    for (const [key, row] of [...this.stocks].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const reserveKeys = [...row.reserveKeys].map(([k, hold]) => `${k}>${hold.id}`).sort();
      const adjustKeys = [...row.adjustKeys]
        .map(([k, memo]) => `${k}>${memo.body}/${memo.answer.version}`)
        .sort();
      parts.push(`${key}:${row.onHand}/${row.reserved}/${row.incoming}/${row.version}`);
      if (row.lots !== undefined) parts.push(canonical(fefoOrder(row.lots)));
      parts.push(reserveKeys.join(','), adjustKeys.join(','));
    }
    for (const hold of [...this.holds.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      parts.push(canonical(hold));
    }
    for (const [productId, settings] of [...this.settings].sort(([a], [b]) => (a < b ? -1 : 1))) {
      parts.push(`${productId}:${canonical(settings)}`);
    }
    for (const [idempotencyKey, cart] of [...this.cartKeys].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const holds = cart.holdIds.join(',');
      const times = `${cart.createdAtMs}:${cart.expiresAtMs}`;
      parts.push(`${idempotencyKey}>${cart.id}:${times}:${cart.confirmed}:${holds}`);
      parts.push(cartBodyOf(cart.request));
    }
    for (const [scoped, transfer] of [...this.transferKeys].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const { status, finishedAtMs, createdAtMs, body, first } = transfer;
      parts.push(`${scoped}>${canonical({ status, finishedAtMs, createdAtMs, body, first })}`);
    }
    return parts.join('|');
  }
}

interface Transfer {
  readonly request: TransferRequest;
  /** From a source with named lots: the units that left, lot by lot. */
  readonly lots: readonly LotUnitsBody[] | undefined;
  /** Everything the request said but its key and id: a replay must say the same. */
  readonly body: string;
  readonly createdAtMs: number;
  status: TransferStatus;
  finishedAtMs: number | undefined;
  /** The answer that made it: its idempotent replays answer it again. */
  first: TransferBody;
}

function transferBodyOf(request: TransferRequest): string {
  const { fromWarehouseId, toWarehouseId, quantity, inTransit } = request;
  const reason = request.reason ?? '';
  const reference = request.reference ?? '';
  return canonical({ fromWarehouseId, toWarehouseId, quantity, inTransit, reason, reference });
}

function stockOf(row: StockRow): StockBody {
  return {
    productId: row.productId,
    warehouseId: row.warehouseId,
    onHand: row.onHand,
    reserved: row.reserved,
    available: row.onHand - row.reserved,
    version: row.version,
    ...(row.incoming === 0 ? {} : { incoming: row.incoming }),
    ...(row.lots === undefined ? {} : { lots: lotViews(row.lots) }),
  };
}

const lotsPerKeyDefaultMax = 1000;

/** The end of a lot's expires_on day (UTC): sellable before it. No date: never ends. */
function lotEndMs(expiresOn: string | undefined): number {
  if (expiresOn === undefined) return Number.POSITIVE_INFINITY;
  const [year, month, day] = expiresOn.split('-').map(Number) as [number, number, number];
  return Date.UTC(year, month - 1, day + 1);
}

/** FEFO: the earliest end first, lots without a date last, ties by first receipt. */
function fefoOrder(lots: readonly Lot[]): Lot[] {
  return [...lots].sort((a, b) =>
    a.endMs === b.endMs ? a.order - b.order : a.endMs < b.endMs ? -1 : 1,
  );
}

function lotViews(lots: readonly Lot[]): LotBody[] {
  return fefoOrder(lots)
    .filter((lot) => lot.onHand > 0)
    .map((lot) => ({
      lotId: lot.lotId,
      onHand: lot.onHand,
      reserved: lot.reserved,
      ...(lot.expiresOn === undefined ? {} : { expiresOn: lot.expiresOn }),
      receivedAtMs: lot.receivedAtMs,
    }));
}

function lotOf(row: StockRow, lotId: string): Lot {
  const lot = row.lots?.find((candidate) => candidate.lotId === lotId);
  if (lot === undefined) throw new Error(`no lot ${lotId} on ${row.productId}/${row.warehouseId}`);
  return lot;
}

/** Unheld units a hold ending at `untilMs` may take (with lots: those lasting that long). */
function availableUntil(row: StockRow, untilMs: number): number {
  if (row.lots === undefined) return row.onHand - row.reserved;
  let total = 0;
  for (const lot of row.lots) if (lot.endMs >= untilMs) total += lot.onHand - lot.reserved;
  return total;
}

/** Unheld units FEFO from lots lasting until `untilMs`; the caller checked there are enough. */
function takeFefo(row: StockRow, quantity: number, untilMs: number): LotUnitsBody[] {
  const taken: LotUnitsBody[] = [];
  let remaining = quantity;
  for (const lot of fefoOrder(row.lots ?? [])) {
    if (remaining === 0 || lot.endMs < untilMs) continue;
    const units = Math.min(remaining, lot.onHand - lot.reserved);
    if (units <= 0) continue;
    taken.push({ lotId: lot.lotId, quantity: units, expiresOn: lot.expiresOn });
    remaining -= units;
  }
  if (remaining !== 0) throw new Error('a take beyond the unheld units of the lots');
  return taken.map(({ expiresOn, ...units }) =>
    expiresOn === undefined ? units : { ...units, expiresOn },
  );
}

/**
 * Units arrive in a lot (made on first use). The key's first lot makes its unnamed lot of the
 * units it had, received now.
 */
function receiveLot(row: StockRow, units: LotUnitsBody, atMs: number): void {
  if (row.lots === undefined) {
    row.lots = [];
    if (row.onHand > 0) {
      const endMs = Number.POSITIVE_INFINITY;
      const { onHand, reserved } = row;
      row.lots.push({
        lotId: '',
        expiresOn: undefined,
        endMs,
        receivedAtMs: atMs,
        order: 0,
        onHand,
        reserved,
      });
    }
  }
  let lot = row.lots.find((candidate) => candidate.lotId === units.lotId);
  if (lot === undefined) {
    lot = {
      lotId: units.lotId,
      expiresOn: units.expiresOn,
      endMs: lotEndMs(units.expiresOn),
      receivedAtMs: atMs,
      order: row.lots.length,
      onHand: 0,
      reserved: 0,
    };
    row.lots.push(lot);
  }
  lot.onHand += units.quantity;
}

/** Whether a lot the units carry exists on `row` with another date. */
function lotsClash(row: StockRow | undefined, lots: readonly LotUnitsBody[] | undefined): boolean {
  return (lots ?? []).some((units) => {
    const lot = row?.lots?.find((candidate) => candidate.lotId === units.lotId);
    return lot !== undefined && lot.expiresOn !== units.expiresOn;
  });
}

/** A transfer's units arrive (or come back): in their lots, or the unnamed one. */
function arriveLots(
  row: StockRow,
  lots: readonly LotUnitsBody[] | undefined,
  quantity: number,
  atMs: number,
): void {
  if (lots === undefined && row.lots === undefined) return;
  for (const units of lots ?? [{ lotId: '', quantity }]) receiveLot(row, units, atMs);
}

/** A hold ends: its units go back to their lots but the first `sold` of them (FEFO), sold. */
function finishHeld(row: StockRow, hold: Hold, sold: number): void {
  if (row.lots === undefined) return;
  let remaining = sold;
  for (const units of hold.lots ?? [{ lotId: '', quantity: hold.quantity }]) {
    const lot = lotOf(row, units.lotId);
    const gone = Math.min(remaining, units.quantity);
    lot.reserved -= units.quantity;
    lot.onHand -= gone;
    remaining -= gone;
  }
}

/** An adjust's or set's body without its key: a set's delta is not part of what it says. */
function adjustBodyOf(request: Extract<ModelRequest, { kind: 'adjust' }>): string {
  return JSON.stringify([
    request.setOnHand === undefined ? ['delta', request.delta] : ['set', request.setOnHand],
    request.reason,
    request.reference ?? '',
    request.expectedVersion ?? null,
    request.lot === undefined ? null : [request.lot.lotId, request.lot.expiresOn ?? null],
  ]);
}

function withReference(stock: StockBody, reference = ''): StockBody {
  return reference === '' ? stock : { ...stock, reference };
}

function fail(code: ModelErrorCode): ModelReply {
  return { ok: false, code };
}

/** What a cart's replay compares: its lines as sent, ttl, buyer_id and reference. */
function cartBodyOf(request: CartRequest): string {
  const { lines, ttlSeconds, buyerId, reference } = request;
  const sent = lines.map(({ productId, warehouseId, quantity }) => ({
    productId,
    warehouseId,
    quantity,
  }));
  return canonical({ lines: sent, ttlSeconds, buyerId, reference });
}

function cartStatusOf(statuses: readonly ModelStatus[]): ModelStatus {
  for (const status of ['PENDING', 'CONFIRMED', 'EXPIRED'] as const) {
    if (statuses.includes(status)) return status;
  }
  return 'RELEASED';
}

/** 422 validation_failed naming the field, as the HTTP body's `details.field` does. */
function invalid(field: string): ModelReply {
  return { ok: false, code: 'validation_failed', details: { field } };
}

function notPending(status: ModelStatus): ModelReply {
  return { ok: false, code: 'reservation_not_pending', details: { status } };
}

/** The 409 of a transition out of a hold that is no longer PENDING. */
function finishedCode(status: ModelStatus): ModelErrorCode {
  if (status === 'EXPIRED') return 'reservation_expired';
  if (status === 'RELEASED') return 'reservation_released';
  if (status === 'CONFIRMED') return 'reservation_confirmed';
  throw new Error('a PENDING hold is not finished');
}

/** The JSON body API.md specifies for a reservation (times as RFC 3339 UTC). */
export function reservationJson(view: ReservationBody): Record<string, unknown> {
  return {
    reservation_id: view.id,
    status: view.status,
    product_id: view.productId,
    warehouse_id: view.warehouseId,
    quantity: view.quantity,
    // v1.1: a CONFIRMED hold names its sold units (all of them: the model sells whole holds).
    ...(view.status === 'CONFIRMED' ? { confirmed_quantity: view.quantity } : {}),
    expires_at: new Date(view.expiresAtMs).toISOString(),
    created_at: new Date(view.createdAtMs).toISOString(),
    ...(view.buyerId === undefined ? {} : { buyer_id: view.buyerId }),
    ...(view.reference === undefined ? {} : { reference: view.reference }),
    ...(view.cartId === undefined ? {} : { cart_id: view.cartId }),
    ...(view.confirmedQuantity === undefined ? {} : { confirmed_quantity: view.confirmedQuantity }),
  };
}

export function cartJson(view: CartBody): Record<string, unknown> {
  return {
    cart_id: view.cartId,
    status: view.status,
    created_at: new Date(view.createdAtMs).toISOString(),
    expires_at: new Date(view.expiresAtMs).toISOString(),
    ...(view.buyerId === undefined ? {} : { buyer_id: view.buyerId }),
    ...(view.reference === undefined ? {} : { reference: view.reference }),
    holds: view.holds.map((hold) => ({
      line: hold.line,
      reservation_id: hold.reservationId,
      product_id: hold.productId,
      warehouse_id: hold.warehouseId,
      quantity: hold.quantity,
      status: hold.status,
      ...(hold.confirmedQuantity === undefined
        ? {}
        : { confirmed_quantity: hold.confirmedQuantity }),
    })),
  };
}

export function settingsJson(settings: ProductSettings): Record<string, unknown> {
  return {
    max_per_buyer: settings.maxPerBuyer,
    limit_window_seconds: settings.limitWindowSeconds,
    warehouse_priority: settings.warehousePriority,
    low_stock_threshold: settings.lowStockThreshold,
  };
}

export function productStockJson(view: ProductStockBody): Record<string, unknown> {
  return {
    product_id: view.productId,
    on_hand: view.onHand,
    reserved: view.reserved,
    available: view.available,
    incoming: view.incoming,
    warehouses: view.warehouses.map(stockJson),
  };
}

export function stockJson(view: StockBody): Record<string, unknown> {
  return {
    product_id: view.productId,
    warehouse_id: view.warehouseId,
    on_hand: view.onHand,
    reserved: view.reserved,
    available: view.available,
    incoming: view.incoming ?? 0,
    version: view.version,
  };
}

/**
 * Why `actual` is not the answer the model gives, or undefined if it is. Compares status/code,
 * every body field, `details.available` of insufficient_stock, the other details where the
 * model gives some, and `replayed` where defined.
 */
export function replyMismatch(expected: ModelReply, actual: ModelReply): string | undefined {
  const show = (reply: ModelReply): string => JSON.stringify(reply);
  if (expected.ok !== actual.ok) return `expected ${show(expected)}, got ${show(actual)}`;
  if (!expected.ok || !actual.ok) {
    const a = actual as Extract<ModelReply, { ok: false }>;
    const e = expected as Extract<ModelReply, { ok: false }>;
    if (e.code !== a.code) return `expected ${e.code}, got ${a.code}`;
    if (e.available !== undefined && e.available !== a.available) {
      return `expected details.available ${e.available}, got ${a.available}`;
    }
    if (e.details !== undefined && canonical(e.details) !== canonical(a.details)) {
      return `expected details ${canonical(e.details)}, got ${canonical(a.details)}`;
    }
    return undefined;
  }
  if (expected.replayed !== undefined && expected.replayed !== actual.replayed) {
    return `expected replayed=${expected.replayed}, got ${show(actual)}`;
  }
  const expectedBody = bodyOf(expected);
  const actualBody = bodyOf(actual);
  if (expectedBody !== actualBody) return `expected ${expectedBody}, got ${actualBody}`;
  return undefined;
}

/** The body of a successful reply as canonical text, led by its shape's name. */
function bodyOf(reply: Extract<ModelReply, { ok: true }>): string {
  const { ok: _ok, replayed: _replayed, ...body } = reply;
  return canonical(body);
}

/**
 * JSON with every object's keys sorted and undefined fields left out: equal text, equal values
 * (an absent optional field and one set to undefined are the same body).
 */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, field: unknown) => {
    if (field === null || typeof field !== 'object' || Array.isArray(field)) return field;
    const sorted: Record<string, unknown> = {};
    for (const name of Object.keys(field).sort()) {
      sorted[name] = (field as Record<string, unknown>)[name];
    }
    return sorted;
  });
}
