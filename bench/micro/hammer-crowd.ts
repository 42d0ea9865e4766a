// A flash crowd that does not wait: wrk's `--connections` (5,000) connections reserve 1 unit of
// one key of `--stock` (10,000) units as fast as each gets an answer, ignoring retry-after, for
// `--seconds`. This is how a load tester who points a plain wrk at the service tries the sale
// day; the bench's flash-crowd (`npm run bench -- --scenario flash-crowd`) is the crowd of
// buyers who honour retry-after. Per run: the units sold in the window (the useful work: a crowd
// that is only refused sells nothing), wrk's answers and timeouts (no answer within --timeout),
// the reserves the crowded node refused, by error code (its /metrics counter, before and after),
// the latency as wrk prints it (corrected for coordinated omission), and the
// HTTP thread's longest stall from the ledger's timeline (LEDGER_TIMELINE_FILE): how long one
// event-loop turn went on while the crowd kept its sockets readable. Each run is a fresh ledger
// on a scratch database. `--root DIR` runs another checkout's build (before/after pairs).
// `--prewarm-seconds N` first sends N seconds of reserves of another key over 64 connections, so
// the crowd meets a ledger whose code is optimized and whose connections are warm (does a warm
// path before ready help the first wave?). `--nodes N` (2 or more) runs a cluster instead
// (bench/lib/cluster-nodes.ts: one scratch database, NATS at NATS_URL), the crowd on a node that
// does not own the key (every reserve forwarded to its owner), and counts the nodes' "partition
// leases lost" lines and partitions taken during the crowd (a node that renews its leases late
// under the crowd loses them to another).
//
//   npx tsx bench/micro/hammer-crowd.ts [--connections 5000] [--threads 2] [--seconds 4]
//     [--stock 10000] [--timeout 2] [--runs 3] [--root DIR] [--prewarm-seconds 0] [--nodes 1]
//     [--cpu-prof-dir DIR]
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { Cleanup } from '../lib/cleanup.js';
import { startCluster, type ClusterNodeProcess } from '../lib/cluster-nodes.js';
import { call, scrapeMetrics } from '../lib/ledger-api.js';
import { ensureBuilt, startLedger, type SpawnedLedger } from '../lib/ledger-child.js';
import { backgroundBusyCores, machineInfo } from '../lib/machine.js';
import { counterWindowByLabel } from '../lib/prometheus.js';
import { withScratchDatabase } from '../lib/scratch-database.js';
import { readTimelineFiles } from '../lib/timeline-join.js';
import { histogramOf, parseWrkOutput, wrkPath, type WrkOutcome } from '../lib/wrk-driver.js';

const { values } = parseArgs({
  options: {
    connections: { type: 'string', default: '5000' },
    threads: { type: 'string', default: '2' },
    seconds: { type: 'string', default: '4' },
    stock: { type: 'string', default: '10000' },
    timeout: { type: 'string', default: '2' },
    runs: { type: 'string', default: '3' },
    root: { type: 'string' },
    'prewarm-seconds': { type: 'string', default: '0' },
    nodes: { type: 'string', default: '1' },
    'cpu-prof-dir': { type: 'string' },
  },
});
const connections = Number(values.connections);
const threads = Number(values.threads);
const seconds = Number(values.seconds);
const stock = Number(values.stock);
const timeoutSeconds = Number(values.timeout);
const runs = Number(values.runs);
const prewarmSeconds = Number(values['prewarm-seconds']);
const nodeCount = Number(values.nodes);
/** `--cpu-prof-dir DIR`: the ledger (every node) runs with node --cpu-prof, profiles in DIR. */
const cpuProfileDirectory = values['cpu-prof-dir'];
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const lastColumn =
  nodeCount > 1
    ? 'during the crowd, lines logged: leases lost / partitions taken'
    : 'HTTP thread longest stall ms';
const root = resolve(values.root ?? fileURLToPath(new URL('../..', import.meta.url)));
const script = fileURLToPath(new URL('../lib/wrk-reserve.lua', import.meta.url));
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const execFileAsync = promisify(execFile);
const key = { product_id: 'crowd-sku', warehouse_id: 'crowd-wh' };
const warmKey = { product_id: 'warm-sku', warehouse_id: 'crowd-wh' };

