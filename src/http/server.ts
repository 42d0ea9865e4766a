// The HTTP ingress on uWebSockets.js: the routes of routes.ts, admission (auth, roles, rate),
// validation, dispatch to the router, and writing the shard's answer.
import { hostname } from 'node:os';
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp } from 'uWebSockets.js';
import { merged } from '../actors/index.js';
import { feedInterestReachMs } from '../limits.js';
import type { Logger } from '../observability/logger.js';
import type { IngressMetrics } from '../observability/metrics.js';
import type {
  CartCallback,
  CartCoordinator,
  RoutableCommand,
  Router,
  StockListing,
  StockPageQuery,
} from '../router/index.js';
import type { ErrorObject } from '../errors.js';
import type { ShardOutcome, StockChange } from '../shards/index.js';
import { NdjsonLines } from './ndjson-lines.js';
import { renderOutcome, resultOf, stockPageJson } from './reply-render.js';
import type { Principal } from './auth.js';
import type { Gate } from './gate.js';
import { LiveFeed } from './live-feed.js';
import { loadUiAssets, serveAsset, type UiAssets } from './ui-page.js';
import { openApiDocument } from './openapi.js';
import type { RequestTracing } from './tracing.js';
import {
  liveAnswer,
  metricsAnswer,
  readyAnswer,
  type OperationalAnswer,
  type Readiness,
} from './operational.js';
import {
  awaitAnswer,
  begin,
  readJsonBody,
  readNdjsonBody,
  respond,
  respondError,
  type AnswerObserver,
  type BodyResult,
  type Exchange,
} from './request.js';
import { methodsOf, routes, type Route, type RouteName } from './routes.js';
import { StockImport, type ImportHost, type LineCommand } from './stock-import.js';
import { encodeMovementCursor, encodeStockCursor } from './schemas.js';
import { movementPageJson, type MovementHistory } from './movements.js';
import {
  RequestValidator,
  UnknownResource,
  ValidationError,
  cartId,
  reservationId,
  stockId,
  transferId,
  type MovementPageQuery,
  type ValidationLimits,
} from './validate.js';

export type { Readiness };

export interface ServerOptions {
  readonly bodyBytesMax: number;
  /** A stock import's body and lines (POST /v1/stock/import): 413 beyond either. */
  readonly importBytesMax: number;
  readonly importLinesMax: number;
  readonly limits: ValidationLimits;
  readonly router: Router;
  /** Carts: placed and changed across partitions by the coordinator, not by `router`. */
  readonly carts: CartCoordinator;
  readonly gate: Gate;
  readonly metrics: IngressMetrics;
  readonly renderMetrics: () => Promise<string>;
  readonly readiness: () => Promise<Readiness>;
  readonly snapshot: () => Promise<number>;
  /** The live page's numbers (GET /v1/ui/summary), computed when asked. */
  readonly summary: () => Promise<string>;
  /** In a cluster: this node's id (x-served-by) and the cluster as GET /v1/cluster shows it. */
  readonly nodeId?: string;
  readonly cluster?: () => object;
  /** A key's movement history, from the journal. */
  readonly history: MovementHistory;
  readonly version: string;
  readonly log: Logger;
  /** OpenTelemetry spans of each request; undefined: tracing is off. */
  readonly tracing?: RequestTracing;
}

type Handler = (res: HttpResponse, req: HttpRequest, route: Route) => void;

/** What a request asks once validated: a command for one partition, or a cart-wide request. */
type Action =
  | { readonly via: 'router'; readonly command: RoutableCommand }
  | { readonly via: 'carts'; readonly run: (callback: CartCallback) => void };

/** Reads a request's body, calling `onBody` once with what it found. */
type BodyReader<Value> = (
  exchange: Exchange,
  req: HttpRequest,
  onBody: (result: BodyResult<Value>) => void,
) => void;

/** What is done with a request once both its body and its caller are known. */
type Receiver<Value> = (
  exchange: Exchange,
  body: BodyResult<Value>,
  caller: Principal,
  parameters: readonly string[],
) => void;

