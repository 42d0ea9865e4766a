// Proves what GET /v1/ui/summary computes from the metrics, on a fake clock: reserve rate and p99
// over the window, the journal's flushes from the shards' registries and requests in flight, the
// event lag (null when publishing is off), the hot keys and the sold-out ones; and that a summary
// asked for again within a second is the same one, not computed again.
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { HotKeys } from '../../../src/observability/hot-keys.js';
import { LiveSummary, type EventLag } from '../../../src/observability/live-summary.js';

function fixture(events?: EventLag) {
  const registry = new client.Registry();
  const shardRegistry = new client.Registry();
  const histogram = (name: string, register: client.Registry, labelNames: string[] = []) =>
    new client.Histogram({
      name,
      help: name,
      labelNames,
      buckets: [0.001, 0.005, 0.01],
      registers: [register],
    });
  const metrics = {
    reservationSeconds: histogram('inventory_reservation_duration_seconds', registry, ['result']),
    cartSeconds: histogram('inventory_cart_duration_seconds', registry, ['result']),
    hotKeys: new HotKeys(10),
  };
  const flushSeconds = histogram('ledger_journal_flush_duration_seconds', shardRegistry);
  let nowMs = 0;
  let shardAsks = 0;
  const summary = new LiveSummary(
    {
      metrics,
      shardMetrics: async () => {
        shardAsks += 1;
        return [await shardRegistry.getMetricsAsJSON()];
      },
      queueDepths: () => [2, 3],
      events: () => events,
      now: () => nowMs,
    },
    0,
  );
  return {
    metrics,
    flushSeconds,
    summary,
    at: (ms: number) => (nowMs = ms),
    shardAsks: () => shardAsks,
  };
}

const parse = async (json: Promise<string>) => JSON.parse(await json) as Record<string, unknown>;

describe('LiveSummary', () => {
  it('gives the reserve rate and p99 over the window, the journal, hot and sold-out keys', async () => {
    const { metrics, flushSeconds, summary, at } = fixture();
    for (let request = 0; request < 99; request += 1) {
      metrics.reservationSeconds.labels('ok').observe(0.003);
    }
    metrics.reservationSeconds.labels('insufficient_stock').observe(0.008);
    for (let flush = 0; flush < 40; flush += 1) flushSeconds.observe(0.0005);
    metrics.hotKeys.observe('sku-1', 'w1', 7);
    metrics.hotKeys.observe('sku-2', 'w1', 0);
    at(10_000);
    expect(await parse(summary.json())).toEqual({
      at: new Date(10_000).toISOString(),
      window_seconds: 10,
      reserve: { requests: 100, per_second: 10, p99_seconds: 0.005 },
      carts: { requests: 0, per_second: 0, p99_seconds: null },
      journal: { in_flight: 5, flushes: 40, flush_p99_seconds: 0.00099 },
      events: null,
      hot_keys: [
        { product_id: 'sku-1', warehouse_id: 'w1', available: 7 },
        { product_id: 'sku-2', warehouse_id: 'w1', available: 0 },
      ],
      sold_out: [{ product_id: 'sku-2', warehouse_id: 'w1' }],
    });
  });

  it('counts only what happened since its baseline once a minute has passed', async () => {
    const { metrics, summary, at } = fixture();
    metrics.reservationSeconds.labels('ok').observe(0.003);
    at(30_000);
    await summary.json();
    at(90_000);
    // The start of the process is now too old; the reading of 30 s is the baseline.
    for (let request = 0; request < 120; request += 1) {
      metrics.reservationSeconds.labels('ok').observe(0.0005);
    }
    const reserve = (await parse(summary.json())).reserve;
    expect(reserve).toEqual({ requests: 120, per_second: 2, p99_seconds: 0.00099 });
  });

  it('shows the event lag when publishing is on', async () => {
    const { summary, at } = fixture({ connected: false, lagRecords: 12, lagSeconds: 3.25 });
    at(5_000);
    expect((await parse(summary.json())).events).toEqual({
      connected: false,
      lag_records: 12,
      lag_seconds: 3.25,
    });
  });

  it('answers the same summary within a second of computing one, and a new one after', async () => {
    const { metrics, summary, at, shardAsks } = fixture();
    at(5_000);
    const first = await summary.json();
    metrics.reservationSeconds.labels('ok').observe(0.003);
    at(5_900);
    expect(await summary.json()).toBe(first);
    expect(shardAsks()).toBe(1);
    at(6_000);
    expect(await summary.json()).not.toBe(first);
    expect(shardAsks()).toBe(2);
  });
});
