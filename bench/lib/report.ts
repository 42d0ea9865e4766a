// The run's record (one JSON file per run under bench/results/) and its human summary: a
// markdown table row to paste into bench/README.md, and the problems, printed loudly.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LatencySummary } from './latency-histogram.js';
import type { CpuUse, MachineInfo } from './machine.js';
import type { BenchOptions } from './args.js';
import type { StockKey } from './ledger-api.js';
import type { WalCounters } from './scratch-database.js';

/** The one stock key every hot-SKU run hammers, in single runs and in --compare. */
export const hotStockKey: StockKey = { productId: 'hot-sku', warehouseId: 'bench-wh' };
/** The largest delta one adjust accepts; a run never gets near using it up. */
export const stockDelta = 1_000_000_000;

/** The load's parameters, as every result file records them. */
export function loadParameters(options: BenchOptions) {
  return {
    connections: options.connections,
    durationSeconds: options.durationSeconds,
    warmupSeconds: options.warmupSeconds,
    shards: options.shards,
    pipelining: 1,
    quantity: 1,
    stockDelta,
    stockKey: hotStockKey,
    databaseUrl: redactUrl(options.databaseUrl),
  };
}

export interface CheckFigures {
  /** 200 answers autocannon counted, warm-up and measured phases together. */
  readonly answered200: number;
  /** Requests sent whose answer was never read when autocannon closed its connections. */
  readonly unansweredAtStop: number;
  readonly appliedBeforeStop: number;
  readonly appliedByReplay: number;
  readonly replayFailures: Record<string, number>;
  readonly reservedAtStop: number;
  readonly reservedAfterReplay: number;
  readonly onHand: number;
  readonly ok: boolean;
}

export interface BenchRecord {
  readonly bench: 'hot-sku';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly git: { readonly commit: string | null; readonly dirty: boolean | null };
  /** Which build ran: dist/src/main.js's time and a digest of every file under dist/src. */
  readonly build: { readonly builtAt: string; readonly distDigest: string };
  readonly machine: MachineInfo;
  readonly parameters: Record<string, unknown>;
  readonly load: {
    readonly requestsPerSecondMean: number;
    readonly requestsPerSecondStddev: number;
    readonly answered: number;
    readonly wallSeconds: number;
    readonly answersPerSecond: readonly number[];
    readonly latency: LatencySummary;
    /** autocannon's own figures (whole milliseconds), for comparison with other autocannon runs. */
    readonly autocannonLatencyMs: Record<string, number>;
    readonly statusCounts: Record<string, number>;
    readonly non2xx: number;
    readonly errors: number;
    readonly timeouts: number;
  };
  readonly warmup: { readonly statusCounts: Record<string, number>; readonly errors: number };
  readonly ledger: {
    readonly batchSizeMean: number | null;
    readonly groupCommits: number;
    readonly recordsJournaled: number;
    readonly flushMeanMs: number | null;
    /**
     * Sum of flush durations over the window's length: near 1 (per busy shard) means the journal
     * write is the bottleneck; well below it means requests spend their time elsewhere.
     */
    readonly journalBusyFraction: number;
    readonly reservationResults: Record<string, number>;
    readonly oversellIncidents: number;
  };
  readonly postgresWal: (WalCounters & { readonly syncsPerSecond: number }) | null;
  readonly cpu: CpuUse;
  readonly cpuPerSecond: readonly CpuUse[];
  /** Busy cores on the machine just before the run started: other people's work, if any. */
  readonly backgroundBusyCores: number | null;
  readonly check: CheckFigures;
  /** Why the run failed: non-2xx answers, connection errors, a count mismatch. */
  readonly problems: string[];
  /** Why the figures may not mean much, though the run itself passed. */
  readonly warnings: string[];
}

export function gitState(root: string): BenchRecord['git'] {
  const git = (...args: string[]): string | null => {
    const result = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
    return result.status === 0 ? result.stdout.trim() : null;
  };
  const status = git('status', '--porcelain', '--', 'src');
  return { commit: git('rev-parse', 'HEAD'), dirty: status === null ? null : status !== '' };
}

export function buildState(root: string): BenchRecord['build'] {
  const directory = join(root, 'dist', 'src');
  const digest = createHash('sha256');
  const files = readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.js'))
    .sort();
  for (const file of files) digest.update(file).update(readFileSync(join(directory, file)));
  return {
    builtAt: statSync(join(directory, 'main.js')).mtime.toISOString(),
    distDigest: digest.digest('hex').slice(0, 16),
  };
}