/** How many parameters each route's pattern has: counted once, not per request. */
const parameterCounts = new Map<Route, number>(
  routes.map((route) => [route, route.pattern.split('/').filter((s) => s.startsWith(':')).length]),
);

const noParameters: readonly string[] = [];

/** The path parameters of a request, read before anything else (uWS forbids it later). */
function parametersOf(req: HttpRequest, route: Route): readonly string[] {
  const count = parameterCounts.get(route) ?? 0;
  // Reserve, confirm and release (the hot path) have none: no array per request for them.
  if (count === 0) return noParameters;
  const values: string[] = [];
  for (let index = 0; index < count; index += 1) values.push(req.getParameter(index) ?? '');
  return values;
}

/** A percent-decoded path parameter; '' for one that does not decode (never a valid id). */
function decoded(raw: string | undefined): string {
  try {
    return decodeURIComponent(raw ?? '');
  } catch {
    return '';
  }
}

export function nativeUws(): boolean {
  // The package silently falls back to a slow JavaScript server when its binary fails to load;
  // the fallback has no SSLApp.
  return typeof (uWS as { SSLApp?: unknown }).SSLApp === 'function';
}

export class LedgerServer {
  private readonly app: TemplatedApp = uWS.App();
  private listenSocket: uWS.us_listen_socket | undefined;
  private readonly feed: LiveFeed;
  private readonly validator: RequestValidator;
  private readonly observer: AnswerObserver | undefined;
  private readonly openApiJson: string;
  private readonly ui: UiAssets;

  constructor(private readonly options: ServerOptions) {
    this.validator = new RequestValidator(options.limits);
    this.openApiJson = JSON.stringify(openApiDocument(this.validator.specs, options.version));
    this.ui = loadUiAssets(options.gate.authEnabled);
    this.observer = options.log.isLevelEnabled('debug') ? this.logAnswer : this.logFailure;
    // In a cluster, other nodes' changes reach this feed only once they know someone here
    // follows it: a key is read again after that delay, so no change falls in between.
    const rereadAfterMs = options.nodeId === undefined ? undefined : feedInterestReachMs;
    this.feed = new LiveFeed(this.app, options.router, options.gate, rereadAfterMs);
    this.routes();
  }

  /** After a group commit: the live feed shows the new durable state of each changed key. */
  stockChanged(changes: readonly StockChange[]): void {
    this.feed.publish(changes);
  }

  /** Someone follows the live feed here (in a cluster, other nodes then send their changes). */
  get feedWatched(): boolean {
    return this.feed.watched;
  }

  private readonly handlers: Record<Exclude<RouteName, 'stream'>, Handler> = {
    reserve: (res, req, route) => this.command(res, req, route),
    confirm: (res, req, route) => this.command(res, req, route),
    release: (res, req, route) => this.command(res, req, route),
    extend: (res, req, route) => this.command(res, req, route),
    adjust: (res, req, route) => this.command(res, req, route),
    setStock: (res, req, route) => this.command(res, req, route),
    importStock: (res, req, route) => this.importStock(res, req, route),
    putSettings: (res, req, route) => this.command(res, req, route),
    placeCart: (res, req, route) => this.command(res, req, route),
    confirmCart: (res, req, route) => this.command(res, req, route),
    releaseCart: (res, req, route) => this.command(res, req, route),
    extendCart: (res, req, route) => this.command(res, req, route),
    transfer: (res, req, route) => this.command(res, req, route),
    receiveTransfer: (res, req, route) => this.command(res, req, route),
    cancelTransfer: (res, req, route) => this.command(res, req, route),
    getTransfer: (res, req, route) => this.getTransfer(res, req, route),
    getReservation: (res, req, route) => this.getReservation(res, req, route),
    getStock: (res, req, route) => this.getStock(res, req, route),
    listStock: (res, req, route) => this.listStock(res, req, route),
    getMovements: (res, req, route) => this.getMovements(res, req, route),
    getSettings: (res, req, route) => this.getProduct(res, req, route, 'read-settings'),
    getProductStock: (res, req, route) => this.getProduct(res, req, route, 'read-product-stock'),
    getCart: (res, req, route) => this.getCart(res, req, route),
    snapshot: (res, req, route) => this.snapshot(res, req, route),
    cluster: (res, req, route) => this.clusterView(res, req, route),
    // Answered synchronously: an async answer would make uWS drop pipelined requests behind it.
    live: (res, req) => this.operational(this.begin(res, req), liveAnswer),
    ready: (res, req) =>
      this.operational(this.begin(res, req), readyAnswer(this.options.readiness)),
    metrics: (res, req) =>
      this.operational(this.begin(res, req), metricsAnswer(this.options.renderMetrics)),
    openapi: (res, req) => respond(this.begin(res, req), 200, this.openApiJson),
    ui: (res, req) =>
      serveAsset(this.begin(res, req), this.ui.page, req.getHeader('if-none-match')),
    uiAsset: (res, req) => this.uiAsset(res, req),
    uiSummary: (res, req, route) => this.uiSummary(res, req, route),
  };

