// The ledger's durable core alone: the server's shard worker threads, Router and journal on a
// scratch Postgres database, driven from this process's main thread by closed-loop in-process
// clients doing hot-SKU reserves (1 unit of one key, a fresh idempotency key each), with no HTTP
// and no load generator competing for the cores. What it says: how many durable reserves a
// second the commit pipeline gives when it has the machine to itself, and what each part costs
// in CPU per reserve and per group commit (the main thread, each shard's threads, Postgres).
//
//   npx tsx bench/micro/pipeline-alone.ts [--clients 64,256,1024] [--shards 1,2,4]
//     [--commits-in-flight 1,2,3] [--batch-max 4096] [--keys 1] [--duration 10] [--warmup 2]
//     [--runs 3]
//     [--database-url postgres://postgres@127.0.0.1:5432/postgres]
//
// Lists make a matrix; with --runs N the whole matrix is run N times in turn (round 1 of every
// setting, then round 2, ...), so each setting's runs meet the machine's moments alike. Each run
// has its own scratch database, dropped afterwards, also on failure and on Ctrl-C. Prints one
// line per run, then per setting the median and the range of each figure; writes every run to
// bench/results/pipeline-alone-<timestamp>.json. --batch-max sets LEDGER_WAL_BATCH_RECORDS_MAX
// (records per group commit at most; the server's default otherwise).
import { parseArgs } from 'node:util';
import { summarize } from '../lib/load-driver.js';
import { backgroundBusyCores, machineInfo } from '../lib/machine.js';
import { startClients, type StockKey } from '../lib/pipeline-clients.js';
import { startCore } from '../lib/pipeline-core.js';
import { runFigures, windowAfter, windowBefore, type RunFigures } from '../lib/pipeline-window.js';
import { summaryLines } from '../lib/pipeline-report.js';
import { withScratchDatabase } from '../lib/scratch-database.js';
import { stockAdjust } from '../lib/stock-adjust.js';
import { writeRunFiles } from '../lib/results-files.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);

interface Setting {
  readonly clients: number;
  readonly shards: number;
  readonly commitsInFlight: number;
}

interface Options {
  readonly settings: readonly Setting[];
  readonly batchMax: number | undefined;
  readonly keys: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly runs: number;
  readonly databaseUrl: string;
}

