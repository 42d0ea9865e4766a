// The hot-SKU bench: how fast the ledger acknowledges durable reservations when every request
// hits the same stock key (one actor, one partition, one shard's group commit). It starts the
// built ledger on a scratch database, stocks one key, drives POST /v1/reserve with autocannon,
// then checks that the reserved count equals the reservations acknowledged. See bench/README.md.
import { prepareAuth } from './lib/auth.js';
import { Cleanup } from './lib/cleanup.js';
import { runComparison } from './lib/compare.js';
import { count200, verifyReservedCount } from './lib/count-check.js';
import { fileURLToPath } from 'node:url';
import { parseBenchArguments, usage, UsageError, type BenchOptions } from './lib/args.js';
import {
  ensureBuilt,
  mainScriptPath,
  staleSources,
  startLedger,
  type LedgerChild,
  type SpawnedLedger,
} from './lib/ledger-child.js';
import { adjustStock, scrapeMetrics } from './lib/ledger-api.js';
import { IdempotencyKeys, runPhase, type PhaseResult } from './lib/load.js';
import {
  backgroundBusyCores,
  cpuSnapshot,
  cpuUse,
  machineInfo,
  sampleCpuEverySecond,
  type CpuUse,
} from './lib/machine.js';
import { counterWindowByLabel, histogramWindow, sampleTotal } from './lib/prometheus.js';
import {
  buildState,
  gitState,
  hotStockKey,
  loadParameters,
  printSummary,
  redactUrl,
  stockDelta,
  writeRecord,
  type BenchRecord,
  type CheckFigures,
} from './lib/report.js';
import {
  createScratchDatabase,
  readWalCounters,
  walDelta,
  type WalCounters,
} from './lib/scratch-database.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const stockKey = hotStockKey;
/** Other work above this many busy cores, before or during the run, makes the figures suspect. */
const busyCoresWarning = 0.25;
const backgroundWindowMs = 1000;

const out = (line: string): boolean => process.stdout.write(`${line}\n`);

interface RunContext {
  readonly startedAt: string;
  readonly ledger: LedgerChild;
  readonly databaseName: string;
  readonly backgroundBusyCores: number | null;
  readonly warnings: string[];
  /** Taken when the ledger starts, since others may rebuild dist/ while the bench runs. */
  readonly build: BenchRecord['build'];
}

interface Measurement {
  readonly warmup: PhaseResult | undefined;
  readonly main: PhaseResult;
  readonly metricsBefore: string;
  readonly metricsAfter: string;
  readonly cpu: CpuUse;
  readonly cpuPerSecond: readonly CpuUse[];
  readonly wal: WalCounters | undefined;
}

async function measure(
  options: BenchOptions,
  ledger: LedgerChild,
  keys: IdempotencyKeys,
  onStarted: (stop: () => void) => void,
): Promise<Measurement> {
  const phase = (label: string, durationSeconds: number): Promise<PhaseResult> =>
    runPhase({
      ...options,
      baseUrl: ledger.baseUrl,
      stockKey,
      keys,
      durationSeconds,
      label,
      onStarted,
    });
  let warmup: PhaseResult | undefined;
  if (options.warmupSeconds > 0) {
    out(`warm-up: ${options.warmupSeconds} s (not counted)`);
    warmup = await phase('warm-up', options.warmupSeconds);
  }
  const metricsBefore = await scrapeMetrics(ledger.baseUrl);
  const walBefore = await readWalCounters(options.databaseUrl);
  const cpuBefore = cpuSnapshot(ledger.pid);
  const stopSampling = sampleCpuEverySecond(ledger.pid);
  out(`measuring: ${options.durationSeconds} s, ${options.connections} connections`);
  const main = await phase('measured', options.durationSeconds);
  const cpuPerSecond = stopSampling();
  const cpuAfter = cpuSnapshot(ledger.pid);
  const walAfter = await readWalCounters(options.databaseUrl);
  const metricsAfter = await scrapeMetrics(ledger.baseUrl);
  const wal = walBefore && walAfter ? walDelta(walBefore, walAfter) : undefined;
  const cpu = cpuUse(cpuBefore, cpuAfter);
  return { warmup, main, metricsBefore, metricsAfter, cpu, cpuPerSecond, wal };
}