  private routes(): void {
    const patterns = new Set<string>();
    for (const route of routes) {
      if (route.name !== 'stream') {
        const handler = this.handlers[route.name];
        this.app[route.method](route.pattern, (res, req) => handler(res, req, route));
      }
      // One fallback per path, naming every method it has (GET and PUT of product settings).
      if (patterns.has(route.pattern)) continue;
      patterns.add(route.pattern);
      const allow = methodsOf(route.pattern).join(', ');
      this.app.any(route.pattern, (res, req) => {
        respondError(this.begin(res, req), 'method_not_allowed', undefined, undefined, { allow });
      });
    }
    this.app.any('/*', (res, req) =>
      respondError(this.begin(res, req), 'not_found', 'No such route.'),
    );
  }

  /** Requests of a `route` are traced while tracing is on; health, metrics and 404/405 not. */
  private begin(res: HttpResponse, req: HttpRequest, route?: Route): Exchange {
    const tracing = this.options.tracing;
    const exchange =
      tracing === undefined || route === undefined
        ? begin(res, req, this.observer)
        : begin(res, req, this.observer, { tracing, path: route.path });
    exchange.servedBy = this.options.nodeId;
    return exchange;
  }

  private command(res: HttpResponse, req: HttpRequest, route: Route): void {
    const optional = route.bodyOptional === true;
    this.receive<Record<string, unknown>>(
      res,
      req,
      route,
      (exchange, request, onBody) =>
        readJsonBody(exchange, request, this.options.bodyBytesMax, onBody, optional),
      (exchange, body, caller, parameters) =>
        this.execute(exchange, route, body, caller, parameters),
    );
  }

  /** Reads the body while the caller is admitted; goes on once both are known. */
  private receive<Value>(
    res: HttpResponse,
    req: HttpRequest,
    route: Route,
    read: BodyReader<Value>,
    then: Receiver<Value>,
  ): void {
    const exchange = this.begin(res, req, route);
    const parameters = parametersOf(req, route);
    const admission = this.options.gate.read(res, req.getHeader('authorization'));
    let body: BodyResult<Value> | undefined;
    let principal: Principal | undefined;
    const proceed = (): void => {
      // A connection closed meanwhile (a pipelined request behind this one): never dispatched.
      if (body === undefined || principal === undefined || exchange.answered || exchange.aborted)
        return;
      then(exchange, body, principal, parameters);
    };
    read(exchange, req, (result) => {
      body = result;
      proceed();
    });
    this.options.gate.admit(exchange, admission, route.permission ?? 'read', (caller) => {
      principal = caller;
      proceed();
    });
  }

  private execute(
    exchange: Exchange,
    route: Route,
    body: BodyResult,
    caller: Principal,
    parameters: readonly string[],
  ): void {
    if (!body.ok) {
      this.count(exchange, route, body.code);
      respondError(exchange, body.code, body.message);
      return;
    }
    const action = this.actionOf(route.name, body.value, exchange.traceId, caller, parameters);
    if ('code' in action) {
      this.count(exchange, route, action.code);
      respondError(exchange, action.code, action.message, action.details);
      return;
    }
    this.perform(exchange, route, action, caller);
  }

