// The window by ten seconds (bench/lib/window-report.ts) and the speed probe
// (bench/lib/speed-probe.ts): each stretch's rate and CPU an answer of each part, the server's
// against the load generator's, the probe's units averaged per second of the window, and the
// correlation of the rate with them; and the probe's own process, run for real.
import { describe, expect, it } from 'vitest';
import type { CpuUse } from '../../../bench/lib/machine.js';
import { perSecond, startSpeedProbe } from '../../../bench/lib/speed-probe.js';
import {
  correlation,
  rateAgainstProbe,
  windowTable,
  type WindowRun,
} from '../../../bench/lib/window-report.js';

function use(ledgerCores: number, benchCores: number): CpuUse {
  return {
    seconds: 1,
    benchCores,
    ledgerCores,
    ledgerMainThreadCores: ledgerCores / 2,
    postgresCores: 0.2,
    redisCores: 0,
    machineBusyCores: ledgerCores + benchCores + 0.2,
    otherCores: 0,
    waiting: { ledger: 0, ledgerMainThread: 0, postgres: 0, bench: 0 },
    stealCores: 0,
  };
}

/** 20 s: 10,000 answers a second, then 8,000 with the same cores (each part 1.25× an answer). */
const run: WindowRun = {
  system: 'ledger',
  run: 1,
  perSecond: [...Array<number>(10).fill(10_000), ...Array<number>(10).fill(8_000)],
  cpuPerSecond: Array.from({ length: 20 }, () => use(0.8, 0.5)),
  speedPerSecond: [...Array<number>(10).fill(1_000), ...Array<number>(9).fill(1_250), null],
};

describe('the window by ten seconds', () => {
  it('gives each stretch its rate and what each part spent an answer', () => {
    const rows = windowTable([run]).split('\n');
    // 0.8 cores over 10,000 answers a second: 80 µs an answer; the generator's 50; 2 ms probe.
    expect(rows[2]).toBe('| ledger | 1 | 0–10 | 10000 | 80.0 | 40.0 | 20.0 | 50.0 | 1.60 | 1000 |');
    expect(rows[3]).toBe(
      '| ledger | 1 | 10–20 | 8000 | 100.0 | 50.0 | 25.0 | 62.5 | 1.60 | 1250 |',
    );
  });

  it('shows the server growing alone as a higher ratio to the load generator', () => {
    const alone: WindowRun = {
      ...run,
      cpuPerSecond: [
        ...Array.from({ length: 10 }, () => use(0.8, 0.5)),
        ...Array.from({ length: 10 }, () => use(0.96, 0.4)),
      ],
    };
    const rows = windowTable([alone]).split('\n');
    expect(rows[3]).toContain('| 120.0 | 60.0 | 25.0 | 50.0 | 2.40 |');
  });

  it('leaves out the answers of a second without a CPU reading (the sampler may take N - 1)', () => {
    const short: WindowRun = {
      ...run,
      perSecond: Array<number>(20).fill(10_000),
      cpuPerSecond: Array.from({ length: 19 }, () => use(0.8, 0.5)),
    };
    const rows = windowTable([short]).split('\n');
    // Nine seconds of CPU over nine seconds' answers: 80 µs, not 72 over all ten.
    expect(rows[3]).toContain('| 10000 | 80.0 | 40.0 | 20.0 | 50.0 | 1.60 |');
  });

  it('correlates the rate with the probe over the seconds that have both', () => {
    expect(rateAgainstProbe(run)).toBeCloseTo(-1, 6);
    expect(windowTable([run])).toContain("answers a second against the probe's unit, r = -1.00");
    expect(correlation([1, 2, 3], [1, 2, 3])).toBeCloseTo(1, 9);
    expect(correlation([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(correlation([1, 2], [1, 2])).toBeNull();
  });

  it('leaves the probe out where no run had one', () => {
    const { speedPerSecond: _, ...bare } = run;
    const table = windowTable([bare]);
    expect(table.split('\n')[0]).not.toContain('probe');
    expect(table).not.toContain('r =');
  });

  it('averages the probe per second of the window, outside it dropped', () => {
    const fromMs = 1_000_000;
    const units: [number, number][] = [
      [fromMs - 1, 9_999],
      [fromMs + 100, 1_000],
      [fromMs + 900, 3_000],
      [fromMs + 2_500, 1_500],
      [fromMs + 3_000, 9_999],
    ];
    expect(perSecond(units, fromMs, 3)).toEqual([2_000, null, 1_500]);
  });
});

describe('the speed probe', () => {
  it('times units of its fixed work in its own process while it runs', async () => {
    const fromMs = Date.now();
    const probe = startSpeedProbe(30);
    await probe.started;
    // A unit every 100 ms from then on: a few more.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const seconds = probe.stop(fromMs, 60);
    const timed = seconds.filter((value): value is number => value !== null);
    expect(timed.length).toBeGreaterThanOrEqual(1);
    for (const microseconds of timed) expect(microseconds).toBeGreaterThan(0);
  });
});
