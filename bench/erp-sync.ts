// The erp-sync bench: what an ERP feed (POST /v1/stock/import, 10,000 NDJSON lines) costs the
// hot SKU, and how fast the feed goes while the hot SKU is being reserved. One sitting, one
// ledger on a scratch database: the hot SKU is stocked, the feed's keys get an initial import,
// then the hot-SKU reserve load runs alone and with imports back to back through its measured
// window, alternately, for --runs pairs. Every import line's result and the end state (the hot
// SKU and every imported key) are checked against what the acknowledged operations imply.
// See bench/README.md.
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { UsageError } from './lib/args.js';
import { Cleanup } from './lib/cleanup.js';
import { checkImportAnswer, erpImportLines, ErpFeed, windowCoverage } from './lib/erp-feed.js';
import type { ErpImport } from './lib/erp-feed.js';
import { erpSyncUsage, parseErpSyncArguments, type ErpSyncOptions } from './lib/erp-args.js';
import { checkImportedKeys } from './lib/erp-check.js';
import {
  erpMarkdownReport,
  pairOrder,
  summarizeErp,
  writeErpResults,
  type ErpImportRun,
  type ErpLoadRun,
  type ErpRecord,
  type LoadMode,
} from './lib/erp-report.js';
import { ensureBuilt, mainScriptPath, staleSources, startLedger } from './lib/ledger-child.js';
import { scrapeMetrics } from './lib/ledger-api.js';
import { LoadGenerator, type LoadResult } from './lib/load-driver.js';
import type { UnknownRequest } from './lib/load-worker.js';
import { backgroundBusyCores, cpuSnapshot, cpuUse, machineInfo } from './lib/machine.js';
import { histogramWindow } from './lib/prometheus.js';
import { buildState, gitState, redactUrl } from './lib/report.js';
import { addTallies, emptyTallies, scenario, type KeyTallies } from './lib/scenarios.js';
import { createScratchDatabase } from './lib/scratch-database.js';
import { checkState, stockScenario } from './lib/state-check.js';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Other work above this many busy cores, before or during a load, makes the figures suspect. */
const busyCoresWarning = 0.25;
const backgroundWindowMs = 1000;
/** A pause between loads, so that one load's tail (GC, its last import) stays out of the next. */
const pauseBetweenLoadsMs = 2000;
/** One import's answer may take this long; the ledger itself waits at most 30 s for a shard. */
const importTimeoutMs = 120_000;
/**
 * Imports made ready per load with imports (each ~1.4 MB of NDJSON plus its 10,000 expected
 * results, held until the load ends): bounds the bench's memory at long durations.
 */
const importsPerLoadMax = 32;
const hotSku = scenario('hot-sku', { soldOutStock: 1 });

const out = (line: string): void => void process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** One import as sent: when, how long, and the answer's text (checked after the load). */
interface PostedImport {
  readonly draft: ErpImport;
  readonly startedAtMs: number;
  readonly wallMs: number;
  readonly status: number | null;
  readonly text: string;
  readonly error: string | null;
}

async function postImport(baseUrl: string, draft: ErpImport): Promise<PostedImport> {
  const startedAtMs = Date.now();
  const started = performance.now();
  try {
    const response = await fetch(`${baseUrl}/v1/stock/import`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-ndjson' },
      body: draft.body,
      signal: AbortSignal.timeout(importTimeoutMs),
    });
    const text = await response.text();
    const wallMs = performance.now() - started;
    return { draft, startedAtMs, wallMs, status: response.status, text, error: null };
  } catch (error) {
    const wallMs = performance.now() - started;
    return { draft, startedAtMs, wallMs, status: null, text: '', error: String(error) };
  }
}