interface RunFigures {
  readonly sold: number;
  readonly answers: number;
  readonly perSecond: number;
  readonly non2xx: number;
  readonly timeouts: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** The HTTP thread's longest stall (one node); for a cluster, what the nodes logged. */
  readonly last: string;
  /** The reserves the crowded node answered with an error during the crowd, by code. */
  readonly refused: string;
}

/** The errors among the reserves answered between two scrapes of /metrics, as "code n, ...". */
function refusedBetween(before: string, after: string): string {
  const results = counterWindowByLabel(
    before,
    after,
    'inventory_reservation_attempts_total',
    'result',
  );
  const refused = Object.entries(results).filter(([result, count]) => result !== 'ok' && count > 0);
  return refused.length === 0 ? 'none' : refused.map(([code, n]) => `${code} ${n}`).join(', ');
}

/** The longest stall the HTTP thread's timeline recorded, ms. */
function longestStall(prefix: string): number {
  const main = readTimelineFiles(prefix).find((thread) => thread.thread === 'main');
  const stalls = (main?.events ?? []).filter((event) => event.k === 'stall');
  return Math.max(0, ...stalls.map((event) => event.ms ?? 0));
}

interface Load {
  readonly target: typeof key;
  readonly connections: number;
  readonly threads: number;
  readonly seconds: number;
}

async function hammer(wrk: string, baseUrl: string, load: Load) {
  const prefix = `hammer-${randomBytes(8).toString('hex')}`;
  const args = [
    ...['-t', String(load.threads), '-c', String(load.connections), '-d', `${load.seconds}s`],
    ...['--timeout', `${timeoutSeconds}s`, '-s', script, baseUrl],
    ...['--', load.target.product_id, load.target.warehouse_id, prefix, ''],
  ];
  const timeout = (load.seconds + 30) * 1000;
  const { stdout } = await execFileAsync(wrk, args, { timeout, maxBuffer: 64 * 2 ** 20 });
  return parseWrkOutput(stdout);
}

function figuresOf(outcome: WrkOutcome, sold: number, last: string, refused: string): RunFigures {
  // As wrk prints it (corrected for coordinated omission): with timeouts among the answers its
  // correction cannot be undone exactly, and the max is the same either way.
  const histogram = histogramOf(new Map(outcome.latency));
  return {
    sold,
    answers: outcome.requests,
    perSecond: outcome.requests / (outcome.durationUs / 1e6),
    non2xx: outcome.status,
    timeouts: outcome.timeout,
    p99Ms: histogram.getValueAtPercentile(99) / 1000,
    maxMs: histogram.maxValue / 1000,
    last,
    refused,
  };
}

