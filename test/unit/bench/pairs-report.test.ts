// The pairs bench's arithmetic (bench/lib/pairs-report.ts): the figures read from a flash-sale
// record (CPU per answer, the journal's idle time per commit), the order of each pair's runs, and
// the ratios A/B with their median, a figure that either side lacks left out.
import { describe, expect, it } from 'vitest';
import {
  ledgerFigures,
  pairOrder,
  summarise,
  type RunFigures,
  type RunRecord,
} from '../../../bench/lib/pairs-report.js';

function record(rate: number, overrides: Partial<RunRecord['runs'][number]> = {}): RunRecord {
  return {
    parameters: { durationSeconds: 15 },
    runs: [
      {
        system: 'ledger',
        scenario: 'hot-sku',
        requestsPerSecond: rate,
        latency: { p99Ms: 8, p999Ms: 20, maxMs: 30 },
        cpu: {
          ledgerCores: 0.8,
          ledgerMainThreadCores: 0.4,
          postgresCores: 0.3,
          otherCores: 0.05,
        },
        // 15 s over 10,000 commits: 1.5 ms a cycle, 1.2 of it flushing.
        ledger: { groupCommits: 10_000, flushMeanMs: 1.2 },
        ...overrides,
      },
    ],
  };
}

const figures = (requestsPerSecond: number | null, commitIdleMs: number | null): RunFigures => ({
  requestsPerSecond,
  p99Ms: 8,
  p999Ms: 20,
  maxMs: 30,
  serverMicrosecondsPerAnswer: 50,
  mainThreadMicrosecondsPerAnswer: 25,
  postgresMicrosecondsPerAnswer: 15,
  commitIdleMs,
  otherCores: 0,
  speedProbeMicroseconds: null,
  cgroupMostMb: null,
  oomKills: null,
});

describe('pairs report', () => {
  it("reads a ledger run's figures from its record", () => {
    const read = ledgerFigures(record(20_000));
    expect(read.requestsPerSecond).toBe(20_000);
    expect(read.serverMicrosecondsPerAnswer).toBeCloseTo(40, 6);
    expect(read.mainThreadMicrosecondsPerAnswer).toBeCloseTo(20, 6);
    expect(read.postgresMicrosecondsPerAnswer).toBeCloseTo(15, 6);
    expect(read.commitIdleMs).toBeCloseTo(0.3, 6);
    expect(read.p999Ms).toBe(20);
  });

  it('gives the journal idle only where one key, so one shard, takes all the commits', () => {
    for (const scenario of ['many-sku', 'many-sku-lifecycle', 'cart', 'no-such-scenario']) {
      const read = ledgerFigures(record(20_000, { scenario }));
      expect(read.commitIdleMs).toBeNull();
      expect(read.requestsPerSecond).toBe(20_000);
    }
    for (const scenario of ['lifecycle', 'sold-out', 'flash-crowd']) {
      expect(ledgerFigures(record(20_000, { scenario })).commitIdleMs).toBeCloseTo(0.3, 6);
    }
  });

  it("reads the speed probe's median and the ledger's cgroup at its stop, where they were taken", () => {
    const read = ledgerFigures(
      record(20_000, {
        speedPerSecond: [12, null, 10, 30, 11],
        stop: { memoryCgroup: { mostMb: 663, oomKills: 1 } },
      }),
    );
    expect(read.speedProbeMicroseconds).toBe(11.5);
    expect(read.cgroupMostMb).toBe(663);
    expect(read.oomKills).toBe(1);
    const unlimited = ledgerFigures(record(20_000, { stop: {} }));
    expect(unlimited.cgroupMostMb).toBeNull();
    expect(unlimited.oomKills).toBeNull();
  });

  it('leaves out what a record lacks instead of making it up', () => {
    const read = ledgerFigures(record(0, { cpu: null, ledger: null, latency: null }));
    expect(read.serverMicrosecondsPerAnswer).toBeNull();
    expect(read.commitIdleMs).toBeNull();
    expect(read.p99Ms).toBeNull();
    expect(read.speedProbeMicroseconds).toBeNull();
    expect(read.cgroupMostMb).toBeNull();
    expect(() => ledgerFigures({ parameters: { durationSeconds: 15 }, runs: [] })).toThrow(
      'no run of the ledger',
    );
  });

  it('runs A first in odd pairs and B first in even ones', () => {
    expect([1, 2, 3, 4].map(pairOrder)).toEqual([
      ['A', 'B'],
      ['B', 'A'],
      ['A', 'B'],
      ['B', 'A'],
    ]);
  });

  it('gives each figure its ratios A/B, their median and where A is lower', () => {
    const summary = summarise([
      { a: figures(110, 0.2), b: figures(100, 0.4) },
      { a: figures(90, 0.3), b: figures(100, 0.3) },
      { a: figures(105, null), b: figures(100, 0.5) },
    ]);
    const rate = summary.find((entry) => entry.figure === 'requestsPerSecond');
    expect(rate?.ratios.map((ratio) => ratio?.toFixed(2))).toEqual(['1.10', '0.90', '1.05']);
    expect(rate?.medianRatio).toBeCloseTo(1.05, 6);
    expect(rate?.aLower).toBe(1);
    const idle = summary.find((entry) => entry.figure === 'commitIdleMs');
    expect(idle?.ratios).toEqual([0.5, 1, null]);
    expect(idle?.medianRatio).toBeCloseTo(0.75, 6);
    expect(idle?.comparable).toBe(2);
    expect(idle?.aLower).toBe(1);
    // A count of kills is told beside the ratios, not divided.
    expect(summary.some((entry) => (entry.figure as string) === 'oomKills')).toBe(false);
  });
});