/** What an import did, its answer checked line by line against the feed's expectations. */
function importRun(
  posted: PostedImport,
  pair: number,
  window: { startMs: number; endMs: number },
): ErpImportRun {
  const lines = posted.draft.lines.length;
  const verdict =
    posted.error === null && posted.status === 200
      ? checkImportAnswer(posted.text, posted.draft)
      : null;
  const endMs = posted.startedAtMs + posted.wallMs;
  return {
    pair,
    import: posted.draft.index,
    lines,
    startOffsetMs: posted.startedAtMs - window.startMs,
    wallMs: posted.wallMs,
    linesPerSecond: lines / (posted.wallMs / 1000),
    status: posted.status,
    applied: verdict?.applied ?? null,
    failed: verdict?.failed ?? null,
    linesMatching: verdict?.linesMatching ?? 0,
    insideWindow: posted.startedAtMs >= window.startMs && endMs <= window.endMs,
    mismatches: verdict?.mismatches ?? [`status ${posted.status}: ${posted.text.slice(0, 300)}`],
    error: posted.error,
    ok: verdict?.ok === true,
  };
}

/** Sends the prepared imports one after another, starting none once the window is over. */
async function importsThroughWindow(
  baseUrl: string,
  prepared: readonly ErpImport[],
  windowEndMs: number,
): Promise<PostedImport[]> {
  const posted: PostedImport[] = [];
  for (const draft of prepared) {
    if (Date.now() >= windowEndMs) break;
    const result = await postImport(baseUrl, draft);
    posted.push(result);
    if (result.error !== null || result.status !== 200) break;
  }
  return posted;
}

interface Sitting {
  readonly options: ErpSyncOptions;
  readonly baseUrl: string;
  readonly pid: number;
  readonly generator: LoadGenerator;
  readonly feed: ErpFeed;
  /** The fastest import so far, in ms per line: sizes how many imports to make ready. */
  fastestMsPerLine: number;
  readonly tallies: KeyTallies;
  readonly unknown: UnknownRequest[];
  readonly warnings: string[];
}

/**
 * Makes ready, before the load starts, enough imports to fill the window twice over at the
 * fastest rate seen so far: generating 10,000 lines takes tens of ms, kept out of the window.
 * Twice, because imports under the load have run faster than the first one, made on cold code.
 */
function prepareImports(sitting: Sitting): ErpImport[] {
  const windowMs = sitting.options.durationSeconds * 1000;
  const importMs = Math.max(1, sitting.fastestMsPerLine * erpImportLines);
  const count = Math.min(importsPerLoadMax, Math.ceil((2 * windowMs) / importMs) + 1);
  return Array.from({ length: count }, () => sitting.feed.next());
}

interface Window {
  startMs: number;
  endMs: number;
  cpuBefore?: ReturnType<typeof cpuSnapshot>;
  cpuAfter?: ReturnType<typeof cpuSnapshot>;
  /** The /metrics scrapes around the window, awaited after the load (they may end after it). */
  metricsBefore: Promise<string | undefined>;
  metricsAfter: Promise<string | undefined>;
  imports: Promise<PostedImport[]>;
}

/** A /metrics scrape that never rejects: a failed one only leaves the journal figures out. */
function scrapeOrUndefined(baseUrl: string, warnings: string[]): Promise<string | undefined> {
  return scrapeMetrics(baseUrl).catch((error: unknown) => {
    warnings.push(`a /metrics scrape failed (${String(error)}): journal figures left out`);
    return undefined;
  });
}