function list(text: string, name: string, min: number, max: number): number[] {
  const values = text.split(',').map(Number);
  for (const value of values) {
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`--${name}: each value must be an integer in ${min}..${max}, got ${text}`);
    }
  }
  return values;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '64' },
      shards: { type: 'string', default: '2' },
      'commits-in-flight': { type: 'string', default: '1' },
      'batch-max': { type: 'string' },
      keys: { type: 'string', default: '1' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      runs: { type: 'string', default: '1' },
      'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    },
  });
  const one = (name: keyof typeof values, min: number, max: number): number =>
    list(String(values[name]), name, min, max)[0] as number;
  const settings: Setting[] = [];
  for (const clients of list(values.clients, 'clients', 1, 10_000)) {
    for (const shards of list(values.shards, 'shards', 1, 64)) {
      for (const inFlight of list(values['commits-in-flight'], 'commits-in-flight', 1, 4)) {
        settings.push({ clients, shards, commitsInFlight: inFlight });
      }
    }
  }
  const batchMax = values['batch-max'];
  return {
    settings,
    batchMax: batchMax === undefined ? undefined : list(batchMax, 'batch-max', 1, 65_536)[0],
    keys: one('keys', 1, 100_000),
    durationSeconds: one('duration', 1, 600),
    warmupSeconds: one('warmup', 0, 120),
    runs: one('runs', 1, 50),
    databaseUrl: values['database-url'],
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const stockEach = 1_000_000_000;

const stockChunk = 1000;

/** Stocks each key through the router, as the bench's adjusts do, a chunk of keys at a time. */
async function stock(core: Awaited<ReturnType<typeof startCore>>, keys: readonly StockKey[]) {
  const adjust = (key: StockKey) =>
    new Promise<{ ok: boolean }>((resolve) =>
      core.router.dispatch(stockAdjust(key.productId, key.warehouseId, stockEach), ({ outcome }) =>
        resolve(outcome),
      ),
    );
  for (let start = 0; start < keys.length; start += stockChunk) {
    const replies = await Promise.all(keys.slice(start, start + stockChunk).map(adjust));
    const failed = replies.find((reply) => !reply.ok);
    if (failed !== undefined) throw new Error(`stocking failed: ${JSON.stringify(failed)}`);
  }
}

/** Reserved units of every key, read through the router: what the ok answers must add up to. */
async function reservedTotal(core: Awaited<ReturnType<typeof startCore>>, keys: StockKey[]) {
  const read = (key: StockKey) =>
    new Promise<number>((resolve) =>
      core.router.dispatch({ kind: 'read-stock', ...key }, ({ outcome }) => {
        const stock = (outcome as { stock?: { reserved?: number } }).stock;
        resolve(stock?.reserved ?? Number.NaN);
      }),
    );
  let total = 0;
  for (let start = 0; start < keys.length; start += stockChunk) {
    const values = await Promise.all(keys.slice(start, start + stockChunk).map(read));
    total += values.reduce((sum, value) => sum + value, 0);
  }
  return total;
}

async function runOnce(option: Options, setting: Setting, url: string): Promise<RunFigures> {
  const core = await startCore(url, { ...setting, walBatchRecordsMax: option.batchMax });
  try {
    const keys = Array.from({ length: option.keys }, (_, index) => ({
      productId: option.keys === 1 ? 'hot-sku' : `sku-${String(index).padStart(5, '0')}`,
      warehouseId: 'bench-wh',
    }));
    await stock(core, keys);
    const clients = startClients({
      router: core.router,
      clients: setting.clients,
      keys,
      ttlSeconds: core.config.ttlSecondsDefault,
      shedWaitMs: 1000,
    });
    await sleep(option.warmupSeconds * 1000);
    const before = await windowBefore(core, url);
    clients.measure();
    await sleep(option.durationSeconds * 1000);
    const after = await windowAfter(core, before);
    await clients.stop();
    const reserved = await reservedTotal(core, keys);
    const latency = summarize(clients.tally.histogram);
    return runFigures({ setting, before, after, tally: clients.tally, latency, reserved });
  } finally {
    await core.stop();
  }
}

function runLine(run: RunFigures): string {
  const f = (value: number | null, digits = 0) => (value === null ? '-' : value.toFixed(digits));
  return (
    `  ${f(run.reservesPerSecond)} reserves/s, p50 ${f(run.latency.p50Ms, 2)} p99 ` +
    `${f(run.latency.p99Ms, 2)} p99.9 ${f(run.latency.p999Ms, 2)} max ${f(run.latency.maxMs, 1)} ms;` +
    ` ${f(run.commitsPerSecond)} commits/s x ${f(run.recordsPerCommit, 1)} records, flush ` +
    `${f(run.flushMeanMs, 2)} ms; cores: main ${f(run.cores.main, 2)}, shards ` +
    `${run.cores.shards.map((value) => f(value, 2)).join('/')}, other threads ` +
    `${f(run.cores.otherThreads, 2)}, postgres (this db) ${f(run.cores.postgresDatabase, 2)}, ` +
    `postgres (all) ${f(run.cores.postgresAll, 2)}, machine ${f(run.cores.machine, 2)}, ` +
    `other work ${f(run.cores.otherWork, 2)}; check ${run.checkOk ? 'OK' : 'FAILED'}`
  );
}

async function main(): Promise<void> {
  const option = options();
  const machine = machineInfo();
  out(
    `pipeline alone: ${machine.cpuCount} x ${machine.cpuModel}, Node ${machine.nodeVersion}; ` +
      `${option.keys} key(s), ${option.warmupSeconds} s warm-up + ${option.durationSeconds} s, ` +
      `records per commit at most ${option.batchMax ?? 'the default'}, ` +
      `${option.runs} round(s) of ${option.settings.length} setting(s)`,
  );
  const runs: RunFigures[] = [];
  for (let round = 1; round <= option.runs; round += 1) {
    for (const setting of option.settings) {
      const busyBefore = await backgroundBusyCores(1000);
      out(
        `round ${round}: ${setting.clients} clients, ${setting.shards} shards, ` +
          `${setting.commitsInFlight} in flight (busy cores before: ${busyBefore?.toFixed(2)})`,
      );
      const run = await withScratchDatabase(option.databaseUrl, (url) =>
        runOnce(option, setting, url),
      );
      runs.push({ ...run, round, busyCoresBefore: busyBefore });
      out(runLine(run));
    }
  }
  for (const line of summaryLines(runs)) out(line);
  const startedAt = new Date().toISOString();
  const { json } = writeRunFiles('.', 'pipeline-alone', startedAt, {
    machine,
    options: option,
    runs,
  });
  out(`written: ${json}`);
  if (runs.some((run) => !run.checkOk)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
  process.exit(1);
});
