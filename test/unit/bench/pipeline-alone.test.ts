// The per-thread CPU, the per-unit arithmetic of pipeline-alone and the flash-sale bench's CPU per
// answer feed the README's projection to bigger machines: checked on fixed readings, no timing.
import { describe, expect, it } from 'vitest';
import type { CpuUse } from '../../../bench/lib/machine.js';
import { processPeakRssBytes, ticksGrown } from '../../../bench/lib/machine.js';
import { cpuPerAnswerTable } from '../../../bench/lib/report.js';
import type { SystemRun } from '../../../bench/lib/run-system.js';
import { medianAndRange, microsecondsPer } from '../../../bench/lib/pipeline-report.js';
import { threadGroupCores } from '../../../bench/lib/thread-cpu.js';
import { ticksOfStatLine } from '../../../src/observability/thread-cpu.js';

// A real /proc/<pid>/task/<tid>/stat line, its comm holding a space and a parenthesis.
const statLine =
  '4242 (node (x) y) S 4200 4242 4200 0 -1 4194368 5000 0 0 0 ' +
  '731 269 0 0 20 0 11 0 1234 987654321 12345 18446744073709551615';

describe('the per-thread CPU reader', () => {
  it('reads utime + stime after the last parenthesis of a stat line', () => {
    expect(ticksOfStatLine(statLine)).toBe(731 + 269);
  });

  it('gives no figure for a line without a command', () => {
    expect(ticksOfStatLine('garbage')).toBeUndefined();
  });

  it('sums each labelled group and puts unlabelled threads in the last group', () => {
    const before = new Map([
      [1, 100],
      [2, 50],
      [3, 10],
      [4, 0],
    ]);
    const after = new Map([
      [1, 300],
      [2, 150],
      [3, 60],
      [4, 50],
      [5, 50],
    ]);
    const groups = [
      { label: 'main', threadIds: new Set([1]) },
      { label: 'shard 0', threadIds: new Set([2, 3]) },
    ];
    // 100 ticks a second; over 2 s, 200 ticks are one core.
    expect(threadGroupCores(before, after, 2, groups)).toEqual([
      { label: 'main', threads: 1, cores: 1, busiestCores: 1 },
      { label: 'shard 0', threads: 2, cores: 0.75, busiestCores: 0.5 },
      { label: 'other threads', threads: 2, cores: 0.5, busiestCores: 0.25 },
    ]);
  });
});

describe('the CPU of a set of processes that comes and goes', () => {
  it('counts each process by its own growth, a new one whole, and leaves out one that ended', () => {
    const before = new Map([
      [10, 500],
      [11, 900],
    ]);
    const after = new Map([
      [10, 650],
      [12, 30],
    ]);
    expect(ticksGrown(before, after)).toBe(150 + 30);
  });
});

describe('the per-unit costs', () => {
  it('turns cores at a rate into µs of a core per unit', () => {
    expect(microsecondsPer(0.5, 10_000)).toBe(50);
    expect(microsecondsPer(null, 10_000)).toBeNull();
    expect(microsecondsPer(0.5, 0)).toBeNull();
  });

  it('shows the median and the range of the runs that have the figure', () => {
    expect(medianAndRange([12_000, 9_000, 15_500])).toBe('12000 [9000–15500]');
    expect(medianAndRange([1.234, null, 2.5])).toBe('1.87 [1.23–2.50]');
    expect(medianAndRange([null])).toBe('-');
    expect(medianAndRange([42.25])).toBe('42.3');
  });
});

describe("the flash-sale bench's CPU per answer", () => {
  it("reads a process's peak resident memory from /proc", () => {
    const peak = processPeakRssBytes(process.pid);
    expect(peak).toBeGreaterThanOrEqual(process.memoryUsage().rss / 2);
    expect(processPeakRssBytes(2 ** 22 + 1)).toBeUndefined();
  });

  it('divides the cores of each part by the answers per second, marks a missing reading', () => {
    const wal = { bytes: 36_000_000, bytesPerAnswer: 720, newFiles: 2 };
    const cpu = {
      ledgerCores: 0.5,
      ledgerMainThreadCores: 0.25,
      postgresCores: 0.1,
      redisCores: 0,
      benchCores: 0.4,
      otherCores: 1.2,
    } as CpuUse;
    const runs = [
      { system: 'ledger', run: 1, requestsPerSecond: 5000, cpu, wal, serverPeakRssMb: 412.4 },
      { system: 'bare-uws', run: 1, requestsPerSecond: 20000, cpu: null, wal: null },
    ] as unknown as SystemRun[];
    const [, , ledger, bare] = cpuPerAnswerTable(runs).split('\n');
    expect(ledger).toBe(
      '| ledger | 1 | 5000 | 100.0 | 50.0 | 20.0 | 0.0 | 80.0 | 1.20 | 720 | 2 | 412 |',
    );
    // A results file from before the peak was read has none: n/a.
    expect(bare).toBe('| bare-uws | 1 | 20000 | - | - | - | - | - | n/a | n/a | n/a | n/a |');
  });
});
