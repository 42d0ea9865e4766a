// k6 load test: the hot-SKU flash sale. Every request reserves 1 unit of ONE stock key, each
// with its own idempotency key, at a constant arrival rate (k6 adds VUs when answers slow down,
// so latency shows up as latency, not as a lower request rate).
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 deploy/k6/hot-sku.js
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=5000 -e DURATION=2m deploy/k6/hot-sku.js
//
// Environment: BASE_URL (default http://127.0.0.1:8080), RATE (reserves per second, 2000),
// DURATION (1m), VUS (pre-allocated VUs, 200), MAX_VUS (2000), STOCK (units put on the key
// first; default RATE x DURATION x 2, so the key never sells out and every answer should be
// 200), PRODUCT_ID / WAREHOUSE_ID (default: a fresh key per run), TOKEN (sent as a bearer
// token once the ledger has JWT auth; the adjust in setup needs the admin role).
// Only point it at a ledger you run yourself: it writes real reservations.
import http from 'k6/http';
import { check } from 'k6';
import { Rate } from 'k6/metrics';

const baseUrl = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');
const rate = Number(__ENV.RATE || 2000);
const duration = __ENV.DURATION || '1m';
const runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

// A failed reserve: anything but 200 (a 409 means the key sold out: raise STOCK).
const reserveErrors = new Rate('reserve_errors');

function seconds(text) {
  const match = /^(\d+)(ms|s|m|h)$/.exec(text);
  if (match === null) throw new Error(`DURATION must look like 30s, 2m or 1h, got ${text}`);
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2]];
  return Number(match[1]) * factor;
}

export const options = {
  scenarios: {
    hot_sku: {
      executor: 'constant-arrival-rate',
      rate,
      timeUnit: '1s',
      duration,
      preAllocatedVUs: Number(__ENV.VUS || 200),
      maxVUs: Number(__ENV.MAX_VUS || 2000),
    },
  },
  thresholds: {
    // The objective: p99 of a reserve under 120 ms (alerts.yml: LedgerReserveLatencyP99High).
    'http_req_duration{name:reserve}': ['p(99)<120'],
    // Error rate under 1% (alerts.yml: LedgerReserveErrorRateHigh); stop early at 10x that.
    reserve_errors: [
      'rate<0.01',
      { threshold: 'rate<0.1', abortOnFail: true, delayAbortEval: '10s' },
    ],
    http_req_failed: ['rate<0.01'],
    checks: ['rate>0.99'],
  },
  summaryTrendStats: ['avg', 'min', 'med', 'p(90)', 'p(99)', 'max'],
};

function headers() {
  const result = { 'content-type': 'application/json' };
  if (__ENV.TOKEN) result.authorization = `Bearer ${__ENV.TOKEN}`;
  return result;
}

// Runs once: puts enough stock on the hot key for the whole run.
export function setup() {
  const key = {
    product_id: __ENV.PRODUCT_ID || `k6-hot-${runId}`,
    warehouse_id: __ENV.WAREHOUSE_ID || 'wh-k6',
  };
  const stock = Number(__ENV.STOCK || Math.ceil(rate * seconds(duration) * 2));
  const response = http.post(
    `${baseUrl}/v1/stock/adjust`,
    JSON.stringify({
      ...key,
      delta: stock,
      reason: 'k6 hot-sku load test',
      idempotency_key: `k6-setup-${runId}-${key.product_id}`.slice(0, 128),
    }),
    { headers: headers(), tags: { name: 'adjust' } },
  );
  if (response.status !== 200) {
    throw new Error(`setup: adjust answered ${response.status}: ${response.body}`);
  }
  return { key, runId };
}

export default function (data) {
  // Unique per run, VU and iteration; 16..128 printable ASCII characters as the API requires.
  const idempotencyKey = `k6-hot-sku-${data.runId}-${__VU}-${__ITER}`;
  const response = http.post(
    `${baseUrl}/v1/reserve`,
    JSON.stringify({ ...data.key, quantity: 1, idempotency_key: idempotencyKey }),
    { headers: headers(), tags: { name: 'reserve' } },
  );
  const ok = check(response, {
    'reserve 200': (r) => r.status === 200,
    'reserve PENDING': (r) => r.status === 200 && r.json('status') === 'PENDING',
  });
  reserveErrors.add(!ok);
}
