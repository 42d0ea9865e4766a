// `npm run bench -- --compare`: the same hot-SKU load (connections, warm-up, duration) against
// the ledger and the three baselines in bench/baselines/, one after another, each started as a
// child on a free port and stopped by its PID (its scratch database dropped) before the next.
// Prints a markdown table with the ratios issue 4 states its targets in, and writes
// bench/results/compare-<timestamp>.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions } from './args.js';
import { Cleanup } from './cleanup.js';
import { count200, verifyReservedCount } from './count-check.js';
import {
  mainScriptPath,
  staleSources,
  startLedger,
  startServerChild,
  type LedgerChild,
  type SpawnedLedger,
} from './ledger-child.js';
import { adjustStock } from './ledger-api.js';
import { IdempotencyKeys, runPhase, type PhaseResult } from './load.js';
import { backgroundBusyCores, cpuSnapshot, cpuUse, machineInfo, type CpuUse } from './machine.js';
import { redisForBench } from './redis-server.js';
import {
  buildState,
  gitState,
  hotStockKey,
  loadParameters,
  stockDelta,
  type CheckFigures,
} from './report.js';
import { createScratchDatabase } from './scratch-database.js';

const stockKey = hotStockKey;
const backgroundWindowMs = 1000;
/** A pause between systems, so that one's shutdown (fsyncs, GC) does not land in the next. */
const pauseBetweenSystemsMs = 2000;

type SystemName = 'ledger' | 'postgres-row-lock' | 'redis-lua' | 'bare-uws';

interface SystemSpec {
  readonly name: SystemName;
  readonly durable: boolean;
  /** Whether the reserved-count check applies (bare-uws keeps no stock). */
  readonly checked: boolean;
  readonly start: (context: StartContext) => Promise<LedgerChild>;
}

interface StartContext {
  readonly options: BenchOptions;
  readonly root: string;
  readonly cleanup: Cleanup;
  readonly onSpawned: (child: SpawnedLedger) => void;
}

export interface SystemResult {
  readonly name: SystemName;
  readonly durable: boolean;
  readonly requestsPerSecondMean: number | null;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p99Ms: number | null;
  readonly maxMs: number | null;
  readonly answered: number;
  readonly answersPerSecond: readonly number[];
  readonly statusCounts: Record<string, number>;
  readonly non2xx: number;
  readonly errors: number;
  /**
   * CPU over the measured window; `ledgerCores` is the server under test (all its threads),
   * whichever system it is. Redis's own CPU is in `otherCores`.
   */
  readonly cpu: CpuUse | null;
  /** null where the check does not apply (bare-uws). */
  readonly check: CheckFigures | null;
  readonly problems: string[];
}

interface Ratio {
  readonly name: string;
  readonly value: number | null;
  readonly target: number;
  readonly met: boolean;
}

const out = (line: string): boolean => process.stdout.write(`${line}\n`);

function baselineStarter(script: string, extraEnv: (context: StartContext) => Promise<object>) {
  return async (context: StartContext): Promise<LedgerChild> => {
    const env = {
      PATH: process.env.PATH ?? '',
      HOST: '127.0.0.1',
      PORT: '0',
      ...(await extraEnv(context)),
    } as Record<string, string>;
    return startServerChild({
      name: script,
      root: context.root,
      args: ['--import', 'tsx', join('bench', 'baselines', `${script}.ts`)],
      env,
      execArgv: [],
      onSpawned: context.onSpawned,
    });
  };
}

async function scratchDatabaseUrl(context: StartContext): Promise<string> {
  const database = await createScratchDatabase(context.options.databaseUrl);
  context.cleanup.push(`drop database ${database.name}`, () => database.drop());
  out(`  database ${database.name} created`);
  return database.url;
}

const systems: readonly SystemSpec[] = [
  {
    name: 'ledger',
    durable: true,
    checked: true,
    start: async (context) =>
      startLedger({
        ...context.options,
        root: context.root,
        databaseUrl: await scratchDatabaseUrl(context),
        onSpawned: context.onSpawned,
      }),
  },
  {
    name: 'postgres-row-lock',
    durable: true,
    checked: true,
    start: baselineStarter('postgres-row-lock', async (context) => ({
      DATABASE_URL: await scratchDatabaseUrl(context),
    })),
  },
  {
    name: 'redis-lua',
    durable: false,
    checked: true,
    start: baselineStarter('redis-lua', async (context) => {
      const redis = await redisForBench();
      context.cleanup.push('stop redis-server', () => redis.stop());
      out(`  redis at ${redis.url}${redis.started ? ` (started, pid ${redis.pid})` : ''}`);
      return { REDIS_URL: redis.url, REDIS_PREFIX: `bench-${Date.now().toString(36)}` };
    }),
  },
  {
    name: 'bare-uws',
    durable: false,
    checked: false,
    start: baselineStarter('bare-uws', () => Promise.resolve({})),
  },
];