/** The URL without its password, fit for a results file. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

const fixed = (value: number | null, digits: number): string =>
  value === null ? 'n/a' : value.toFixed(digits);

function cores(value: number | null): string {
  return value === null ? 'n/a' : value.toFixed(2);
}

export const markdownHeader =
  '| date | shards | connections | req/s (mean) | p50 ms | p90 ms | p99 ms | max ms | non-2xx ' +
  '| batch mean | flush mean ms | other load (cores) | check |\n' +
  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|';

export function markdownRow(record: BenchRecord): string {
  const latency = record.load.latency;
  const cells = [
    record.startedAt.slice(0, 16).replace('T', ' '),
    String(record.parameters.shards),
    String(record.parameters.connections),
    record.load.requestsPerSecondMean.toFixed(0),
    latency.p50Ms.toFixed(2),
    latency.p90Ms.toFixed(2),
    latency.p99Ms.toFixed(2),
    latency.maxMs.toFixed(1),
    String(record.load.non2xx + record.load.errors),
    fixed(record.ledger.batchSizeMean, 1),
    fixed(record.ledger.flushMeanMs, 2),
    cores(record.cpu.otherCores),
    record.check.ok ? 'OK' : 'MISMATCH',
  ];
  return `| ${cells.join(' | ')} |`;
}

export function writeRecord(root: string, record: BenchRecord): string {
  const directory = join(root, 'bench', 'results');
  mkdirSync(directory, { recursive: true });
  const stamp = record.startedAt.replace(/[:.]/g, '-');
  const path = join(directory, `hot-sku-${stamp}.json`);
  writeFileSync(path, `${JSON.stringify(record, null, 2)}\n`);
  return path;
}

export function printSummary(record: BenchRecord): void {
  const { load, ledger, cpu, check } = record;
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  out('');
  out(`requests/s (mean of 1 s samples): ${load.requestsPerSecondMean.toFixed(0)}`);
  out(
    `latency ms: p50 ${load.latency.p50Ms.toFixed(2)}  p90 ${load.latency.p90Ms.toFixed(2)}  ` +
      `p99 ${load.latency.p99Ms.toFixed(2)}  max ${load.latency.maxMs.toFixed(2)}  ` +
      `(${load.answered} answers)`,
  );
  out(`answers per second: ${load.answersPerSecond.join(' ')}`);
  const series = (pick: (use: CpuUse) => number | null): string =>
    record.cpuPerSecond.map((use) => cores(pick(use))).join(' ');
  out(`ledger cores per second: ${series((use) => use.ledgerCores)}`);
  out(`other work (cores) per second: ${series((use) => use.otherCores)}`);
  out(`answers by status: ${JSON.stringify(load.statusCounts)}  errors ${load.errors}`);
  out(
    `ledger: ${ledger.groupCommits} group commits, ${fixed(ledger.batchSizeMean, 1)} records ` +
      `per commit, flush mean ${fixed(ledger.flushMeanMs, 2)} ms, ` +
      `journal writing ${(ledger.journalBusyFraction * 100).toFixed(0)}% of the time`,
  );
  if (record.postgresWal !== null) {
    out(`postgres (whole cluster): ${record.postgresWal.syncsPerSecond.toFixed(0)} WAL syncs/s`);
  }
  out(
    `cpu (cores): ledger ${cores(cpu.ledgerCores)}, postgres ${cores(cpu.postgresCores)}, ` +
      `load generator ${cores(cpu.benchCores)}, other ${cores(cpu.otherCores)}; ` +
      `machine busy ${cores(cpu.machineBusyCores)} of ${record.machine.cpuCount} ` +
      `(${cores(record.backgroundBusyCores)} busy just before the run)`,
  );
  out(
    `check: reserved ${check.reservedAfterReplay} = ${check.answered200} answered 200 + ` +
      `${check.unansweredAtStop} unanswered at stop (${check.appliedBeforeStop} had been ` +
      `applied, ${check.appliedByReplay} applied by the replay): ${check.ok ? 'OK' : 'MISMATCH'}`,
  );
  out('');
  out(markdownHeader);
  out(markdownRow(record));
  for (const warning of record.warnings) process.stderr.write(`\nwarning: ${warning}\n`);
  for (const problem of record.problems) {
    process.stderr.write(`\n!!!!!!!!!! ${problem} !!!!!!!!!!\n`);
  }
}
