// Proves the live summary's arithmetic on cumulative histograms: buckets summed over label sets
// and shards, the difference of two readings (none across a counter reset), quantiles as
// Prometheus' histogram_quantile gives them, and a window whose baseline is at most a minute old,
// with a bounded number of readings kept however often it is asked.
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import {
  ReadingWindow,
  bucketsOf,
  countOf,
  difference,
  quantileOf,
  type MetricJson,
  type Reading,
} from '../../../src/observability/histogram-window.js';

const buckets = (entries: [number, number][]) => new Map(entries);

describe('bucketsOf', () => {
  it('sums one histogram over its label sets and over several registries', async () => {
    const registries = [new client.Registry(), new client.Registry()];
    const histograms = registries.map(
      (registry) =>
        new client.Histogram({
          name: 'h_seconds',
          help: 'h',
          labelNames: ['result'],
          buckets: [0.1, 1],
          registers: [registry],
        }),
    );
    histograms[0]?.labels('ok').observe(0.05);
    histograms[0]?.labels('insufficient_stock').observe(0.5);
    histograms[1]?.labels('ok').observe(5);
    const metrics = (
      await Promise.all(registries.map((registry) => registry.getMetricsAsJSON()))
    ).flat() as unknown as MetricJson[];
    expect(bucketsOf(metrics, 'h_seconds')).toEqual(
      buckets([
        [0.1, 1],
        [1, 2],
        [Infinity, 3],
      ]),
    );
    expect(bucketsOf(metrics, 'other').size).toBe(0);
  });
});

describe('difference and quantileOf', () => {
  it('counts only what was observed between the readings', () => {
    const earlier = buckets([
      [0.1, 10],
      [1, 10],
      [Infinity, 10],
    ]);
    const later = buckets([
      [0.1, 10],
      [1, 110],
      [Infinity, 110],
    ]);
    const delta = difference(later, earlier);
    expect(delta).toBeDefined();
    expect(countOf(delta ?? new Map())).toBe(100);
    // All 100 new ones lie in (0.1, 1]: the 99th of 100 is 99% of the way through it.
    expect(quantileOf(delta ?? new Map(), 0.99)).toBeCloseTo(0.1 + 0.9 * 0.99, 9);
  });

  it('has no difference across a counter reset, and no quantile without observations', () => {
    const earlier = buckets([[Infinity, 5]]);
    expect(difference(buckets([[Infinity, 2]]), earlier)).toBeUndefined();
    expect(quantileOf(buckets([[Infinity, 0]]), 0.99)).toBeUndefined();
  });

  it('answers the largest finite bound for a quantile in the +Inf bucket', () => {
    const slow = buckets([
      [0.5, 1],
      [2.5, 1],
      [Infinity, 100],
    ]);
    expect(quantileOf(slow, 0.99)).toBe(2.5);
  });
});

describe('ReadingWindow', () => {
  const bounds = { windowMs: 60_000, spacingMs: 5_000, windowMinMs: 1_000, readingsMax: 13 };
  const at = (atMs: number): Reading => ({ atMs, histograms: new Map() });

  it('compares with the start of the process while it is within the window', () => {
    const window = new ReadingWindow(0, bounds);
    expect(window.baselineFor(at(500))).toBeUndefined();
    expect(window.baselineFor(at(2_000))?.atMs).toBe(0);
  });

  it('keeps the baseline within the last minute and the readings bounded', () => {
    const window = new ReadingWindow(0, bounds);
    // A page polling every 100 ms for five minutes.
    let baseline: Reading | undefined;
    for (let now = 100; now <= 300_000; now += 100) baseline = window.baselineFor(at(now));
    expect(baseline?.atMs).toBeGreaterThanOrEqual(300_000 - 60_000);
    expect(baseline?.atMs).toBeLessThanOrEqual(300_000 - 55_000);
    expect((window as unknown as { kept: Reading[] }).kept.length).toBeLessThanOrEqual(13);
  });

  it('has no baseline after a long silence until a reading is old enough', () => {
    const window = new ReadingWindow(0, bounds);
    window.baselineFor(at(2_000));
    expect(window.baselineFor(at(600_000))).toBeUndefined();
    expect(window.baselineFor(at(602_000))?.atMs).toBe(600_000);
  });
});
