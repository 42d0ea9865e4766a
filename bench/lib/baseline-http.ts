// The HTTP side shared by the baselines in bench/baselines/: the same routes and JSON shapes as
// the ledger (API.md) for the calls the benches make (reserve, confirm, release, carts, adjust,
// stock reads; carts' validation and bodies are in baseline-cart.ts), on uWebSockets.js, so
// that the comparison differs only in what happens behind them. A baseline supplies the
// handlers; this file reads bodies, validates them, answers, and prints the listening line, from
// one thread or from several worker threads on one port.
import { createServer } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import uWS from 'uWebSockets.js';
import type { Answer } from './baseline-answer.js';
import { validCart, type CartRequest } from './baseline-cart.js';

export type { CartRequest } from './baseline-cart.js';

/** The ledger's default body limit (API.md). */
const bodyBytesMax = 16 * 1024;
const quantityMax = 1000;
const identifierPattern = /^[A-Za-z0-9._:-]{1,64}$/;
const idempotencyKeyPattern = /^[\x20-\x7e]{16,128}$/;
const reservationIdPattern =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

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

/** The status confirm or release moves a PENDING reservation to. */
export type FinishTarget = 'CONFIRMED' | 'RELEASED';

export interface FinishRequest {
  /** Lower-cased, as the ledger does, so that either spelling finds the reservation. */
  readonly reservationId: string;
  readonly target: FinishTarget;
}

/** The reservation as the ledger answers it (API.md, POST /v1/reserve). */
export interface ReservationBody {
  readonly reservation_id: string;
  readonly status: string;
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly quantity: number;
  readonly expires_at: string;
  readonly created_at: string;
  /** A cart's hold carries its cart's id, buyer and reference. */
  readonly cart_id?: string;
  readonly buyer_id?: string;
  readonly reference?: string;
}

export type { Answer } from './baseline-answer.js';

type MaybeAsync<T> = T | Promise<T>;