function non2xxOf(statusCounts: Record<string, number>): number {
  return Object.entries(statusCounts)
    .filter(([status]) => !status.startsWith('2'))
    .reduce((sum, [, count]) => sum + count, 0);
}

function problemsOf(measurement: Measurement, check: CheckFigures, oversell: number): string[] {
  const problems: string[] = [];
  for (const [label, phase] of [
    ['warm-up', measurement.warmup],
    ['measured run', measurement.main],
  ] as const) {
    if (phase === undefined) continue;
    const non2xx = non2xxOf(phase.statusCounts);
    const { errors, timeouts } = phase.autocannon;
    if (non2xx > 0) {
      problems.push(`${label}: ${non2xx} NON-2XX ANSWERS ${JSON.stringify(phase.statusCounts)}`);
    }
    if (errors > 0) problems.push(`${label}: ${errors} CONNECTION ERRORS (${timeouts} timeouts)`);
    if (count200(phase) !== (phase.statusCounts['200'] ?? 0)) {
      problems.push(`${label}: autocannon and the bench disagree on the number of 200 answers`);
    }
  }
  if (!check.ok) problems.push(`MISMATCH: ${JSON.stringify(check)}`);
  if (Object.keys(check.replayFailures).length > 0) {
    problems.push(`replays of unanswered requests failed: ${JSON.stringify(check.replayFailures)}`);
  }
  if (oversell !== 0) problems.push(`inventory_oversell_incidents_total is ${oversell}`);
  return problems;
}

function busyWarnings(context: RunContext, cpu: CpuUse): string[] {
  const warnings: string[] = [];
  if ((context.backgroundBusyCores ?? 0) > busyCoresWarning) {
    const busy = context.backgroundBusyCores?.toFixed(2) ?? '';
    warnings.push(`the machine was busy before the run (${busy} cores): figures are suspect`);
  }
  if ((cpu.otherCores ?? 0) > busyCoresWarning) {
    const other = cpu.otherCores?.toFixed(2) ?? '';
    warnings.push(`${other} cores went to other work during the run: figures are suspect`);
  }
  return warnings;
}

/** The child's environment as recorded: no PATH (noise), no password. */
function recordedEnvironment(env: Readonly<Record<string, string>>): Record<string, string> {
  const { PATH: _path, DATABASE_URL: databaseUrl, LEDGER_JWT_SECRET: secret, ...rest } = env;
  const redacted: Record<string, string> =
    secret === undefined ? {} : { LEDGER_JWT_SECRET: '(redacted)' };
  return {
    ...rest,
    ...redacted,
    DATABASE_URL: databaseUrl === undefined ? '' : redactUrl(databaseUrl),
  };
}

function buildRecord(
  options: BenchOptions,
  context: RunContext,
  measurement: Measurement,
  check: CheckFigures,
): BenchRecord {
  const { main, metricsBefore, metricsAfter, wal } = measurement;
  const batch = histogramWindow(metricsBefore, metricsAfter, 'ledger_journal_batch_size');
  const flush = histogramWindow(
    metricsBefore,
    metricsAfter,
    'ledger_journal_flush_duration_seconds',
  );
  const oversell = sampleTotal(metricsAfter, 'inventory_oversell_incidents_total');
  const latency = main.autocannon.latency;
  return {
    bench: 'hot-sku',
    startedAt: context.startedAt,
    finishedAt: new Date().toISOString(),
    git: gitState(root),
    build: context.build,
    machine: machineInfo(),
    parameters: {
      ...loadParameters(options),
      database: context.databaseName,
      ledgerEnvironment: recordedEnvironment(context.ledger.env),
      ledgerNodeFlags: context.ledger.execArgv,
    },
    load: {
      requestsPerSecondMean: main.autocannon.requests.average,
      requestsPerSecondStddev: main.autocannon.requests.stddev,
      answered: main.latency.count,
      wallSeconds: main.wallSeconds,
      answersPerSecond: main.perSecond,
      latency: main.latency,
      autocannonLatencyMs: {
        p50: latency.p50,
        p90: latency.p90,
        p99: latency.p99,
        max: latency.max,
      },
      statusCounts: main.statusCounts,
      non2xx: non2xxOf(main.statusCounts),
      errors: main.autocannon.errors,
      timeouts: main.autocannon.timeouts,
    },
    warmup: {
      statusCounts: measurement.warmup?.statusCounts ?? {},
      errors: measurement.warmup?.autocannon.errors ?? 0,
    },
    ledger: {
      batchSizeMean: batch.mean,
      groupCommits: batch.count,
      recordsJournaled: batch.sum,
      flushMeanMs: flush.mean === null ? null : flush.mean * 1000,
      journalBusyFraction: flush.sum / measurement.cpu.seconds,
      reservationResults: counterWindowByLabel(
        metricsBefore,
        metricsAfter,
        'inventory_reservation_attempts_total',
        'result',
      ),
      oversellIncidents: oversell,
    },
    postgresWal: wal ? { ...wal, syncsPerSecond: wal.syncs / measurement.cpu.seconds } : null,
    cpu: measurement.cpu,
    cpuPerSecond: measurement.cpuPerSecond,
    backgroundBusyCores: context.backgroundBusyCores,
    check,
    problems: problemsOf(measurement, check, oversell),
    warnings: [...context.warnings, ...busyWarnings(context, measurement.cpu)],
  };
}

