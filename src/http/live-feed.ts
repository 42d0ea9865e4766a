// The live stock feed: WebSocket clients subscribe to stock keys and receive
// {product_id, warehouse_id, available, version} after each durable change (uWS pub/sub topics).
// Values come only from durable state: the shards' post-commit notes and a gated read on subscribe.
import type {
  HttpRequest,
  HttpResponse,
  TemplatedApp,
  us_socket_context_t,
  WebSocket,
} from 'uWebSockets.js';
import { errorBody } from '../errors.js';
import {
  feedBackpressureBytesMax,
  feedMessageBytesMax,
  feedSubscriptionsPerSocketMax,
} from '../limits.js';
import type { Router } from '../router/index.js';
import type { StockChange } from '../shards/index.js';
import type { Gate } from './gate.js';
import { renderOutcome } from './reply-render.js';
import { ValidationError, stockId } from './validate.js';

interface FeedSocket {
  topics: Set<string>;
  closed: boolean;
}

interface KeyRequest {
  readonly productId: string;
  readonly warehouseId: string;
}

const topicOf = (productId: string, warehouseId: string) => `stock/${productId}/${warehouseId}`;

export function stockMessage(change: StockChange): string {
  const [productId, warehouseId, onHand, reserved, version] = change;
  const available = onHand - reserved;
  return JSON.stringify({ product_id: productId, warehouse_id: warehouseId, available, version });
}

export class LiveFeed {
  /** Sockets holding at least one subscription now. */
  private subscribedSockets = 0;

  constructor(
    private readonly app: TemplatedApp,
    private readonly router: Router,
    private readonly gate: Gate,
    /** In a cluster: a subscribed key is read again this long after (see the server). */
    private readonly rereadAfterMs?: number,
  ) {
    app.ws<FeedSocket>('/v1/stream', {
      maxPayloadLength: feedMessageBytesMax,
      maxBackpressure: feedBackpressureBytesMax,
      closeOnBackpressureLimit: 1,
      idleTimeout: 120,
      sendPingsAutomatically: true,
      upgrade: (res, req, context) => this.upgrade(res, req, context),
      message: (ws, message) => this.onMessage(ws, Buffer.from(message).toString('utf8')),
      close: (ws) => {
        const data = ws.getUserData();
        data.closed = true;
        if (data.topics.size > 0) this.subscribedSockets -= 1;
      },
    });
  }

  /**
   * Admits a socket like any reader: the token comes in the authorization header, or (browsers
   * cannot set headers on a WebSocket) in an access_token query parameter.
   */
  private upgrade(res: HttpResponse, req: HttpRequest, context: us_socket_context_t): void {
    const query = new URLSearchParams(req.getQuery() ?? '');
    const token = query.get('access_token');
    const authorization = token === null ? req.getHeader('authorization') : `Bearer ${token}`;
    const key = req.getHeader('sec-websocket-key');
    const protocol = req.getHeader('sec-websocket-protocol');
    const extensions = req.getHeader('sec-websocket-extensions');
    const finish = (allowed: boolean): void => {
      if (!allowed) {
        res.writeStatus('401 Unauthorized').writeHeader('content-type', 'application/json');
        res.end(
          errorBody(
            'unauthenticated',
            'A token with the reader, checkout or admin role is required.',
          ),
        );
        return;
      }
      const data: FeedSocket = { topics: new Set(), closed: false };
      res.upgrade(data, key, protocol, extensions, context);
    };
    const verdict = this.gate.check(authorization, 'read');
    if (typeof verdict === 'boolean') {
      finish(verdict);
      return;
    }
    let aborted = false;
    res.onAborted(() => (aborted = true));
    void verdict.then((allowed) => {
      if (!aborted) res.cork(() => finish(allowed));
    });
  }

  /** Someone is subscribed to some key here (a node of a cluster asks the others for theirs). */
  get watched(): boolean {
    return this.subscribedSockets > 0;
  }

  /** Fans out the durable state of changed keys to their subscribers (if any). */
  publish(changes: readonly StockChange[]): void {
    for (const change of changes) {
      const topic = topicOf(change[0], change[1]);
      if (this.app.numSubscribers(topic) > 0) this.app.publish(topic, stockMessage(change));
    }
  }

  private onMessage(ws: WebSocket<FeedSocket>, text: string): void {
    let request: { subscribe: KeyRequest[]; unsubscribe: KeyRequest[] };
    try {
      request = parseRequest(text);
    } catch (error) {
      const field = error instanceof ValidationError ? error.field : 'message';
      const message = error instanceof Error ? error.message : String(error);
      ws.send(errorBody('validation_failed', message, { field }));
      return;
    }
    const data = ws.getUserData();
    const subscribedBefore = data.topics.size > 0;
    for (const key of request.unsubscribe) {
      ws.unsubscribe(topicOf(key.productId, key.warehouseId));
      data.topics.delete(topicOf(key.productId, key.warehouseId));
    }
    if (subscribedBefore && data.topics.size === 0) this.subscribedSockets -= 1;
    const wanted = new Set([
      ...data.topics,
      ...request.subscribe.map((k) => topicOf(k.productId, k.warehouseId)),
    ]);
    if (wanted.size > feedSubscriptionsPerSocketMax) {
      const message = `at most ${feedSubscriptionsPerSocketMax} stock keys per connection`;
      ws.send(errorBody('validation_failed', message, { field: 'subscribe' }));
      return;
    }
    for (const key of request.subscribe) this.subscribe(ws, key);
  }

  /** Subscribes, then sends the key's current durable state (a gated read through its shard). */
  private subscribe(ws: WebSocket<FeedSocket>, key: KeyRequest): void {
    const topic = topicOf(key.productId, key.warehouseId);
    ws.subscribe(topic);
    const topics = ws.getUserData().topics;
    if (topics.size === 0) this.subscribedSockets += 1;
    topics.add(topic);
    this.sendState(ws, key);
    if (this.rereadAfterMs !== undefined) {
      setTimeout(() => {
        if (!ws.getUserData().closed && ws.getUserData().topics.has(topic)) this.sendState(ws, key);
      }, this.rereadAfterMs).unref();
    }
  }

  /** Sends the key's current durable state (a gated read, through its shard or its owner). */
  private sendState(ws: WebSocket<FeedSocket>, key: KeyRequest): void {
    this.router.dispatch({ kind: 'read-stock', ...key }, (reply) => {
      if (ws.getUserData().closed) return;
      const { outcome } = reply;
      if (!outcome.ok || !('stock' in outcome)) {
        ws.send(renderOutcome(outcome).body);
        return;
      }
      const { onHand, reserved, version } = outcome.stock;
      ws.send(stockMessage([key.productId, key.warehouseId, onHand, reserved, version]));
    });
  }
}

function parseRequest(text: string): { subscribe: KeyRequest[]; unsubscribe: KeyRequest[] } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ValidationError('message', 'messages must be JSON objects');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('message', 'messages must be JSON objects');
  }
  const body = value as Record<string, unknown>;
  return {
    subscribe: keyList(body.subscribe, 'subscribe'),
    unsubscribe: keyList(body.unsubscribe, 'unsubscribe'),
  };
}

function keyList(value: unknown, field: string): KeyRequest[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > feedSubscriptionsPerSocketMax) {
    throw new ValidationError(
      field,
      `${field} must be an array of at most ${feedSubscriptionsPerSocketMax} keys`,
    );
  }
  return value.map((item: unknown) => {
    const key = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    return {
      productId: stockId(key.product_id, `${field}.product_id`),
      warehouseId: stockId(key.warehouse_id, `${field}.warehouse_id`),
    };
  });
}
