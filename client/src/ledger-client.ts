// The typed client: one method per ledger operation. Each call is one logical operation: its
// idempotency key (generated unless given) is the same on every retry of that call.
import { randomUUID } from 'node:crypto';
import { operationPath, operations, type Operation } from './operations.js';
import { defaultRetryPolicy, type RetryPolicy } from './retry.js';
import { send, type FetchFunction, type RetryEvent, type TransportSettings } from './transport.js';
import type {
  AdjustRequest,
  Cart,
  ConfirmCartRequest,
  ConfirmRequest,
  ExtendCartRequest,
  ExtendRequest,
  ImportLine,
  ImportResult,
  ListStockRequest,
  MovementPage,
  MovementsRequest,
  PlaceCartRequest,
  ProductSettings,
  ProductStock,
  ReleaseRequest,
  Reservation,
  ReserveRequest,
  SetStockRequest,
  SettingsRequest,
  SnapshotResult,
  Stock,
  StockPage,
} from './types.js';

export interface LedgerClientOptions {
  /** The ledger's base URL, e.g. `http://127.0.0.1:8080`. */
  readonly baseUrl: string;
  /** A bearer token, or a function returning the current one (called per attempt). */
  readonly token?: string | (() => string | Promise<string>);
  /** Sent with every request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Defaults to the global fetch (Node's, which keeps connections alive). */
  readonly fetch?: FetchFunction;
  readonly retry?: Partial<RetryPolicy>;
  /** One attempt's limit (default 10 s). */
  readonly attemptTimeoutMs?: number;
  /** One call's limit, every attempt and wait included (default 30 s). */
  readonly deadlineMs?: number;
  /** Told before each retry's wait. */
  readonly onRetry?: (event: RetryEvent) => void;
  /** Jitter's source (default Math.random). */
  readonly random?: () => number;
  /** Prefix of generated idempotency keys (default `lc`). */
  readonly keyPrefix?: string;
}

export interface CallOptions {
  /** Aborts the call, its retries included. */
  readonly signal?: AbortSignal;
  readonly attemptTimeoutMs?: number;
  readonly deadlineMs?: number;
  readonly retry?: Partial<RetryPolicy>;
}

export interface KeyedCallOptions extends CallOptions {
  /** 16..128 printable ASCII characters; left out: one is generated for this call. */
  readonly idempotencyKey?: string;
}

export interface ChangeCallOptions extends CallOptions {
  /**
   * Left out: one is generated for this call, which makes it safe to retry. `null` sends none:
   * the change is then never retried once it may have reached the ledger.
   */
  readonly idempotencyKey?: string | null;
}

const attemptTimeoutDefaultMs = 10_000;
const deadlineDefaultMs = 30_000;

export class LedgerClient {
  private readonly settings: TransportSettings;
  private readonly keyPrefix: string;

  constructor(options: LedgerClientOptions) {
    const token = options.token;
    this.settings = {
      baseUrl: options.baseUrl.replace(/\/+$/, ''),
      token: typeof token === 'string' ? () => token : token,
      headers: options.headers ?? {},
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
      random: options.random ?? Math.random,
      retry: { ...defaultRetryPolicy, ...options.retry },
      attemptTimeoutMs: options.attemptTimeoutMs ?? attemptTimeoutDefaultMs,
      deadlineMs: options.deadlineMs ?? deadlineDefaultMs,
      onRetry: options.onRetry,
    };
    this.keyPrefix = options.keyPrefix ?? 'lc';
  }

  /** A fresh idempotency key: the prefix and a random UUID (within the ledger's 16..128). */
  newIdempotencyKey(): string {
    return `${this.keyPrefix}-${randomUUID()}`;
  }

  /** Holds stock until confirmed, released or expired. */
  reserve(request: ReserveRequest, options: KeyedCallOptions = {}): Promise<Reservation> {
    const idempotency_key = options.idempotencyKey ?? this.newIdempotencyKey();
    return this.post(operations.reserve, { ...request, idempotency_key }, true, options);
  }

  /** Turns a hold into a sale (all its units, or `quantity` of them); idempotent. */
  confirm(request: ConfirmRequest, options: CallOptions = {}): Promise<Reservation> {
    return this.post(operations.confirm, request, true, options);
  }

  /** Gives a hold back; idempotent. */
  release(request: ReleaseRequest, options: CallOptions = {}): Promise<Reservation> {
    return this.post(operations.release, request, true, options);
  }

  /** A PENDING hold expires `ttl_seconds` from now. */
  extend(request: ExtendRequest, options: CallOptions = {}): Promise<Reservation> {
    return this.post(operations.extend, request, true, options);
  }

  getReservation(reservationId: string, options: CallOptions = {}): Promise<Reservation> {
    return this.get(operations.getReservation, { reservation_id: reservationId }, options);
  }

  /** Changes on_hand by `delta` (admin); creates the key. */
  adjust(request: AdjustRequest, options: ChangeCallOptions = {}): Promise<Stock> {
    return this.change(operations.adjust, request, options);
  }

  /** Sets on_hand (admin; a stock take, an ERP feed); creates the key. */
  setStock(request: SetStockRequest, options: ChangeCallOptions = {}): Promise<Stock> {
    return this.change(operations.setStock, request, options);
  }

  /**
   * Applies lines of stock changes one by one (admin). Retried after it may have reached the
   * ledger only if every line has its own `idempotency_key`.
   */
  importStock(lines: readonly ImportLine[], options: CallOptions = {}): Promise<ImportResult> {
    const keyed = lines.every((line) => line.idempotency_key !== undefined);
    return send(this.settings, {
      ...callLimits(options),
      operation: operations.importStock,
      path: operations.importStock.path,
      body: lines.map((line) => `${JSON.stringify(line)}\n`).join(''),
      contentType: 'application/x-ndjson',
      replaySafe: keyed,
    });
  }

