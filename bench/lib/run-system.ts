// One measurement: one scenario against one system. Starts the system, stocks the scenario's
// keys, runs the load (warm-up, then the measured window, with CPU and, for the ledger, its
// /metrics taken around the window), checks the end state, and stops the system.
import { authorizationHeader } from './auth.js';
import type { BenchOptions } from './args.js';
import { Cleanup } from './cleanup.js';
import {
  GcTrace,
  gcLogFile,
  gcTraceFlag,
  isV8TraceLine,
  type GcThreadSummary,
} from './gc-trace.js';
import type { SpawnedLedger } from './ledger-child.js';
import { scrapeMetrics } from './ledger-api.js';
import { correctedHistogram } from './coordinated-omission.js';
import { summarize, type LatencySummary, type LoadResult, type LoadSource } from './load-driver.js';
import type { Operation } from './load-worker.js';
import {
  cpuSnapshot,
  cpuUse,
  processPeakRssBytes,
  sampleCpuEverySecond,
  type CpuUse,
} from './machine.js';
import {
  bucketQuantileWindow,
  counterWindowByLabel,
  histogramWindow,
  sampleTotal,
} from './prometheus.js';
import type { Scenario } from './scenarios.js';
import { checkState, stockScenario, type StateCheck } from './state-check.js';
import type { StopNotes, SystemSpec } from './systems.js';
import { keepsStock } from './system-names.js';
import { samplePostgresWork, sampleRelationGrowth } from './postgres-timeline.js';
import { readWalCounters, walDelta, type WalCounters } from './scratch-database.js';
import { walComposition, type WalComposition } from './wal-composition.js';
import { prepareWalFiles } from './wal-files.js';
import { databaseBackends, reniceBackends, reniceThreads } from './priorities.js';
import { makeJournalUnlogged } from './unlogged-journal.js';
import { startSpeedProbe } from './speed-probe.js';
import {
  checkPerf,
  nameJitCode,
  perfNodeFlags,
  perfWorkingDirectory,
  postgresRecording,
  rawRecording,
  recordPerf,
  type PerfRecording,
} from './perf-record.js';
import { timelineDirectory, timelineReport, type TimelineReport } from './timeline-report.js';

/** Latency percentiles kept for the plot (HdrHistogram's usual "1 in N" ladder). */
export const plotPercentiles = [
  0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100,
] as const;

export interface LedgerFigures {
  readonly groupCommits: number;
  readonly batchSizeMean: number | null;
  readonly flushMeanMs: number | null;
  /** Share of the window the journal spent writing, summed over shards. */
  readonly journalBusyFraction: number;
  readonly reservationResults: Record<string, number>;
  readonly oversellIncidents: number;
  /**
   * Admitted reserves (result ok), as the ledger timed them (request read to answer written): the
   * upper bound of the /metrics bucket holding their p50 and p99, in seconds. Apart from the
   * load generator's and the kernel's queues, which a crowd on a shared machine fills too.
   */
  readonly admittedServerP50Seconds: number | null;
  readonly admittedServerP99Seconds: number | null;
}

export interface SystemRun {
  readonly system: SystemSpec['name'];
  readonly durable: boolean;
  readonly scenario: Scenario['name'];
  readonly run: number;
  readonly requestsPerSecond: number | null;
  readonly latency: LatencySummary | null;
  /**
   * The same answers' latency corrected for coordinated omission, as wrk prints it
   * (bench/lib/coordinated-omission.ts): comparable with a plain wrk run's figures.
   */
  readonly latencyCorrected: LatencySummary | null;
  readonly latencyByOperation: Partial<Record<Operation, LatencySummary>>;
  /** By operation and status: "reserve 200" is the admitted reserves. */
  readonly latencyByStatus: Record<string, LatencySummary>;
  readonly percentilesMs: readonly { readonly percentile: number; readonly ms: number }[];
  readonly statusCounts: Record<string, number>;
  readonly warmupStatusCounts: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly perSecond: readonly number[];
  /** 503 overloaded answers by their retry-after seconds ("1": 20000), whole run. */
  readonly retryAfterCounts: Record<string, number>;
  readonly loadThreads: number;
  /** CPU over the measured window; `ledgerCores` is the server under test, whichever it is. */
  readonly cpu: CpuUse | null;
  /**
   * Postgres's WAL over the measured window, for a system that writes to it (the whole cluster's:
   * nothing else should write meanwhile); null for the others or where it cannot be read.
   */
  readonly wal: {
    readonly bytes: number;
    readonly bytesPerAnswer: number | null;
    readonly newFiles: number;
  } | null;
  /** --wal-stats: the window's WAL by relation and record kind; its `error` if unreadable. */
  readonly walStats?: WalComposition | { readonly error: string };
  readonly cpuPerSecond: readonly CpuUse[];
  /** --speed-probe: its mean CPU µs a unit of fixed work in each second of the window. */
  readonly speedPerSecond?: readonly (number | null)[];
  readonly ledger: LedgerFigures | null;
  /**
   * The most memory the server's process had resident from its start to the window's end (its
   * high-water mark: start-up, stocking and warm-up too), in MB; null where it cannot be read.
   */
  readonly serverPeakRssMb?: number | null;
  readonly check: StateCheck | null;
  /** Seconds from the start of the load to the first 409 insufficient_stock (sold-out). */
  readonly soldOutAfterSeconds: number | null;
  readonly problems: string[];
  /** --timeline: what each thread did, joined with the slowest requests. */
  readonly timeline?: TimelineReport;
  /** --gc-trace: the ledger's collections per thread over the measured window. */
  readonly gc?: readonly GcThreadSummary[];
  /** What the stop after the window showed (systems.ts's StopNotes). */
  readonly stop?: StopNotes;
}

