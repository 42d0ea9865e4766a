// An optional second listener, on node:http, that serves only the operational endpoints:
// GET /health/live, /health/ready and /metrics. Why it exists: the uWebSockets.js build we run
// ignores any request whose version is not exactly HTTP/1.1 (no handler is called; the socket
// stays silent until the idle timeout closes it), and load balancers' health checks often speak
// HTTP/1.0 (HAProxy's `option httpchk`, nginx's default `proxy_http_version 1.0`). node:http
// speaks both. Commands stay on the main port; this one reads no request body.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  healthConnectionsMax,
  healthHeaderBytesMax,
  healthHeadersTimeoutMs,
  healthKeepAliveTimeoutMs,
  healthRequestTimeoutMs,
  healthSocketIdleMs,
} from '../limits.js';
import type { Logger } from '../observability/logger.js';
import {
  errorAnswer,
  liveAnswer,
  metricsAnswer,
  readyAnswer,
  type OperationalAnswer,
  type Readiness,
} from './operational.js';
import { traceIdOf } from './request.js';

export interface HealthListenerOptions {
  /** The same functions the main server is given. */
  readonly readiness: () => Promise<Readiness>;
  readonly renderMetrics: () => Promise<string>;
  readonly log: Logger;
}

/** At most one warning this often while connections are refused at the limit. */
const dropWarningIntervalMs = 10_000;

export class HealthListener {
  private readonly server: Server;
  private readonly paths: ReadonlyMap<string, () => Promise<OperationalAnswer>>;
  private droppedConnections = 0;
  private dropWarnedMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly options: HealthListenerOptions) {
    this.paths = new Map([
      ['/health/live', () => Promise.resolve(liveAnswer)],
      ['/health/ready', () => readyAnswer(options.readiness)],
      ['/metrics', () => metricsAnswer(options.renderMetrics)],
    ]);
    this.server = createServer(
      {
        maxHeaderSize: healthHeaderBytesMax,
        headersTimeout: healthHeadersTimeoutMs,
        requestTimeout: healthRequestTimeoutMs,
        keepAliveTimeout: healthKeepAliveTimeoutMs,
        // Node would answer an HTTP/1.1 request without Host with a bare 400 (no contract body);
        // a health check that leaves it out is answered like any other.
        requireHostHeader: false,
      },
      (request, response) => this.serve(request, response),
    );
    this.server.maxConnections = healthConnectionsMax;
    this.server.setTimeout(healthSocketIdleMs);
    // A request node cannot parse gets no answer, as on the main port: the socket is closed.
    this.server.on('clientError', (_error, socket) => socket.destroy());
    this.server.on('drop', () => this.dropped());
  }

  private serve(request: IncomingMessage, response: ServerResponse): void {
    const startedMs = performance.now();
    const header = request.headers['x-trace-id'];
    const traceparent = request.headers.traceparent;
    const traceId = traceIdOf(typeof header === 'string' ? header : '', () =>
      typeof traceparent === 'string' ? traceparent : '',
    );
    // uWS matches the path without its query string, case-sensitively, and so does this.
    const path = (request.url ?? '').split('?', 1)[0] ?? '';
    const answer = this.paths.get(path);
    let pending: Promise<OperationalAnswer>;
    let allow: string | undefined;
    if (answer === undefined) {
      pending = Promise.resolve(errorAnswer('not_found', 'No such route.'));
    } else if (request.method !== 'GET') {
      allow = 'GET';
      pending = Promise.resolve(errorAnswer('method_not_allowed'));
    } else {
      pending = answer();
    }
    void pending.then((reply) => {
      this.write(request, response, reply, { traceId, allow });
      this.options.log.debug(
        {
          trace_id: traceId,
          method: request.method,
          url: request.url,
          status: reply.status,
          duration_ms: Math.round((performance.now() - startedMs) * 1000) / 1000,
          listener: 'health',
        },
        'request',
      );
    });
  }

  private write(
    request: IncomingMessage,
    response: ServerResponse,
    reply: OperationalAnswer,
    extra: { readonly traceId: string; readonly allow: string | undefined },
  ): void {
    if (response.destroyed || response.writableEnded) return;
    const headers: Record<string, string | number> = {
      'content-type': reply.contentType,
      'content-length': Buffer.byteLength(reply.body),
      'x-trace-id': extra.traceId,
    };
    if (reply.retryAfterSeconds !== undefined) headers['retry-after'] = reply.retryAfterSeconds;
    if (extra.allow !== undefined) headers['allow'] = extra.allow;
    // The body is never read. Closing after the answer keeps its bytes from being drained
    // (node would read and discard all of them) or parsed as the next request.
    if (carriesBody(request)) headers['connection'] = 'close';
    response.writeHead(reply.status, headers);
    response.end(reply.body);
  }

  private dropped(): void {
    this.droppedConnections += 1;
    const now = performance.now();
    if (now - this.dropWarnedMs < dropWarningIntervalMs) return;
    this.dropWarnedMs = now;
    this.options.log.warn(
      { connections_max: healthConnectionsMax, dropped_total: this.droppedConnections },
      'health listener at its connection limit: refusing connections',
    );
  }

  /** Resolves with the port bound (useful with port 0). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => {
        reject(
          new Error(`could not listen on ${host}:${port}: ${error.message}`, { cause: error }),
        );
      };
      this.server.once('error', failed);
      this.server.listen(port, host, () => {
        this.server.off('error', failed);
        this.server.on('error', (error) =>
          this.options.log.error({ err: error.message }, 'health listener error'),
        );
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  /** Stops accepting and closes every connection, idle keep-alive ones included. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) {
        resolve();
        return;
      }
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

function carriesBody(request: IncomingMessage): boolean {
  const length = request.headers['content-length'];
  return (
    (length !== undefined && length !== '0') || request.headers['transfer-encoding'] !== undefined
  );
}
