// `npm run bench`: the flash-sale bench. For every run, scenario and system (the ledger, and with
// --compare the baselines in bench/baselines/), starts the system on a scratch database, stocks
// the scenario's keys, drives it with the piscina load generator, checks its end state (no lost
// change, no oversell), stops it; then prints and writes the report (markdown, JSON, SVG plot).
// See bench/README.md.
import { fileURLToPath } from 'node:url';
import { parseBenchArguments, usage, UsageError, type BenchOptions } from './lib/args.js';
import { prepareAuth } from './lib/auth.js';
import { Cleanup } from './lib/cleanup.js';
import { ensureBuilt, mainScriptPath, staleSources } from './lib/ledger-child.js';
import { startOtlpSink } from './lib/otlp-sink.js';
import { LoadGenerator, type LoadSource } from './lib/load-driver.js';
import { backgroundBusyCores, machineInfo } from './lib/machine.js';
import { latencyPlotSvg } from './lib/plot.js';
import {
  buildState,
  floorTargetsOf,
  gitState,
  loadParameters,
  markdownReport,
  mediansOf,
  ratiosOf,
  targetsOf,
  writeResults,
  type BenchRecord,
} from './lib/report.js';
import { runSystem, type SystemRun } from './lib/run-system.js';
import { rateUnit, scenario } from './lib/scenarios.js';
import { systems } from './lib/systems.js';
import { WrkGenerator, wrkPath } from './lib/wrk-driver.js';

const root = fileURLToPath(new URL('..', import.meta.url));
/** Other work above this many busy cores, before or during a run, makes the figures suspect. */
const busyCoresWarning = 0.25;
const backgroundWindowMs = 1000;
/** A pause between loads, so that one system's shutdown (fsyncs, GC) does not land in the next. */
const pauseBetweenLoadsMs = 2000;

const out = (line: string): void => void process.stdout.write(`${line}\n`);

function runWarnings(runs: readonly SystemRun[]): string[] {
  return runs
    .filter((run) => (run.cpu?.otherCores ?? 0) > busyCoresWarning)
    .map(
      (run) =>
        `${run.scenario} on ${run.system} (run ${run.run}): ${run.cpu?.otherCores?.toFixed(2)} ` +
        'cores went to other work during the measured window: its figures are suspect',
    );
}

function buildWarnings(background: number | null): string[] {
  const warnings: string[] = [];
  const stale = staleSources(root);
  if (stale.length > 0) {
    warnings.push(
      `${stale.length} file(s) in src/ are newer than ${mainScriptPath(root)} ` +
        `(${stale.slice(0, 3).join(', ')}${stale.length > 3 ? ', ...' : ''}); ` +
        'this measured the last build: run `npm run build` to measure what is checked out',
    );
  }
  if ((background ?? 0) > busyCoresWarning) {
    const busy = background?.toFixed(2) ?? '';
    warnings.push(`the machine was busy before the run (${busy} cores): figures are suspect`);
  }
  return warnings;
}

function loadSource(options: BenchOptions): LoadSource {
  if (options.generator === 'bench') return new LoadGenerator(options.threads);
  const path = wrkPath();
  if (path === undefined) {
    throw new Error('--generator wrk: wrk is not installed (Debian: apt-get install wrk)');
  }
  return new WrkGenerator(options.threads, path);
}

async function runAll(options: BenchOptions, cleanup: Cleanup): Promise<boolean> {
  const startedAt = new Date().toISOString();
  if (options.systems.includes('ledger')) ensureBuilt(root);
  const background = await backgroundBusyCores(backgroundWindowMs);
  const warnings = buildWarnings(background);
  const build = buildState(root);
  const generator = loadSource(options);
  cleanup.push('stop the load generator threads', () => generator.close());
  const runs: SystemRun[] = [];
  for (let run = 1; run <= options.runs; run += 1) {
    for (const name of options.scenarios) {
      const chosen = scenario(name, {
        soldOutStock: options.soldOutStock,
        flashCrowdStock: options.flashCrowdStock,
      });
      for (const system of options.systems) {
        if (runs.length > 0)
          await new Promise((resolve) => setTimeout(resolve, pauseBetweenLoadsMs));
        const context = { options, root, generator, run };
        const result = await runSystem(systems[system], chosen, context, cleanup, out);
        out(
          `  ${result.requestsPerSecond?.toFixed(0) ?? 'n/a'} ${rateUnit(name)}, p99 ` +
            `${result.latency?.p99Ms.toFixed(2) ?? 'n/a'} ms, check ` +
            `${result.check === null ? 'n/a' : result.check.ok ? 'OK' : 'FAILED'}` +
            `${result.problems.length > 0 ? `, PROBLEMS: ${result.problems.join('; ')}` : ''}`,
        );
        runs.push(result);
      }
    }
  }
  const allWarnings = [...warnings, ...runWarnings(runs)];
  const svg = await latencyPlotSvg(runs, `flash-sale bench ${startedAt}`).catch(
    (error: unknown) => {
      allWarnings.push(`the plot could not be drawn: ${String(error)}`);
      return undefined;
    },
  );
  const medians = mediansOf(runs);
  const ratios = ratiosOf(runs);
  const record: BenchRecord = {
    bench: 'flash-sale',
    startedAt,
    finishedAt: new Date().toISOString(),
    git: gitState(root),
    build,
    machine: machineInfo(),
    parameters: loadParameters(options),
    backgroundBusyCores: background,
    runs,
    medians,
    ratios,
    targets: targetsOf(options, medians, ratios),
    floorTargets: floorTargetsOf(options, runs, medians),
    problems: runs.flatMap((run) =>
      run.problems.map((p) => `${run.scenario} on ${run.system}: ${p}`),
    ),
    warnings: allWarnings,
  };
  out(`\n${markdownReport(record)}`);
  const files = writeResults(root, record, svg);
  out(`results written to ${files.json}, ${files.markdown}${files.svg ? `, ${files.svg}` : ''}`);
  for (const problem of record.problems)
    process.stderr.write(`\n!!!!!!!!!! ${problem} !!!!!!!!!!\n`);
  return record.problems.length === 0;
}

/** With --trace: a discarding OTLP receiver, and the ledger pointed at it. */
async function withTracing(options: BenchOptions, cleanup: Cleanup): Promise<BenchOptions> {
  if (!options.trace) return options;
  const sink = await startOtlpSink();
  cleanup.push('stop the OTLP receiver', async () => {
    const { exports, bytes } = sink.received();
    out(`tracing: the receiver got ${exports} export(s), ${bytes} bytes`);
    await sink.close();
  });
  const ledgerEnvironment = {
    ...options.ledgerEnvironment,
    OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
  };
  return { ...options, ledgerEnvironment };
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
  const interrupted = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: stopping the servers and dropping the databases\n`);
    void cleanup.run().then(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await prepareAuth(options.ledgerEnvironment);
    if (!(await runAll(await withTracing(options, cleanup), cleanup))) process.exitCode = 1;
  } finally {
    await cleanup.run();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `flash-sale bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