interface Window {
  metricsBefore?: string;
  metricsAfter?: string;
  cpuBefore?: ReturnType<typeof cpuSnapshot>;
  cpuAfter?: ReturnType<typeof cpuSnapshot>;
  peakRssBytes?: number | undefined;
  walBefore?: WalCounters | undefined;
  walAfter?: WalCounters | undefined;
  stopSampling?: () => CpuUse[];
  perf?: PerfRecording;
  /** The Postgres backends of the system's database, over the same window. */
  postgresPerf?: PerfRecording;
  fromMs?: number;
  toMs?: number;
}

const reserveSeconds = 'inventory_reservation_duration_seconds';
const ok = { label: 'result', value: 'ok' } as const;

function ledgerFigures(window: Window, seconds: number): LedgerFigures | null {
  const { metricsBefore: before, metricsAfter: after } = window;
  if (before === undefined || after === undefined) return null;
  const batch = histogramWindow(before, after, 'ledger_journal_batch_size');
  const flush = histogramWindow(before, after, 'ledger_journal_flush_duration_seconds');
  return {
    groupCommits: batch.count,
    batchSizeMean: batch.mean,
    flushMeanMs: flush.mean === null ? null : flush.mean * 1000,
    journalBusyFraction: flush.sum / seconds,
    reservationResults: counterWindowByLabel(
      before,
      after,
      'inventory_reservation_attempts_total',
      'result',
    ),
    oversellIncidents: sampleTotal(after, 'inventory_oversell_incidents_total'),
    admittedServerP50Seconds: bucketQuantileWindow(before, after, reserveSeconds, ok, 0.5),
    admittedServerP99Seconds: bucketQuantileWindow(before, after, reserveSeconds, ok, 0.99),
  };
}

function problemsOf(
  spec: SystemSpec,
  scenario: Scenario,
  load: LoadResult,
  check: StateCheck | null,
): string[] {
  const problems: string[] = [];
  if (load.unexpected > 0) {
    // Both windows, side by side: a merged object would keep only one count per status.
    const statuses = { warmup: load.warmupStatusCounts, measured: load.statusCounts };
    problems.push(`${load.unexpected} unexpected answers ${JSON.stringify(statuses)}`);
  }
  if (load.errorCount > 0) {
    problems.push(`${load.errorCount} requests without answer ${JSON.stringify(load.errors)}`);
  }
  if (check !== null && !check.ok) problems.push(`end-state check FAILED ${JSON.stringify(check)}`);
  if (keepsStock(spec.name) && check === null) problems.push('end-state check did not run');
  // A flash crowd must sell the whole stock in the window, exactly: no unit left, none oversold.
  const sold = check?.soldAtEnd;
  if (scenario.shedsLoad && sold !== undefined && sold !== null && sold !== scenario.stockPerKey) {
    problems.push(`${sold} units sold of ${scenario.stockPerKey}: not exactly the stock`);
  }
  return problems;
}

