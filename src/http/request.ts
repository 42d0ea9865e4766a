// Reading a request with uWebSockets.js: headers before any await, abort tracking, a bounded
// body, and corked writes. Every answer carries x-trace-id.
import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { errorBody, errorStatus, type ErrorCode, type ErrorDetails } from '../errors.js';
import { parseTraceparent } from '../observability/trace-context.js';
import type { RequestSpan, RequestTracing } from './tracing.js';

/** Told of every answer (request logs); absent when nobody listens, which costs nothing. */
export type AnswerObserver = (exchange: Exchange, status: number) => void;

export interface Exchange {
  readonly res: HttpResponse;
  readonly traceId: string;
  readonly startedMs: number;
  /** Method and URL, read only when an observer wants them (they cost a copy each). */
  readonly method: string;
  readonly url: string;
  readonly observer: AnswerObserver | undefined;
  /** The request's spans, while tracing is on. */
  readonly span: RequestSpan | undefined;
  aborted: boolean;
  answered: boolean;
  /** Reading from the connection is paused until this exchange's answer is written. */
  paused: boolean;
  /** Takes the request back if its connection closes before the answer (see awaitAnswer). */
  cancel: (() => void) | undefined;
  /** In a cluster: the node named in x-served-by (this one, or the owner that answered). */
  servedBy: string | undefined;
}

const statusLines = new Map<number, string>([
  [200, '200 OK'],
  [400, '400 Bad Request'],
  [401, '401 Unauthorized'],
  [403, '403 Forbidden'],
  [404, '404 Not Found'],
  [405, '405 Method Not Allowed'],
  [409, '409 Conflict'],
  [413, '413 Payload Too Large'],
  [415, '415 Unsupported Media Type'],
  [422, '422 Unprocessable Entity'],
  [429, '429 Too Many Requests'],
  [500, '500 Internal Server Error'],
  [503, '503 Service Unavailable'],
]);

const traceIdPattern = /^[\x21-\x7e]{1,128}$/;
const tracePrefix = randomBytes(6).toString('hex');
let traceCounter = 0;

/**
 * The caller's trace id if it is a sane token, else the trace id of its W3C `traceparent` (so a
 * request traced by OpenTelemetry keeps its trace's id in the ledger's logs, journal and events),
 * else a new one (unique per process). `traceparent` is read only when needed.
 */
export function traceIdOf(header: string, traceparent: () => string = () => ''): string {
  if (header !== '' && traceIdPattern.test(header)) return header;
  const traced = parseTraceparent(traceparent());
  if (traced !== undefined) return traced.traceId;
  traceCounter += 1;
  return `${tracePrefix}${traceCounter.toString(16).padStart(8, '0')}`;
}

/** The caller's own x-trace-id, if it is a sane token; else ''. */
function ownTraceId(req: HttpRequest): string {
  const header = req.getHeader('x-trace-id');
  return header !== '' && traceIdPattern.test(header) ? header : '';
}

/**
 * A request begins. `traced` (tracing is on, and the route is one traced): its server span
 * begins too, and a request without its own x-trace-id takes the span's trace id (the
 * traceparent's, or a new one) as its trace id.
 */
export function begin(
  res: HttpResponse,
  req: HttpRequest,
  observer?: AnswerObserver,
  traced?: { readonly tracing: RequestTracing; readonly path: string },
): Exchange {
  let traceId: string;
  let span: RequestSpan | undefined;
  if (traced === undefined) {
    traceId = traceIdOf(req.getHeader('x-trace-id'), () => req.getHeader('traceparent'));
  } else {
    const own = ownTraceId(req);
    const method = req.getMethod();
    span = traced.tracing.begin(method, traced.path, req.getHeader('traceparent'), own);
    traceId = own === '' ? span.traceId : own;
  }
  const exchange: Exchange = {
    res,
    traceId,
    span,
    startedMs: performance.now(),
    method: observer === undefined ? '' : req.getMethod(),
    url: observer === undefined ? '' : req.getUrl(),
    observer,
    aborted: false,
    answered: false,
    paused: false,
    cancel: undefined,
    servedBy: undefined,
  };
  res.onAborted(() => {
    exchange.aborted = true;
    const cancel = exchange.cancel;
    exchange.cancel = undefined;
    cancel?.();
  });
  return exchange;
}