  /** What a route's request asks, or its refusal: 422 naming the field, or 404 for a path. */
  private actionOf(
    name: RouteName,
    body: Record<string, unknown>,
    trace: string,
    caller: Principal,
    parameters: readonly string[],
  ): Action | ErrorObject {
    try {
      return this.build(name, body, trace, caller, parameters);
    } catch (error) {
      if (error instanceof UnknownResource) return { code: 'not_found', message: error.message };
      if (!(error instanceof ValidationError)) throw error;
      const details = { field: error.field };
      return { code: 'validation_failed', message: error.message, details };
    }
  }

  /**
   * POST /v1/stock/import: the NDJSON body is read whole (bounded), its lines counted, and only
   * then is anything applied, line by line (stock-import.ts).
   */
  private importStock(res: HttpResponse, req: HttpRequest, route: Route): void {
    this.receive<Buffer>(
      res,
      req,
      route,
      (exchange, request, onBody) =>
        readNdjsonBody(exchange, request, this.options.importBytesMax, onBody),
      (exchange, body, caller) => this.runImport(exchange, body, caller),
    );
  }

  private runImport(exchange: Exchange, body: BodyResult<Buffer>, caller: Principal): void {
    if (!body.ok) {
      respondError(exchange, body.code, body.message);
      return;
    }
    const linesMax = this.options.importLinesMax;
    const lines = NdjsonLines.count(body.value);
    if (lines > linesMax) {
      const message = `an import may have at most ${linesMax} lines, this one has ${lines}`;
      respondError(exchange, 'payload_too_large', message);
      return;
    }
    const run = new StockImport(body.value, this.importHost(exchange, caller));
    // Reading pauses until the answer (a pipelined request would otherwise close the
    // connection); a closed connection stops the import before its next line.
    awaitAnswer(exchange, () => run.stop(), true);
    run.start();
  }

  /** An import's lines go through their routes' own commands, dispatch and audit. */
  private importHost(exchange: Exchange, caller: Principal): ImportHost {
    const importLines = this.options.metrics.importLines;
    return {
      command: (name, body) => this.lineCommand(name, body, exchange.traceId, caller),
      dispatch: (command, done) => {
        this.options.router.dispatch(command, (reply) => done(reply.outcome));
      },
      settled: (end) => {
        importLines.labels(end.result).inc();
        if (end.command === undefined || end.outcome === undefined) return;
        this.audit(exchange, end.command, caller, end.status, end.outcome);
      },
      finished: (json) => respond(exchange, 200, json),
    };
  }

  private lineCommand(
    name: RouteName,
    body: Record<string, unknown>,
    trace: string,
    caller: Principal,
  ): LineCommand {
    const action = this.actionOf(name, body, trace, caller, noParameters);
    if ('code' in action) return { ok: false, ...action };
    if (action.via !== 'router') throw new Error(`route ${name} is not one stock key's command`);
    return { ok: true, command: action.command };
  }

  private build(
    name: RouteName,
    body: Record<string, unknown>,
    trace: string,
    caller: Principal,
    parameters: readonly string[],
  ): Action {
    const validator = this.validator;
    switch (name) {
      case 'reserve':
        return { via: 'router', command: validator.reserve(body, trace, caller) };
      case 'adjust':
        return { via: 'router', command: validator.adjust(body, trace, caller) };
      case 'setStock':
        return { via: 'router', command: validator.set(body, trace, caller) };
      case 'confirm':
      case 'release':
        return { via: 'router', command: validator.reservation(name, body, trace, caller) };
      case 'extend':
        return { via: 'router', command: validator.extend(body, trace) };
      case 'putSettings': {
        const product = decoded(parameters[0]);
        return { via: 'router', command: validator.settings(product, body, trace, caller) };
      }
      case 'transfer':
        return { via: 'router', command: validator.transfer(body, trace, caller) };
      case 'receiveTransfer':
      case 'cancelTransfer': {
        const kind = name === 'receiveTransfer' ? 'transfer-receive' : 'transfer-cancel';
        const id = transferId(decoded(parameters[0]));
        return { via: 'router', command: { kind, transferId: id, traceId: trace } };
      }
      default:
        return this.buildCart(name, body, trace, caller, parameters);
    }
  }

