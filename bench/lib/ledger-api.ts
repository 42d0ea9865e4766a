// The few ledger calls the bench makes outside the load itself (API.md): stock the key, read it
// back, resolve requests left in flight when the load stopped, and scrape /metrics.
import { withAuth } from './auth.js';

/** Upper bound on one control-plane call; the ledger answers these in milliseconds when healthy. */
const callTimeoutMs = 15_000;

export interface StockKey {
  readonly productId: string;
  readonly warehouseId: string;
}

export interface StockView {
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
  readonly version: number;
}

interface JsonAnswer {
  readonly status: number;
  readonly replayed: boolean;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

async function call(baseUrl: string, path: string, body?: string): Promise<JsonAnswer> {
  const init: RequestInit = { signal: AbortSignal.timeout(callTimeoutMs), headers: withAuth({}) };
  if (body !== undefined) {
    init.method = 'POST';
    init.body = body;
    init.headers = withAuth({ 'content-type': 'application/json' });
  }
  const response = await fetch(`${baseUrl}${path}`, init);
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} answered ${response.status} with a body that is not JSON: ${text}`, {
      cause: error,
    });
  }
  return {
    status: response.status,
    replayed: response.headers.get('idempotent-replayed') === 'true',
    body: typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {},
    text,
  };
}

/** The body of every reserve the bench sends; a replay must repeat it exactly. */
export function reserveBody(key: StockKey, idempotencyKey: string): string {
  return JSON.stringify({
    product_id: key.productId,
    warehouse_id: key.warehouseId,
    quantity: 1,
    idempotency_key: idempotencyKey,
    // The longest default TTL, so that no hold expires while a long run is still counting.
    ttl_seconds: 3600,
  });
}

function stockView(answer: JsonAnswer, what: string): StockView {
  if (answer.status !== 200) throw new Error(`${what} answered ${answer.status}: ${answer.text}`);
  const number = (field: string): number => {
    const value = answer.body[field];
    if (typeof value !== 'number')
      throw new Error(`${what}: ${field} is not a number: ${answer.text}`);
    return value;
  };
  return {
    onHand: number('on_hand'),
    reserved: number('reserved'),
    available: number('available'),
    version: number('version'),
  };
}

export async function adjustStock(
  baseUrl: string,
  key: StockKey,
  delta: number,
): Promise<StockView> {
  const body = JSON.stringify({
    product_id: key.productId,
    warehouse_id: key.warehouseId,
    delta,
    reason: 'hot-sku bench stock',
  });
  return stockView(await call(baseUrl, '/v1/stock/adjust', body), 'POST /v1/stock/adjust');
}

export async function readStock(baseUrl: string, key: StockKey): Promise<StockView> {
  const path = `/v1/stock/${encodeURIComponent(key.productId)}/${encodeURIComponent(key.warehouseId)}`;
  return stockView(await call(baseUrl, path), `GET ${path}`);
}

export interface ResolvedRequests {
  /** 200 with idempotent-replayed: the ledger had applied the request before the load stopped. */
  readonly appliedBefore: number;
  /** 200 without the replay header: the request never took effect, and the replay applied it. */
  readonly appliedByReplay: number;
  /** Any other answer, by status. */
  readonly failed: Record<string, number>;
}

/**
 * Sends again, with the same idempotency key and body, each request whose answer the load
 * generator never read (it closes its connections when time is up). The replay tells whether
 * the ledger had applied it, so that the reserved count can be checked exactly.
 */
export async function resolveUnanswered(
  baseUrl: string,
  key: StockKey,
  idempotencyKeys: Iterable<string>,
): Promise<ResolvedRequests> {
  let appliedBefore = 0;
  let appliedByReplay = 0;
  const failed: Record<string, number> = {};
  for (const idempotencyKey of idempotencyKeys) {
    const answer = await call(baseUrl, '/v1/reserve', reserveBody(key, idempotencyKey));
    if (answer.status !== 200) failed[answer.status] = (failed[answer.status] ?? 0) + 1;
    else if (answer.replayed) appliedBefore += 1;
    else appliedByReplay += 1;
  }
  return { appliedBefore, appliedByReplay, failed };
}

export async function scrapeMetrics(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/metrics`, {
    signal: AbortSignal.timeout(callTimeoutMs),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}: ${text}`);
  return text;
}
