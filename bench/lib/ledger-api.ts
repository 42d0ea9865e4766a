// The few calls the bench makes outside the load itself (API.md), to the ledger or a baseline:
// stock the keys, read them back, replay requests whose answer was lost, and scrape /metrics.
import { withAuth } from './auth.js';
import type { StockKey } from './scenarios.js';

/** Upper bound on one control-plane call; the ledger answers these in milliseconds when healthy. */
const callTimeoutMs = 15_000;

export interface StockView {
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
  readonly version: number;
}

export interface JsonAnswer {
  readonly status: number;
  readonly replayed: boolean;
  readonly body: Record<string, unknown>;
  readonly text: string;
}

export async function call(baseUrl: string, path: string, body?: string): Promise<JsonAnswer> {
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
    reason: 'bench stock',
  });
  return stockView(await call(baseUrl, '/v1/stock/adjust', body), 'POST /v1/stock/adjust');
}

export async function readStock(baseUrl: string, key: StockKey): Promise<StockView> {
  const path = `/v1/stock/${encodeURIComponent(key.productId)}/${encodeURIComponent(key.warehouseId)}`;
  return stockView(await call(baseUrl, path), `GET ${path}`);
}

export async function scrapeMetrics(baseUrl: string): Promise<string> {
  const response = await fetch(`${baseUrl}/metrics`, {
    signal: AbortSignal.timeout(callTimeoutMs),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}: ${text}`);
  return text;
}