async function runLoad(sitting: Sitting, mode: LoadMode, pair: number, order: number) {
  const { options, baseUrl, pid } = sitting;
  const prepared = mode === 'alone' ? [] : prepareImports(sitting);
  const none = Promise.resolve(undefined);
  const window: Window = {
    startMs: 0,
    endMs: 0,
    metricsBefore: none,
    metricsAfter: none,
    imports: Promise.resolve([]),
  };
  const load = await sitting.generator.run({
    label: `pair ${pair}, ${mode}`,
    baseUrl,
    scenario: hotSku,
    connections: options.connections,
    warmupSeconds: options.warmupSeconds,
    durationSeconds: options.durationSeconds,
    authorization: undefined,
    onMeasureStart: () => {
      window.startMs = Date.now();
      window.endMs = window.startMs + options.durationSeconds * 1000;
      window.cpuBefore = cpuSnapshot(pid);
      // importsThroughWindow never rejects: a failed import is a result of its own.
      window.imports = importsThroughWindow(baseUrl, prepared, window.endMs);
      window.metricsBefore = scrapeOrUndefined(baseUrl, sitting.warnings);
    },
    onMeasureEnd: () => {
      window.cpuAfter = cpuSnapshot(pid);
      window.metricsAfter = scrapeOrUndefined(baseUrl, sitting.warnings);
    },
  });
  const posted = await window.imports;
  const metrics = { before: await window.metricsBefore, after: await window.metricsAfter };
  // The imports made ready but not sent are taken back: the next load sends them.
  sitting.feed.rewind((prepared[0]?.index ?? sitting.feed.importsMade) + posted.length);
  const last = posted.at(-1);
  const lastEndMs = last === undefined ? 0 : last.startedAtMs + last.wallMs;
  if (posted.length === prepared.length && last !== undefined && lastEndMs < window.endMs) {
    const early = ((window.endMs - lastEndMs) / 1000).toFixed(2);
    sitting.warnings.push(`pair ${pair}: the imports made ready ran out ${early} s before the end`);
  }
  addTallies(sitting.tallies, load.tallies);
  sitting.unknown.push(...load.unknown);
  return loadRun(sitting, { mode, pair, order }, load, { window, posted, metrics });
}

function loadRun(
  sitting: Sitting,
  at: { mode: LoadMode; pair: number; order: number },
  load: LoadResult,
  measured: {
    window: Window;
    posted: readonly PostedImport[];
    metrics: { before: string | undefined; after: string | undefined };
  },
): ErpLoadRun {
  const { window, posted } = measured;
  const imports = posted.map((entry) => importRun(entry, at.pair, window));
  for (const entry of imports.filter((e) => e.ok)) {
    sitting.fastestMsPerLine = Math.min(sitting.fastestMsPerLine, entry.wallMs / entry.lines);
  }
  const intervals = posted.map((p) => ({
    startMs: p.startedAtMs,
    endMs: p.startedAtMs + p.wallMs,
  }));
  const { before, after } = measured.metrics;
  const batch = before && after && histogramWindow(before, after, 'ledger_journal_batch_size');
  const flush =
    before && after && histogramWindow(before, after, 'ledger_journal_flush_duration_seconds');
  const run: ErpLoadRun = {
    ...at,
    requestsPerSecond: load.requestsPerSecond,
    latency: load.latency,
    statusCounts: load.statusCounts,
    errors: load.errors,
    perSecond: load.perSecond,
    imports,
    importCoverage: at.mode === 'alone' ? null : windowCoverage(intervals, window),
    cpu: window.cpuBefore && window.cpuAfter ? cpuUse(window.cpuBefore, window.cpuAfter) : null,
    journal:
      batch && flush
        ? {
            groupCommits: batch.count,
            batchSizeMean: batch.mean,
            flushMeanMs: flush.mean === null ? null : flush.mean * 1000,
          }
        : null,
    problems: loadProblems(at, load, imports),
  };
  return run;
}

function loadProblems(
  at: { mode: LoadMode; pair: number },
  load: LoadResult,
  imports: readonly ErpImportRun[],
): string[] {
  const problems: string[] = [];
  const name = `pair ${at.pair}, ${at.mode}`;
  if (load.unexpected > 0) {
    problems.push(
      `${name}: ${load.unexpected} unexpected answers ${JSON.stringify(load.statusCounts)}`,
    );
  }
  if (load.errorCount > 0) {
    problems.push(
      `${name}: ${load.errorCount} requests without answer ${JSON.stringify(load.errors)}`,
    );
  }
  for (const entry of imports.filter((e) => !e.ok)) {
    const why = entry.error ?? entry.mismatches.join('; ');
    problems.push(
      `${name}: import ${entry.import} applied ${entry.applied}, failed ${entry.failed}: ${why}`,
    );
  }
  if (at.mode === 'with imports' && !imports.some((entry) => entry.insideWindow)) {
    problems.push(`${name}: no import ran entirely inside the measured window; raise --duration`);
  }
  return problems;
}

