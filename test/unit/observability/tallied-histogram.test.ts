// The tallied histogram reads as prom-client's own would after the same observations: the same
// text on /metrics (the registry's rendering, and through the aggregation /metrics does with the
// shards' registries), the same JSON, every value on a bucket's edge in that bucket; the reserve
// attempts counter is its series' counts.
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createIngressMetrics, renderMetrics } from '../../../src/observability/metrics.js';
import { TalliedHistogram } from '../../../src/observability/tallied-histogram.js';

const buckets = [0.001, 0.005, 0.01, 0.5];
const observations: [string, number][] = [
  ['ok', 0.0004],
  ['ok', 0.001], // on an edge: le="0.001"
  ['ok', 0.003],
  ['insufficient_stock', 0.007],
  ['ok', 0.5],
  ['ok', 2], // past the last bound: +Inf only
  ['overloaded', 0.000_01],
  ['insufficient_stock', 0.01],
];

function both() {
  const own = new client.Registry();
  const theirs = new client.Registry();
  const tallied = new TalliedHistogram({
    name: 'x_seconds',
    help: 'x',
    labelName: 'result',
    buckets,
    registers: [own],
  });
  const plain = new client.Histogram({
    name: 'x_seconds',
    help: 'x',
    labelNames: ['result'],
    buckets,
    registers: [theirs],
  });
  for (const [result, value] of observations) {
    tallied.series(result).observe(value);
    plain.labels(result).observe(value);
  }
  return { own, theirs, tallied };
}

/** The lines of a text exposition, in order within each series but series in any order. */
const lines = (text: string) => text.split('\n').sort();

describe('TalliedHistogram', () => {
  it("renders as prom-client's histogram does after the same observations", async () => {
    const { own, theirs } = both();
    const text = await own.metrics();
    expect(lines(text)).toEqual(lines(await theirs.metrics()));
    expect(text).toContain('x_seconds_bucket{le="0.001",result="ok"} 2');
    expect(text).toContain('x_seconds_bucket{le="+Inf",result="ok"} 5');
    expect(text).toContain('x_seconds_count{result="insufficient_stock"} 2');
  });

  it('reads the same as JSON and through the aggregation /metrics makes', async () => {
    const { own, theirs } = both();
    type Values = client.MetricObjectWithValues<client.MetricValueWithName<string>>[];
    const sortValues = (metrics: Values) =>
      metrics.map((metric) => ({
        name: metric.name,
        help: metric.help,
        type: metric.type,
        aggregator: metric.aggregator,
        // Without exemplars (prom-client's own carries `exemplar: null` on each bucket).
        values: metric.values
          .map(({ labels, value, metricName }) => JSON.stringify({ labels, value, metricName }))
          .sort(),
      }));
    const json = async (registry: client.Registry) =>
      sortValues((await registry.getMetricsAsJSON()) as Values);
    expect(await json(own)).toEqual(await json(theirs));
    const aggregated = (registry: client.Registry) => renderMetrics(registry, []);
    expect(lines(await aggregated(own))).toEqual(lines(await aggregated(theirs)));
  });

  it('keeps one series per label value, and forgets them all on reset', async () => {
    const { own, tallied } = both();
    expect([...tallied.allSeries()].map((series) => series.label)).toEqual([
      'ok',
      'insufficient_stock',
      'overloaded',
    ]);
    expect(tallied.series('ok')).toBe(tallied.series('ok'));
    tallied.reset();
    expect([...tallied.allSeries()]).toEqual([]);
    expect(await own.metrics()).not.toContain('x_seconds_bucket');
  });
});

describe('the ingress metrics', () => {
  it("count reserve attempts by result from the duration histogram's series", async () => {
    const metrics = createIngressMetrics(() => [], 0);
    metrics.reservationSeconds.series('ok').observe(0.002);
    metrics.reservationSeconds.series('ok').observe(0.004);
    metrics.reservationSeconds.series('insufficient_stock').observe(0.001);
    const text = await metrics.registry.metrics();
    expect(text).toContain('inventory_reservation_attempts_total{result="ok"} 2');
    expect(text).toContain('inventory_reservation_attempts_total{result="insufficient_stock"} 1');
    expect(text).toContain('inventory_reservation_duration_seconds_count{result="ok"} 2');
    // Read twice, the counter does not double.
    expect(await metrics.registry.metrics()).toContain(
      'inventory_reservation_attempts_total{result="ok"} 2',
    );
  });
});
