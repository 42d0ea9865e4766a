// The HTTP ingress on uWebSockets.js: routes of API.md, validation, dispatch to the router, and
// writing the shard's answer.
import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp } from 'uWebSockets.js';
import type { Logger } from '../observability/logger.js';
import type { IngressMetrics } from '../observability/metrics.js';
import type { RoutableCommand, Router } from '../router/index.js';
import type { ShardReply, StockChange } from '../shards/index.js';
import { LiveFeed } from './live-feed.js';
import { begin, readJsonBody, respond, respondError, type Exchange } from './request.js';
import {
  ValidationError,
  adjustCommand,
  reservationCommand,
  reservationId,
  reserveCommand,
  stockId,
  type ValidationLimits,
} from './validate.js';

export interface Readiness {
  readonly ready: boolean;
  readonly details: Readonly<Record<string, string | number | boolean>>;
}

export interface ServerOptions {
  readonly bodyBytesMax: number;
  readonly limits: ValidationLimits;
  readonly availableStockKeysMax: number;
  readonly router: Router;
  readonly metrics: IngressMetrics;
  readonly renderMetrics: () => Promise<string>;
  readonly readiness: () => Promise<Readiness>;
  readonly log: Logger;
}

type BodyParser = (body: Record<string, unknown>, traceId: string) => RoutableCommand;

export function nativeUws(): boolean {
  // The package silently falls back to a slow JavaScript server when its binary fails to load;
  // the fallback has no SSLApp.
  return typeof (uWS as { SSLApp?: unknown }).SSLApp === 'function';
}

export class LedgerServer {
  private readonly app: TemplatedApp = uWS.App();
  private listenSocket: uWS.us_listen_socket | undefined;
  private readonly gaugeKeys = new Set<string>();
  private readonly feed: LiveFeed;

  constructor(private readonly options: ServerOptions) {
    this.feed = new LiveFeed(this.app, options.router);
    this.routes();
  }

  /** After a group commit: the live feed shows the new durable state of each changed key. */
  stockChanged(changes: readonly StockChange[]): void {
    this.feed.publish(changes);
  }

  private routes(): void {
    const { limits } = this.options;
    this.command('/v1/reserve', (body, trace) => reserveCommand(body, limits, trace), true);
    this.command('/v1/confirm', (body, trace) => reservationCommand('confirm', body, trace));
    this.command('/v1/release', (body, trace) => reservationCommand('release', body, trace));
    this.command('/v1/stock/adjust', (body, trace) => adjustCommand(body, limits, trace));
    this.app.get('/v1/reservations/:id', (res, req) => this.getReservation(res, req));
    this.app.get('/v1/stock/:product/:warehouse', (res, req) => this.getStock(res, req));
    this.app.get('/health/live', (res, req) => respond(begin(res, req), 200, '{"status":"live"}'));
    this.app.get('/health/ready', (res, req) => this.ready(begin(res, req)));
    this.app.get('/metrics', (res, req) => this.metrics(begin(res, req)));
    for (const path of [
      '/v1/reservations/:id',
      '/v1/stock/:product/:warehouse',
      '/health/live',
      '/health/ready',
      '/metrics',
    ]) {
      this.app.any(path, (res, req) => this.notAllowed(res, req, 'GET'));
    }
    this.app.any('/*', (res, req) => respondError(begin(res, req), 'not_found', 'No such route.'));
  }

  private notAllowed(res: HttpResponse, req: HttpRequest, allow: string): void {
    respondError(begin(res, req), 'method_not_allowed', undefined, undefined, { allow });
  }