function non2xxOf(statusCounts: Record<string, number>): number {
  return Object.entries(statusCounts)
    .filter(([status]) => !status.startsWith('2'))
    .reduce((sum, [, count]) => sum + count, 0);
}

function phaseProblems(label: string, phase: PhaseResult | undefined): string[] {
  if (phase === undefined) return [];
  const problems: string[] = [];
  const non2xx = non2xxOf(phase.statusCounts);
  if (non2xx > 0)
    problems.push(`${label}: ${non2xx} non-2xx ${JSON.stringify(phase.statusCounts)}`);
  if (phase.autocannon.errors > 0) {
    problems.push(`${label}: ${phase.autocannon.errors} connection errors`);
  }
  if (count200(phase) !== (phase.statusCounts['200'] ?? 0)) {
    problems.push(`${label}: autocannon and the bench disagree on the number of 200 answers`);
  }
  return problems;
}

async function measureSystem(
  spec: SystemSpec,
  context: StartContext,
  onStarted: (stop: () => void) => void,
): Promise<SystemResult> {
  const server = await spec.start(context);
  out(`  ${spec.name} ready at ${server.baseUrl} (pid ${server.pid})`);
  await adjustStock(server.baseUrl, stockKey, stockDelta);
  const keys = new IdempotencyKeys();
  const { connections } = context.options;
  const phase = (label: string, durationSeconds: number): Promise<PhaseResult> =>
    runPhase({
      baseUrl: server.baseUrl,
      stockKey,
      keys,
      connections,
      durationSeconds,
      label,
      onStarted,
    });
  const warmup =
    context.options.warmupSeconds > 0
      ? await phase(`${spec.name} warm-up`, context.options.warmupSeconds)
      : undefined;
  const cpuBefore = cpuSnapshot(server.pid);
  const main = await phase(spec.name, context.options.durationSeconds);
  const cpu = cpuUse(cpuBefore, cpuSnapshot(server.pid));
  const check = spec.checked
    ? await verifyReservedCount(server.baseUrl, stockKey, stockDelta, keys, [warmup, main])
    : null;
  const problems = [...phaseProblems('warm-up', warmup), ...phaseProblems('measured', main)];
  if (check !== null && !check.ok) problems.push(`count MISMATCH: ${JSON.stringify(check)}`);
  return {
    name: spec.name,
    durable: spec.durable,
    requestsPerSecondMean: main.autocannon.requests.average,
    p50Ms: main.latency.p50Ms,
    p90Ms: main.latency.p90Ms,
    p99Ms: main.latency.p99Ms,
    maxMs: main.latency.maxMs,
    answered: main.latency.count,
    answersPerSecond: main.perSecond,
    statusCounts: main.statusCounts,
    non2xx: non2xxOf(main.statusCounts),
    errors: main.autocannon.errors,
    cpu,
    check,
    problems,
  };
}

function failedResult(spec: SystemSpec, error: unknown): SystemResult {
  const message = error instanceof Error ? error.message : String(error);
  return {
    name: spec.name,
    durable: spec.durable,
    requestsPerSecondMean: null,
    p50Ms: null,
    p90Ms: null,
    p99Ms: null,
    maxMs: null,
    answered: 0,
    answersPerSecond: [],
    statusCounts: {},
    non2xx: 0,
    errors: 0,
    cpu: null,
    check: null,
    problems: [`${spec.name} failed: ${message}`],
  };
}

/** The targets of issue 4, as ledger req/s over the baseline's. */
const ratioTargets: readonly { readonly baseline: SystemName; readonly target: number }[] = [
  { baseline: 'bare-uws', target: 0.4 },
  { baseline: 'redis-lua', target: 1.5 },
  { baseline: 'postgres-row-lock', target: 15 },
];

function ratiosOf(results: readonly SystemResult[]): Ratio[] {
  const rate = (name: SystemName): number | null =>
    results.find((result) => result.name === name)?.requestsPerSecondMean ?? null;
  const ledger = rate('ledger');
  return ratioTargets.map(({ baseline, target }) => {
    const other = rate(baseline);
    const value = ledger === null || other === null || other === 0 ? null : ledger / other;
    return { name: `ledger / ${baseline}`, value, target, met: value !== null && value >= target };
  });
}

const fixed = (value: number | null, digits: number): string =>
  value === null ? 'n/a' : value.toFixed(digits);