/**
 * The answer comes later (from a shard). uWS closes a connection when a request arrives while an
 * earlier answer on it is pending: it does not queue pipelined requests. Two defences, and what
 * each costs decides where it is used:
 * - `cancel`: a request read in the same packet as the one that closes the connection is taken
 *   back before it leaves for its shard (the close comes before this turn ends), so it never
 *   applies. Free: always on.
 * - `pause`: reading from the connection stops until this answer is written, so a pipelining
 *   client's next request waits in the socket and is read in order. It costs two system calls
 *   per request (a quarter of a hot SKU's throughput here, bench/README.md), so it is used only
 *   where a lost answer could not be recovered: a change that carries no idempotency key. Any
 *   other write whose answer a closed connection lost is answered again by its retry with the
 *   same key (reserve, keyed adjust) or by its nature (confirm, release, reads).
 */
export function awaitAnswer(exchange: Exchange, cancel: () => void, pause: boolean): void {
  if (exchange.answered || exchange.aborted) return;
  exchange.cancel = cancel;
  if (pause && !exchange.paused) {
    exchange.res.pause();
    exchange.paused = true;
  }
}

export interface ReplyHeaders {
  readonly replayed?: boolean;
  readonly retryAfterSeconds?: number;
  readonly contentType?: string;
  readonly allow?: string;
  readonly wwwAuthenticate?: string;
}

export function respond(
  exchange: Exchange,
  status: number,
  body: string,
  headers: ReplyHeaders = {},
): void {
  if (exchange.aborted || exchange.answered) return;
  exchange.answered = true;
  exchange.cancel = undefined;
  exchange.res.cork(() => {
    const res = exchange.res;
    // Before end(): after it the response object belongs to the connection's next request.
    if (exchange.paused) res.resume();
    res.writeStatus(statusLines.get(status) ?? String(status));
    res.writeHeader('content-type', headers.contentType ?? 'application/json');
    res.writeHeader('x-trace-id', exchange.traceId);
    if (exchange.servedBy !== undefined) res.writeHeader('x-served-by', exchange.servedBy);
    if (headers.replayed === true) res.writeHeader('idempotent-replayed', 'true');
    if (headers.retryAfterSeconds !== undefined)
      res.writeHeader('retry-after', String(headers.retryAfterSeconds));
    if (headers.allow !== undefined) res.writeHeader('allow', headers.allow);
    if (headers.wwwAuthenticate !== undefined) {
      res.writeHeader('www-authenticate', headers.wwwAuthenticate);
    }
    res.end(body);
  });
  exchange.span?.end(status);
  exchange.observer?.(exchange, status);
}

