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
  | 'validation_failed';

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
}

export interface ReservationCommand {
  readonly kind: 'confirm' | 'release' | 'read-reservation';
  readonly reservationId: string;
  readonly traceId: string;
}

export interface AdjustCommand {
  readonly kind: 'adjust';
  readonly productId: string;
  readonly warehouseId: string;
  readonly delta: number;
  readonly reason: string;
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

export type Command = ReserveCommand | ReservationCommand | AdjustCommand | ReadStockCommand;

export interface ReservationView {
  readonly reservationId: string;
  readonly status: ReservationStatus;
  readonly productId: string;
  readonly warehouseId: string;
  readonly quantity: number;
  readonly expiresAtMs: number;
  readonly createdAtMs: number;
}

export interface StockView {
  readonly productId: string;
  readonly warehouseId: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
  readonly version: number;
}

export type Outcome =
  | { readonly ok: true; readonly reservation: ReservationView; readonly replayed: boolean }
  | { readonly ok: true; readonly stock: StockView; readonly replayed: boolean }
  | {
      readonly ok: false;
      readonly code: RejectionCode;
      readonly message?: string;
      readonly details?: Readonly<Record<string, string | number>>;
    };

interface RecordBase {
  readonly productId: string;
  readonly warehouseId: string;
  /** The stock key's version after this change: replay checks it to catch gaps and reorders. */
  readonly version: number;
  readonly atMs: number;
  readonly traceId: string;
}

export interface ReservedRecord extends RecordBase {
  readonly type: 'reserved';
  readonly reservationId: string;
  readonly quantity: number;
  readonly expiresAtMs: number;
  readonly idempotencyKey: string;
  readonly requesterId: string;
}

export interface ReservationChangedRecord extends RecordBase {
  readonly type: 'confirmed' | 'released' | 'expired';
  readonly reservationId: string;
  readonly quantity: number;
  /** Who made the hold (events name it on every change of the reservation). */
  readonly requesterId: string;
}

export interface AdjustedRecord extends RecordBase {
  readonly type: 'adjusted';
  readonly delta: number;
  /** on_hand and reserved after the change, checked again on replay. */
  readonly onHand: number;
  readonly reserved: number;
  readonly reason: string;
  readonly idempotencyKey: string;
  readonly actorId: string;
}

export type JournalRecord = ReservedRecord | ReservationChangedRecord | AdjustedRecord;

export interface RetentionPolicy {
  /** Finished reservations and adjust keys stay answerable this long (unless over the count). */
  readonly retainFinishedMs: number;
  /** At most this many finished entries per partition; the oldest go first. */
  readonly retainFinishedMax: number;
  /** Upper bound on on_hand, so sums stay exact integers. */
  readonly onHandMax: number;
}