export interface BaselineHandlers {
  reserve(request: ReserveRequest): MaybeAsync<Answer>;
  /** POST /v1/carts: every hold or none; `baseline-cart.ts` gives the bodies. */
  cart(request: CartRequest): MaybeAsync<Answer>;
  /** POST /v1/confirm and POST /v1/release; `finishAnswer` gives the ledger's answers. */
  finish(request: FinishRequest): MaybeAsync<Answer>;
  adjust(request: AdjustRequest): MaybeAsync<Answer>;
  readStock(productId: string, warehouseId: string): MaybeAsync<Answer>;
  /** Releases connections; called on SIGTERM after the HTTP listener (of its thread) is closed. */
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
  501: '501 Not Implemented',
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

function validFinish(body: Record<string, unknown>, target: FinishTarget): FinishRequest | Answer {
  const { reservation_id: reservationId } = body;
  if (typeof reservationId !== 'string' || !reservationIdPattern.test(reservationId)) {
    return invalid('reservation_id');
  }
  return { reservationId: reservationId.toLowerCase(), target };
}

const isAnswer = (value: object): value is Answer => 'status' in value;

/** Codes for a confirm/release that finds the reservation already in another final status. */
const refusedCodes: Readonly<Record<string, readonly [code: string, message: string]>> = {
  CONFIRMED: ['reservation_confirmed', 'The reservation is already confirmed.'],
  RELEASED: ['reservation_released', 'The reservation was released.'],
  EXPIRED: ['reservation_expired', 'The reservation has expired.'],
};

/**
 * The ledger's answer to confirm/release, from the reservation as the baseline left it (undefined:
 * unknown id) and whether this call moved it. The asked status is 200, a repeat marked replayed;
 * another final status is 409, EXPIRED included when this very call found the hold due.
 */
export function finishAnswer(
  target: FinishTarget,
  reservation: ReservationBody | undefined,
  moved: boolean,
): Answer {
  if (reservation === undefined) return errorAnswer(404, 'not_found', 'unknown reservation');
  if (reservation.status === target) return { status: 200, body: reservation, replayed: !moved };
  const refused = refusedCodes[reservation.status];
  if (refused === undefined) {
    throw new Error(
      `${target} left reservation ${reservation.reservation_id} in ${reservation.status}`,
    );
  }
  return errorAnswer(409, refused[0], refused[1]);
}

/** The reservation body the ledger answers with, for a reservation created now. */
export function reservationBody(
  request: ReserveRequest,
  reservationId: string,
  nowMs: number,
): ReservationBody {
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

/**
 * What a baseline that keeps no holds answers a confirm or release with, for any well-formed id:
 * a hold of 1 on a fixed key named after it, made once (bare-uws, bare-uws-commit).
 */
export function fixedFinish(
  name: string,
  startedMs: number,
): (reservationId: string, status: string) => ReservationBody {
  const finished = reservationBody(
    {
      productId: name,
      warehouseId: name,
      quantity: 1,
      idempotencyKey: `${name}-fixed-reply`,
      ttlSeconds: 600,
    },
    '',
    startedMs,
  );
  return (reservationId, status) => ({ ...finished, reservation_id: reservationId, status });
}

/**
 * What a baseline that keeps no stock answers: an adjust's key as if it held the delta, and a
 * read of any key as empty (bare-uws, bare-uws-commit).
 */
export const statelessStock = {
  adjustAnswer: (request: AdjustRequest): Answer => ({
    status: 200,
    body: stockBody(request.productId, request.warehouseId, request.delta, 0, 1),
  }),
  readStock: (productId: string, warehouseId: string): Answer => ({
    status: 200,
    body: stockBody(productId, warehouseId, 0, 0, 0),
  }),
};

/** More HTTP threads than this only add switching on a small box; a typo like 100 is refused. */
export const httpThreadsMax = 16;
/** How long a stopping HTTP thread may take to close its app and connections. */
const threadStopTimeoutMs = 5000;
/** Free ports tried for PORT=0 with several threads (see listenFirst). */
const freePortAttemptsMax = 5;

/** `close()` exists at run time but not in 20.30's types; it closes listener and connections. */
const closeApp = (app: uWS.TemplatedApp): void => (app as unknown as { close(): void }).close();

function finishRoute(handlers: BaselineHandlers, target: FinishTarget) {
  return onJsonBody((body) => {
    const request = validFinish(body, target);
    return isAnswer(request) ? request : handlers.finish(request);
  });
}

/** A stock key part from the URL, or undefined where the ledger answers 404 (bad escape or id). */
function stockKeyPart(raw: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch (error) {
    void error;
    return undefined;
  }
  return identifierPattern.test(decoded) ? decoded : undefined;
}

/** The routes of one uWS app; with several threads, each has its own app and handlers. */
function baselineApp(handlers: BaselineHandlers): uWS.TemplatedApp {
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
    '/v1/carts',
    onJsonBody((body) => {
      const request = validCart(body);
      return isAnswer(request) ? request : handlers.cart(request);
    }),
  );
  app.post('/v1/confirm', finishRoute(handlers, 'CONFIRMED'));
  app.post('/v1/release', finishRoute(handlers, 'RELEASED'));
  app.post(
    '/v1/stock/adjust',
    onJsonBody((body) => {
      const request = validAdjust(body);
      return isAnswer(request) ? request : handlers.adjust(request);
    }),
  );
  app.get('/v1/stock/:product/:warehouse', (res, req) => {
    const productId = stockKeyPart(req.getParameter(0) ?? '');
    const warehouseId = stockKeyPart(req.getParameter(1) ?? '');
    const state = { aborted: false };
    res.onAborted(() => (state.aborted = true));
    answerWith(res, state, () =>
      productId === undefined || warehouseId === undefined
        ? errorAnswer(404, 'not_found', 'unknown stock key')
        : handlers.readStock(productId, warehouseId),
    );
  });
  app.any('/*', (res) => send(res, errorAnswer(404, 'not_found', 'no such route')));
  return app;
}

/** Listens on host:port (0: a free port); resolves the bound port, undefined if it could not. */
function listenApp(app: uWS.TemplatedApp, host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) =>
    app.listen(host, port, (socket) =>
      resolve(socket === false ? undefined : uWS.us_socket_local_port(socket)),
    ),
  );
}

