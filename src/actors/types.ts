// The domain's vocabulary: commands in, outcomes and journal records out. Plain data only, so it
// crosses threads and the journal unchanged. Times are epoch milliseconds.

export type ReservationStatus = 'PENDING' | 'CONFIRMED' | 'RELEASED' | 'EXPIRED';

export type RejectionCode =
  | 'not_found'
  | 'insufficient_stock'
  | 'reservation_expired'
  | 'reservation_released'
  | 'reservation_confirmed'
  | 'idempotency_key_reused'
  | 'validation_failed'
  | 'purchase_limit_exceeded'
  | 'reservation_not_pending'
  /** `expected_version` differs from the key's version (details.version: the current one). */
  | 'version_conflict'
  /** A transfer's receive after its cancel, or its cancel after it arrived. */
  | 'transfer_received'
  | 'transfer_cancelled'
  /** Transient: the hold is pinned by its cart's confirm, or a cart's key is mid-request. */
  | 'unavailable'
  /** A bound is reached (buyers counted for one product): retry later. */
  | 'overloaded';

export interface ReserveCommand {
  readonly kind: 'reserve';
  readonly productId: string;
  readonly warehouseId: string;
  readonly quantity: number;
  readonly idempotencyKey: string;
  readonly ttlSeconds: number;
  /** A fresh id minted by the caller (it embeds the partition); used only if a hold is created. */
  readonly reservationId: string;
  readonly requesterId: string;
  readonly traceId: string;
  /** Counts toward the product's purchase limit; '' or absent: not limited. */
  readonly buyerId?: string;
  /** The caller's business reference, kept with the hold; '' or absent: none. */
  readonly reference?: string;
}

export interface ReservationCommand {
  readonly kind: 'confirm' | 'release' | 'read-reservation';
  readonly reservationId: string;
  readonly traceId: string;
  /** Confirm only: units sold, 1..held (a partial sale); absent: all of them. */
  readonly quantity?: number;
  /** The caller's token subject, kept in the movement history; absent when there is none. */
  readonly subject?: string;
}

export interface ExtendCommand {
  readonly kind: 'extend';
  readonly reservationId: string;
  readonly ttlSeconds: number;
  /** A hold lives at most this long after its created_at (3 x the largest TTL). */
  readonly lifetimeMaxMs: number;
  readonly traceId: string;
}

/** A product's settings; null clears a field (the window then goes back to its default). */
export interface ProductSettings {
  readonly maxPerBuyer: number | null;
  readonly limitWindowSeconds: number;
  readonly warehousePriority: readonly string[] | null;
  readonly lowStockThreshold: number | null;
}

export interface SettingsCommand {
  readonly kind: 'put-settings';
  readonly productId: string;
  /** The fields the request named: absent ones keep their value. */
  readonly changes: Partial<ProductSettings>;
  readonly actorId: string;
  readonly traceId: string;
}

export interface ProductQuery {
  readonly kind: 'read-settings' | 'read-product-stock';
  readonly productId: string;
}

/** Units of one lot: held by a reservation, moved by an adjust or a transfer. */
export interface LotUnits {
  /** '' for the key's unnamed lot. */
  readonly lotId: string;
  readonly quantity: number;
  /** 'YYYY-MM-DD' (UTC); absent for a lot without a date. */
  readonly expiresOn?: string;
}

/** The lot an adjust names: made on its first use, with its date (which never changes). */
export interface LotRequest {
  readonly lotId: string;
  readonly expiresOn?: string;
}

/** One lot of a stock view. */
export interface LotView {
  readonly lotId: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly expiresOn?: string;
  readonly receivedAtMs: number;
}

/** `POST /v1/stock/adjust`, and `/v1/stock/set` (with `setOnHand`). */
export interface AdjustCommand {
  readonly kind: 'adjust';
  readonly productId: string;
  readonly warehouseId: string;
  /** The change of on_hand; ignored by a set, whose change is worked out when it applies. */
  readonly delta: number;
  /** A set: the on_hand wanted (journaled as the difference). Absent: an adjust by `delta`. */
  readonly setOnHand?: number;
  /** Compare-and-set: the key's version must be this (0: the key must not exist yet). */
  readonly expectedVersion?: number;
  readonly reason: string;
  /** The caller's business reference; '' or absent: none. */
  readonly reference?: string;
  /** An adjust's lot: a positive one receives into it, a negative one takes from it alone. */
  readonly lot?: LotRequest;
  /** Empty string: no idempotency key was given. */
  readonly idempotencyKey: string;
  readonly actorId: string;
  readonly traceId: string;
}

