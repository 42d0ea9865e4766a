// The HTTP ingress on uWebSockets.js: the routes of routes.ts, admission (auth, roles, rate),
// validation, dispatch to the router, and writing the shard's answer.
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../observability/logger.js';
import type { IngressMetrics } from '../observability/metrics.js';
import type { RoutableCommand, Router } from '../router/index.js';
import type { ShardReply, StockChange } from '../shards/index.js';
import { renderOutcome, resultOf } from './reply-render.js';
import type { Principal } from './auth.js';
import type { Gate } from './gate.js';
import { LiveFeed } from './live-feed.js';
import { openApiDocument } from './openapi.js';
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
  respond,
  respondError,
  type AnswerObserver,
  type BodyResult,
  type Exchange,
} from './request.js';
import { routes, type Route, type RouteName } from './routes.js';
import { RequestValidator, ValidationError, reservationId, stockId } from './validate.js';
import type { ValidationLimits } from './validate.js';

export type { Readiness };

export interface ServerOptions {
  readonly bodyBytesMax: number;
  readonly limits: ValidationLimits;
  readonly router: Router;
  readonly gate: Gate;
  readonly metrics: IngressMetrics;
  readonly renderMetrics: () => Promise<string>;
  readonly readiness: () => Promise<Readiness>;
  readonly snapshot: () => Promise<number>;
  readonly version: string;
  readonly log: Logger;
}

