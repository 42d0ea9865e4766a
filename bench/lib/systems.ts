// The systems the bench can drive, all behind the same HTTP contract: the ledger and
// the baselines in bench/baselines/. Each is a child process on a free port, started for
// one load and stopped by its PID afterwards (its scratch database dropped).
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchOptions } from './args.js';
import type { JournalMode } from './floor-commit.js';
import type { Cleanup } from './cleanup.js';
import {
  startLedger,
  startServerChild,
  type LedgerChild,
  type SpawnedLedger,
} from './ledger-child.js';
import { makeMemoryCgroup } from './memory-cgroup.js';
import { redisForBench } from './redis-server.js';
import { createScratchDatabase } from './scratch-database.js';
import type { DurableFloorName, SystemName } from './system-names.js';

/** What the run's cleanup learns as it stops the system (read into the run's record after). */
export interface StopNotes {
  /** False if the system's process did not exit 0 when asked to stop (killed, say). */
  cleanly?: boolean;
  /** --ledger-memory-mb: the ledger's cgroup, read as it is removed. */
  memoryCgroup?: {
    readonly limitMb: number;
    readonly oomKills: number | null;
    readonly mostMb: number | null;
  };
}

export interface StartContext {
  readonly options: BenchOptions;
  readonly root: string;
  readonly cleanup: Cleanup;
  /** Filled in by the cleanup's steps (StopNotes). */
  readonly stopNotes: StopNotes;
  readonly onSpawned: (child: SpawnedLedger) => void;
  readonly log: (line: string) => void;
  /** Every line the ledger prints (the baselines' are not read). */
  readonly onLine?: (line: string) => void;
  /**
   * --perf-dir: the node flags that write the JIT dump, and the working directory it goes to;
   * the system's node process, the ledger or a baseline, runs with both.
   */
  readonly recording?: { readonly nodeFlags: readonly string[]; readonly workingDirectory: string };
}

export interface SystemSpec {
  readonly name: SystemName;
  readonly durable: boolean;
  /** Whether it serves the ledger's /metrics (journal batch sizes and flush times). */
  readonly ledgerMetrics: boolean;
  readonly start: (context: StartContext) => Promise<LedgerChild>;
}

function baselineStarter(script: string, extraEnv: (context: StartContext) => Promise<object>) {
  return async (context: StartContext): Promise<LedgerChild> => {
    const env = {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      ...(await extraEnv(context)),
    } as Record<string, string>;
    // By absolute paths: under --perf-dir the baseline runs in the recording's directory.
    const tsx = pathToFileURL(join(context.root, 'node_modules', 'tsx', 'dist', 'loader.mjs'));
    const execArgv = [...(context.recording?.nodeFlags ?? []), '--import', tsx.href];
    return startServerChild({
      name: script,
      root: context.root,
      args: [...execArgv, join(context.root, 'bench', 'baselines', `${script}.ts`)],
      env,
      execArgv,
      onSpawned: context.onSpawned,
      workingDirectory: context.recording?.workingDirectory,
    });
  };
}

async function scratchDatabaseUrl(context: StartContext): Promise<string> {
  const database = await createScratchDatabase(context.options.databaseUrl);
  context.cleanup.push(`drop database ${database.name}`, () => database.drop());
  context.log(`  database ${database.name} created`);
  return database.url;
}

/** BARE_UWS_COMMIT_JOURNAL of the floors that commit with the ledger's journal statement. */
const journalModes: Partial<Record<DurableFloorName, JournalMode>> = {
  'bare-uws-commit-wal': 'wal',
  'bare-uws-commit-journal': 'history',
};

/**
 * bench/baselines/bare-uws-commit.ts, its commit on its HTTP thread or (`-hop`) behind a hop, or
 * behind the hop with the ledger's journal statement: the WAL rows alone (`-wal`), or each a
 * movement in the history as well (`-journal`).
 */