  /** Cart requests: the cart id of the path first (not a UUID: 404), then the body. */
  private buildCart(
    name: RouteName,
    body: Record<string, unknown>,
    trace: string,
    caller: Principal,
    parameters: readonly string[],
  ): Action {
    const validator = this.validator;
    const carts = this.options.carts;
    if (name === 'placeCart') {
      const request = validator.cart(body, trace, caller);
      return { via: 'carts', run: (callback) => carts.place(request, callback) };
    }
    const id = cartId(decoded(parameters[0]));
    switch (name) {
      case 'confirmCart': {
        const quantities = validator.cartConfirm(body);
        return {
          via: 'carts',
          run: (callback) => carts.confirmCart(id, quantities, trace, callback, caller.subject),
        };
      }
      case 'releaseCart':
        return {
          via: 'carts',
          run: (callback) => carts.releaseCart(id, trace, callback, caller.subject),
        };
      case 'extendCart': {
        const ttlSeconds = validator.cartExtend(body);
        const lifetimeMaxMs = validator.lifetimeMaxMs;
        return {
          via: 'carts',
          run: (callback) => carts.extendCart(id, ttlSeconds, lifetimeMaxMs, trace, callback),
        };
      }
      default:
        throw new Error(`route ${name} has no command body`);
    }
  }

  private perform(exchange: Exchange, route: Route, action: Action, caller: Principal): void {
    if (action.via === 'carts') {
      // No cancel: a cart's request is several messages; a lost answer is asked for again by
      // its retry (same idempotency key) or by its nature (cart reads and changes).
      action.run((outcome) => this.answer(exchange, route, outcome, undefined, caller));
      return;
    }
    const command = action.command;
    exchange.span?.dispatched();
    const dispatched = this.options.router.dispatch(command, (reply) => {
      exchange.span?.replied(reply.commit);
      if (reply.servedBy !== undefined) exchange.servedBy = reply.servedBy;
      this.answer(exchange, route, reply.outcome, command, caller);
    });
    if (dispatched !== undefined) {
      // Only a change without an idempotency key cannot be asked again for its lost answer.
      const unkeyed = command.kind === 'adjust' && command.idempotencyKey === '';
      awaitAnswer(exchange, () => dispatched.channel.cancel(dispatched.id), unkeyed);
    }
  }

  private answer(
    exchange: Exchange,
    route: Route,
    outcome: ShardOutcome,
    command: RoutableCommand | undefined,
    caller: Principal,
  ): void {
    const rendered = renderOutcome(outcome);
    this.count(exchange, route, resultOf(outcome));
    if (command !== undefined) this.audit(exchange, command, caller, rendered.status, outcome);
    respond(exchange, rendered.status, rendered.body, {
      replayed: rendered.replayed,
      retryAfterSeconds: rendered.retryAfterSeconds,
    });
  }

  /** Every change of stock or of a product's settings leaves an audit line: who, what, why. */
  private audit(
    exchange: Exchange,
    command: RoutableCommand,
    caller: Principal,
    status: number,
    outcome: ShardOutcome,
  ) {
    const replayed = outcome.ok && outcome.replayed;
    const common = { subject: caller.subject, status, replayed, trace_id: exchange.traceId };
    if (command.kind === 'adjust') {
      const set = command.setOnHand !== undefined;
      const what = {
        audit: set ? 'stock.set' : 'stock.adjust',
        product_id: command.productId,
        warehouse_id: command.warehouseId,
        ...(set ? { on_hand: command.setOnHand } : { delta: command.delta }),
        ...(command.expectedVersion === undefined
          ? {}
          : { expected_version: command.expectedVersion }),
        reason: command.reason,
        ...(command.reference === '' ? {} : { reference: command.reference }),
      };
      this.options.log.info(merged(what, common), set ? 'stock set' : 'stock adjustment');
    } else if (command.kind === 'transfer') {
      const what = {
        audit: 'stock.transfer',
        product_id: command.productId,
        from_warehouse_id: command.fromWarehouseId,
        to_warehouse_id: command.toWarehouseId,
        quantity: command.quantity,
        in_transit: command.inTransit,
        reason: command.reason,
        ...(command.reference === '' ? {} : { reference: command.reference }),
      };
      this.options.log.info(merged(what, common), 'stock transfer');
    } else if (command.kind === 'transfer-receive' || command.kind === 'transfer-cancel') {
      const what = { audit: `stock.${command.kind}`, transfer_id: command.transferId };
      this.options.log.info(merged(what, common), command.kind);
    } else if (command.kind === 'put-settings') {
      const what = { audit: 'product.settings', product_id: command.productId };
      this.options.log.info(merged(what, { changes: command.changes }, common), 'product settings');
    }
  }