function progressLine(run: ErpLoadRun): string {
  const imports = run.imports.map((entry) => `${entry.linesPerSecond.toFixed(0)}`).join(', ');
  return (
    `  ${run.requestsPerSecond.toFixed(0)} req/s, p99 ${run.latency.p99Ms.toFixed(2)} ms` +
    (run.mode === 'alone'
      ? ''
      : `; imports: ${run.imports.length} (lines/s ${imports}), ` +
        `window covered ${((run.importCoverage ?? 0) * 100).toFixed(0)}%`) +
    (run.problems.length > 0 ? `; PROBLEMS: ${run.problems.join('; ')}` : '')
  );
}

async function runLoads(sitting: Sitting): Promise<ErpLoadRun[]> {
  const loads: ErpLoadRun[] = [];
  for (let pair = 1; pair <= sitting.options.runs; pair += 1) {
    for (const mode of pairOrder(pair)) {
      await sleep(pauseBetweenLoadsMs);
      out(`\n== pair ${pair}: hot-SKU reserves, ${mode}`);
      const run = await runLoad(sitting, mode, pair, loads.length + 1);
      out(progressLine(run));
      loads.push(run);
    }
  }
  return loads;
}

async function startSitting(options: ErpSyncOptions, cleanup: Cleanup) {
  const database = await createScratchDatabase(options.databaseUrl);
  cleanup.push(`drop database ${database.name}`, () => database.drop());
  out(`database ${database.name} created`);
  const ledger = await startLedger({
    root,
    databaseUrl: database.url,
    shards: options.shards,
    cpuProfileDirectory: undefined,
    nodeFlags: [],
    ledgerEnvironment: {},
    onSpawned: (child) =>
      cleanup.push(`stop the ledger (pid ${child.pid})`, async () => {
        const exit = await child.stop();
        if (exit.killed || exit.code !== 0) {
          process.stderr.write(`the ledger did not stop cleanly: ${JSON.stringify(exit)}\n`);
          process.stderr.write(`${child.outputTail()}\n`);
        }
      }),
  });
  out(`ledger ready at ${ledger.baseUrl} (pid ${ledger.pid}); stocking the hot SKU`);
  await stockScenario(ledger.baseUrl, hotSku);
  return ledger;
}

/** The feed's keys get one set line each, unmeasured, so measured imports update existing keys. */
async function initialImport(sitting: Sitting): Promise<ErpImportRun> {
  const posted = await postImport(sitting.baseUrl, sitting.feed.initial());
  const endMs = posted.startedAtMs + posted.wallMs;
  const run = importRun(posted, 0, { startMs: posted.startedAtMs, endMs });
  if (!run.ok) {
    throw new Error(`the initial import failed: ${run.error ?? run.mismatches.join('; ')}`);
  }
  sitting.fastestMsPerLine = run.wallMs / run.lines;
  out(`initial import: ${run.lines} set lines in ${(run.wallMs / 1000).toFixed(2)} s`);
  return { ...run, insideWindow: false, startOffsetMs: 0 };
}

function startWarnings(background: number | null): string[] {
  const warnings: string[] = [];
  const stale = staleSources(root);
  if (stale.length > 0) {
    warnings.push(
      `${stale.length} file(s) in src/ are newer than ${mainScriptPath(root)}: this measured ` +
        'the last build; run `npm run build` to measure what is checked out',
    );
  }
  if ((background ?? 0) > busyCoresWarning) {
    warnings.push(
      `the machine was busy before the run (${background?.toFixed(2)} cores): figures are suspect`,
    );
  }
  return warnings;
}