export interface ReadStockCommand {
  readonly kind: 'read-stock';
  readonly productId: string;
  readonly warehouseId: string;
}

/** One line of a cart as this partition sees it; warehouseId '' asks for allocation. */
export interface CartLine {
  /** The line's 0-based position in the request. */
  readonly index: number;
  readonly productId: string;
  readonly warehouseId: string;
  readonly quantity: number;
}

/** What every part of a cart shares: its id (which embeds its home partition) and terms. */
export interface CartTerms {
  readonly cartId: string;
  readonly idempotencyKey: string;
  /** The request body's canonical form: a replay must match it exactly. */
  readonly fingerprint: string;
  readonly ttlSeconds: number;
  readonly buyerId: string;
  readonly reference: string;
  readonly requesterId: string;
  readonly traceId: string;
}

/**
 * Holds this partition's lines of a cart, all or none. `whole`: every line of the cart is here
 * and this is its home: the holds and the decision are one atomic change (one actor turn).
 * `prepare`: phase one of the two-phase cart; the holds stay in doubt until the home decides.
 */
export interface CartPlaceCommand {
  readonly kind: 'cart-place';
  readonly mode: 'whole' | 'prepare';
  readonly terms: CartTerms;
  readonly lines: readonly CartLine[];
  /** Holds this part may make at most (limits.ts cartHoldsMax). */
  readonly holdsMax: number;
}

/** At the home partition: claims the idempotency key for a cart about to be prepared. */
export interface CartBeginCommand {
  readonly kind: 'cart-begin';
  readonly terms: CartTerms;
}

/** At the home partition: journals the commit decision (every participant said yes). */
export interface CartDecideCommand {
  readonly kind: 'cart-decide';
  readonly terms: CartTerms;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly holds: readonly CartHold[];
}

/**
 * `cart-resolve` at the home: the decision, aborting (journaled) if none was made. `cart-abort`
 * at a participant: releases its holds of the cart; at the home it also drops the key's claim.
 * `cart-settle` at a participant: the cart committed, its holds are no longer in doubt.
 * `read-cart` at the home: the cart as decided.
 */
export interface CartIdCommand {
  readonly kind: 'cart-resolve' | 'cart-abort' | 'cart-settle' | 'read-cart';
  readonly cartId: string;
  readonly traceId: string;
}

/**
 * A cart confirm across partitions is a second two-phase commit, one per attempt (a request, or
 * its retry): each partition pins its PENDING holds for the attempt (durably), the home journals
 * the attempt's decision, then each partition confirms what the attempt pinned. At the home:
 * `cart-confirm-decide` journals `confirmed` unless the attempt was aborted; `cart-confirm-resolve`
 * answers the attempt's decision, journaling `aborted` if it has none (presumed abort).
 */
export interface CartConfirmDecisionCommand {
  readonly kind: 'cart-confirm-decide' | 'cart-confirm-resolve';
  readonly cartId: string;
  readonly attempt: string;
  readonly traceId: string;
}

/** What a cart-wide request does to one partition's holds of the cart. */
export type CartHoldsAction =
  | { readonly kind: 'read' | 'release' }
  | { readonly kind: 'extend'; readonly ttlSeconds: number; readonly lifetimeMaxMs: number }
  /**
   * All or nothing in this partition, in one turn: every hold PENDING or CONFIRMED, then every
   * PENDING one confirmed. Units to sell by reservation id (a partial confirm); others sell all.
   */
  | { readonly kind: 'confirm'; readonly quantities: Readonly<Record<string, number>> }
  /** Phase one of a confirm attempt across partitions: pins the PENDING holds, durably. */
  | {
      readonly kind: 'pin';
      readonly attempt: string;
      readonly quantities: Readonly<Record<string, number>>;
    }
  /** After the attempt's decision: confirms what it pinned, or lets go of its pins. */
  | { readonly kind: 'confirm-pinned'; readonly attempt: string }
  | { readonly kind: 'unpin'; readonly attempt: string };

export interface CartHoldsCommand {
  readonly kind: 'cart-holds';
  readonly cartId: string;
  readonly reservationIds: readonly string[];
  readonly action: CartHoldsAction;
  readonly traceId: string;
  /** The caller's token subject, kept in the movement history; absent when there is none. */
  readonly subject?: string;
}

export type CartCommand =
  | CartPlaceCommand
  | CartBeginCommand
  | CartDecideCommand
  | CartIdCommand
  | CartHoldsCommand
  | CartConfirmDecisionCommand;

