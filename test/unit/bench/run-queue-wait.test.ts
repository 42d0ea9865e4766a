// The flash-sale bench's run-queue waits: read from each thread's /proc schedstat (its second
// field), turned into "threads waiting for a core" over the window, and tabled beside the cores
// each part used.
import { describe, expect, it } from 'vitest';
import {
  cpuSnapshot,
  cpuUse,
  processWaitNs,
  runQueueWaitOfSchedstat,
  type CpuSnapshot,
  type CpuUse,
} from '../../../bench/lib/machine.js';
import { waitingTable } from '../../../bench/lib/report.js';
import type { SystemRun } from '../../../bench/lib/run-system.js';

const snapshot = (atMs: number, waits: Partial<CpuSnapshot>): CpuSnapshot => ({
  atMs,
  benchMicroseconds: 0,
  machineBusyTicks: 0,
  ledgerTicks: 0,
  ledgerMainThreadTicks: 0,
  postgresTicks: new Map(),
  redisTicks: new Map(),
  ledgerWaitNs: 0,
  ledgerMainThreadWaitNs: 0,
  postgresWaitNs: new Map(),
  benchWaitNs: 0,
  stealTicks: 0,
  ...waits,
});

describe('run-queue waits', () => {
  it("reads a schedstat line's wait, and refuses one that has none", () => {
    expect(runQueueWaitOfSchedstat('497171967 383240842 1188\n')).toBe(383240842);
    expect(runQueueWaitOfSchedstat('497171967')).toBeUndefined();
  });

  it('turns the waits of two snapshots into threads waiting over the window', () => {
    const before = snapshot(0, {
      ledgerWaitNs: 1e9,
      ledgerMainThreadWaitNs: 0,
      postgresWaitNs: new Map([
        [10, 5e8],
        [11, 0],
      ]),
      benchWaitNs: 0,
    });
    // Two seconds later: the ledger's threads waited 1.5 s together, its main thread 0.5 s;
    // backend 10 waited 1 s more, 11 ended (left out), 12 began and waited 0.2 s.
    const after = snapshot(2000, {
      ledgerWaitNs: 2.5e9,
      ledgerMainThreadWaitNs: 5e8,
      postgresWaitNs: new Map([
        [10, 1.5e9],
        [12, 2e8],
      ]),
      benchWaitNs: 4e8,
      benchMicroseconds: 0,
    });
    const use = cpuUse(before, after);
    expect(use.waiting.ledger).toBeCloseTo(0.75);
    expect(use.waiting.ledgerMainThread).toBeCloseTo(0.25);
    expect(use.waiting.postgres).toBeCloseTo(0.6);
    expect(use.waiting.bench).toBeCloseTo(0.2);
    const unknown = cpuUse(before, { ...after, benchWaitNs: undefined });
    expect(unknown.waiting.bench).toBeNull();
  });

  it("reads this process's own threads on Linux", () => {
    const own = processWaitNs('self');
    if (process.platform !== 'linux') return expect(own).toBeUndefined();
    expect(own).toBeGreaterThanOrEqual(0);
    expect(cpuSnapshot(process.pid).ledgerWaitNs).toBeGreaterThanOrEqual(0);
  });

  it('tables each part as cores used / threads waiting, and marks what is unknown', () => {
    const cpu = {
      ledgerCores: 0.9,
      ledgerMainThreadCores: 0.45,
      postgresCores: 0.2,
      benchCores: 0.5,
      waiting: { ledger: 0.61, ledgerMainThread: 0.3, postgres: 0.1, bench: null },
      stealCores: 0.02,
    } as CpuUse;
    const runs = [
      { system: 'ledger', run: 1, cpu },
      { system: 'bare-uws', run: 2, cpu: null },
    ] as unknown as SystemRun[];
    const [, , ledger, bare] = waitingTable(runs).split('\n');
    expect(ledger).toBe(
      '| ledger | 1 | 0.90 / 0.61 | 0.45 / 0.30 | 0.20 / 0.10 | 0.50 / n/a | 0.02 |',
    );
    expect(bare).toBe('| bare-uws | 2 | n/a / n/a | n/a / n/a | n/a / n/a | n/a / n/a | n/a |');
  });
});
