// `npm run bench:cluster`: the ledger's cluster mode (LEDGER_CLUSTER=1) on this box. Starts its
// own clusters of dist/src/main.js nodes on scratch databases and fresh events streams, and
// measures (see bench/README.md, "npm run bench:cluster"):
// 1. many-SKU reserve throughput with 1, 2 and 3 nodes, the flash-sale load generator's
//    connections round-robin over every node's port, with the CPU of every process;
// 2. the added latency of a forwarded request: the same reserve to the owner and to another node;
// 3. failover: kill -9 of one node of three under a keyed reserve load; per partition it owned,
//    last 200 before the kill → first 200 after; then every acknowledged reservation read back.
// Everything it started is stopped by PID, every stream deleted and database dropped, also on
// failure and on Ctrl-C.
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { UsageError } from './lib/args.js';
import { Cleanup } from './lib/cleanup.js';
import {
  clusterUsage,
  parseClusterArguments,
  type ClusterBenchOptions,
} from './lib/cluster-args.js';
import {
  clusterCpu,
  clusterCpuSnapshot,
  startCluster,
  type ClusterCpu,
  type ClusterCpuSnapshot,
  type RunningCluster,
} from './lib/cluster-nodes.js';
import {
  measureFailover,
  measureHop,
  type FailoverResult,
  type HopResult,
} from './lib/cluster-probes.js';
import {
  markdownReport,
  type ClusterRecord,
  type JournalWindow,
  type ThroughputRun,
} from './lib/cluster-report.js';
import { scrapeMetrics } from './lib/ledger-api.js';
import { histogramWindow } from './lib/prometheus.js';
import { ensureBuilt, mainScriptPath, staleSources } from './lib/ledger-child.js';
import { LoadGenerator } from './lib/load-driver.js';
import { backgroundBusyCores, machineInfo } from './lib/machine.js';
import { buildState, gitState, redactUrl } from './lib/report.js';
import { addTallies, emptyTallies, scenario, type Scenario } from './lib/scenarios.js';
import { checkState, stockScenario } from './lib/state-check.js';
import { writeRunFiles } from './lib/results-files.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = (line: string): void => void process.stdout.write(`${line}\n`);
/** A pause between loads, so that one load's tail (fsyncs, GC) does not land in the next. */
const pauseBetweenLoadsMs = 2000;
const backgroundWindowMs = 1000;

/** Cleanups of the clusters running now: an interrupt runs them all. */
const running = new Set<Cleanup>();

/** A node's group commits in the measured window, from its /metrics. */
function journalWindow(before: string, after: string, seconds: number): JournalWindow {
  const batch = histogramWindow(before, after, 'ledger_journal_batch_size');
  const flush = histogramWindow(before, after, 'ledger_journal_flush_duration_seconds');
  return {
    commitsPerSecond: batch.count / seconds,
    recordsPerCommit: batch.mean,
    flushMeanMs: flush.mean === null ? null : flush.mean * 1000,
    busyFraction: flush.sum / seconds,
  };
}

function manySku(options: ClusterBenchOptions): Scenario {
  return {
    ...scenario('many-sku', { soldOutStock: 1 }),
    keyCount: options.skus,
    summary: `reserves of 1 unit spread uniformly over ${options.skus} stock keys`,
  };
}

/** Runs `use` on a fresh cluster of `count` nodes, stocked; stops and removes it afterwards. */
async function withCluster<T>(
  count: number,
  options: ClusterBenchOptions,
  use: (cluster: RunningCluster) => Promise<T>,
): Promise<T> {
  const cleanup = new Cleanup();
  running.add(cleanup);
  try {
    out(`starting a cluster of ${count} node(s)`);
    const cluster = await startCluster(root, count, options, cleanup);
    out(`  balanced: ${JSON.stringify(cluster.division)}; stocking ${options.skus} SKUs`);
    await stockScenario(
      (cluster.nodes[0] as RunningCluster['nodes'][0]).child.baseUrl,
      manySku(options),
    );
    return await use(cluster);
  } finally {
    await cleanup.run();
    running.delete(cleanup);
  }
}