  /** Reserve and cart requests are measured (attempts by result, and durations). */
  private count(exchange: Exchange, route: Route, result: string): void {
    const { cartSeconds, reservationSeconds } = this.options.metrics;
    const histogram =
      route.name === 'placeCart'
        ? cartSeconds
        : route.name === 'reserve'
          ? reservationSeconds
          : undefined;
    // Results are error codes or 'ok': a bounded set of series. A reserve's attempts are its
    // series' count (metrics.ts).
    histogram?.series(result).observe((performance.now() - exchange.startedMs) / 1000);
  }

  /** Reads: admitted first, then the path parameters (an impossible id is simply not found). */
  private read(
    res: HttpResponse,
    req: HttpRequest,
    route: Route,
    parse: (parameters: readonly string[], traceId: string) => Action,
  ) {
    const exchange = this.begin(res, req, route);
    const parameters = parametersOf(req, route).map(decoded);
    const admission = this.options.gate.read(res, req.getHeader('authorization'));
    let action: Action | undefined;
    try {
      action = parse(parameters, exchange.traceId);
    } catch {
      action = undefined;
    }
    this.options.gate.admit(exchange, admission, route.permission ?? 'read', (caller) => {
      if (action === undefined) respondError(exchange, 'not_found', 'No such resource.');
      else this.perform(exchange, route, action, caller);
    });
  }

  private getReservation(res: HttpResponse, req: HttpRequest, route: Route): void {
    this.read(res, req, route, ([id]) => ({
      via: 'router',
      command: { kind: 'read-reservation', reservationId: reservationId(id), traceId: '' },
    }));
  }

  private getTransfer(res: HttpResponse, req: HttpRequest, route: Route): void {
    this.read(res, req, route, ([id]) => ({
      via: 'router',
      command: { kind: 'read-transfer', transferId: transferId(id ?? ''), traceId: '' },
    }));
  }

  private getStock(res: HttpResponse, req: HttpRequest, route: Route): void {
    this.read(res, req, route, ([product, warehouse]) => ({
      via: 'router',
      command: {
        kind: 'read-stock',
        productId: stockId(product, 'product_id'),
        warehouseId: stockId(warehouse, 'warehouse_id'),
      },
    }));
  }

  /**
   * A page of the stock listing. The query is checked before admission but refused only after
   * it (a caller without a token learns nothing about the parameters). Answered at once when the
   * read view has every key of the page exactly, else when the shards asked have answered.
   */
  private listStock(res: HttpResponse, req: HttpRequest, route: Route): void {
    const exchange = this.begin(res, req, route);
    const admission = this.options.gate.read(res, req.getHeader('authorization'));
    let query: StockPageQuery | ValidationError;
    try {
      // uWS's typings promise a string; with no query string some of its builds give undefined.
      query = this.validator.stockPage((req.getQuery() as string | undefined) ?? '');
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      query = error;
    }
    this.options.gate.admit(exchange, admission, route.permission ?? 'read', () => {
      if (query instanceof ValidationError) {
        respondError(exchange, 'validation_failed', query.message, { field: query.field });
        return;
      }
      const cancel = this.options.router.listStock(query, (listing) =>
        this.answerPage(exchange, listing),
      );
      if (cancel !== undefined) awaitAnswer(exchange, cancel, false);
    });
  }