/**
 * `POST /v1/transfers`: unheld units of one product move from one warehouse to another, both
 * keys in this partition (hash v2 keeps a product's keys together), in one atomic group.
 */
export interface TransferCommand {
  readonly kind: 'transfer';
  /** A fresh id minted by the caller (it embeds the partition); used only if a transfer is made. */
  readonly transferId: string;
  readonly productId: string;
  readonly fromWarehouseId: string;
  readonly toWarehouseId: string;
  readonly quantity: number;
  /** True: the units leave now and arrive on a receive; false: they arrive at once. */
  readonly inTransit: boolean;
  readonly idempotencyKey: string;
  readonly reason: string;
  /** '' or absent: none. */
  readonly reference?: string;
  readonly actorId: string;
  readonly traceId: string;
}

/** A transfer's receive, cancel or read, routed by the partition its id embeds. */
export interface TransferIdCommand {
  readonly kind: 'transfer-receive' | 'transfer-cancel' | 'read-transfer';
  readonly transferId: string;
  readonly traceId: string;
}

export type Command =
  | TransferCommand
  | TransferIdCommand
  | ReserveCommand
  | ReservationCommand
  | ExtendCommand
  | AdjustCommand
  | ReadStockCommand
  | SettingsCommand
  | ProductQuery
  | CartCommand;

export interface ReservationView {
  readonly reservationId: string;
  readonly status: ReservationStatus;
  readonly productId: string;
  readonly warehouseId: string;
  readonly quantity: number;
  readonly expiresAtMs: number;
  readonly createdAtMs: number;
  /** Units sold, on a CONFIRMED hold (less than quantity after a partial confirm). */
  readonly confirmedQuantity?: number;
  readonly buyerId?: string;
  readonly reference?: string;
  readonly cartId?: string;
  /** On a key with named lots: the units held, lot by lot, in FEFO order. */
  readonly lots?: readonly LotUnits[];
}

/** A hold of a cart, where it lives, and which line it serves. */
export interface CartHold {
  readonly line: number;
  readonly partition: number;
  readonly reservationId: string;
  readonly productId: string;
  readonly warehouseId: string;
  readonly quantity: number;
  /** On a key with named lots: the units it holds, lot by lot. */
  readonly lots?: readonly LotUnits[];
}

export interface CartView {
  readonly cartId: string;
  readonly status: ReservationStatus;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly buyerId: string;
  readonly reference: string;
  /** At its home: the confirm attempt journaled as confirmed, if any ('' or absent: none). */
  readonly confirmAttempt?: string;
  readonly holds: readonly (CartHold & {
    readonly status: ReservationStatus;
    readonly confirmedQuantity?: number;
    /** The hold's own expires_at, when read from its partition (an extend moves it). */
    readonly expiresAtMs?: number;
  })[];
}

export type TransferStatus = 'IN_TRANSIT' | 'RECEIVED' | 'CANCELLED';

export interface TransferView {
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
  readonly lots?: readonly LotUnits[];
  /** Both keys as they stood after the change answered (now, for a read). */
  readonly from: StockView;
  readonly to: StockView;
}

export interface ProductStockView {
  readonly productId: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
  /** Absent: 0. */
  readonly incoming?: number;
  readonly warehouses: readonly StockView[];
}

export interface StockView {
  readonly productId: string;
  readonly warehouseId: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
  readonly version: number;
  /** Units in transit toward the key (not available); absent: 0. */
  readonly incoming?: number;
  /** An adjust's or a set's answer: the reference it carried. */
  readonly reference?: string;
  /** A key with named lots: its lots with units, in FEFO order. */
  readonly lots?: readonly LotView[];
}

/** A rejection's details: flat values, or the lines of a refused cart. */
export type RejectionDetails = Readonly<
  Record<string, string | number | readonly Readonly<Record<string, string | number>>[]>
>;

export type Outcome =
  | { readonly ok: true; readonly reservation: ReservationView; readonly replayed: boolean }
  | { readonly ok: true; readonly stock: StockView; readonly replayed: boolean }
  | { readonly ok: true; readonly settings: ProductSettings; readonly replayed: boolean }
  | { readonly ok: true; readonly productStock: ProductStockView; readonly replayed: boolean }
  | { readonly ok: true; readonly cart: CartView; readonly replayed: boolean }
  | { readonly ok: true; readonly transfer: TransferView; readonly replayed: boolean }
  /** A cart-begin that may go ahead, or a cart-resolve's answer. */
  | {
      readonly ok: true;
      readonly decision: 'go' | 'committed' | 'aborted';
      readonly replayed: boolean;
    }
  | {
      readonly ok: false;
      readonly code: RejectionCode;
      readonly message?: string;
      readonly details?: RejectionDetails;
    };

