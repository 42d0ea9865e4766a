// The client's public surface: what applications may import. The rest is private.
export {
  LedgerClient,
  type CallOptions,
  type ChangeCallOptions,
  type KeyedCallOptions,
  type LedgerClientOptions,
} from './ledger-client.js';
export {
  LedgerConnectionError,
  LedgerError,
  LedgerTimeoutError,
  isBusy,
  isIdempotencyKeyReused,
  isInsufficientStock,
  isLedgerError,
  isNotFound,
  isPurchaseLimitExceeded,
  isReservationConfirmed,
  isReservationExpired,
  isReservationNotPending,
  isReservationReleased,
  isValidationFailed,
  isVersionConflict,
  ledgerErrorCodes,
  type LedgerErrorCode,
  type LedgerErrorDetails,
} from './errors.js';
export { operations, type Operation, type OperationName, type ReplayNature } from './operations.js';
export { defaultRetryPolicy, type RetryPolicy } from './retry.js';
export type { FetchFunction, RetryEvent } from './transport.js';
export type * from './types.js';
