// Proves the request spans (src/http/tracing.ts) with an in-memory exporter: the tree a traced
// request draws (server span, shard, journal commit, reply) with its times and parents; a
// caller's traceparent as the parent, its sampled flag obeyed; the sample share for roots.
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestTracing } from '../../../src/http/tracing.js';
import { parseTraceparent } from '../../../src/observability/trace-context.js';

const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
const parentId = '00f067aa0ba902b7';

let tracing: RequestTracing | undefined;
afterEach(async () => {
  await tracing?.shutdown();
  tracing = undefined;
});

function traced(samplePercent = 100): {
  tracing: RequestTracing;
  spans: () => Promise<ReadableSpan[]>;
} {
  const exporter = new InMemorySpanExporter();
  tracing = new RequestTracing({
    serviceName: 'ledger-test',
    version: '1.2.3',
    samplePercent,
    exporter,
    exportDelayMs: 60_000,
  });
  const current = tracing;
  return {
    tracing: current,
    spans: async () => {
      await current.flush();
      return exporter.getFinishedSpans();
    },
  };
}

const ms = (time: readonly [number, number]): number => time[0] * 1000 + time[1] / 1e6;

describe('request spans', () => {
  it('draws request -> partition -> journal commit, and the reply, under the caller’s span', async () => {
    const { tracing: requests, spans } = traced();
    const span = requests.begin('post', '/v1/reserve', `00-${traceId}-${parentId}-01`, '');
    expect(span.traceId).toBe(traceId);
    span.dispatched();
    const now = performance.timeOrigin + performance.now();
    span.replied([now - 3, now - 1, 17]);
    span.end(200);
    const finished = await spans();
    const byName = new Map(finished.map((one) => [one.name, one]));
    expect([...byName.keys()].sort()).toEqual([
      'POST /v1/reserve',
      'ledger.journal.commit',
      'ledger.partition',
      'ledger.reply',
    ]);
    const root = byName.get('POST /v1/reserve') as ReadableSpan;
    const shard = byName.get('ledger.partition') as ReadableSpan;
    const commit = byName.get('ledger.journal.commit') as ReadableSpan;
    const reply = byName.get('ledger.reply') as ReadableSpan;
    for (const one of finished) expect(one.spanContext().traceId).toBe(traceId);
    expect(root.parentSpanContext?.spanId).toBe(parentId);
    expect(shard.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(reply.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
    expect(commit.parentSpanContext?.spanId).toBe(shard.spanContext().spanId);
    expect(root.attributes).toMatchObject({
      'http.request.method': 'POST',
      'http.route': '/v1/reserve',
      'http.response.status_code': 200,
    });
    expect(commit.attributes['ledger.commit.rows']).toBe(17);
    expect(ms(commit.startTime)).toBeCloseTo(now - 3, 0);
    expect(ms(commit.endTime)).toBeCloseTo(now - 1, 0);
    // The reply starts where the shard's part ends, and the request ends with the reply.
    expect(ms(reply.startTime)).toBeCloseTo(ms(shard.endTime), 3);
    expect(ms(root.endTime)).toBeCloseTo(ms(reply.endTime), 3);
    expect(finished[0]?.resource.attributes['service.name']).toBe('ledger-test');
  });

  it('starts a trace of its own without a traceparent, keeping the caller’s x-trace-id', async () => {
    const { tracing: requests, spans } = traced();
    const span = requests.begin('get', '/v1/stock/{product_id}/{warehouse_id}', '', 'mine-1');
    expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(span.traceId).not.toBe(traceId);
    span.end(404);
    const [root] = await spans();
    expect(root?.parentSpanContext).toBeUndefined();
    expect(root?.attributes['ledger.trace_id']).toBe('mine-1');
    expect(root?.attributes['http.response.status_code']).toBe(404);
  });

  it('draws no commit for a reply that waited for none, and marks a 5xx as an error', async () => {
    const { tracing: requests, spans } = traced();
    const span = requests.begin('post', '/v1/confirm', '', '');
    span.dispatched();
    span.replied(undefined);
    span.end(503);
    const finished = await spans();
    expect(finished.map((one) => one.name).sort()).toEqual([
      'POST /v1/confirm',
      'ledger.partition',
      'ledger.reply',
    ]);
    expect(finished.find((one) => one.name === 'POST /v1/confirm')?.status.code).toBe(2);
  });

  it('obeys the caller’s sampled flag, and the sample share for its own roots', async () => {
    const { tracing: requests, spans } = traced(0);
    requests.begin('post', '/v1/reserve', `00-${traceId}-${parentId}-00`, '').end(200);
    requests.begin('post', '/v1/reserve', '', '').end(200);
    requests.begin('post', '/v1/release', `00-${traceId}-${parentId}-01`, '').end(200);
    const finished = await spans();
    expect(finished.map((one) => one.name)).toEqual(['POST /v1/release']);
  });
});

describe('parseTraceparent', () => {
  it('reads version 00 and later versions, and refuses what the W3C spec refuses', () => {
    expect(parseTraceparent(`00-${traceId}-${parentId}-01`)).toEqual({
      traceId,
      parentId,
      sampled: true,
    });
    expect(parseTraceparent(`01-${traceId}-${parentId}-00-more`)?.sampled).toBe(false);
    for (const bad of [
      '',
      `ff-${traceId}-${parentId}-01`,
      `00-${traceId}-${parentId}-01-more`,
      `00-${'0'.repeat(32)}-${parentId}-01`,
      `00-${traceId}-${'0'.repeat(16)}-01`,
      `00-${traceId.toUpperCase()}-${parentId}-01`,
      `00-${traceId}-${parentId}`,
    ]) {
      expect(parseTraceparent(bad), bad).toBeUndefined();
    }
  });
});
