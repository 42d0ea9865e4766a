// What pipeline-alone reads around its measured window: every thread of this process, the
// Postgres backends of the run's database and all of Postgres, the machine, and the shards' own
// group-commit metrics; and the figures of one run made from the two readings.
import pg from 'pg';
import type { LatencySummary } from './load-driver.js';
import { clockTicksPerSecond } from '../../src/observability/thread-cpu.js';
import {
  machineBusyTicks,
  processTicks,
  ticksByPidOfProcessesNamed,
  ticksGrown,
} from './machine.js';
import type { ClientTally } from './pipeline-clients.js';
import type { RunningCore } from './pipeline-core.js';
import { histogramWindow } from './prometheus.js';
import { threadGroupCores, threadTicks } from './thread-cpu.js';

export interface WindowReading {
  readonly atMs: number;
  readonly threads: Map<number, number>;
  readonly metrics: string;
  /** Every postgres process, by PID (other databases' backends included). */
  readonly postgresAll: Map<number, number> | undefined;
  /** The run database's backends (the shards' journal and snapshot connections). */
  readonly databasePids: readonly number[];
  readonly postgresDatabase: number;
  readonly machine: number | undefined;
  readonly shardThreads: readonly ReadonlySet<number>[];
}

async function backendPids(url: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ pid: number }>(
      'SELECT pid FROM pg_stat_activity WHERE datname = current_database() ' +
        'AND pid <> pg_backend_pid()',
    );
    return result.rows.map((row) => row.pid);
  } finally {
    await client.end();
  }
}

const ticksOf = (pids: readonly number[]): number =>
  pids.reduce((sum, pid) => sum + (processTicks(pid)?.ticks ?? 0), 0);

function reading(core: RunningCore, metrics: string, pids: readonly number[]): WindowReading {
  return {
    atMs: performance.now(),
    threads: threadTicks(),
    metrics,
    postgresAll: ticksByPidOfProcessesNamed(['postgres']),
    databasePids: pids,
    postgresDatabase: ticksOf(pids),
    machine: machineBusyTicks(),
    shardThreads: core.shardThreads,
  };
}

export async function windowBefore(core: RunningCore, url: string): Promise<WindowReading> {
  const pids = await backendPids(url);
  const metrics = await core.metrics();
  return reading(core, metrics, pids);
}

export async function windowAfter(core: RunningCore, before: WindowReading) {
  // The readings of /proc first, then the metrics round trip, which ends after them.
  const taken = reading(core, '', before.databasePids);
  return { ...taken, metrics: await core.metrics() };
}

export interface RunCores {
  readonly main: number;
  /** Each shard's threads together (its worker and what it started), in shard order. */
  readonly shards: readonly number[];
  /** The busiest thread of each shard: its worker thread, running the partition's actors. */
  readonly shardBusiest: readonly number[];
  readonly otherThreads: number;
  readonly process: number;
  readonly postgresDatabase: number;
  readonly postgresAll: number | null;
  readonly machine: number | null;
  /** Busy cores neither this process nor Postgres accounts for: other work, the kernel. */
  readonly otherWork: number | null;
}

export interface RunFigures {
  readonly setting: { clients: number; shards: number; commitsInFlight: number };
  readonly round?: number;
  readonly busyCoresBefore?: number | null;
  readonly seconds: number;
  readonly reservesPerSecond: number;
  readonly latency: LatencySummary;
  readonly refused: Record<string, number>;
  readonly commitsPerSecond: number;
  readonly recordsPerCommit: number | null;
  readonly flushMeanMs: number | null;
  /** Seconds spent writing per second (all of a shard's connections summed; may pass 1). */
  readonly journalBusy: number;
  readonly cores: RunCores;
  readonly checkOk: boolean;
  readonly okTotal: number;
  readonly reserved: number;
}

function coresOf(before: WindowReading, after: WindowReading, seconds: number): RunCores {
  const cores = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? null : (b - a) / clockTicksPerSecond / seconds;
  const groups = [
    { label: 'main', threadIds: new Set([process.pid]) },
    ...before.shardThreads.map((threadIds, shard) => ({ label: `shard ${shard}`, threadIds })),
  ];
  const threads = threadGroupCores(before.threads, after.threads, seconds, groups);
  const process_ = threads.reduce((sum, group) => sum + group.cores, 0);
  const postgresAll =
    before.postgresAll === undefined || after.postgresAll === undefined
      ? null
      : ticksGrown(before.postgresAll, after.postgresAll) / clockTicksPerSecond / seconds;
  const machine = cores(before.machine, after.machine);
  const shardGroups = threads.slice(1, -1);
  return {
    main: threads[0]?.cores ?? 0,
    shards: shardGroups.map((group) => group.cores),
    shardBusiest: shardGroups.map((group) => group.busiestCores),
    otherThreads: threads.at(-1)?.cores ?? 0,
    process: process_,
    postgresDatabase: cores(before.postgresDatabase, after.postgresDatabase) ?? 0,
    postgresAll,
    machine,
    otherWork:
      machine === null || postgresAll === null
        ? null
        : Math.max(0, machine - process_ - postgresAll),
  };
}

export function runFigures(input: {
  readonly setting: RunFigures['setting'];
  readonly before: WindowReading;
  readonly after: WindowReading;
  readonly tally: ClientTally;
  readonly latency: LatencySummary;
  readonly reserved: number;
}): RunFigures {
  const { before, after, tally } = input;
  const seconds = (after.atMs - before.atMs) / 1000;
  const batch = histogramWindow(before.metrics, after.metrics, 'ledger_journal_batch_size');
  const flush = histogramWindow(
    before.metrics,
    after.metrics,
    'ledger_journal_flush_duration_seconds',
  );
  return {
    setting: input.setting,
    seconds,
    reservesPerSecond: tally.okInWindow / seconds,
    latency: input.latency,
    refused: tally.refusedInWindow,
    commitsPerSecond: batch.count / seconds,
    recordsPerCommit: batch.mean,
    flushMeanMs: flush.mean === null ? null : flush.mean * 1000,
    journalBusy: flush.sum / seconds,
    cores: coresOf(before, after, seconds),
    checkOk: input.reserved === tally.okTotal,
    okTotal: tally.okTotal,
    reserved: input.reserved,
  };
}