type Handler = (res: HttpResponse, req: HttpRequest, route: Route) => void;

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
  /** Results are error codes or 'ok': a bounded set. */
  private readonly resultSeries = new Map<
    string,
    {
      attempts: ReturnType<IngressMetrics['reservationAttempts']['labels']>;
      seconds: ReturnType<IngressMetrics['reservationSeconds']['labels']>;
    }
  >();

  constructor(private readonly options: ServerOptions) {
    this.validator = new RequestValidator(options.limits);
    this.openApiJson = JSON.stringify(openApiDocument(this.validator.specs, options.version));
    this.observer = options.log.isLevelEnabled('debug') ? this.logAnswer : this.logFailure;
    this.feed = new LiveFeed(this.app, options.router, options.gate);
    this.routes();
  }

  /** After a group commit: the live feed shows the new durable state of each changed key. */
  stockChanged(changes: readonly StockChange[]): void {
    this.feed.publish(changes);
  }

  private readonly handlers: Record<Exclude<RouteName, 'stream'>, Handler> = {
    reserve: (res, req, route) => this.command(res, req, route),
    confirm: (res, req, route) => this.command(res, req, route),
    release: (res, req, route) => this.command(res, req, route),
    adjust: (res, req, route) => this.command(res, req, route),
    getReservation: (res, req, route) => this.getReservation(res, req, route),
    getStock: (res, req, route) => this.getStock(res, req, route),
    snapshot: (res, req, route) => this.snapshot(res, req, route),
    // Answered synchronously: an async answer would make uWS drop pipelined requests behind it.
    live: (res, req) => this.operational(this.begin(res, req), liveAnswer),
    ready: (res, req) =>
      this.operational(this.begin(res, req), readyAnswer(this.options.readiness)),
    metrics: (res, req) =>
      this.operational(this.begin(res, req), metricsAnswer(this.options.renderMetrics)),
    openapi: (res, req) => respond(this.begin(res, req), 200, this.openApiJson),
  };

  private routes(): void {
    for (const route of routes) {
      const allow = route.method.toUpperCase();
      if (route.name !== 'stream') {
        const handler = this.handlers[route.name];
        this.app[route.method](route.pattern, (res, req) => handler(res, req, route));
      }
      this.app.any(route.pattern, (res, req) => {
        respondError(this.begin(res, req), 'method_not_allowed', undefined, undefined, { allow });
      });
    }
    this.app.any('/*', (res, req) =>
      respondError(this.begin(res, req), 'not_found', 'No such route.'),
    );
  }

  private begin(res: HttpResponse, req: HttpRequest): Exchange {
    return begin(res, req, this.observer);
  }

  private command(res: HttpResponse, req: HttpRequest, route: Route): void {
    const exchange = this.begin(res, req);
    const admission = this.options.gate.read(res, req.getHeader('authorization'));
    let body: BodyResult | undefined;
    let principal: Principal | undefined;
    const proceed = (): void => {
      // A connection closed meanwhile (a pipelined request behind this one): never dispatched.
      if (body === undefined || principal === undefined || exchange.answered || exchange.aborted)
        return;
      this.execute(exchange, route, body, principal);
    };
    readJsonBody(exchange, req, this.options.bodyBytesMax, (result) => {
      body = result;
      proceed();
    });
    this.options.gate.admit(exchange, admission, route.permission ?? 'read', (caller) => {
      principal = caller;
      proceed();
    });
  }

  private execute(exchange: Exchange, route: Route, body: BodyResult, caller: Principal): void {
    const isReserve = route.name === 'reserve';
    if (!body.ok) {
      this.count(exchange, isReserve, body.code);
      respondError(exchange, body.code, body.message);
      return;
    }
    let command: RoutableCommand;
    try {
      command = this.build(route.name, body.value, exchange.traceId, caller);
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      this.count(exchange, isReserve, 'validation_failed');
      respondError(exchange, 'validation_failed', error.message, { field: error.field });
      return;
    }
    this.dispatch(exchange, command, isReserve, caller);
  }

  private build(name: RouteName, body: Record<string, unknown>, trace: string, caller: Principal) {
    switch (name) {
      case 'reserve':
        return this.validator.reserve(body, trace, caller);
      case 'adjust':
        return this.validator.adjust(body, trace, caller);
      case 'confirm':
      case 'release':
        return this.validator.reservation(name, body, trace);
      default:
        throw new Error(`route ${name} has no command body`);
    }
  }

  private dispatch(
    exchange: Exchange,
    command: RoutableCommand,
    isReserve: boolean,
    caller: Principal,
  ) {
    const dispatched = this.options.router.dispatch(command, (reply) => {
      const rendered = renderOutcome(reply.outcome);
      this.count(exchange, isReserve, resultOf(reply.outcome));
      if (command.kind === 'adjust') this.audit(exchange, command, caller, rendered.status, reply);
      respond(exchange, rendered.status, rendered.body, {
        replayed: rendered.replayed,
        retryAfterSeconds: rendered.status === 503 ? 1 : undefined,
      });
    });
    if (dispatched !== undefined) {
      // Only a change without an idempotency key cannot be asked again for its lost answer.
      const unkeyed = command.kind === 'adjust' && command.idempotencyKey === '';
      awaitAnswer(exchange, () => dispatched.channel.cancel(dispatched.id), unkeyed);
    }
  }

  /** Every stock adjustment leaves an audit line: who, what, why, and how it ended. */
  private audit(
    exchange: Exchange,
    command: RoutableCommand,
    caller: Principal,
    status: number,
    reply: ShardReply,
  ) {
    if (command.kind !== 'adjust') return;
    this.options.log.info(
      {
        audit: 'stock.adjust',
        subject: caller.subject,
        product_id: command.productId,
        warehouse_id: command.warehouseId,
        delta: command.delta,
        reason: command.reason,
        status,
        replayed: reply.outcome.ok && reply.outcome.replayed,
        trace_id: exchange.traceId,
      },
      'stock adjustment',
    );
  }

  private count(exchange: Exchange, isReserve: boolean, result: string): void {
    if (!isReserve) return;
    const seconds = (performance.now() - exchange.startedMs) / 1000;
    let series = this.resultSeries.get(result);
    if (series === undefined) {
      // One labelled child per result, found once: no label object hashed per request.
      const { reservationAttempts, reservationSeconds } = this.options.metrics;
      series = {
        attempts: reservationAttempts.labels(result),
        seconds: reservationSeconds.labels(result),
      };
      this.resultSeries.set(result, series);
    }
    series.attempts.inc();
    series.seconds.observe(seconds);
  }

  /** Reads: admitted first, then the path parameters (an impossible id is simply not found). */
  private read(res: HttpResponse, req: HttpRequest, route: Route, parse: () => RoutableCommand) {
    const exchange = this.begin(res, req);
    const admission = this.options.gate.read(res, req.getHeader('authorization'));
    let command: RoutableCommand | undefined;
    try {
      command = parse();
    } catch {
      command = undefined;
    }
    this.options.gate.admit(exchange, admission, route.permission ?? 'read', (caller) => {
      if (command === undefined) respondError(exchange, 'not_found', 'No such resource.');
      else this.dispatch(exchange, command, false, caller);
    });
  }

  private getReservation(res: HttpResponse, req: HttpRequest, route: Route): void {
    const id = req.getParameter(0);
    this.read(res, req, route, () => ({
      kind: 'read-reservation',
      reservationId: reservationId(decodeURIComponent(id)),
      traceId: '',
    }));
  }

  private getStock(res: HttpResponse, req: HttpRequest, route: Route): void {
    const product = req.getParameter(0);
    const warehouse = req.getParameter(1);
    this.read(res, req, route, () => ({
      kind: 'read-stock',
      productId: stockId(decodeURIComponent(product), 'product_id'),
      warehouseId: stockId(decodeURIComponent(warehouse), 'warehouse_id'),
    }));
  }

  private snapshot(res: HttpResponse, req: HttpRequest, route: Route): void {
    const exchange = this.begin(res, req);
    const admission = this.options.gate.read(res, req.getHeader('authorization'));
    this.options.gate.admit(exchange, admission, route.permission ?? 'admin', () => {
      this.options.snapshot().then(
        (partitions) => respond(exchange, 200, JSON.stringify({ partitions })),
        (error: unknown) =>
          respondError(exchange, 'unavailable', `snapshot failed: ${String(error)}`),
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

  /** Info level and above: only failures and refusals worth a look get a line. */
  private readonly logFailure: AnswerObserver = (exchange, status) => {
    if (status >= 500 || noteworthy(status)) this.logAnswer(exchange, status);
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