async function machineLoad(): Promise<{ busyCores: number | null; loadAverage: number[] }> {
  return { busyCores: await backgroundBusyCores(backgroundWindowMs), loadAverage: loadavg() };
}

async function throughputRuns(
  cluster: RunningCluster,
  options: ClusterBenchOptions,
  generator: LoadGenerator,
): Promise<ThroughputRun[]> {
  const chosen = manySku(options);
  const total = emptyTallies(chosen.keyCount);
  const baseUrls = cluster.nodes.map((node) => node.child.baseUrl);
  const runs: ThroughputRun[] = [];
  for (let run = 1; run <= options.runs; run += 1) {
    await new Promise((resolve) => setTimeout(resolve, pauseBetweenLoadsMs));
    const before = await machineLoad();
    let start: ClusterCpuSnapshot | undefined;
    let cpu: ClusterCpu | undefined;
    let metricsBefore: string[] = [];
    let journal: JournalWindow[] = [];
    const result = await generator.run({
      label: `${cluster.nodes.length} node(s), run ${run}`,
      baseUrl: baseUrls[0] as string,
      baseUrls,
      scenario: chosen,
      connections: options.connections,
      warmupSeconds: options.warmupSeconds,
      durationSeconds: options.durationSeconds,
      authorization: undefined,
      onMeasureStart: async () => {
        start = clusterCpuSnapshot(cluster.nodes);
        metricsBefore = await Promise.all(baseUrls.map((url) => scrapeMetrics(url)));
      },
      onMeasureEnd: async () => {
        if (start !== undefined) cpu = clusterCpu(start, clusterCpuSnapshot(cluster.nodes));
        const after = await Promise.all(baseUrls.map((url) => scrapeMetrics(url)));
        journal = after.map((text, index) =>
          journalWindow(metricsBefore[index] ?? '', text, options.durationSeconds),
        );
      },
    });
    addTallies(total, result.tallies);
    const check = await checkState(baseUrls[0] as string, chosen, total, result.unknown);
    const entry: ThroughputRun = {
      nodes: cluster.nodes.length,
      run,
      division: cluster.division,
      requestsPerSecond: result.requestsPerSecond,
      latency: result.latency,
      statusCounts: result.statusCounts,
      errors: result.errors,
      unexpected: result.unexpected,
      cpu: cpu ?? null,
      journal,
      checkOk: check.ok,
      mismatchedKeys: check.mismatchedKeys,
      replay: check.replay,
      before,
    };
    out(
      `  ${entry.requestsPerSecond.toFixed(0)} req/s, p50 ${entry.latency.p50Ms.toFixed(2)} ms, ` +
        `p99 ${entry.latency.p99Ms.toFixed(2)} ms, node cores ` +
        `${entry.cpu?.nodes.map((c) => c?.toFixed(2)).join('/') ?? 'n/a'}, check ` +
        `${check.ok ? 'OK' : 'FAILED'}`,
    );
    runs.push(entry);
  }
  return runs;
}

async function runParts(options: ClusterBenchOptions, record: ClusterRecord): Promise<void> {
  const generator = new LoadGenerator(options.threads);
  try {
    if (options.parts.includes('throughput')) {
      for (const count of options.nodeCounts) {
        await withCluster(count, options, async (cluster) => {
          record.throughput.push(...(await throughputRuns(cluster, options, generator)));
          if (options.parts.includes('hop') && count >= 2) await hop(cluster, options, record);
        });
      }
    }
    if (options.parts.includes('hop') && record.hop.length === 0) {
      await withCluster(3, options, (cluster) => hop(cluster, options, record));
    }
  } finally {
    await generator.close();
  }
  if (!options.parts.includes('failover')) return;
  for (let run = 1; run <= options.failoverRuns; run += 1) {
    await withCluster(3, options, async (cluster) => {
      const victim = cluster.nodes[(run - 1) % cluster.nodes.length] as RunningCluster['nodes'][0];
      const before = await machineLoad();
      out(`  failover run ${run}: load on every node, ${victim.id} to be killed`);
      const result = await measureFailover(cluster, options, manySku(options), victim, out);
      out(
        `  ${result.recovered}/${result.victimPartitions} partitions back; last 200 → first ` +
          `200: ${result.failoverMs.min.toFixed(0)}–${result.failoverMs.max.toFixed(0)} ms ` +
          `(median ${result.failoverMs.p50.toFixed(0)}); acknowledged ${result.acknowledged}, ` +
          `lost ${result.lost}; check ${result.stateCheck.ok ? 'OK' : 'FAILED'}`,
      );
      record.failover.push({ run, before, ...result });
    });
  }
}

