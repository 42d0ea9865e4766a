// The HTTP side shared by the baselines in bench/baselines/: the same routes and JSON shapes as
// the ledger (API.md) for the calls the hot-SKU bench makes, on uWebSockets.js, so that the
// comparison differs only in what happens behind POST /v1/reserve. A baseline supplies the
// handlers; this file reads bodies, validates them, answers, and prints the listening line.
import uWS from 'uWebSockets.js';

/** The ledger's default body limit (API.md). */
const bodyBytesMax = 16 * 1024;
const quantityMax = 1000;
const identifierPattern = /^[A-Za-z0-9._:-]{1,64}$/;
const idempotencyKeyPattern = /^[\x20-\x7e]{16,128}$/;

export interface ReserveRequest {
  readonly productId: string;
  readonly warehouseId: string;
  readonly quantity: number;
  readonly idempotencyKey: string;
  readonly ttlSeconds: number;
}

export interface AdjustRequest {
  readonly productId: string;
  readonly warehouseId: string;
  readonly delta: number;
}

export interface Answer {
  readonly status: number;
  readonly body: unknown;
  /** Sets `idempotent-replayed: true`, as the ledger does for a repeated idempotency key. */
  readonly replayed?: boolean;
}

type MaybeAsync<T> = T | Promise<T>;

export interface BaselineHandlers {
  reserve(request: ReserveRequest): MaybeAsync<Answer>;
  adjust(request: AdjustRequest): MaybeAsync<Answer>;
  readStock(productId: string, warehouseId: string): MaybeAsync<Answer>;
  /** Releases connections; called on SIGTERM after the HTTP listener is closed. */
  close(): Promise<void>;
}

export const errorAnswer = (
  status: number,
  code: string,
  message: string,
  details?: Record<string, unknown>,
): Answer => ({ status, body: { error: { code, message, ...(details ? { details } : {}) } } });

const statusText: Record<number, string> = {
  200: '200 OK',
  400: '400 Bad Request',
  404: '404 Not Found',
  409: '409 Conflict',
  413: '413 Payload Too Large',
  422: '422 Unprocessable Entity',
  500: '500 Internal Server Error',
};

function send(res: uWS.HttpResponse, answer: Answer): void {
  res.cork(() => {
    res.writeStatus(statusText[answer.status] ?? String(answer.status));
    res.writeHeader('content-type', 'application/json');
    if (answer.replayed === true) res.writeHeader('idempotent-replayed', 'true');
    res.end(JSON.stringify(answer.body));
  });
}

/** Answers now if the handler was synchronous, else when its promise settles (unless aborted). */
function answerWith(res: uWS.HttpResponse, state: { aborted: boolean }, run: () => unknown) {
  let result: unknown;
  try {
    result = run();
  } catch (error) {
    result = Promise.reject(error);
  }
  if (!(result instanceof Promise)) {
    send(res, result as Answer);
    return;
  }
  result.then(
    (answer: Answer) => {
      if (!state.aborted) send(res, answer);
    },
    (error: unknown) => {
      process.stderr.write(`baseline handler failed: ${String(error)}\n`);
      if (!state.aborted) send(res, errorAnswer(500, 'internal', 'internal error'));
    },
  );
}

/** Reads the whole body (copying each chunk: uWS detaches it after the callback), handles it. */
function onJsonBody(handle: (body: Record<string, unknown>) => MaybeAsync<Answer>) {
  return (res: uWS.HttpResponse): void => {
    const state = { aborted: false };
    res.onAborted(() => (state.aborted = true));
    const chunks: Buffer[] = [];
    let bytes = 0;
    res.onData((chunk, isLast) => {
      if (bytes > bodyBytesMax) return;
      bytes += chunk.byteLength;
      if (bytes > bodyBytesMax) {
        send(res, errorAnswer(413, 'payload_too_large', 'body over 16 KiB'));
        return;
      }
      chunks.push(Buffer.from(new Uint8Array(chunk)));
      if (!isLast) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (error) {
        void error;
        send(res, errorAnswer(400, 'malformed_json', 'body is not valid JSON'));
        return;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        send(res, errorAnswer(400, 'malformed_json', 'body is not a JSON object'));
        return;
      }
      answerWith(res, state, () => handle(parsed as Record<string, unknown>));
    });
  };
}

const invalid = (field: string): Answer =>
  errorAnswer(422, 'validation_failed', `${field} is missing or out of range`, { field });