  /**
   * A page of a key's movement history. An impossible key is not found (as GET of the key); the
   * query is checked before admission but refused only after it. The key's shard says whether
   * the key exists (its answer is durable); the movements come from the journal.
   */
  private getMovements(res: HttpResponse, req: HttpRequest, route: Route): void {
    const exchange = this.begin(res, req);
    const [product, warehouse] = parametersOf(req, route).map(decoded);
    const admission = this.options.gate.read(res, req.getHeader('authorization'));
    let query: MovementPageQuery | ValidationError | undefined;
    try {
      const key = {
        productId: stockId(product, 'product_id'),
        warehouseId: stockId(warehouse, 'warehouse_id'),
      };
      try {
        query = this.validator.movementPage(key, (req.getQuery() as string | undefined) ?? '');
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        query = error;
      }
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      query = undefined;
    }
    this.options.gate.admit(exchange, admission, route.permission ?? 'read', () => {
      if (query === undefined) respondError(exchange, 'not_found', 'No such stock key.');
      else if (query instanceof ValidationError) {
        respondError(exchange, 'validation_failed', query.message, { field: query.field });
      } else this.movementsOf(exchange, query);
    });
  }

  private movementsOf(exchange: Exchange, query: MovementPageQuery): void {
    const { productId, warehouseId, beforeVersion, limit } = query;
    const command = { kind: 'read-stock', productId, warehouseId } as const;
    const { historyQueries, historyQuerySeconds } = this.options.metrics;
    const dispatched = this.options.router.dispatch(command, ({ outcome }) => {
      if (!outcome.ok) {
        const rendered = renderOutcome(outcome);
        respond(exchange, rendered.status, rendered.body, {
          retryAfterSeconds: rendered.retryAfterSeconds,
        });
        return;
      }
      const stopTimer = historyQuerySeconds.startTimer();
      this.options.history.page(productId, warehouseId, beforeVersion, limit).then(
        (page) => {
          stopTimer();
          historyQueries.labels('ok').inc();
          const next = page.nextBefore === undefined ? null : encodeMovementCursor(page.nextBefore);
          respond(exchange, 200, movementPageJson(page.movements, next));
        },
        (error: unknown) => {
          historyQueries.labels('unavailable').inc();
          this.options.log.warn({ err: error, traceId: exchange.traceId }, 'history read failed');
          respondError(exchange, 'unavailable', 'The history cannot be read now; retry shortly.');
        },
      );
    });
    if (dispatched !== undefined) {
      awaitAnswer(exchange, () => dispatched.channel.cancel(dispatched.id), false);
    }
  }

  private answerPage(exchange: Exchange, listing: StockListing): void {
    if (!listing.ok) {
      const rendered = renderOutcome(listing);
      respond(exchange, rendered.status, rendered.body, {
        retryAfterSeconds: rendered.retryAfterSeconds,
      });
      return;
    }
    const next = listing.next === undefined ? null : encodeStockCursor(listing.next);
    respond(exchange, 200, stockPageJson(listing.items, next));
  }

  private getProduct(
    res: HttpResponse,
    req: HttpRequest,
    route: Route,
    kind: 'read-settings' | 'read-product-stock',
  ): void {
    this.read(res, req, route, ([product]) => ({
      via: 'router',
      command: { kind, productId: stockId(product, 'product_id') },
    }));
  }

  private getCart(res: HttpResponse, req: HttpRequest, route: Route): void {
    this.read(res, req, route, ([cart], traceId) => {
      const id = cartId(cart ?? '');
      return {
        via: 'carts',
        run: (callback) => this.options.carts.readCart(id, traceId, callback),
      };
    });
  }

  private snapshot(res: HttpResponse, req: HttpRequest, route: Route): void {
    const exchange = this.begin(res, req, route);
    const admission = this.options.gate.read(res, req.getHeader('authorization'));
    this.options.gate.admit(exchange, admission, route.permission ?? 'admin', () => {
      this.options.snapshot().then(
        (partitions) => respond(exchange, 200, JSON.stringify({ partitions })),
        (error: unknown) =>
          respondError(exchange, 'unavailable', `snapshot failed: ${String(error)}`),
      );
    });
  }