function durableFloor(name: DurableFloorName): SystemSpec {
  return {
    name,
    durable: true,
    ledgerMetrics: false,
    start: baselineStarter('bare-uws-commit', async (context) => ({
      DATABASE_URL: await scratchDatabaseUrl(context),
      BARE_UWS_COMMIT_HOP: name === 'bare-uws-commit' ? '0' : '1',
      BARE_UWS_COMMIT_JOURNAL: journalModes[name] ?? '',
    })),
  };
}

/**
 * --ledger-memory-mb: a memory cgroup of that limit for the ledger, removed (its OOM kills said)
 * when the run's cleanup comes, the ledger stopped by then; undefined without the flag.
 */
function ledgerMemoryLauncher(context: StartContext): readonly string[] | undefined {
  const limitMb = context.options.ledgerMemoryMb;
  if (limitMb === undefined) return undefined;
  const cgroup = makeMemoryCgroup(limitMb * 2 ** 20);
  if (cgroup === undefined) {
    throw new Error('--ledger-memory-mb needs root and a cgroup memory controller to limit');
  }
  context.cleanup.push(`remove the ledger's memory cgroup ${cgroup.dir}`, async () => {
    const peak = cgroup.peakBytes();
    const oomKills = cgroup.oomKills() ?? null;
    const mostMb = peak === undefined ? null : Math.round(peak / 2 ** 20);
    context.stopNotes.memoryCgroup = { limitMb, oomKills, mostMb };
    context.log(
      `the ledger's memory cgroup (${limitMb} MB): ${oomKills ?? 'unknown'} OOM kills, ` +
        `at most ${mostMb ?? 'unknown'} MB used ` +
        '(its start, the run and its stop, page cache included)',
    );
    cgroup.remove();
  });
  return cgroup.launcher;
}

export const systems: Readonly<Record<SystemName, SystemSpec>> = {
  ledger: {
    name: 'ledger',
    durable: true,
    ledgerMetrics: true,
    start: async (context) =>
      startLedger({
        ...context.options,
        nodeFlags: [...context.options.nodeFlags, ...(context.recording?.nodeFlags ?? [])],
        root: context.root,
        databaseUrl: await scratchDatabaseUrl(context),
        onSpawned: context.onSpawned,
        onLine: context.onLine,
        workingDirectory: context.recording?.workingDirectory,
        launcher: ledgerMemoryLauncher(context),
      }),
  },
  'postgres-row-lock': {
    name: 'postgres-row-lock',
    durable: true,
    ledgerMetrics: false,
    start: baselineStarter('postgres-row-lock', async (context) => ({
      DATABASE_URL: await scratchDatabaseUrl(context),
    })),
  },
  'redis-lua': {
    name: 'redis-lua',
    durable: false,
    ledgerMetrics: false,
    start: baselineStarter('redis-lua', async (context) => {
      const redis = await redisForBench();
      context.cleanup.push('stop redis-server', () => redis.stop());
      context.log(`  redis at ${redis.url}${redis.started ? ` (started, pid ${redis.pid})` : ''}`);
      return { REDIS_URL: redis.url, REDIS_PREFIX: `bench-${Date.now().toString(36)}` };
    }),
  },
  'bare-uws': {
    name: 'bare-uws',
    durable: false,
    ledgerMetrics: false,
    start: baselineStarter('bare-uws', (context) =>
      Promise.resolve({ BARE_UWS_THREADS: String(context.options.bareUwsThreads) }),
    ),
  },
  'bare-uws-commit': durableFloor('bare-uws-commit'),
  // The same floor with its commit on a thread of its own, behind the ledger's kind of hop.
  'bare-uws-commit-hop': durableFloor('bare-uws-commit-hop'),
  'bare-uws-commit-wal': durableFloor('bare-uws-commit-wal'),
  'bare-uws-commit-journal': durableFloor('bare-uws-commit-journal'),
};