function validReserve(body: Record<string, unknown>): ReserveRequest | Answer {
  const { product_id: productId, warehouse_id: warehouseId, quantity } = body;
  const { idempotency_key: idempotencyKey, ttl_seconds: ttl = 600 } = body;
  if (typeof productId !== 'string' || !identifierPattern.test(productId)) {
    return invalid('product_id');
  }
  if (typeof warehouseId !== 'string' || !identifierPattern.test(warehouseId)) {
    return invalid('warehouse_id');
  }
  if (
    !Number.isInteger(quantity) ||
    (quantity as number) < 1 ||
    (quantity as number) > quantityMax
  ) {
    return invalid('quantity');
  }
  if (typeof idempotencyKey !== 'string' || !idempotencyKeyPattern.test(idempotencyKey)) {
    return invalid('idempotency_key');
  }
  if (!Number.isInteger(ttl) || (ttl as number) < 60 || (ttl as number) > 3600) {
    return invalid('ttl_seconds');
  }
  return {
    productId,
    warehouseId,
    quantity: quantity as number,
    idempotencyKey,
    ttlSeconds: ttl as number,
  };
}

function validAdjust(body: Record<string, unknown>): AdjustRequest | Answer {
  const { product_id: productId, warehouse_id: warehouseId, delta } = body;
  if (typeof productId !== 'string' || !identifierPattern.test(productId)) {
    return invalid('product_id');
  }
  if (typeof warehouseId !== 'string' || !identifierPattern.test(warehouseId)) {
    return invalid('warehouse_id');
  }
  if (!Number.isSafeInteger(delta) || delta === 0) return invalid('delta');
  return { productId, warehouseId, delta: delta as number };
}

const isAnswer = (value: object): value is Answer => 'status' in value;

/** The reservation body the ledger answers with, for a reservation created now. */
export function reservationBody(request: ReserveRequest, reservationId: string, nowMs: number) {
  return {
    reservation_id: reservationId,
    status: 'PENDING',
    product_id: request.productId,
    warehouse_id: request.warehouseId,
    quantity: request.quantity,
    expires_at: new Date(nowMs + request.ttlSeconds * 1000).toISOString(),
    created_at: new Date(nowMs).toISOString(),
  };
}

/** The stock body the ledger answers with. */
export function stockBody(
  productId: string,
  warehouseId: string,
  onHand: number,
  reserved: number,
  version: number,
) {
  return {
    product_id: productId,
    warehouse_id: warehouseId,
    on_hand: onHand,
    reserved,
    available: onHand - reserved,
    version,
  };
}

/** Listens on HOST:PORT (PORT=0: a free port), prints the ledger-style listening line. */
export function serveBaseline(name: string, handlers: BaselineHandlers): void {
  if (typeof uWS.SSLApp !== 'function') {
    throw new Error('uWebSockets.js fell back to its JavaScript server: refusing to measure it');
  }
  const host = process.env.HOST ?? '127.0.0.1';
  const port = Number(process.env.PORT ?? '0');
  const app = uWS.App();
  app.get('/health/ready', (res) => send(res, { status: 200, body: { status: 'ready' } }));
  app.get('/health/live', (res) => send(res, { status: 200, body: { status: 'live' } }));
  app.post(
    '/v1/reserve',
    onJsonBody((body) => {
      const request = validReserve(body);
      return isAnswer(request) ? request : handlers.reserve(request);
    }),
  );
  app.post(
    '/v1/stock/adjust',
    onJsonBody((body) => {
      const request = validAdjust(body);
      return isAnswer(request) ? request : handlers.adjust(request);
    }),
  );
  app.get('/v1/stock/:product/:warehouse', (res, req) => {
    const productId = decodeURIComponent(req.getParameter(0) ?? '');
    const warehouseId = decodeURIComponent(req.getParameter(1) ?? '');
    const state = { aborted: false };
    res.onAborted(() => (state.aborted = true));
    answerWith(res, state, () => handlers.readStock(productId, warehouseId));
  });
  app.any('/*', (res) => send(res, errorAnswer(404, 'not_found', 'no such route')));
  app.listen(host, port, (socket) => {
    if (socket === false) {
      process.stderr.write(`${name}: could not listen on ${host}:${port}\n`);
      process.exit(1);
    }
    const listening = { msg: 'listening', name, host, port: uWS.us_socket_local_port(socket) };
    process.stdout.write(`${JSON.stringify(listening)}\n`);
  });
  const stop = (): void => {
    (app as unknown as { close(): void }).close();
    handlers.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`${name}: close failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