  private command(path: string, parse: BodyParser, isReserve = false): void {
    this.app.any(path, (res, req) => this.notAllowed(res, req, 'POST'));
    this.app.post(path, (res, req) => {
      const exchange = begin(res, req);
      readJsonBody(exchange, req, this.options.bodyBytesMax, (body) => {
        if (!body.ok) {
          this.finish(exchange, isReserve, body.code);
          respondError(exchange, body.code, body.message);
          return;
        }
        let command: RoutableCommand;
        try {
          command = parse(body.value, exchange.traceId);
        } catch (error) {
          if (!(error instanceof ValidationError)) throw error;
          this.finish(exchange, isReserve, 'validation_failed');
          respondError(exchange, 'validation_failed', error.message, { field: error.field });
          return;
        }
        this.dispatch(exchange, command, isReserve);
      });
    });
  }

  private dispatch(exchange: Exchange, command: RoutableCommand, isReserve = false): void {
    this.options.router.dispatch(command, (reply) => {
      this.finish(exchange, isReserve, reply.status === 200 ? 'ok' : codeOf(reply));
      if (reply.available >= 0 && 'productId' in command) {
        this.observeAvailable(command.productId, command.warehouseId, reply.available);
      }
      respond(exchange, reply.status, reply.body, {
        replayed: reply.replayed,
        retryAfterSeconds: reply.status === 503 ? 1 : undefined,
      });
    });
  }

  private finish(exchange: Exchange, isReserve: boolean, result: string): void {
    if (!isReserve) return;
    const seconds = (performance.now() - exchange.startedMs) / 1000;
    this.options.metrics.reservationAttempts.inc({ result });
    this.options.metrics.reservationSeconds.observe({ result }, seconds);
  }

  private observeAvailable(productId: string, warehouseId: string, available: number): void {
    const key = `${productId}\u0000${warehouseId}`;
    if (!this.gaugeKeys.has(key)) {
      // Bounded cardinality: the first N keys seen get a series; later keys do not.
      if (this.gaugeKeys.size >= this.options.availableStockKeysMax) return;
      this.gaugeKeys.add(key);
    }
    this.options.metrics.availableStock.set(
      { product_id: productId, warehouse_id: warehouseId },
      available,
    );
  }

  private getReservation(res: HttpResponse, req: HttpRequest): void {
    const exchange = begin(res, req);
    let id: string;
    try {
      id = reservationId(decodeURIComponent(req.getParameter(0)));
    } catch {
      this.finish(exchange, false, 'not_found');
      respondError(exchange, 'not_found', 'No such reservation.');
      return;
    }
    this.dispatch(exchange, {
      kind: 'read-reservation',
      reservationId: id,
      traceId: exchange.traceId,
    });
  }

  private getStock(res: HttpResponse, req: HttpRequest): void {
    const exchange = begin(res, req);
    let productId: string;
    let warehouseId: string;
    try {
      productId = stockId(decodeURIComponent(req.getParameter(0)), 'product_id');
      warehouseId = stockId(decodeURIComponent(req.getParameter(1)), 'warehouse_id');
    } catch {
      this.finish(exchange, false, 'not_found');
      respondError(exchange, 'not_found', 'No such stock key.');
      return;
    }
    this.dispatch(exchange, { kind: 'read-stock', productId, warehouseId });
  }

  private ready(exchange: Exchange): void {
    this.options.readiness().then(
      (readiness) => {
        if (readiness.ready)
          respond(exchange, 200, JSON.stringify({ status: 'ready', ...readiness.details }));
        else respondError(exchange, 'unavailable', 'The ledger is not ready.', readiness.details);
      },
      (error: unknown) =>
        respondError(exchange, 'unavailable', `readiness check failed: ${String(error)}`),
    );
  }

  private metrics(exchange: Exchange): void {
    this.options.renderMetrics().then(
      (text) =>
        respond(exchange, 200, text, { contentType: 'text/plain; version=0.0.4; charset=utf-8' }),
      (error: unknown) => respondError(exchange, 'unavailable', `metrics failed: ${String(error)}`),
    );
  }

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

function codeOf(reply: ShardReply): string {
  const match = /"code":"([a-z_]+)"/.exec(reply.body);
  return match?.[1] ?? String(reply.status);
}