  getStock(productId: string, warehouseId: string, options: CallOptions = {}): Promise<Stock> {
    const parameters = { product_id: productId, warehouse_id: warehouseId };
    return this.get(operations.getStock, parameters, options);
  }

  /** One page of the stock listing; pass its `next` as `after` for the page after. */
  listStock(request: ListStockRequest = {}, options: CallOptions = {}): Promise<StockPage> {
    const query = new URLSearchParams();
    if (request.product_id !== undefined) query.set('product_id', request.product_id);
    if (request.after !== undefined) query.set('after', request.after);
    if (request.limit !== undefined) query.set('limit', String(request.limit));
    return this.get(operations.listStock, {}, options, query);
  }

  /** Every stock key of the listing, page after page. */
  async *listAllStock(
    request: Omit<ListStockRequest, 'after'> = {},
    options: CallOptions = {},
  ): AsyncGenerator<Stock> {
    let after: string | undefined;
    do {
      const page = await this.listStock({ ...request, ...(after && { after }) }, options);
      yield* page.items;
      after = page.next ?? undefined;
    } while (after !== undefined);
  }

  /** One page of a stock key's movements, newest first; pass its `next` as `before`. */
  movements(
    productId: string,
    warehouseId: string,
    request: MovementsRequest = {},
    options: CallOptions = {},
  ): Promise<MovementPage> {
    const query = new URLSearchParams();
    if (request.before !== undefined) query.set('before', request.before);
    if (request.limit !== undefined) query.set('limit', String(request.limit));
    const parameters = { product_id: productId, warehouse_id: warehouseId };
    return this.get(operations.getMovements, parameters, options, query);
  }

  /** Merges: a field left out keeps its value, null clears it (admin). */
  putSettings(
    productId: string,
    request: SettingsRequest,
    options: CallOptions = {},
  ): Promise<ProductSettings> {
    const path = operationPath(operations.putSettings, { product_id: productId });
    return this.send(operations.putSettings, path, request, true, options);
  }

  getSettings(productId: string, options: CallOptions = {}): Promise<ProductSettings> {
    return this.get(operations.getSettings, { product_id: productId }, options);
  }

  getProductStock(productId: string, options: CallOptions = {}): Promise<ProductStock> {
    return this.get(operations.getProductStock, { product_id: productId }, options);
  }

  /** Holds every line of a cart, or none. */
  placeCart(request: PlaceCartRequest, options: KeyedCallOptions = {}): Promise<Cart> {
    const idempotency_key = options.idempotencyKey ?? this.newIdempotencyKey();
    return this.post(operations.placeCart, { ...request, idempotency_key }, true, options);
  }

  getCart(cartId: string, options: CallOptions = {}): Promise<Cart> {
    return this.get(operations.getCart, { cart_id: cartId }, options);
  }

  /** Confirms every PENDING hold of a cart, all or nothing; idempotent. */
  confirmCart(
    cartId: string,
    request: ConfirmCartRequest = {},
    options: CallOptions = {},
  ): Promise<Cart> {
    const path = operationPath(operations.confirmCart, { cart_id: cartId });
    return this.send(operations.confirmCart, path, request, true, options);
  }

  releaseCart(cartId: string, options: CallOptions = {}): Promise<Cart> {
    const path = operationPath(operations.releaseCart, { cart_id: cartId });
    return this.send(operations.releaseCart, path, undefined, true, options);
  }

  extendCart(cartId: string, request: ExtendCartRequest, options: CallOptions = {}) {
    const path = operationPath(operations.extendCart, { cart_id: cartId });
    return this.send<Cart>(operations.extendCart, path, request, true, options);
  }

  /** Snapshots every changed partition now (admin). */
  snapshot(options: CallOptions = {}): Promise<SnapshotResult> {
    return this.send(operations.snapshot, operations.snapshot.path, undefined, true, options);
  }

  /** Readiness details; a ledger not ready answers 503 `unavailable` (retried like any 503). */
  ready(options: CallOptions = {}): Promise<Readonly<Record<string, unknown>>> {
    return this.get(operations.ready, {}, options);
  }

  private change<T>(operation: Operation, request: object, options: ChangeCallOptions) {
    const key =
      options.idempotencyKey === undefined ? this.newIdempotencyKey() : options.idempotencyKey;
    const body = key === null ? request : { ...request, idempotency_key: key };
    return this.post<T>(operation, body, key !== null, options);
  }

  private post<T>(operation: Operation, body: object, replaySafe: boolean, options: CallOptions) {
    return this.send<T>(operation, operation.path, body, replaySafe, options);
  }

  private get<T>(
    operation: Operation,
    parameters: Readonly<Record<string, string>>,
    options: CallOptions,
    query?: URLSearchParams,
  ): Promise<T> {
    const search = query === undefined || query.size === 0 ? '' : `?${query.toString()}`;
    const path = `${operationPath(operation, parameters)}${search}`;
    return this.send<T>(operation, path, undefined, true, options);
  }

  private send<T>(
    operation: Operation,
    path: string,
    body: object | undefined,
    replaySafe: boolean,
    options: CallOptions,
  ): Promise<T> {
    return send<T>(this.settings, {
      ...callLimits(options),
      operation,
      path,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      replaySafe,
    });
  }
}

function callLimits(options: CallOptions) {
  return {
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.attemptTimeoutMs === undefined
      ? {}
      : { attemptTimeoutMs: options.attemptTimeoutMs }),
    ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
    ...(options.retry === undefined ? {} : { retry: options.retry }),
  };
}