async function hop(
  cluster: RunningCluster,
  options: ClusterBenchOptions,
  record: ClusterRecord,
): Promise<void> {
  const before = await machineLoad();
  out(`  hop: ${options.hopRequests} direct and forwarded reserves each`);
  const result: HopResult = await measureHop(cluster, options);
  out(
    `  direct p50 ${result.direct.p50Ms.toFixed(2)} p99 ${result.direct.p99Ms.toFixed(2)} ms; ` +
      `forwarded p50 ${result.forwarded.p50Ms.toFixed(2)} p99 ${result.forwarded.p99Ms.toFixed(2)} ms`,
  );
  record.hop.push({ before, ...result });
}

function problemsOf(record: ClusterRecord): string[] {
  const problems: string[] = [];
  for (const run of record.throughput) {
    if (!run.checkOk) problems.push(`throughput ${run.nodes} nodes run ${run.run}: end state`);
    if (run.unexpected > 0 || Object.keys(run.errors).length > 0) {
      problems.push(`throughput ${run.nodes} nodes run ${run.run}: unexpected answers/errors`);
    }
  }
  for (const hop of record.hop) {
    if (Object.keys(hop.unexpected).length > 0) problems.push(`hop ${hop.nodes} nodes: unexpected`);
  }
  for (const run of record.failover as readonly (FailoverResult & { run: number })[]) {
    if (run.lost > 0) problems.push(`failover run ${run.run}: ${run.lost} LOST acknowledgements`);
    if (!run.stateCheck.ok) problems.push(`failover run ${run.run}: end state`);
    if (run.recovered < run.victimPartitions) {
      problems.push(`failover run ${run.run}: partitions not back within the cap`);
    }
  }
  return problems;
}

async function main(): Promise<void> {
  let options: ClusterBenchOptions | undefined;
  try {
    options = parseClusterArguments(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${clusterUsage}`);
    process.exit(2);
  }
  if (options === undefined) {
    out(clusterUsage);
    return;
  }
  const interrupted = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\n${signal}: stopping the nodes, deleting streams, dropping databases\n`);
    void Promise.all([...running].map((cleanup) => cleanup.run())).then(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  ensureBuilt(root);
  const stale = staleSources(root);
  const startedAt = new Date().toISOString();
  const record: ClusterRecord = {
    bench: 'cluster',
    startedAt,
    finishedAt: '',
    command: `npm run bench:cluster -- ${process.argv.slice(2).join(' ')}`.trim(),
    git: gitState(root),
    build: buildState(root),
    machine: machineInfo(),
    before: await machineLoad(),
    options: { ...options, databaseUrl: redactUrl(options.databaseUrl) },
    throughput: [],
    hop: [],
    failover: [],
    problems: [],
    warnings:
      stale.length === 0
        ? []
        : [
            `${stale.length} file(s) in src/ are newer than ${mainScriptPath(root)}: run npm run build`,
          ],
  };
  out(
    `${record.machine.cpuCount} × ${record.machine.cpuModel}, node ${record.machine.nodeVersion}; ` +
      `busy before: ${record.before.busyCores?.toFixed(2)} cores, load average ` +
      `${record.before.loadAverage.map((v) => v.toFixed(2)).join(' ')}`,
  );
  try {
    await runParts(options, record);
  } finally {
    record.finishedAt = new Date().toISOString();
    record.problems.push(...problemsOf(record));
    const report = markdownReport(record);
    out(`\n${report}`);
    const written = writeRunFiles(root, 'cluster', startedAt, record, report);
    out(`\nwritten: ${written.md}, ${written.json}`);
    for (const problem of record.problems)
      process.stderr.write(`\n!!!!!!!!!! ${problem} !!!!!!!!!!\n`);
    if (record.problems.length > 0) process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `cluster bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
