// The contract's request and response bodies, written by hand from the ledger's route table and
// its OpenAPI document (GET /openapi.json). Field names are the wire's own (snake_case), so what
// is sent and read here is exactly what the ledger documents.

export type ReservationStatus = 'PENDING' | 'CONFIRMED' | 'RELEASED' | 'EXPIRED';

export interface Reservation {
  readonly reservation_id: string;
  readonly status: ReservationStatus;
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly quantity: number;
  /** Units sold (CONFIRMED holds only); less than `quantity` after a partial sale. */
  readonly confirmed_quantity?: number;
  readonly expires_at: string;
  readonly created_at: string;
  readonly buyer_id?: string;
  readonly reference?: string;
  /** A cart's hold: its cart. */
  readonly cart_id?: string;
  /** On a stock key with named lots: the units held, lot by lot (FEFO). */
  readonly lots?: readonly LotUnits[];
}

/** Units of one lot; `lot_id` '' is the key's unnamed lot. */
export interface LotUnits {
  readonly lot_id: string;
  readonly quantity: number;
  /** YYYY-MM-DD: sellable until the end of that day (UTC). */
  readonly expires_on?: string;
}

/** One lot of a stock view. */
export interface Lot {
  readonly lot_id: string;
  readonly on_hand: number;
  readonly reserved: number;
  readonly expires_on?: string;
  readonly received_at: string;
}

export interface Stock {
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly on_hand: number;
  readonly reserved: number;
  readonly available: number;
  readonly incoming: number;
  readonly version: number;
  /** The answer of an adjust or set that carried one. */
  readonly reference?: string;
  /** A stock key with named lots: its lots with units, in FEFO order. */
  readonly lots?: readonly Lot[];
}

export interface ProductStock {
  readonly product_id: string;
  readonly on_hand: number;
  readonly reserved: number;
  readonly available: number;
  readonly incoming: number;
  /** In warehouse_id order. */
  readonly warehouses: readonly Stock[];
}

export interface StockPage {
  /** In (product_id, warehouse_id) order. */
  readonly items: readonly Stock[];
  /** Pass as `after` for the next page; null on the last page. */
  readonly next: string | null;
}

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
  | 'lot_expired';

/** One change of a stock key, with its counts right after it. */
export interface Movement {
  /** The key's version after the change. */
  readonly version: number;
  readonly type: MovementType;
  /** Units moved; signed for adjust and set. */
  readonly quantity: number;
  readonly on_hand: number;
  readonly reserved: number;
  readonly incoming: number;
  readonly at: string;
  readonly reservation_id?: string;
  readonly cart_id?: string;
  readonly transfer_id?: string;
  readonly lots?: readonly { readonly lot_id: string; readonly quantity: number }[];
  readonly buyer_id?: string;
  readonly reason?: string;
  readonly reference?: string;
  readonly subject?: string;
  readonly trace_id?: string;
}

export interface MovementPage {
  /** Newest first. */
  readonly movements: readonly Movement[];
  /** Pass as `before` for the older page after; null on the last page. */
  readonly next: string | null;
}

export interface MovementsRequest {
  /** The `next` of the page before. */
  readonly before?: string;
  /** 1..1000, default 100. */
  readonly limit?: number;
}

export interface ProductSettings {
  readonly max_per_buyer: number | null;
  readonly limit_window_seconds: number;
  readonly warehouse_priority: readonly string[] | null;
  readonly low_stock_threshold: number | null;
}

export interface CartHold {
  /** The (first) line this hold serves, 0-based. */
  readonly line: number;
  readonly reservation_id: string;
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly quantity: number;
  readonly status: ReservationStatus;
  readonly confirmed_quantity?: number;
  /** On a stock key with named lots: the units held, lot by lot (FEFO). */
  readonly lots?: readonly LotUnits[];
}

export interface Cart {
  readonly cart_id: string;
  readonly status: ReservationStatus;
  readonly created_at: string;
  readonly expires_at: string;
  readonly buyer_id?: string;
  readonly reference?: string;
  readonly holds: readonly CartHold[];
}

export interface ImportLineResult {
  /** Its line in the file, from 1. */
  readonly line: number;
  /** The status the line alone would have had. */
  readonly status: number;
  readonly error?: { readonly code: string; readonly message: string; readonly details?: unknown };
  readonly stock?: Stock;
  readonly replayed?: true;
}

export interface ImportResult {
  readonly applied: number;
  readonly failed: number;
  readonly results: readonly ImportLineResult[];
}

export interface SnapshotResult {
  readonly partitions: number;
}

// Requests. `idempotency_key` is never part of these: it is an option of the call, generated
// once per logical operation unless the caller passes one (see CallOptions).

export interface ReserveRequest {
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly quantity: number;
  readonly ttl_seconds?: number;
  readonly buyer_id?: string;
  readonly reference?: string;
}

export interface ConfirmRequest {
  readonly reservation_id: string;
  /** Units sold, 1..held (a partial sale); default all. */
  readonly quantity?: number;
}

export interface ReleaseRequest {
  readonly reservation_id: string;
}

export interface ExtendRequest {
  readonly reservation_id: string;
  readonly ttl_seconds: number;
}

export interface AdjustRequest {
  readonly product_id: string;
  readonly warehouse_id: string;
  /** Change of on_hand (non-zero). */
  readonly delta: number;
  readonly reason?: string;
  /** Compare-and-set: the key's version must be this (0: the key must not exist yet). */
  readonly expected_version?: number;
  readonly reference?: string;
  /** A positive adjust receives into the lot (made on first use); a negative one takes from it. */
  readonly lot?: { readonly lot_id: string; readonly expires_on?: string };
}

export interface SetStockRequest {
  readonly product_id: string;
  readonly warehouse_id: string;
  /** The count on hand (>= reserved). */
  readonly on_hand: number;
  readonly expected_version?: number;
  readonly reason?: string;
  readonly reference?: string;
}

/** One line of a stock import: `op` and the body of the endpoint it names. */
export type ImportLine =
  | ({ readonly op: 'adjust'; readonly idempotency_key?: string } & AdjustRequest)
  | ({ readonly op: 'set'; readonly idempotency_key?: string } & SetStockRequest);

export interface ListStockRequest {
  readonly product_id?: string;
  /** The `next` of the page before. */
  readonly after?: string;
  /** 1..1000, default 100. */
  readonly limit?: number;
}

/** A PUT merges: a field left out keeps its value, null clears it. */
export interface SettingsRequest {
  readonly max_per_buyer?: number | null;
  readonly limit_window_seconds?: number | null;
  readonly warehouse_priority?: readonly string[] | null;
  readonly low_stock_threshold?: number | null;
}

export interface CartLine {
  readonly product_id: string;
  /** Left out: the ledger allocates over the product's warehouses. */
  readonly warehouse_id?: string;
  readonly quantity: number;
}

export interface PlaceCartRequest {
  readonly lines: readonly CartLine[];
  readonly ttl_seconds?: number;
  readonly buyer_id?: string;
  readonly reference?: string;
}

export interface ConfirmCartRequest {
  /** Partial quantities; left out: every PENDING hold, all its units. */
  readonly lines?: readonly { readonly reservation_id: string; readonly quantity: number }[];
}

export interface ExtendCartRequest {
  readonly ttl_seconds: number;
}