function busyLoadWarnings(loads: readonly ErpLoadRun[]): string[] {
  return loads
    .filter((load) => (load.cpu?.otherCores ?? 0) > busyCoresWarning)
    .map(
      (load) =>
        `pair ${load.pair}, ${load.mode}: ${load.cpu?.otherCores?.toFixed(2)} cores went to ` +
        'other work during the measured window: its figures are suspect',
    );
}

function parameters(options: ErpSyncOptions, tag: string): Record<string, unknown> {
  return {
    runs: options.runs,
    durationSeconds: options.durationSeconds,
    warmupSeconds: options.warmupSeconds,
    connections: options.connections,
    loadThreads: options.threads,
    shards: options.shards,
    seed: options.seed,
    idempotencyTag: tag,
    importLines: erpImportLines,
    hotSku: 'reserve 1 unit of one key, new idempotency key each, stock 10^9, pipelining 1',
    databaseUrl: redactUrl(options.databaseUrl),
  };
}

async function runSitting(options: ErpSyncOptions, cleanup: Cleanup): Promise<boolean> {
  const startedAt = new Date().toISOString();
  ensureBuilt(root);
  const background = await backgroundBusyCores(backgroundWindowMs);
  const warnings = startWarnings(background);
  const generator = new LoadGenerator(options.threads);
  cleanup.push('stop the load generator threads', () => generator.close());
  const ledger = await startSitting(options, cleanup);
  const tag = randomBytes(4).toString('hex');
  const sitting: Sitting = {
    options,
    baseUrl: ledger.baseUrl,
    pid: ledger.pid,
    generator,
    feed: new ErpFeed(options.seed, tag),
    fastestMsPerLine: Number.POSITIVE_INFINITY,
    tallies: emptyTallies(hotSku.keyCount),
    unknown: [],
    warnings,
  };
  const initial = await initialImport(sitting);
  const loads = await runLoads(sitting);
  out('\nchecking the end state: the hot SKU and every imported key');
  const hotCheck = await checkState(ledger.baseUrl, hotSku, sitting.tallies, sitting.unknown);
  const keysCheck = await checkImportedKeys(ledger.baseUrl, sitting.feed);
  const problems = loads.flatMap((load) => load.problems);
  if (!hotCheck.ok) problems.push(`hot SKU end-state check FAILED ${JSON.stringify(hotCheck)}`);
  if (!keysCheck.ok) problems.push(`imported keys' end-state check FAILED`);
  const record: ErpRecord = {
    bench: 'erp-sync',
    startedAt,
    finishedAt: new Date().toISOString(),
    git: gitState(root),
    build: buildState(root),
    machine: machineInfo(),
    parameters: parameters(options, tag),
    backgroundBusyCores: background,
    initialImport: initial,
    loads,
    summary: summarizeErp(loads),
    endState: { hotSku: hotCheck, importedKeys: keysCheck },
    problems,
    warnings: [...warnings, ...busyLoadWarnings(loads)],
  };
  out(`\n${erpMarkdownReport(record)}`);
  const files = writeErpResults(root, record);
  out(`results written to ${files.json}, ${files.md}`);
  for (const problem of problems) process.stderr.write(`\n!!!!!!!!!! ${problem} !!!!!!!!!!\n`);
  return problems.length === 0;
}

async function main(): Promise<void> {
  let options: ErpSyncOptions | undefined;
  try {
    options = parseErpSyncArguments(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${erpSyncUsage}`);
    process.exit(2);
  }
  if (options === undefined) {
    out(erpSyncUsage);
    return;
  }
  const cleanup = new Cleanup();
  const interrupted = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: stopping the ledger and dropping the database\n`);
    void cleanup.run().then(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    if (!(await runSitting(options, cleanup))) process.exitCode = 1;
  } finally {
    await cleanup.run();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `erp-sync bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