async function measure(
  spec: SystemSpec,
  scenario: Scenario,
  baseUrl: string,
  pid: number,
  context: { options: BenchOptions; generator: LoadSource; run: number } & TimelineContext & {
      readonly gcTrace?: GcTrace;
      /**
       * --perf-dir: where, and under what name, perf records the window; and the system's
       * database, whose backends it records too.
       */
      readonly perf?: {
        readonly directory: string;
        readonly name: string;
        readonly databaseUrl: string | undefined;
      };
    },
): Promise<SystemRun> {
  const window: Window = {};
  let cpuPerSecond: CpuUse[] = [];
  const { durationSeconds, warmupSeconds } = context.options;
  // Started before the load, so its start-up is not in the window; bounded if the bench dies.
  const probe = context.options.speedProbe
    ? startSpeedProbe(durationSeconds + warmupSeconds + 120)
    : undefined;
  await probe?.started;
  let speedPerSecond: (number | null)[] | undefined;
  const load = await context.generator
    .run({
      ...(context.timelinePrefix === undefined ? {} : { timelinePrefix: context.timelinePrefix }),
      label: `${spec.name} ${scenario.name}`,
      baseUrl,
      scenario,
      connections: context.options.connections,
      warmupSeconds: scenario.warmsUp ? warmupSeconds : 0,
      durationSeconds,
      authorization: authorizationHeader(),
      client: context.options.client,
      onMeasureStart: async () => {
        window.fromMs = Date.now();
        window.cpuBefore = cpuSnapshot(pid, context.generator.wrk);
        window.stopSampling = sampleCpuEverySecond(pid, context.generator.wrk);
        const perf = context.perf;
        if (perf !== undefined) {
          window.perf = recordPerf(rawRecording(perf.directory, perf.name), [pid]);
          // The backends as they are when the window opens (a connection made later, such as
          // the snapshot thread's at its first write, is not recorded).
          const backends =
            perf.databaseUrl === undefined
              ? []
              : await databaseBackends(perf.databaseUrl, '--perf-dir');
          if (backends.length > 0) {
            const file = postgresRecording(perf.directory, perf.name);
            window.postgresPerf = recordPerf(file, backends);
          }
        }
        if (spec.ledgerMetrics) window.metricsBefore = await scrapeMetrics(baseUrl);
        if (spec.durable) window.walBefore = await readWalCounters(context.options.databaseUrl);
      },
      onMeasureEnd: async () => {
        window.toMs = Date.now();
        window.cpuAfter = cpuSnapshot(pid, context.generator.wrk);
        window.peakRssBytes = processPeakRssBytes(pid);
        await window.perf?.stop();
        await window.postgresPerf?.stop();
        if (spec.ledgerMetrics) window.metricsAfter = await scrapeMetrics(baseUrl);
        if (spec.durable) window.walAfter = await readWalCounters(context.options.databaseUrl);
      },
    })
    // The CPU sampler runs from the window's start; a load that fails after it began (wrk's
    // distribution refused, a generator error) must stop it too, or its timer keeps the bench
    // alive.
    .finally(() => {
      cpuPerSecond = window.stopSampling?.() ?? [];
      speedPerSecond = probe?.stop(window.fromMs ?? Date.now(), durationSeconds);
      // A load that failed mid-window: perf stops too (its file may then be cut short).
      window.perf?.stop().catch(() => undefined);
      window.postgresPerf?.stop().catch(() => undefined);
    });
  context.onLoad?.(load);
  const cpu =
    window.cpuBefore && window.cpuAfter ? cpuUse(window.cpuBefore, window.cpuAfter) : null;
  const wal =
    window.walBefore && window.walAfter ? walDelta(window.walBefore, window.walAfter) : null;
  const answers = (load.requestsPerSecond ?? 0) * context.options.durationSeconds;
  // Read back at once, while the window's WAL files are still there (and the database, to name
  // its relations).
  const walStats =
    context.options.walStats && window.walBefore && window.walAfter
      ? await walComposition(
          context.options.databaseUrl,
          window.walBefore.insertLsn,
          window.walAfter.insertLsn,
        ).catch((error: unknown) => ({ error: String(error) }))
      : undefined;
  const check = keepsStock(spec.name)
    ? await checkState(baseUrl, scenario, load.tallies, load.unknown, load.unresolved)
    : null;
  return {
    system: spec.name,
    durable: durableRun(spec, context.options),
    scenario: scenario.name,
    run: context.run,
    requestsPerSecond: load.requestsPerSecond,
    latency: load.latency,
    latencyCorrected: summarize(
      load.correctedHistogram ??
        correctedHistogram(
          load.histogram,
          context.options.durationSeconds * 1e6,
          context.options.connections,
        ),
    ),
    latencyByOperation: load.latencyByOperation,
    latencyByStatus: load.latencyByStatus,
    percentilesMs: plotPercentiles.map((percentile) => ({
      percentile,
      ms: load.histogram.getValueAtPercentile(percentile) / 1000,
    })),
    statusCounts: load.statusCounts,
    warmupStatusCounts: load.warmupStatusCounts,
    errors: load.errors,
    perSecond: load.perSecond,
    retryAfterCounts: load.retryAfterCounts,
    loadThreads: load.threads,
    cpu,
    wal:
      wal === null
        ? null
        : {
            bytes: wal.bytes,
            bytesPerAnswer: answers > 0 ? wal.bytes / answers : null,
            newFiles: wal.newFiles,
          },
    ...(walStats === undefined ? {} : { walStats }),
    cpuPerSecond,
    ...(speedPerSecond === undefined ? {} : { speedPerSecond }),
    ledger: ledgerFigures(window, context.options.durationSeconds),
    serverPeakRssMb: window.peakRssBytes === undefined ? null : window.peakRssBytes / 2 ** 20,
    check,
    soldOutAfterSeconds:
      load.firstInsufficientAtMs === null
        ? null
        : (load.firstInsufficientAtMs - load.startAtMs) / 1000,
    problems: problemsOf(spec, scenario, load, check),
    ...(context.gcTrace === undefined || window.fromMs === undefined || window.toMs === undefined
      ? {}
      : { gc: context.gcTrace.summary(window.fromMs, window.toMs) }),
  };
}