interface RecordBase {
  readonly productId: string;
  readonly warehouseId: string;
  /** The stock key's version after this change: replay checks it to catch gaps and reorders. */
  readonly version: number;
  readonly atMs: number;
  readonly traceId: string;
}

/** Lines a change of available stock crossed (bits of `StockSignals.flags`). */
export const stockSignal = { soldOut: 1, backInStock: 2, low: 4 } as const;

/**
 * A change that crossed a line: available fell to 0 (sold out), rose from 0 (back in stock; never
 * the change that made the key), or fell below the product's low-stock threshold from at or
 * above it. With the key's counts after the change, so each crossing's event needs no more.
 */
export interface StockSignals {
  readonly flags: number;
  readonly onHand: number;
  readonly reserved: number;
}

/** Records that move available stock: they carry the lines they crossed, if any. */
interface Signalled {
  readonly signals?: StockSignals;
}

/**
 * What a hold carries beyond the v1 fields, repeated on every record of it so each event can
 * name it. Absent (never '') when the request had none: a v1 hold's records stay v1 rows.
 */
export interface HoldExtras {
  readonly buyerId?: string;
  readonly reference?: string;
  readonly cartId?: string;
  /** On a key with named lots: the units the hold holds, lot by lot, in FEFO order. */
  readonly lots?: readonly LotUnits[];
}

export interface ReservedRecord extends RecordBase, HoldExtras, Signalled {
  readonly type: 'reserved';
  readonly reservationId: string;
  readonly quantity: number;
  readonly expiresAtMs: number;
  readonly idempotencyKey: string;
  readonly requesterId: string;
}

export interface ReservationChangedRecord extends RecordBase, HoldExtras, Signalled {
  readonly type: 'confirmed' | 'released' | 'expired';
  readonly reservationId: string;
  /** The units held. */
  readonly quantity: number;
  /** Who made the hold (events name it on every change of the reservation). */
  readonly requesterId: string;
  /** A confirm of fewer units than held: the units sold (absent: all of them). */
  readonly confirmedQuantity?: number;
}

/** A pending hold got a new expires_at. No stock moved: the key's version stays as it was. */
export interface ExtendedRecord extends RecordBase, HoldExtras {
  readonly type: 'extended';
  readonly reservationId: string;
  readonly quantity: number;
  readonly expiresAtMs: number;
  readonly requesterId: string;
}

export interface AdjustedRecord extends RecordBase, Signalled {
  readonly type: 'adjusted';
  /** The change of on_hand (0 for a set that found the count right). */
  readonly delta: number;
  /** on_hand and reserved after the change, checked again on replay. */
  readonly onHand: number;
  readonly reserved: number;
  readonly reason: string;
  readonly idempotencyKey: string;
  readonly actorId: string;
  /** Since v1.1, present only when true or set: made by a set (its on_hand was asked). */
  readonly set?: true;
  readonly reference?: string;
  /** The version the request expected (compare-and-set). */
  readonly expectedVersion?: number;
  /** The lot the request named, as named. */
  readonly lot?: LotRequest;
  /** On a key with named lots: the units each lot gained (delta > 0) or lost (delta < 0). */
  readonly lots?: readonly LotUnits[];
}

/**
 * What one step of a transfer does to one of its two keys (the movement types `transfer_out`,
 * `transfer_in`, `transfer_incoming`, `transfer_cancel`): `out` takes unheld units from the
 * source; `in` adds them to the destination's on_hand (from its incoming, for a transfer in
 * transit); `incoming` adds them to the destination's incoming; `cancel` gives them back to the
 * source, or takes them off the destination's incoming.
 */
export type TransferStep = 'out' | 'in' | 'incoming' | 'cancel';

/**
 * One key's record of a transfer step. A step that moves both keys (making a transfer, a cancel)
 * writes the source's record, then the destination's, as one atomic group. Each record carries
 * the whole transfer's terms, so replay needs nothing else, and only the destination's record
 * publishes the transfer's event (the source's publishes only the lines it crossed). Lots, when
 * they exist, travel as a list of this record (and of its journal row).
 */
