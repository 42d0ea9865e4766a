// What a call can fail with: the ledger's own refusal (LedgerError, with the contract's code),
// a connection that failed (LedgerConnectionError), or time running out (LedgerTimeoutError).
// Every one carries the last underlying failure as `cause`.

/** The ledger's error codes (its error registry; GET /openapi.json lists each route's). */
export const ledgerErrorCodes = [
  'malformed_json',
  'unauthenticated',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'insufficient_stock',
  'reservation_expired',
  'reservation_released',
  'reservation_confirmed',
  'purchase_limit_exceeded',
  'reservation_not_pending',
  'version_conflict',
  'transfer_received',
  'transfer_cancelled',
  'payload_too_large',
  'unsupported_media_type',
  'validation_failed',
  'idempotency_key_reused',
  'rate_limited',
  'overloaded',
  'unavailable',
] as const;

export type LedgerErrorCode = (typeof ledgerErrorCodes)[number];

/** `details` of an error body: `field`, `available`, `version`, `lines`, … by code. */
export type LedgerErrorDetails = Readonly<Record<string, unknown>>;

export interface LedgerErrorInit {
  readonly status: number;
  /** A code of the registry, or whatever string a newer ledger sent. */
  readonly code: LedgerErrorCode | (string & {});
  readonly message: string;
  readonly details?: LedgerErrorDetails;
  readonly traceId?: string;
  /** Seconds, from the `retry-after` header (429, 503). */
  readonly retryAfterSeconds?: number;
  /** The attempts made, this one included. */
  readonly attempts: number;
}

/** The ledger answered with an error body `{"error": {"code", "message", "details"?}}`. */
export class LedgerError extends Error {
  override readonly name = 'LedgerError';
  readonly status: number;
  readonly code: LedgerErrorCode | (string & {});
  readonly details: LedgerErrorDetails | undefined;
  readonly traceId: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly attempts: number;

  constructor(init: LedgerErrorInit) {
    super(init.message);
    this.status = init.status;
    this.code = init.code;
    this.details = init.details;
    this.traceId = init.traceId;
    this.retryAfterSeconds = init.retryAfterSeconds;
    this.attempts = init.attempts;
  }
}

/**
 * The request could not be completed over the network (refused, reset, socket hang up, a body
 * cut short). `maybeApplied` says whether the request may have reached the ledger: when true, a
 * change sent without an idempotency key may or may not have happened.
 */
export class LedgerConnectionError extends Error {
  override readonly name = 'LedgerConnectionError';
  constructor(
    message: string,
    readonly maybeApplied: boolean,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

/** The per-attempt timeout or the overall deadline ran out (or the caller's signal aborted). */
export class LedgerTimeoutError extends Error {
  override readonly name = 'LedgerTimeoutError';
  constructor(
    message: string,
    readonly reason: 'attempt' | 'deadline' | 'aborted',
    readonly maybeApplied: boolean,
    readonly attempts: number,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

const hasCode = (error: unknown, code: LedgerErrorCode): error is LedgerError =>
  error instanceof LedgerError && error.code === code;

export const isLedgerError = (error: unknown): error is LedgerError => error instanceof LedgerError;
export const isInsufficientStock = (error: unknown) => hasCode(error, 'insufficient_stock');
export const isNotFound = (error: unknown) => hasCode(error, 'not_found');
export const isPurchaseLimitExceeded = (error: unknown) =>
  hasCode(error, 'purchase_limit_exceeded');
export const isVersionConflict = (error: unknown) => hasCode(error, 'version_conflict');
export const isReservationExpired = (error: unknown) => hasCode(error, 'reservation_expired');
export const isReservationReleased = (error: unknown) => hasCode(error, 'reservation_released');
export const isReservationConfirmed = (error: unknown) => hasCode(error, 'reservation_confirmed');
export const isReservationNotPending = (error: unknown) =>
  hasCode(error, 'reservation_not_pending');
export const isIdempotencyKeyReused = (error: unknown) => hasCode(error, 'idempotency_key_reused');
export const isValidationFailed = (error: unknown) => hasCode(error, 'validation_failed');
/** 503 `overloaded`/`unavailable` or 429 `rate_limited`: the ledger asked to come back later. */
export const isBusy = (error: unknown): error is LedgerError =>
  error instanceof LedgerError && (error.status === 503 || error.status === 429);