async function run(options: BenchOptions, cleanup: Cleanup, onStarted: (stop: () => void) => void) {
  const startedAt = new Date().toISOString();
  ensureBuilt(root);
  const warnings: string[] = [];
  const stale = staleSources(root);
  if (stale.length > 0) {
    warnings.push(
      `${stale.length} file(s) in src/ are newer than ${mainScriptPath(root)} ` +
        `(${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ', ...' : ''}); ` +
        'this measured the last build: run `npm run build` to measure what is checked out',
    );
  }
  const background = await backgroundBusyCores(backgroundWindowMs);
  const build = buildState(root);
  const database = await createScratchDatabase(options.databaseUrl);
  cleanup.push(`drop database ${database.name}`, () => database.drop());
  out(`database ${database.name} created; starting the ledger (SHARDS=${options.shards})`);
  const onSpawned = (child: SpawnedLedger): void =>
    cleanup.push(`stop the ledger (pid ${child.pid})`, async () => {
      const exit = await child.stop();
      if (exit.killed || exit.code !== 0) {
        process.stderr.write(`the ledger did not stop cleanly: ${JSON.stringify(exit)}\n`);
        process.stderr.write(`${child.outputTail()}\n`);
      }
    });
  const ledger = await startLedger({ ...options, root, databaseUrl: database.url, onSpawned });
  out(`ledger ready at ${ledger.baseUrl} (pid ${ledger.pid})`);
  await adjustStock(ledger.baseUrl, stockKey, stockDelta);
  const keys = new IdempotencyKeys();
  const measurement = await measure(options, ledger, keys, onStarted);
  const check = await verifyReservedCount(ledger.baseUrl, stockKey, stockDelta, keys, [
    measurement.warmup,
    measurement.main,
  ]);
  const context: RunContext = {
    startedAt,
    ledger,
    databaseName: database.name,
    backgroundBusyCores: background,
    warnings,
    build,
  };
  const record = buildRecord(options, context, measurement, check);
  printSummary(record);
  out(`\nresults written to ${writeRecord(root, record)}`);
  return record.problems.length === 0;
}

async function main(): Promise<void> {
  let options: BenchOptions | undefined;
  try {
    options = parseBenchArguments(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${usage}`);
    process.exit(2);
  }
  if (options === undefined) {
    out(usage);
    return;
  }
  const cleanup = new Cleanup();
  let stopLoad: (() => void) | undefined;
  const interrupted = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: stopping the load, the ledger, and dropping the database\n`);
    stopLoad?.();
    void cleanup.run().then(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await prepareAuth(options.ledgerEnvironment);
    const onStarted = (stop: () => void): void => void (stopLoad = stop);
    const ok = options.compare
      ? await runComparison(options, root, cleanup, onStarted)
      : await run(options, cleanup, onStarted);
    if (!ok) process.exitCode = 1;
  } finally {
    await cleanup.run();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `hot-sku bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
