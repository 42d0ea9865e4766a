// Proves OpenTelemetry tracing end to end: a ledger started with OTEL_EXPORTER_OTLP_ENDPOINT
// sends its request spans over OTLP/HTTP to a real receiver (a node:http server here, standing
// for a collector). A reserve carrying a W3C traceparent becomes a server span under the
// caller's span, with the shard's part, the group commit that made it durable and the reply
// below it; its trace id is the answer's x-trace-id. Health checks and scrapes draw no span.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post } from '../helpers/http.js';
import { sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly attributes: Record<string, unknown>;
  readonly service: unknown;
}

/** OTLP/JSON ids are hex; a receiver reading protobuf-style JSON may see base64: both read. */
const hexOf = (id: unknown): string =>
  typeof id !== 'string' || id === ''
    ? ''
    : /^[0-9a-f]+$/.test(id)
      ? id
      : Buffer.from(id, 'base64').toString('hex');

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean };
type OtlpAttribute = { key: string; value: OtlpValue };

function attributesOf(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) {
    out[key] =
      value.stringValue ??
      (value.intValue !== undefined ? Number(value.intValue) : value.boolValue);
  }
  return out;
}

/** A minimal OTLP/HTTP traces receiver: keeps every span it is sent. */
function receiver(): Promise<{ server: Server; url: string; spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = [];
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      if (request.url === '/v1/traces' && request.method === 'POST') {
        const parsed = JSON.parse(body) as {
          resourceSpans?: {
            resource?: { attributes?: OtlpAttribute[] };
            scopeSpans?: { spans?: Record<string, unknown>[] }[];
          }[];
        };
        for (const resource of parsed.resourceSpans ?? []) {
          const service = attributesOf(resource.resource?.attributes)['service.name'];
          for (const scope of resource.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) {
              spans.push({
                traceId: hexOf(span.traceId),
                spanId: hexOf(span.spanId),
                parentSpanId: hexOf(span.parentSpanId),
                name: String(span.name),
                kind: Number(span.kind),
                startMs: Number(BigInt(String(span.startTimeUnixNano)) / 1000n) / 1000,
                endMs: Number(BigInt(String(span.endTimeUnixNano)) / 1000n) / 1000,
                attributes: attributesOf(span.attributes as OtlpAttribute[]),
                service,
              });
            }
          }
        }
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}`, spans });
    });
  });
}

async function until<T>(find: () => T | undefined, what: string): Promise<T> {
  for (let tries = 0; tries < 100; tries += 1) {
    const found = find();
    if (found !== undefined) return found;
    await sleep(100);
  }
  throw new Error(`no ${what} reached the receiver`);
}

describe.runIf(await havePostgres())('OpenTelemetry tracing over OTLP', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess | undefined;
  let collector: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    collector = await receiver();
    database = await createDatabase();
    ledger = await startLedger({
      env: {
        DATABASE_URL: database.url,
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_SERVICE_NAME: 'ledger-under-test',
      },
    });
  });

  afterAll(async () => {
    await ledger?.stop();
    await database?.drop();
    collector?.server.close();
  });

  it('draws a reserve as request -> partition -> journal commit, and reply, under the caller', async () => {
    const base = (ledger as LedgerProcess).baseUrl;
    const key = { product_id: 'traced-sku', warehouse_id: 'wh-1' };
    expect((await post(base, '/v1/stock/adjust', { ...key, delta: 5 })).status).toBe(200);
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const callerSpan = 'b7ad6b7169203331';
    const traceparent = `00-${traceId}-${callerSpan}-01`;
    const body = { ...key, quantity: 2, idempotency_key: newKey('traced') };
    const reply = await post(base, '/v1/reserve', body, { traceparent });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('x-trace-id')).toBe(traceId);
    await get(base, '/health/ready');
    await get(base, '/metrics');

    const spans = collector.spans;
    const root = await until(
      () => spans.find((span) => span.traceId === traceId && span.name === 'POST /v1/reserve'),
      'reserve span',
    );
    const children = (parent: ReceivedSpan) =>
      spans.filter((span) => span.traceId === traceId && span.parentSpanId === parent.spanId);
    await until(() => (children(root).length === 2 ? true : undefined), 'shard and reply spans');
    expect(root.parentSpanId).toBe(callerSpan);
    expect(root.kind).toBe(2); // SERVER
    expect(root.service).toBe('ledger-under-test');
    expect(root.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/reserve',
      'http.response.status_code': 200,
    });
    const shard = children(root).find((span) => span.name === 'ledger.partition') as ReceivedSpan;
    const answer = children(root).find((span) => span.name === 'ledger.reply') as ReceivedSpan;
    expect(shard).toBeDefined();
    expect(answer).toBeDefined();
    const [commit] = children(shard);
    expect(commit?.name).toBe('ledger.journal.commit');
    expect(commit?.attributes['ledger.commit.rows']).toBeGreaterThanOrEqual(1);
    // The commit happened within the shard's part, which happened within the request (the
    // shard's clock and the HTTP thread's agree to well under a millisecond).
    const slack = 1;
    expect(commit?.startMs).toBeGreaterThanOrEqual(shard.startMs - slack);
    expect(commit?.endMs).toBeLessThanOrEqual(shard.endMs + slack);
    expect(shard.startMs).toBeGreaterThanOrEqual(root.startMs);
    expect(answer.endMs).toBeLessThanOrEqual(root.endMs + slack);
    expect(
      spans.some((span) => span.name.includes('/health') || span.name.includes('/metrics')),
    ).toBe(false);
  });

  it('gives a request without ids its own trace, whose id is the answer’s x-trace-id', async () => {
    const base = (ledger as LedgerProcess).baseUrl;
    const read = await get(base, '/v1/stock/traced-sku/wh-1');
    expect(read.status).toBe(200);
    const traceId = read.headers.get('x-trace-id') ?? '';
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const root = await until(
      () => collector.spans.find((span) => span.traceId === traceId && span.parentSpanId === ''),
      'stock read span',
    );
    expect(root.name).toBe('GET /v1/stock/{product_id}/{warehouse_id}');
    expect(root.parentSpanId).toBe('');
  });
});