  /** Who owns what in a cluster; a node alone is a cluster of one that owns everything. */
  private clusterView(res: HttpResponse, req: HttpRequest, route: Route): void {
    const exchange = this.begin(res, req, route);
    const admission = this.options.gate.read(res, req.getHeader('authorization'));
    this.options.gate.admit(exchange, admission, route.permission ?? 'read', () => {
      const view = this.options.cluster?.() ?? this.aloneView();
      respond(exchange, 200, JSON.stringify(view));
    });
  }

  private aloneView(): object {
    const partitions = this.options.router.partitions;
    const node = this.options.nodeId ?? hostname();
    return { node_id: node, nodes: [{ node_id: node, partitions, ready: true }], partitions };
  }

  /** The live page's script and style; any other name is not found. */
  private uiAsset(res: HttpResponse, req: HttpRequest): void {
    const exchange = this.begin(res, req);
    const file = this.ui.files.get(req.getParameter(0) ?? '');
    if (file === undefined) respondError(exchange, 'not_found', 'No such file.');
    else serveAsset(exchange, file, req.getHeader('if-none-match'));
  }

  /** The live page's numbers, for readers: computed now, from what the metrics hold. */
  private uiSummary(res: HttpResponse, req: HttpRequest, route: Route): void {
    const exchange = this.begin(res, req);
    const admission = this.options.gate.read(res, req.getHeader('authorization'));
    this.options.gate.admit(exchange, admission, route.permission ?? 'read', () => {
      this.options.summary().then(
        (json) => respond(exchange, 200, json),
        (error: unknown) =>
          respondError(exchange, 'unavailable', `summary failed: ${String(error)}`),
      );
    });
  }

  /** Health and metrics: the answers the health listener gives too (operational.ts). */
  private operational(
    exchange: Exchange,
    answer: OperationalAnswer | Promise<OperationalAnswer>,
  ): void {
    if (answer instanceof Promise) {
      void answer.then((reply) => this.operational(exchange, reply));
      return;
    }
    respond(exchange, answer.status, answer.body, {
      contentType: answer.contentType,
      retryAfterSeconds: answer.retryAfterSeconds,
    });
  }

  /** Debug level: one line per request. */
  private readonly logAnswer: AnswerObserver = (exchange, status) => {
    const line = {
      trace_id: exchange.traceId,
      method: exchange.method,
      url: exchange.url,
      status,
      duration_ms: Math.round((performance.now() - exchange.startedMs) * 1000) / 1000,
    };
    if (status >= 500) this.options.log.error(line, 'request failed');
    else if (noteworthy(status)) this.options.log.warn(line, 'request refused');
    else this.options.log.debug(line, 'request');
  };

  /**
   * Info level and above: only failures and refusals worth a look get a line. Not a 503: those
   * come in floods (a crowd being shed, a shard restarting), a line each would make shedding
   * dear; the metrics count them and the shard channel says when it sheds (every 10 s at most).
   */
  private readonly logFailure: AnswerObserver = (exchange, status) => {
    if ((status >= 500 && status !== 503) || noteworthy(status)) this.logAnswer(exchange, status);
  };

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (socket) => {
        if (socket === false) {
          reject(new Error(`could not listen on ${host}:${port}`));
          return;
        }
        this.listenSocket = socket;
        resolve(uWS.us_socket_local_port(socket));
      });
    });
  }

  /** Stops accepting connections; open exchanges still get their answers. */
  stopAccepting(): void {
    if (this.listenSocket !== undefined) uWS.us_listen_socket_close(this.listenSocket);
    this.listenSocket = undefined;
  }

  close(): void {
    this.stopAccepting();
    (this.app as TemplatedApp & { close(): void }).close();
  }
}

/**
 * Refusals worth a warning: bad input and auth problems. 404, 409 and 429 are the normal business
 * of a sold-out sale and would flood the log, so they stay at debug.
 */
function noteworthy(status: number): boolean {
  return (
    status === 400 ||
    status === 401 ||
    status === 403 ||
    status === 413 ||
    status === 415 ||
    status === 422
  );
}
