// The latency plot of a bench run, as SVG (vega-lite compiled and rendered headless by vega):
// per scenario, each system's latency by percentile on HdrHistogram's "1 in N" axis, and its
// answers per second over the measured window. For each scenario and system it draws the run
// with the median throughput.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { SystemRun } from './run-system.js';

/** p100 (the maximum) has no place on a 1/(1 - p) axis; it is in the tables instead. */
const plottedPercentileMax = 99.999;

function medianRuns(runs: readonly SystemRun[]): SystemRun[] {
  const groups = new Map<string, SystemRun[]>();
  for (const run of runs) {
    if (run.requestsPerSecond === null) continue;
    const key = `${run.scenario}\0${run.system}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((group) => {
    const sorted = [...group].sort(
      (a, b) => (a.requestsPerSecond ?? 0) - (b.requestsPerSecond ?? 0),
    );
    return sorted[Math.floor((sorted.length - 1) / 2)] as SystemRun;
  });
}

export async function latencyPlotSvg(runs: readonly SystemRun[], title: string): Promise<string> {
  const chosen = medianRuns(runs);
  const latency = chosen.flatMap((run) =>
    run.percentilesMs
      .filter((point) => point.percentile <= plottedPercentileMax)
      .map((point) => ({
        scenario: run.scenario,
        system: run.system,
        percentile: point.percentile,
        oneIn: 1 / (1 - point.percentile / 100),
        ms: Math.max(point.ms, 0.001),
      })),
  );
  const throughput = chosen.flatMap((run) =>
    run.perSecond.map((answers, second) => ({
      scenario: run.scenario,
      system: run.system,
      second: second + 1,
      answers,
    })),
  );
  const color = { field: 'system', type: 'nominal', title: 'system' } as const;
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    vconcat: [
      {
        data: { values: latency },
        facet: { column: { field: 'scenario', type: 'nominal', title: 'latency by percentile' } },
        spec: {
          width: 260,
          height: 220,
          mark: { type: 'line', point: true },
          encoding: {
            x: {
              field: 'oneIn',
              type: 'quantitative',
              scale: { type: 'log' },
              title: 'percentile',
              axis: {
                values: [1, 2, 10, 100, 1000, 10000, 100000],
                labelExpr:
                  "datum.value == 1 ? '0%' : datum.value == 2 ? '50%' : datum.value == 10 ? '90%' : " +
                  "datum.value == 100 ? '99%' : datum.value == 1000 ? '99.9%' : " +
                  "datum.value == 10000 ? '99.99%' : '99.999%'",
              },
            },
            y: { field: 'ms', type: 'quantitative', scale: { type: 'log' }, title: 'latency ms' },
            color,
            tooltip: [{ field: 'percentile' }, { field: 'ms' }, { field: 'system' }],
          },
        },
      },
      {
        data: { values: throughput },
        facet: { column: { field: 'scenario', type: 'nominal', title: 'answers per second' } },
        spec: {
          width: 260,
          height: 160,
          mark: 'line',
          encoding: {
            x: { field: 'second', type: 'quantitative', title: 'measured second' },
            y: { field: 'answers', type: 'quantitative', title: 'answers/s' },
            color,
          },
        },
      },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