export function respondError(
  exchange: Exchange,
  code: ErrorCode,
  message?: string,
  details?: ErrorDetails,
  headers: ReplyHeaders = {},
): void {
  const status = errorStatus(code);
  const retry = status === 503 || status === 429 ? { retryAfterSeconds: 1, ...headers } : headers;
  respond(exchange, status, errorBody(code, message, details), retry);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A request body as read: a JSON object by default, the raw bytes for a stock import. */
export type BodyResult<Value = Record<string, unknown>> =
  | { readonly ok: true; readonly value: Value }
  | { readonly ok: false; readonly code: ErrorCode; readonly message: string };

/**
 * RFC 9112 6.3: a message with several content-length headers (uWS reads only the first) or
 * with both content-length and transfer-encoding must not be served, or a body could smuggle a
 * second request past the one that was checked.
 */
function ambiguousFraming(req: HttpRequest): boolean {
  let lengths = 0;
  let chunked = false;
  req.forEach((name) => {
    if (name === 'content-length') lengths += 1;
    else if (name === 'transfer-encoding') chunked = true;
  });
  return lengths > 1 || (lengths > 0 && chunked);
}

/** Cuts a connection whose framing is ambiguous; true if it did (nothing more may happen). */
function refusedFraming(exchange: Exchange, req: HttpRequest): boolean {
  if (!ambiguousFraming(req)) return false;
  // Not even a 400: uWS would go on parsing the smuggled bytes as the next request on this
  // connection before an answer could close it. Cut the connection at once instead.
  exchange.aborted = true;
  exchange.res.close();
  return true;
}

/** A declared content-length beyond the limit: refused before a byte of the body is read. */
function declaredTooLarge(req: HttpRequest, bytesMax: number): boolean {
  const declared = req.getHeader('content-length');
  return declared !== '' && Number(declared) > bytesMax;
}

/**
 * Checks content-type and declared length at once, then reads at most `bytesMax` bytes.
 * `optional`: the request may have no body at all; an empty one then counts as `{}` whatever
 * its content-type, and only a body with bytes in it must be JSON.
 */
export function readJsonBody(
  exchange: Exchange,
  req: HttpRequest,
  bytesMax: number,
  onBody: (result: BodyResult) => void,
  optional = false,
): void {
  const contentType = req.getHeader('content-type').toLowerCase();
  const declared = req.getHeader('content-length');
  if (refusedFraming(exchange, req)) return;
  const jsonTyped = isMediaType(contentType, 'application/json');
  const maybeEmpty = optional && (declared === '' || declared === '0');
  if (!jsonTyped && !maybeEmpty) {
    onBody(unsupportedType);
    return;
  }
  if (declaredTooLarge(req, bytesMax)) {
    onBody(tooLarge(bytesMax));
    return;
  }
  // Parsed at once: the bytes may be a view of uWS's own buffer (`readBody`'s `transient`).
  readBody(
    exchange,
    bytesMax,
    (bytes) => {
      if (bytes === undefined) onBody(tooLarge(bytesMax));
      else if (optional && bytes.byteLength === 0) onBody(emptyObject);
      else if (!jsonTyped) onBody(unsupportedType);
      else onBody(parseJsonObject(bytes));
    },
    true,
  );
}

/**
 * The raw bytes of an NDJSON body (content-type application/x-ndjson), at most `bytesMax` of
 * them: a declared content-length is checked first, and the bytes are counted as they arrive
 * (a chunked body declares none). Nothing is parsed here.
 */
export function readNdjsonBody(
  exchange: Exchange,
  req: HttpRequest,
  bytesMax: number,
  onBody: (result: BodyResult<Buffer>) => void,
): void {
  const contentType = req.getHeader('content-type').toLowerCase();
  if (refusedFraming(exchange, req)) return;
  if (!isMediaType(contentType, ndjsonType)) {
    onBody(unsupportedNdjson);
    return;
  }
  if (declaredTooLarge(req, bytesMax)) {
    onBody(tooLarge(bytesMax));
    return;
  }
  readBody(
    exchange,
    bytesMax,
    (bytes) => {
      onBody(bytes === undefined ? tooLarge(bytesMax) : { ok: true, value: bytes });
    },
    false,
  );
}

const ndjsonType = 'application/x-ndjson';

const unsupportedNdjson: BodyResult<Buffer> = {
  ok: false,
  code: 'unsupported_media_type',
  message: `content-type must be ${ndjsonType}`,
};

const unsupportedType: BodyResult = {
  ok: false,
  code: 'unsupported_media_type',
  message: 'content-type must be application/json',
};

const emptyObject: BodyResult = { ok: true, value: {} };

function tooLarge(bytesMax: number): BodyResult<never> {
  return { ok: false, code: 'payload_too_large', message: `the body limit is ${bytesMax} bytes` };
}

/**
 * The whole body, or undefined as soon as it passes `bytesMax`. `transient`: `onBytes` is done
 * with the bytes when it returns, so a body that came in one piece (a small one almost always
 * does) is handed over as a view of uWS's buffer, not copied first.
 */
function readBody<Transient extends boolean>(
  exchange: Exchange,
  bytesMax: number,
  onBytes: (bytes: (Transient extends true ? Uint8Array : Buffer) | undefined) => void,
  transient: Transient,
): void {
  const chunks: Buffer[] = [];
  let received = 0;
  let done = false;
  exchange.res.onData((chunk, isLast) => {
    if (done) return;
    received += chunk.byteLength;
    if (received > bytesMax) {
      done = true;
      onBytes(undefined);
      return;
    }
    if (isLast && transient && chunks.length === 0) {
      done = true;
      onBytes(new Uint8Array(chunk) as Transient extends true ? Uint8Array : Buffer);
      return;
    }
    // The ArrayBuffer is only valid during this callback: copy it.
    chunks.push(Buffer.from(new Uint8Array(chunk)));
    if (!isLast) return;
    done = true;
    onBytes(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
  });
}

/** `contentType` (lower-cased) is `type`, with or without parameters (`; charset=utf-8`). */
function isMediaType(contentType: string, type: string): boolean {
  if (!contentType.startsWith(type)) return false;
  const rest = contentType.slice(type.length);
  return rest === '' || rest.startsWith(';') || rest.startsWith(' ');
}

/** A JSON object from UTF-8 bytes; `what` names them in the message (a body, an import line). */
export function parseJsonObject(bytes: Uint8Array, what = 'the body'): BodyResult {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch {
    return { ok: false, code: 'malformed_json', message: `${what} is not valid UTF-8 JSON` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'malformed_json', message: `${what} must be a JSON object` };
  }
  return { ok: true, value: value as Record<string, unknown> };
}