/** --unlogged-journal applies to this system: the ledger's journal table goes unlogged. */
function unloggedJournal(spec: SystemSpec, options: BenchOptions): boolean {
  return options.unloggedJournal && spec.name === 'ledger';
}

/** Whether a run of this system is durable: not the ledger under --unlogged-journal. */
function durableRun(spec: SystemSpec, options: BenchOptions): boolean {
  return spec.durable && !unloggedJournal(spec, options);
}

function failedRun(spec: SystemSpec, scenario: Scenario, run: number, error: unknown): SystemRun {
  const message = error instanceof Error ? error.message : String(error);
  return {
    system: spec.name,
    durable: spec.durable,
    scenario: scenario.name,
    run,
    requestsPerSecond: null,
    latency: null,
    latencyCorrected: null,
    latencyByOperation: {},
    latencyByStatus: {},
    percentilesMs: [],
    statusCounts: {},
    warmupStatusCounts: {},
    errors: {},
    perSecond: [],
    retryAfterCounts: {},
    loadThreads: 0,
    cpu: null,
    wal: null,
    cpuPerSecond: [],
    ledger: null,
    check: null,
    soldOutAfterSeconds: null,
    problems: [`${spec.name} ${scenario.name} failed: ${message}`],
  };
}

interface TimelineContext {
  readonly timelinePrefix?: string;
  readonly onLoad?: (load: LoadResult) => void;
}

/** With --timeline: the ledger writes its timeline there (the load threads theirs beside it). */
function timelineOptions(options: BenchOptions, prefix: string | undefined): BenchOptions {
  if (prefix === undefined) return options;
  const ledgerEnvironment = { ...options.ledgerEnvironment, LEDGER_TIMELINE_FILE: prefix };
  return { ...options, ledgerEnvironment };
}

/** Joined once the system has stopped: its threads write the rest of their timeline then. */
function withTimeline(run: SystemRun, prefix: string | undefined, load: LoadResult | undefined) {
  if (prefix === undefined || load?.timeline === undefined) return run;
  const p999Ms = load.latency.p999Ms;
  return { ...run, timeline: timelineReport(prefix, load.timeline, load.measureFromMs, p999Ms) };
}

/** --ledger-nice and --postgres-nice, for the ledger's run (priorities.ts). */
async function setPriorities(
  options: BenchOptions,
  pid: number,
  databaseUrl: string | undefined,
  log: (line: string) => void,
): Promise<void> {
  const { ledgerNice, postgresNice } = options;
  if (ledgerNice !== undefined) {
    log(`  the ledger's ${reniceThreads(pid, ledgerNice)} threads at nice ${ledgerNice}`);
  }
  if (postgresNice !== undefined) {
    if (databaseUrl === undefined) throw new Error('--postgres-nice: the ledger has no database');
    const backends = await reniceBackends(databaseUrl, postgresNice);
    log(`  the ledger's ${backends} Postgres backends at nice ${postgresNice}`);
  }
}

