// One logical call to the ledger: attempts, each with its own timeout, under one overall
// deadline, retried with backoff when the failure allows it and the request is safe to repeat.
import { LedgerConnectionError, LedgerError, LedgerTimeoutError } from './errors.js';
import type { Operation } from './operations.js';
import {
  backoffDelayMs,
  describeFailure,
  neverSent,
  parseRetryAfter,
  type RetryPolicy,
} from './retry.js';

export type FetchFunction = (input: string, init: RequestInit) => Promise<Response>;

export interface RetryEvent {
  readonly operationId: string;
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: Error;
}

export interface TransportSettings {
  readonly baseUrl: string;
  readonly token: (() => string | Promise<string>) | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly fetch: FetchFunction;
  readonly random: () => number;
  readonly retry: RetryPolicy;
  readonly attemptTimeoutMs: number;
  readonly deadlineMs: number;
  readonly onRetry: ((event: RetryEvent) => void) | undefined;
}

export interface Call {
  readonly operation: Operation;
  /** Path with parameters filled in, query string included. */
  readonly path: string;
  readonly body?: string;
  readonly contentType?: string;
  /** Repeating the request after it may have reached the ledger cannot apply it twice. */
  readonly replaySafe: boolean;
  readonly signal?: AbortSignal;
  readonly attemptTimeoutMs?: number;
  readonly deadlineMs?: number;
  readonly retry?: Partial<RetryPolicy>;
}

type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: Error; readonly retry: boolean; retryAfter?: number };

export async function send<T>(settings: TransportSettings, call: Call): Promise<T> {
  const policy = { ...settings.retry, ...call.retry };
  const deadlineAtMs = Date.now() + (call.deadlineMs ?? settings.deadlineMs);
  for (let attempt = 1; ; attempt++) {
    const outcome = await attemptOnce<T>(settings, call, attempt, deadlineAtMs);
    if (outcome.ok) return outcome.value;
    if (!outcome.retry || attempt >= policy.attemptsMax) throw outcome.error;
    const delayMs = backoffDelayMs(policy, attempt, settings.random, outcome.retryAfter);
    // Waiting past the deadline only to give up then helps no one: the last failure says more.
    if (Date.now() + delayMs >= deadlineAtMs) throw outcome.error;
    settings.onRetry?.({
      operationId: call.operation.operationId,
      attempt,
      delayMs,
      error: outcome.error,
    });
    await sleep(delayMs, call.signal, attempt);
  }
}

function sleep(delayMs: number, signal: AbortSignal | undefined, attempts: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = () => {
      clearTimeout(timer);
      const message = 'the call was aborted while waiting to retry';
      reject(new LedgerTimeoutError(message, 'aborted', true, attempts, { cause: signal?.reason }));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', aborted);
      resolve();
    }, delayMs);
    if (signal?.aborted === true) aborted();
    else signal?.addEventListener('abort', aborted, { once: true });
  });
}

type AbortReason = 'attempt' | 'deadline' | 'aborted';

/** An attempt's signal: the caller's, the deadline's and the attempt's own timeout in one. */
function attemptSignal(call: Call, settings: TransportSettings, deadlineAtMs: number) {
  const controller = new AbortController();
  let reason: AbortReason | undefined;
  const abort = (why: AbortReason) => {
    reason ??= why;
    controller.abort(new Error(`ledger call ${why === 'attempt' ? 'attempt ' : ''}${why}`));
  };
  const attemptMs = call.attemptTimeoutMs ?? settings.attemptTimeoutMs;
  const timers = [
    setTimeout(() => abort('attempt'), attemptMs),
    setTimeout(() => abort('deadline'), Math.max(0, deadlineAtMs - Date.now())),
  ];
  const onCallerAbort = () => abort('aborted');
  if (call.signal?.aborted === true) abort('aborted');
  else call.signal?.addEventListener('abort', onCallerAbort, { once: true });
  return {
    signal: controller.signal,
    reason: () => reason,
    done() {
      for (const timer of timers) clearTimeout(timer);
      call.signal?.removeEventListener('abort', onCallerAbort);
    },
  };
}

