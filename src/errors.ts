// The one registry of error codes the ledger answers with (API.md, "Errors"). Codes are never
// reused for another meaning; test/unit/errors.test.ts checks this table against API.md.

export const errorCodes = {
  malformed_json: { status: 400, message: 'The body is not valid JSON or not a JSON object.' },
  unauthenticated: { status: 401, message: 'A valid bearer token is required.' },
  forbidden: { status: 403, message: 'The token does not allow this operation.' },
  not_found: { status: 404, message: 'Not found.' },
  method_not_allowed: { status: 405, message: 'This method is not allowed on this path.' },
  insufficient_stock: { status: 409, message: 'Not enough stock is available.' },
  reservation_expired: { status: 409, message: 'The reservation has expired.' },
  reservation_released: { status: 409, message: 'The reservation was released.' },
  reservation_confirmed: { status: 409, message: 'The reservation is already confirmed.' },
  purchase_limit_exceeded: {
    status: 409,
    message: 'The buyer would hold more units of this product than its purchase limit.',
  },
  reservation_not_pending: { status: 409, message: 'The reservation is no longer PENDING.' },
  version_conflict: {
    status: 409,
    message: 'The stock key is not at the expected_version; details.version is its version.',
  },
  transfer_received: {
    status: 409,
    message: 'The transfer was already received; it can no longer be cancelled.',
  },
  transfer_cancelled: {
    status: 409,
    message: 'The transfer was cancelled; it can no longer be received.',
  },
  payload_too_large: { status: 413, message: 'The body is larger than the limit.' },
  unsupported_media_type: { status: 415, message: 'The content-type must be application/json.' },
  validation_failed: { status: 422, message: 'A field is missing or out of range.' },
  idempotency_key_reused: {
    status: 422,
    message: 'This idempotency_key was already used with a different request body.',
  },
  rate_limited: { status: 429, message: 'Too many requests.' },
  overloaded: { status: 503, message: 'The shard is at its in-flight limit; nothing was done.' },
  unavailable: {
    status: 503,
    message:
      'The journal cannot make the operation durable right now; nothing was acknowledged, ' +
      'retrying with the same idempotency key is safe.',
  },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export type ErrorDetails = Readonly<
  Record<string, string | number | boolean | readonly Readonly<Record<string, string | number>>[]>
>;

export function errorStatus(code: ErrorCode): number {
  return errorCodes[code].status;
}

/** The contract's error object: the value of a body's `error` (or of an import line's). */
export interface ErrorObject {
  code: ErrorCode;
  message: string;
  details?: ErrorDetails;
}

export function errorObject(
  code: ErrorCode,
  message?: string,
  details?: ErrorDetails,
): ErrorObject {
  const error: ErrorObject = {
    code,
    message: message ?? errorCodes[code].message,
  };
  if (details !== undefined) error.details = details;
  return error;
}

/** The contract's error body: `{"error": {"code", "message", "details"?}}`, serialized. */
export function errorBody(code: ErrorCode, message?: string, details?: ErrorDetails): string {
  return JSON.stringify({ error: errorObject(code, message, details) });
}