/** The ledger-style line the bench waits for, printed once when every listener is up. */
function printListening(name: string, host: string, port: number): void {
  process.stdout.write(`${JSON.stringify({ msg: 'listening', name, host, port })}\n`);
}

export interface ServeOptions {
  /**
   * uWS apps to run, each in its own worker thread, all on one port (SO_REUSEPORT: the kernel
   * spreads connections); the main thread only starts and stops them. 1: the main thread
   * serves, as without options.
   */
  readonly threads: number;
  /** The baseline's module (its import.meta.url): each thread imports it and so calls us too. */
  readonly moduleUrl: string;
}

/**
 * Listens on HOST:PORT (PORT=0: a free port), prints the ledger-style listening line, stops on
 * SIGTERM/SIGINT. Inside an HTTP thread started by a threaded serveBaseline, serves that thread.
 */
export function serveBaseline(
  name: string,
  handlers: BaselineHandlers,
  options?: ServeOptions,
): void {
  if (typeof uWS.SSLApp !== 'function') {
    throw new Error('uWebSockets.js fell back to its JavaScript server: refusing to measure it');
  }
  if (!isMainThread && isThreadData(workerData)) {
    serveThread(handlers);
    return;
  }
  const host = process.env.HOST ?? '127.0.0.1';
  const port = Number(process.env.PORT ?? '0');
  const threads = options?.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > httpThreadsMax) {
    throw new Error(`${name}: threads must be an integer 1..${httpThreadsMax}, got ${threads}`);
  }
  if (options === undefined || threads === 1) {
    serveSingle(name, handlers, host, port);
    return;
  }
  serveThreads(name, handlers, { host, port }, options).catch((error: unknown) => {
    process.stderr.write(`${name}: ${String(error)}\n`);
    process.exit(1);
  });
}

function serveSingle(name: string, handlers: BaselineHandlers, host: string, port: number): void {
  const app = baselineApp(handlers);
  void listenApp(app, host, port).then((bound) => {
    if (bound === undefined) {
      process.stderr.write(`${name}: could not listen on ${host}:${port}\n`);
      process.exit(1);
    }
    printListening(name, host, bound);
  });
  const stop = (): void => {
    closeApp(app);
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

// Messages across the thread boundary, typed on `kind`.
/** workerData of an HTTP thread: it only marks the thread, the port comes in a command. */
interface ThreadData {
  readonly kind: 'baseline-http-thread';
}
/** Main to thread. */
type ThreadCommand =
  | { readonly kind: 'listen'; readonly host: string; readonly port: number }
  | { readonly kind: 'stop' };
/** Thread to main, once per `listen`. */
type ThreadReport =
  { readonly kind: 'listening'; readonly port: number } | { readonly kind: 'listen_failed' };

const isThreadData = (data: unknown): data is ThreadData =>
  typeof data === 'object' &&
  data !== null &&
  (data as { kind?: unknown }).kind === 'baseline-http-thread';

function serveThread(handlers: BaselineHandlers): void {
  const port = parentPort;
  if (port === null) throw new Error('an HTTP thread has no parent port');
  const app = baselineApp(handlers);
  port.on('message', (command: ThreadCommand) => {
    if (command.kind === 'listen') {
      void listenApp(app, command.host, command.port).then((bound) => {
        const report: ThreadReport =
          bound === undefined ? { kind: 'listen_failed' } : { kind: 'listening', port: bound };
        port.postMessage(report);
      });
      return;
    }
    // The app first: a thread that exits with a uWS listener open aborts the whole process.
    closeApp(app);
    handlers.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`HTTP thread: close failed: ${String(error)}\n`);
        process.exit(1);
      },
    );
  });
}

/**
 * The code a worker thread is started with (`eval: true`) to run the module at `moduleUrl`: a
 * TypeScript module under tsx's loader, since tsx hooks only the main thread on Node 20.
 */
export function workerBootCode(moduleUrl: string): string {
  const module = JSON.stringify(moduleUrl);
  if (!moduleUrl.endsWith('.ts')) return `import(${module});`;
  const tsxApi = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return `import(${tsxApi}).then(({ register }) => { register(); return import(${module}); });`;
}