async function attemptOnce<T>(
  settings: TransportSettings,
  call: Call,
  attempt: number,
  deadlineAtMs: number,
): Promise<Outcome<T>> {
  const guard = attemptSignal(call, settings, deadlineAtMs);
  let sent = false;
  try {
    const init = await requestInit(settings, call, guard.signal);
    const responsePromise = settings.fetch(`${settings.baseUrl}${call.path}`, init);
    sent = true;
    const response = await responsePromise;
    const text = await response.text();
    return answered<T>(call, response, text, attempt);
  } catch (error) {
    return failed(call, error, attempt, guard.reason(), sent);
  } finally {
    guard.done();
  }
}

async function requestInit(
  settings: TransportSettings,
  call: Call,
  signal: AbortSignal,
): Promise<RequestInit> {
  const headers: Record<string, string> = { accept: 'application/json', ...settings.headers };
  if (settings.token !== undefined) headers.authorization = `Bearer ${await settings.token()}`;
  if (call.body !== undefined) headers['content-type'] = call.contentType ?? 'application/json';
  const init: RequestInit = { method: call.operation.method, headers, signal };
  if (call.body !== undefined) init.body = call.body;
  return init;
}

function failed<T>(
  call: Call,
  error: unknown,
  attempts: number,
  abortReason: AbortReason | undefined,
  sent: boolean,
): Outcome<T> {
  const where = `${call.operation.method} ${call.path}`;
  if (abortReason !== undefined) {
    const message = `${where}: ${abortReason === 'attempt' ? 'attempt timed out' : abortReason}`;
    const timeout = new LedgerTimeoutError(message, abortReason, sent, attempts, { cause: error });
    return { ok: false, error: timeout, retry: abortReason === 'attempt' && call.replaySafe };
  }
  const maybeApplied = sent && !neverSent(error);
  const message = `${where}: connection failed (${describeFailure(error)})`;
  const connection = new LedgerConnectionError(message, maybeApplied, attempts, { cause: error });
  // A request that never reached the ledger can always be sent again.
  return { ok: false, error: connection, retry: !maybeApplied || call.replaySafe };
}

function answered<T>(call: Call, response: Response, text: string, attempts: number): Outcome<T> {
  if (response.ok) {
    try {
      return { ok: true, value: JSON.parse(text) as T };
    } catch (error) {
      const message = `${call.operation.operationId}: ${response.status} body is not JSON`;
      return { ok: false, error: new Error(message, { cause: error }), retry: false };
    }
  }
  const error = ledgerError(response, text, attempts);
  return { ok: false, error, retry: mayRetry(error, call), retryAfter: error.retryAfterSeconds };
}

/**
 * 429 and 503 `overloaded` are refusals before anything was done: any request may come again.
 * Another 503 (`unavailable`: a journal write failed, and may still have landed) only when the
 * request is safe to repeat.
 */
function mayRetry(error: LedgerError, call: Call): boolean {
  if (error.status === 429 || error.code === 'overloaded') return true;
  return error.status === 503 && call.replaySafe;
}

function ledgerError(response: Response, text: string, attempts: number): LedgerError {
  let body: { error?: { code?: unknown; message?: unknown; details?: unknown } } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    body = {};
  }
  const error = body.error ?? {};
  const retryAfter = parseRetryAfter(response.headers.get('retry-after'), Date.now());
  const details = error.details;
  return new LedgerError({
    status: response.status,
    code: typeof error.code === 'string' ? error.code : `http_${response.status}`,
    message: typeof error.message === 'string' ? error.message : text.slice(0, 200),
    ...(typeof details === 'object' && details !== null
      ? { details: details as Record<string, unknown> }
      : {}),
    ...(response.headers.get('x-trace-id') === null
      ? {}
      : { traceId: response.headers.get('x-trace-id') as string }),
    ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
    attempts,
  });
}