function checkCell(result: SystemResult): string {
  if (result.requestsPerSecondMean === null) return 'FAILED';
  if (result.check === null) return 'n/a (no stock)';
  return result.check.ok ? 'OK' : 'MISMATCH';
}

export function comparisonTable(results: readonly SystemResult[]): string {
  const lines = [
    '| system | durable | req/s (mean) | p50 ms | p99 ms | non-2xx | errors | server cores ' +
      '| postgres cores | other load (cores) | check |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const result of results) {
    const cells = [
      result.name,
      result.durable ? 'yes' : '**no (not durable)**',
      fixed(result.requestsPerSecondMean, 0),
      fixed(result.p50Ms, 2),
      fixed(result.p99Ms, 2),
      String(result.non2xx),
      String(result.errors),
      fixed(result.cpu?.ledgerCores ?? null, 2),
      fixed(result.cpu?.postgresCores ?? null, 2),
      fixed(result.cpu?.otherCores ?? null, 2),
      checkCell(result),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

export function ratioTable(ratios: readonly Ratio[]): string {
  const lines = ['| ratio (req/s) | measured | target | met |', '| --- | ---: | ---: | --- |'];
  for (const ratio of ratios) {
    const met = ratio.value === null ? 'n/a' : ratio.met ? 'yes' : 'NO';
    lines.push(`| ${ratio.name} | ${fixed(ratio.value, 2)} | ≥ ${ratio.target} | ${met} |`);
  }
  return lines.join('\n');
}

function writeComparison(root: string, startedAt: string, record: object): string {
  const directory = join(root, 'bench', 'results');
  mkdirSync(directory, { recursive: true });
  const path = join(directory, `compare-${startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
  return path;
}

async function runSystem(
  spec: SystemSpec,
  options: BenchOptions,
  root: string,
  outer: Cleanup,
  onStarted: (stop: () => void) => void,
): Promise<SystemResult> {
  const cleanup = new Cleanup();
  // An interrupt while this system runs stops it through the outer cleanup.
  outer.push(`stop ${spec.name}`, () => cleanup.run());
  const onSpawned = (child: SpawnedLedger): void =>
    cleanup.push(`stop ${spec.name} (pid ${child.pid})`, async () => {
      const exit = await child.stop();
      if (exit.killed || exit.code !== 0) {
        process.stderr.write(`${spec.name} did not stop cleanly: ${JSON.stringify(exit)}\n`);
        process.stderr.write(`${child.outputTail()}\n`);
      }
    });
  out(`\n== ${spec.name}${spec.durable ? '' : ' (NOT DURABLE)'}`);
  try {
    return await measureSystem(spec, { options, root, cleanup, onSpawned }, onStarted);
  } catch (error) {
    return failedResult(spec, error);
  } finally {
    await cleanup.run();
  }
}

/** Runs every system in turn; true when every run passed its checks. */
export async function runComparison(
  options: BenchOptions,
  root: string,
  outer: Cleanup,
  onStarted: (stop: () => void) => void,
): Promise<boolean> {
  const startedAt = new Date().toISOString();
  const background = await backgroundBusyCores(backgroundWindowMs);
  const build = buildState(root);
  const results: SystemResult[] = [];
  for (const spec of systems) {
    if (results.length > 0)
      await new Promise((resolve) => setTimeout(resolve, pauseBetweenSystemsMs));
    results.push(await runSystem(spec, options, root, outer, onStarted));
  }
  const ratios = ratiosOf(results);
  const problems = results.flatMap((result) => result.problems);
  const stale = staleSources(root);
  const warnings =
    stale.length === 0
      ? []
      : [
          `${stale.length} file(s) in src/ are newer than ${mainScriptPath(root)}: an older build ran`,
        ];
  const record = {
    bench: 'hot-sku-compare',
    startedAt,
    finishedAt: new Date().toISOString(),
    git: gitState(root),
    build,
    machine: machineInfo(),
    parameters: loadParameters(options),
    backgroundBusyCores: background,
    systems: results,
    ratios,
    problems,
    warnings,
  };
  out(`\nbusy cores just before the run: ${fixed(background, 2)}`);
  out('');
  out(comparisonTable(results));
  out('');
  out(ratioTable(ratios));
  out('\nredis-lua is NOT DURABLE (Redis without persistence); bare-uws does no work at all.');
  out(`\nresults written to ${writeComparison(root, startedAt, record)}`);
  for (const warning of warnings) process.stderr.write(`\nwarning: ${warning}\n`);
  for (const problem of problems) process.stderr.write(`\n!!!!!!!!!! ${problem} !!!!!!!!!!\n`);
  return problems.length === 0;
}