interface HttpThread {
  readonly worker: Worker;
  readonly exited: Promise<number>;
}

function startThread(moduleUrl: string): HttpThread {
  const workerData: ThreadData = { kind: 'baseline-http-thread' };
  const worker = new Worker(workerBootCode(moduleUrl), { eval: true, workerData });
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  // An uncaught error ends the thread; 'exit' follows and is handled where it is awaited.
  worker.on('error', (error) => process.stderr.write(`HTTP thread failed: ${String(error)}\n`));
  return { worker, exited };
}

/** Asks a thread to listen; the bound port, or undefined if it could not or died first. */
function listenThread(thread: HttpThread, host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    thread.worker.once('message', (report: ThreadReport) =>
      resolve(report.kind === 'listening' ? report.port : undefined),
    );
    void thread.exited.then(() => resolve(undefined));
    const command: ThreadCommand = { kind: 'listen', host, port };
    thread.worker.postMessage(command);
  });
}

/** A port free on `host` right now (the OS picks it); it may be taken again before we bind. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Binds the first thread. uSockets sets SO_REUSEPORT only when the port asked is not 0, so PORT=0
 * cannot be bound by one thread and then shared: a free port is found first and then bound
 * (again with a new one, a few times, should another process take it in between).
 */
async function listenFirst(thread: HttpThread, host: string, port: number) {
  if (port !== 0) return listenThread(thread, host, port);
  for (let attempt = 1; attempt <= freePortAttemptsMax; attempt += 1) {
    const bound = await listenThread(thread, host, await freePort(host));
    if (bound !== undefined) return bound;
  }
  return undefined;
}

/** Asks every thread to close its app, waits (bounded) for all to exit, then exits. */
async function stopThreads(
  name: string,
  handlers: BaselineHandlers,
  threads: readonly HttpThread[],
  exitCode: number,
): Promise<never> {
  const command: ThreadCommand = { kind: 'stop' };
  for (const thread of threads) thread.worker.postMessage(command);
  const timer = new Promise<'timeout'>((resolve) =>
    setTimeout(resolve, threadStopTimeoutMs, 'timeout').unref(),
  );
  const all = Promise.all(threads.map((thread) => thread.exited));
  if ((await Promise.race([all, timer])) === 'timeout') {
    process.stderr.write(`${name}: HTTP threads did not stop within ${threadStopTimeoutMs} ms\n`);
    process.exit(1);
  }
  try {
    await handlers.close();
  } catch (error) {
    process.stderr.write(`${name}: close failed: ${String(error)}\n`);
    process.exit(1);
  }
  process.exit(exitCode);
}

/** Starts the threads (booting in parallel), binds the first, then the others on its port. */
async function serveThreads(
  name: string,
  handlers: BaselineHandlers,
  address: { readonly host: string; readonly port: number },
  options: ServeOptions,
): Promise<void> {
  const { host } = address;
  const threads = Array.from({ length: options.threads }, () => startThread(options.moduleUrl));
  let stopping: Promise<never> | undefined;
  const stop = (exitCode: number): Promise<never> =>
    (stopping ??= stopThreads(name, handlers, threads, exitCode));
  process.once('SIGTERM', () => void stop(0));
  process.once('SIGINT', () => void stop(0));
  const [first, ...others] = threads as [HttpThread, ...HttpThread[]];
  const port = await listenFirst(first, host, address.port);
  if (stopping !== undefined) return;
  if (port === undefined) {
    process.stderr.write(`${name}: could not listen on ${host}:${address.port}\n`);
    return void stop(1);
  }
  const ports = await Promise.all(others.map((thread) => listenThread(thread, host, port)));
  if (stopping !== undefined) return;
  if (ports.some((bound) => bound !== port)) {
    process.stderr.write(`${name}: not every HTTP thread could listen on ${host}:${port}\n`);
    return void stop(1);
  }
  for (const thread of threads) {
    void thread.exited.then((code) => {
      if (stopping !== undefined) return;
      process.stderr.write(`${name}: an HTTP thread exited (code ${code}); stopping\n`);
      void stop(1);
    });
  }
  printListening(name, host, port);
}