/** Starts the system, measures one scenario on it, stops it; never throws for the system's sake. */
export async function runSystem(
  spec: SystemSpec,
  scenario: Scenario,
  context: { options: BenchOptions; root: string; generator: LoadSource; run: number },
  outer: Cleanup,
  log: (line: string) => void,
): Promise<SystemRun> {
  const cleanup = new Cleanup();
  // An interrupt while this system runs stops it through the outer cleanup.
  outer.push(`stop ${spec.name}`, () => cleanup.run());
  const stopNotes: StopNotes = {};
  const onSpawned = (child: SpawnedLedger): void =>
    cleanup.push(`stop ${spec.name} (pid ${child.pid})`, async () => {
      const exit = await child.stop();
      stopNotes.cleanly = !exit.killed && exit.code === 0;
      if (exit.killed || exit.code !== 0) {
        process.stderr.write(`${spec.name} did not stop cleanly: ${JSON.stringify(exit)}\n`);
        process.stderr.write(`${child.outputTail()}\n`);
      }
    });
  const durable = durableRun(spec, context.options);
  log(`\n== ${scenario.name} on ${spec.name}${durable ? '' : ' (NOT DURABLE)'}`);
  const prefix = context.options.timeline
    ? timelineDirectory(context.root, `${spec.name}-${scenario.name}-${context.run}`)
    : undefined;
  let load: LoadResult | undefined;
  let run: SystemRun;
  try {
    if (prefix !== undefined) {
      const stop = await samplePostgresWork(context.options.databaseUrl, prefix);
      cleanup.push('stop sampling Postgres', stop);
    }
    // With --gc-trace, for the ledger: V8 prints every collection, and the bench keeps the lines
    // (with --timeline also as they came, in `t.gc.log` beside the timeline's files: one line a
    // collection, its isolate first, as `--trace-gc-nvp` prints it; and the lines of any other
    // V8 trace flag given with --node-flag).
    const gcTrace = context.options.gcTrace && spec.ledgerMetrics ? new GcTrace() : undefined;
    const gcLog = gcTrace !== undefined && prefix !== undefined ? gcLogFile(prefix) : undefined;
    if (gcLog !== undefined) cleanup.push('close the GC log', gcLog.close);
    const perf =
      context.options.perfDirectory !== undefined
        ? {
            directory: context.options.perfDirectory,
            name: `${spec.name}-${scenario.name}-${context.run}`,
          }
        : undefined;
    if (perf !== undefined) {
      checkPerf();
      // After the ledger has stopped (cleanup runs last-pushed first): its JIT dump is complete.
      cleanup.push('name the JavaScript frames of the perf recording', async () =>
        log(`  ${await nameJitCode(perf.directory, perf.name)}`),
      );
    }
    const timed = timelineOptions(context.options, prefix);
    const flags = [...timed.nodeFlags, ...(gcTrace === undefined ? [] : [gcTraceFlag])];
    const options = { ...timed, nodeFlags: flags };
    const onLine =
      gcTrace === undefined
        ? {}
        : {
            onLine: (line: string) => {
              if (gcTrace.line(line) || isV8TraceLine(line)) gcLog?.write(line);
            },
          };
    const recording =
      perf === undefined
        ? {}
        : {
            recording: {
              nodeFlags: perfNodeFlags(perf.directory, perf.name),
              workingDirectory: perfWorkingDirectory(perf.directory, perf.name),
            },
          };
    const server = await spec.start({
      ...context,
      options,
      cleanup,
      stopNotes,
      onSpawned,
      log,
      ...onLine,
      ...recording,
    });
    log(`  ready at ${server.baseUrl} (pid ${server.pid}); stocking ${scenario.keyCount} key(s)`);
    await stockScenario(server.baseUrl, scenario);
    if (prefix !== undefined && server.env.DATABASE_URL !== undefined) {
      const stop = await sampleRelationGrowth(server.env.DATABASE_URL, prefix);
      cleanup.push('stop sampling the relation sizes', stop);
    }
    const walFiles = context.options.walFiles;
    if (walFiles !== undefined && spec.durable) {
      log(`  ${walFiles}: ${await prepareWalFiles(context.options.databaseUrl, walFiles)}`);
    }
    const databaseUrl = server.env.DATABASE_URL;
    if (unloggedJournal(spec, context.options) && databaseUrl !== undefined) {
      log(`  ${await makeJournalUnlogged(databaseUrl)}`);
    }
    if (spec.name === 'ledger') await setPriorities(context.options, server.pid, databaseUrl, log);
    const onLoad = (result: LoadResult): void => void (load = result);
    const timeline = prefix === undefined ? {} : { timelinePrefix: prefix, onLoad };
    run = await measure(spec, scenario, server.baseUrl, server.pid, {
      ...context,
      ...timeline,
      ...(gcTrace === undefined ? {} : { gcTrace }),
      ...(perf === undefined ? {} : { perf: { ...perf, databaseUrl } }),
    });
  } catch (error) {
    return failedRun(spec, scenario, context.run, error);
  } finally {
    await cleanup.run();
  }
  return withTimeline({ ...run, stop: stopNotes }, prefix, load);
}
