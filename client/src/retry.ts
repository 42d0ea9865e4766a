// When to try a request again and how long to wait first: jittered exponential backoff, never
// shorter than the ledger's `retry-after`, and only when the repeat cannot apply a change twice.

export interface RetryPolicy {
  /** Attempts in all, the first included (1: never retry). */
  readonly attemptsMax: number;
  /** The backoff's first ceiling; each retry doubles it. */
  readonly baseDelayMs: number;
  /** The backoff's largest ceiling. */
  readonly delayMaxMs: number;
  /** A `retry-after` longer than this is taken as this (a ledger's is 1 s). */
  readonly retryAfterMaxMs: number;
}

export const defaultRetryPolicy: RetryPolicy = {
  attemptsMax: 6,
  baseDelayMs: 50,
  delayMaxMs: 2_000,
  retryAfterMaxMs: 30_000,
};

/**
 * The wait before retry number `retry` (1 for the first retry): "full jitter" over an
 * exponentially growing ceiling, so that clients refused together do not come back together.
 * With a `retry-after`, at least that long, plus up to a fifth of it spread.
 */
export function backoffDelayMs(
  policy: RetryPolicy,
  retry: number,
  random: () => number,
  retryAfterSeconds: number | undefined,
): number {
  const ceilingMs = Math.min(policy.delayMaxMs, policy.baseDelayMs * 2 ** (retry - 1));
  const jitteredMs = random() * ceilingMs;
  if (retryAfterSeconds === undefined) return jitteredMs;
  const retryAfterMs = Math.min(policy.retryAfterMaxMs, retryAfterSeconds * 1000);
  return Math.max(jitteredMs, retryAfterMs + random() * retryAfterMs * 0.2);
}

/** A `retry-after` header in seconds (the HTTP-date form is read too); undefined if absent. */
export function parseRetryAfter(header: string | null, nowMs: number): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(header)) return Number(header);
  const dateMs = Date.parse(header);
  return Number.isNaN(dateMs) ? undefined : Math.max(0, (dateMs - nowMs) / 1000);
}

// Failures that happen before a single byte of the request can have been read: the connection
// was never made. Anything else (reset, hang up, a body cut short) may have reached the ledger.
const connectFailureCodes = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** Every `code` along an error's `cause` chain (fetch wraps the socket's error in a TypeError). */
export function errorCodesOf(error: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 8 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    current = (current as { cause?: unknown }).cause;
  }
  return codes;
}

/** True when the failure proves the request never reached the ledger. */
export function neverSent(error: unknown): boolean {
  return errorCodesOf(error).some((code) => connectFailureCodes.has(code));
}

/** A short description for messages: the innermost code or message. */
export function describeFailure(error: unknown): string {
  const codes = errorCodesOf(error);
  if (codes.length > 0) return codes[codes.length - 1] as string;
  let current: unknown = error;
  while (current instanceof Error && current.cause instanceof Error) current = current.cause;
  return current instanceof Error ? current.message : String(current);
}