/** The key's units held, asked until a node answers (503 while its partition moves). */
async function soldOn(baseUrl: string): Promise<number> {
  for (let attempt = 0; ; attempt += 1) {
    const view = await call(baseUrl, `/v1/stock/${key.product_id}/${key.warehouse_id}`);
    if (view.status === 200) return (view.body as { reserved: number }).reserved;
    if (attempt >= 100) throw new Error(`the stock could not be read: ${view.text}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** `--nodes N`: the crowd on the first node of a cluster; what the nodes logged meanwhile. */
async function clusterRun(wrk: string): Promise<RunFigures> {
  const cleanup = new Cleanup();
  try {
    const options = {
      databaseUrl: adminUrl,
      natsUrl,
      shards: 2,
      leaseSeconds: 5,
      partitions: 256,
      cpuProfileDirectory,
    };
    const cluster = await startCluster(root, nodeCount, options, cleanup);
    const first = (cluster.nodes[0] as ClusterNodeProcess).child.baseUrl;
    const stocked = await fetch(`${first}/v1/stock/adjust`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...key, delta: stock }),
    });
    if (stocked.status !== 200) throw new Error(`stocking failed: ${await stocked.text()}`);
    await stocked.arrayBuffer();
    // The crowd goes to a node that does not own the key: every reserve is forwarded.
    const owner = stocked.headers.get('x-served-by');
    const other = cluster.nodes.find((node) => node.id !== owner) as ClusterNodeProcess;
    const target = other.child.baseUrl;
    const before = cluster.nodes.map((node) => node.clusterLines.length);
    const metricsBefore = await scrapeMetrics(target);
    const outcome = await hammer(wrk, target, { target: key, connections, threads, seconds });
    const refused = refusedBetween(metricsBefore, await scrapeMetrics(target));
    const during = cluster.nodes.flatMap((node, index) =>
      node.clusterLines.slice(before[index] ?? 0),
    );
    const lost = during.filter((line) => line.includes('partition leases lost')).length;
    const taken = during.filter((line) => line.includes('"msg":"partitions taken"')).length;
    return figuresOf(outcome, await soldOn(target), `${lost} / ${taken}`, refused);
  } finally {
    await cleanup.run();
  }
}

async function oneRun(wrk: string, databaseUrl: string): Promise<RunFigures> {
  const directory = mkdtempSync(join(os.tmpdir(), 'hammer-crowd-'));
  const prefix = join(directory, 't');
  let child: SpawnedLedger | undefined;
  try {
    const ledger = await startLedger({
      root,
      databaseUrl,
      shards: 2,
      cpuProfileDirectory,
      nodeFlags: [],
      ledgerEnvironment: { LEDGER_TIMELINE_FILE: prefix },
      onSpawned: (spawned) => (child = spawned),
    });
    if (prewarmSeconds > 0) {
      const warm = JSON.stringify({ ...warmKey, delta: 10_000_000 });
      await call(ledger.baseUrl, '/v1/stock/adjust', warm);
      const prewarm = { target: warmKey, connections: 64, threads: 1, seconds: prewarmSeconds };
      await hammer(wrk, ledger.baseUrl, prewarm);
    }
    const stocked = await call(
      ledger.baseUrl,
      '/v1/stock/adjust',
      JSON.stringify({ ...key, delta: stock }),
    );
    if (stocked.status !== 200) throw new Error(`stocking failed: ${stocked.text}`);
    const metricsBefore = await scrapeMetrics(ledger.baseUrl);
    const outcome = await hammer(wrk, ledger.baseUrl, {
      target: key,
      connections,
      threads,
      seconds,
    });
    const refused = refusedBetween(metricsBefore, await scrapeMetrics(ledger.baseUrl));
    const sold = await soldOn(ledger.baseUrl);
    // Stopped first: its threads write the rest of their timelines as they end.
    await ledger.stop();
    child = undefined;
    return figuresOf(outcome, sold, longestStall(prefix).toFixed(0), refused);
  } finally {
    await (child as SpawnedLedger | undefined)?.stop(); // a run that failed midway
    rmSync(directory, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const wrk = wrkPath();
  if (wrk === undefined) throw new Error('wrk is not installed (Debian: apt-get install wrk)');
  ensureBuilt(root);
  const machine = machineInfo();
  const busy = await backgroundBusyCores(1_000);
  const build = spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], {
    encoding: 'utf8',
  }).stdout.trim();
  console.log(
    `# A crowd that does not wait: ${connections} connections, wrk -t${threads}, ${seconds} s, ` +
      `${stock} units${prewarmSeconds > 0 ? `, after ${prewarmSeconds} s of prewarm` : ''}\n\n${machine.cpuCount} × ${machine.cpuModel}, Node ${process.version}; ` +
      `${nodeCount > 1 ? `a cluster of ${nodeCount} nodes, the crowd on one not owning the key; ` : ''}` +
      `ledger at ${root} (commit ${build}); busy cores before: ${busy?.toFixed(2) ?? '?'}\n`,
  );
  console.log(
    '| run | units sold | answers/s | non-2xx | refused (by code) | timeouts | ' +
      `p99 ms (as wrk prints) | max ms | ${lastColumn} |\n|---|---|---|---|---|---|---|---|---|`,
  );
  for (let run = 1; run <= runs; run += 1) {
    const figures =
      nodeCount > 1
        ? await clusterRun(wrk)
        : await withScratchDatabase(adminUrl, (url) => oneRun(wrk, url));
    console.log(
      `| ${run} | ${figures.sold} | ${Math.round(figures.perSecond)} | ${figures.non2xx} | ` +
        `${figures.refused} | ${figures.timeouts} | ${figures.p99Ms.toFixed(0)} | ${figures.maxMs.toFixed(0)} | ` +
        `${figures.last} |`,
    );
  }
}

await main();