export interface TransferRecord extends RecordBase, Signalled {
  readonly type: 'transfer';
  readonly transferId: string;
  readonly step: TransferStep;
  readonly fromWarehouseId: string;
  readonly toWarehouseId: string;
  readonly quantity: number;
  readonly inTransit: boolean;
  /** The key's counts after the change, checked again on replay. */
  readonly onHand: number;
  readonly reserved: number;
  readonly incoming: number;
  readonly idempotencyKey: string;
  readonly reason: string;
  /** '' when none. */
  readonly reference: string;
  readonly actorId: string;
  /** When the transfer was made (equal to atMs on its first records). */
  readonly createdAtMs: number;
  /** From a source with named lots: the units taken, lot by lot (FEFO); they travel with it. */
  readonly lots?: readonly LotUnits[];
}

/**
 * A lot's day ended (UTC): its unheld units are written off (on_hand drops by `quantity`). No
 * hold holds units of a lot beyond its end, so none is touched; should a hold's units come back
 * to a lot after its end (a hold pinned by its cart's confirm, then let go), they are written
 * off by a record of their own.
 */
export interface LotExpiredRecord extends RecordBase, Signalled {
  readonly type: 'lot-expired';
  readonly lotId: string;
  readonly expiresOn: string;
  readonly quantity: number;
  /** The key's counts after the change, checked again on replay. */
  readonly onHand: number;
  readonly reserved: number;
}

export type StockRecord =
  | ReservedRecord
  | ReservationChangedRecord
  | AdjustedRecord
  | ExtendedRecord
  | TransferRecord
  | LotExpiredRecord;

/** A product's settings after a change: the whole object, so replay needs nothing else. */
export interface SettingsRecord {
  readonly type: 'settings';
  readonly productId: string;
  readonly settings: ProductSettings;
  readonly atMs: number;
  readonly traceId: string;
  readonly actorId: string;
}

/**
 * A cart's decision, journaled in its home partition: committed (every hold is durable in its
 * partition, or in this very group of records) or aborted (presumed abort made explicit, so a
 * late commit can never follow). Only a committed cart binds its idempotency key.
 */
export interface CartRecord {
  readonly type: 'cart';
  readonly cartId: string;
  readonly decision: 'committed' | 'aborted';
  readonly idempotencyKey: string;
  readonly fingerprint: string;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly buyerId: string;
  readonly reference: string;
  readonly requesterId: string;
  readonly holds: readonly CartHold[];
  readonly atMs: number;
  readonly traceId: string;
}

/**
 * A step of a cart confirm attempt. At a participant: `pinned` (these PENDING holds will sell
 * `quantity` units each if the attempt is confirmed; until its decision nothing else may end
 * them) and `unpinned` (the attempt was aborted: they are plain PENDING holds again). At the
 * cart's home: the attempt's decision, `confirmed` or `aborted`. No stock moves, no version.
 */
export interface CartConfirmRecord {
  readonly type: 'cart-confirm';
  readonly cartId: string;
  readonly attempt: string;
  readonly step: 'pinned' | 'unpinned' | 'confirmed' | 'aborted';
  /** `pinned` and `unpinned` only: the holds and the units each would sell. */
  readonly holds: readonly { readonly reservationId: string; readonly quantity: number }[];
  readonly atMs: number;
  readonly traceId: string;
}

export type JournalRecord = StockRecord | SettingsRecord | CartRecord | CartConfirmRecord;

export interface RetentionPolicy {
  /** Finished reservations and adjust keys stay answerable this long (unless over the count). */
  readonly retainFinishedMs: number;
  /** At most this many finished entries per partition; the oldest go first. */
  readonly retainFinishedMax: number;
  /** Upper bound on on_hand, so sums stay exact integers. */
  readonly onHandMax: number;
  /**
   * How long a hold may live at most (3 x the largest TTL): decided carts are kept this long
   * beyond `retainFinishedMs`, so every hold of a live cart can still find its cart. Default 0.
   */
  readonly holdLifetimeMaxMs?: number;
  /**
   * Buyers one product counts toward its purchase limit at most (limits.ts). At the bound a new
   * buyer's reserve on a limited product is refused (503 overloaded); on a product without a
   * limit the hold is simply not counted. Default 1,000,000.
   */
  readonly buyersPerProductMax?: number;
  /**
   * Transfers in transit one partition keeps at most (limits.ts): they are never forgotten, so a
   * new one beyond the bound is refused (503 overloaded). Default 100,000.
   */
  readonly transfersInTransitMax?: number;
  /**
   * Lots one stock key keeps at most (limits.ts): a lot is never forgotten (its date may not
   * change), so a new one beyond the bound is refused (422). Default 1,000.
   */
  readonly lotsPerKeyMax?: number;
}
