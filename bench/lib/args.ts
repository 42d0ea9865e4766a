// Command-line flags of the flash-sale bench, each with a default and a bound, so that a typo or
// an absurd value stops the run before anything is started instead of hanging a shared machine.
import { parseArgs } from 'node:util';
import { loadClientDefault, loadClients, type LoadClient } from './load-client.js';
import { scenarioNames, type ScenarioName } from './scenarios.js';
import { comparedSystemNames, systemNames, type SystemName } from './system-names.js';
import { walFilesModes, type WalFilesMode } from './wal-files.js';

export interface BenchOptions {
  readonly connections: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly shards: number;
  readonly databaseUrl: string;
  /** When set, the ledger child runs with --cpu-prof and writes its profiles here. */
  readonly cpuProfileDirectory: string | undefined;
  /** Extra node flags for the ledger child (--node-flag), e.g. --max-semi-space-size=32. */
  readonly nodeFlags: readonly string[];
  /** Extra LEDGER_* settings for the child (--ledger-env NAME=VALUE), to compare configurations. */
  readonly ledgerEnvironment: Readonly<Record<string, string>>;
  /** Runs the same load against the ledger and the baselines in bench/baselines/, in turn. */
  readonly compare: boolean;
  /** The ledger traces every request to a discarding OTLP receiver the bench runs (--trace). */
  readonly trace: boolean;
  /** --timeline: the ledger's and load threads' timelines, joined with the slow requests. */
  readonly timeline: boolean;
  /** --gc-trace: the ledger's collections per thread over the window (V8's --trace-gc-nvp). */
  readonly gcTrace: boolean;
  /** --speed-probe: fixed work timed every 100 ms beside the run (speed-probe.ts). */
  readonly speedProbe: boolean;
  /** --perf-dir: perf records each system's threads over the window here (perf-record.ts). */
  readonly perfDirectory: string | undefined;
  readonly scenarios: readonly ScenarioName[];
  readonly systems: readonly SystemName[];
  /** Every scenario × system is run this many times; tables show medians. */
  readonly runs: number;
  /** Load-generator threads (piscina workers); the connections are split between them. */
  readonly threads: number;
  readonly soldOutStock: number;
  readonly flashCrowdStock: number;
  /** BARE_UWS_THREADS for the bare-uws baseline: acceptor threads sharing its port. */
  readonly bareUwsThreads: number;
  /** What drives the load: the bench's own generator, or wrk (hot-sku only). */
  readonly generator: 'bench' | 'wrk';
  /** The bench's generator's HTTP client: its own (raw) or undici's. */
  readonly client: LoadClient;
  /**
   * --wal-files: Postgres's WAL files made ready before each durable system's load (wal-files.ts);
   * undefined: left as found.
   */
  readonly walFiles: WalFilesMode | undefined;
  /** --wal-stats: the window's WAL by relation and record kind (wal-composition.ts). */
  readonly walStats: boolean;
  /** --unlogged-journal: an experiment, not durable (unlogged-journal.ts). */
  readonly unloggedJournal: boolean;
  /** --ledger-nice: every thread of the ledger at this nice value once stocked (priorities.ts). */
  readonly ledgerNice: number | undefined;
  /** --postgres-nice: the ledger's Postgres backends at this nice value once stocked. */
  readonly postgresNice: number | undefined;
  /** --ledger-memory-mb: the ledger runs in a memory cgroup of this limit (memory-cgroup.ts). */
  readonly ledgerMemoryMb: number | undefined;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const usage = `Usage: npm run bench -- [flags]

Flash-sale load against the ledger (and with --compare, the baselines in bench/baselines/):
starts each system on a scratch database, stocks the scenario's keys, drives it with piscina
load threads (keep-alive, closed loop), checks the end state (no lost change, no
oversell), and writes bench/results/flash-sale-<timestamp>.{json,md,svg}.

  --scenario LIST     comma-separated, or all: hot-sku, many-sku, lifecycle,
                      many-sku-lifecycle, sold-out, flash-crowd, cart (default hot-sku;
                      with --compare, all)
  --compare           run every system: ledger, postgres-row-lock, redis-lua (not durable),
                      bare-uws; prints ratios of the ledger to each baseline
  --systems LIST      comma-separated subset of the systems above, or bare-uws-commit (bare-uws
                      answering once a row per request has committed to Postgres, in group
                      commits: the floor of a durable answer on the box) or
                      bare-uws-commit-hop (the same, its commit on a thread of its own behind a
                      hop like the ledger's), bare-uws-commit-wal (that, committing with the
                      ledger's journal statement) or bare-uws-commit-journal (that, each row a
                      movement in the history as well); default ledger, or the four above with
                      --compare
  --runs N            repeat every scenario × system N times; tables show medians (default 1)
  --connections N     concurrent HTTP connections, pipelining 1 (default 64, 1..10000;
                      mind ulimit -n: the bench and the server each hold one per connection)
  --threads N         load-generator threads the connections are split over (default 2, 1..16)
  --duration S        measured seconds (default 15, 1..600)
  --warmup S          seconds of load before measuring, not counted (default 3, 0..120)
  --shards N          SHARDS for the ledger (default 2, 1..64)
  --sold-out-stock N  units of the sold-out scenario's key (default 20000)
  --flash-crowd-stock N  units of the flash-crowd scenario's key (default 10000)
  --bare-uws-threads N  acceptor threads of the bare-uws baseline (default 1, 1..16)
  --generator G       bench (default): the bench's own load threads; wrk: a plain wrk run
                      (hot-sku only; wrk must be installed; --threads is wrk's -t), a warm-up
                      run and then the measured run, as a load tester would
  --client C          the bench generator's HTTP client: raw (default: its own, on a bare
                      socket, the least CPU per request) or undici (as before December 5)
  --wal-files MODE    before each durable system's load, put Postgres's WAL files in a state:
                      fresh (none ahead: the run makes each 16 MB file it fills, zero-filled
                      and fsynced while commits wait, as a new cluster does) or recycled
                      (max_wal_size of files renamed ahead by a checkpoint, as a cluster in its
                      steady state); default: as found. The report counts new WAL files
  --wal-stats         for a durable system, read Postgres's WAL over the measured window back
                      with its pg_waldump (a local server whose pg_wal this user can read) and
                      report it per answer by relation and record kind
  --unlogged-journal  an experiment, NOT DURABLE: once stocked, the ledger's journal table is made
                      UNLOGGED, so its rows write no Postgres WAL (commits still wait for
                      theirs): what a journal writing almost no WAL would buy, at most
  --ledger-nice N     once stocked, every thread of the ledger at nice N (-20..19; below 0
                      needs root, and is written --ledger-nice=-N): who gets a core first
  --postgres-nice N   once stocked, the Postgres backends connected to the ledger's database
                      (its journal and snapshot connections) at nice N
  --ledger-memory-mb N  the ledger runs in a memory cgroup limited to N MB, as in a container
                      (needs root and a memory controller); the report says the limit and how
                      often the kernel killed a process in it for memory
  --database-url URL  admin connection to a local Postgres; a scratch database
                      bench_<random> is created there per run and dropped after it
                      (default postgres://postgres@127.0.0.1:5432/postgres)
  --ledger-env N=V    extra ledger setting, N must start with LEDGER_ or OTEL_ (repeatable),
                      e.g. --ledger-env LEDGER_SNAPSHOT_EVERY_RECORDS=1000000
  --trace             the ledger traces every request (OpenTelemetry) to a receiver the bench
                      runs, which discards the spans: what tracing costs
  --timeline          the ledger writes its timeline (LEDGER_TIMELINE_FILE: GCs, stalls, group
                      commits, snapshots per thread) and the load threads keep per-second
                      latency and every request over 20 ms; the report joins them (per-second
                      table, what overlapped the slowest requests, how full the messages to
                      and from the shards were); files in
                      bench/results/timelines/
  --gc-trace          the ledger runs with V8's --trace-gc-nvp; the report gives each thread's
                      collections over the measured window: scavenges and full collections
                      (count, pauses), MB allocated, kept in the young generation, promoted
  --speed-probe       a small process of the bench's times the same fixed work every 100 ms
                      over each run (about 2% of a core, in 'other cores'): the report's
                      table by ten seconds puts its CPU µs a unit beside the rate and each
                      part's CPU an answer, so that a machine running slower shows as such
  --node-flag FLAG    extra node flag for the ledger child (repeatable), e.g.
                      --node-flag=--max-semi-space-size=32
  --perf-dir DIR      Linux perf records every thread of each system's node process (the
                      ledger or a baseline), on a core only, with call stacks over the
                      measured window; once it stops, its JavaScript frames are named from
                      V8's JIT dump (node --perf-prof, perf inject --jit):
                      DIR/<system>-<scenario>-<run>.perf.data (and the named code in
                      DIR/<...>.jit/); the Postgres backends of its database too, into
                      DIR/<...>.postgres.perf.data; read with npx tsx
                      bench/perf-breakdown.ts; the sampling slows the system, so such a run
                      shows where the time goes, not the rate
  --cpu-prof-dir DIR  run the ledger with node --cpu-prof; one .cpuprofile per thread
                      (main and each shard) is written to DIR when it stops
  --help              this text
`;

export interface IntegerFlag {
  readonly defaultValue: number;
  readonly min: number;
  readonly max: number;
}

const integerFlags = {
  connections: { defaultValue: 64, min: 1, max: 10_000 },
  duration: { defaultValue: 15, min: 1, max: 600 },
  warmup: { defaultValue: 3, min: 0, max: 120 },
  shards: { defaultValue: 2, min: 1, max: 64 },
  runs: { defaultValue: 1, min: 1, max: 20 },
  threads: { defaultValue: 2, min: 1, max: 16 },
  'sold-out-stock': { defaultValue: 20_000, min: 1, max: 1_000_000_000 },
  'flash-crowd-stock': { defaultValue: 10_000, min: 1, max: 1_000_000_000 },
  'bare-uws-threads': { defaultValue: 1, min: 1, max: 16 },
} as const satisfies Record<string, IntegerFlag>;

const databaseUrlDefault = 'postgres://postgres@127.0.0.1:5432/postgres';

function integer(name: keyof typeof integerFlags, raw: string | undefined): number {
  return integerFlag(name, integerFlags[name], raw);
}

/** An integer flag's value within its bounds (its default when absent), or a UsageError. */
export function integerFlag(name: string, flag: IntegerFlag, raw: string | undefined): number {
  if (raw === undefined) return flag.defaultValue;
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= flag.min && value <= flag.max)) {
    throw new UsageError(
      `--${name} must be an integer from ${flag.min} to ${flag.max}, got ${raw}`,
    );
  }
  return value;
}

/**
 * The flags of a bench whose flags are all integers (a micro-benchmark's rounds and sizes):
 * each within its bounds, its default when absent; a bad value is a UsageError.
 */
export function parseIntegerFlags<K extends string>(
  flags: Readonly<Record<K, IntegerFlag>>,
  args: readonly string[] = process.argv.slice(2),
): Record<K, number> {
  const names = Object.keys(flags) as K[];
  const options = Object.fromEntries(names.map((name) => [name, { type: 'string' as const }]));
  const { values } = parseArgs({ args: [...args], options });
  const parsed = {} as Record<K, number>;
  for (const name of names) {
    parsed[name] = integerFlag(name, flags[name], values[name] as string | undefined);
  }
  return parsed;
}

function ledgerEnvironment(settings: readonly string[]): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const setting of settings) {
    const match = /^((?:LEDGER|OTEL)_[A-Z0-9_]+)=(.*)$/.exec(setting);
    if (match?.[1] === undefined || match[2] === undefined) {
      throw new UsageError(
        `--ledger-env wants LEDGER_NAME=value or OTEL_NAME=value, got ${setting}`,
      );
    }
    environment[match[1]] = match[2];
  }
  return environment;
}

/** Parses argv (without node and the script); undefined means --help was asked for. */
export function parseBenchArguments(argv: readonly string[]): BenchOptions | undefined {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        connections: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        shards: { type: 'string' },
        'database-url': { type: 'string' },
        'cpu-prof-dir': { type: 'string' },
        'perf-dir': { type: 'string' },
        'ledger-env': { type: 'string', multiple: true },
        'node-flag': { type: 'string', multiple: true },
        compare: { type: 'boolean' },
        trace: { type: 'boolean' },
        timeline: { type: 'boolean' },
        'gc-trace': { type: 'boolean' },
        'speed-probe': { type: 'boolean' },
        scenario: { type: 'string' },
        systems: { type: 'string' },
        runs: { type: 'string' },
        threads: { type: 'string' },
        'sold-out-stock': { type: 'string' },
        'flash-crowd-stock': { type: 'string' },
        'bare-uws-threads': { type: 'string' },
        generator: { type: 'string' },
        client: { type: 'string' },
        'wal-files': { type: 'string' },
        'wal-stats': { type: 'boolean' },
        'unlogged-journal': { type: 'boolean' },
        'ledger-nice': { type: 'string' },
        'postgres-nice': { type: 'string' },
        'ledger-memory-mb': { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  const values = parsed.values;
  if (values.help === true) return undefined;
  const compare = values.compare === true;
  const databaseUrl = databaseUrlOf(values['database-url']);
  const scenarios = listOf(
    'scenario',
    values.scenario,
    scenarioNames,
    compare ? scenarioNames : ['hot-sku'],
  );
  return {
    connections: integer('connections', values.connections),
    durationSeconds: integer('duration', values.duration),
    warmupSeconds: integer('warmup', values.warmup),
    shards: integer('shards', values.shards),
    databaseUrl,
    cpuProfileDirectory: values['cpu-prof-dir'],
    ledgerEnvironment: ledgerEnvironment(values['ledger-env'] ?? []),
    nodeFlags: nodeFlagsOf(values['node-flag'] ?? []),
    trace: values.trace === true,
    timeline: values.timeline === true,
    gcTrace: values['gc-trace'] === true,
    speedProbe: values['speed-probe'] === true,
    perfDirectory: values['perf-dir'],
    compare,
    scenarios,
    systems: listOf(
      'systems',
      values.systems,
      systemNames,
      compare ? comparedSystemNames : ['ledger'],
    ),
    runs: integer('runs', values.runs),
    threads: integer('threads', values.threads),
    soldOutStock: integer('sold-out-stock', values['sold-out-stock']),
    flashCrowdStock: integer('flash-crowd-stock', values['flash-crowd-stock']),
    bareUwsThreads: integer('bare-uws-threads', values['bare-uws-threads']),
    generator: generatorOf(values.generator, scenarios),
    client: clientOf(values.client),
    walFiles: walFilesOf(values['wal-files']),
    walStats: values['wal-stats'] === true,
    unloggedJournal: values['unlogged-journal'] === true,
    ledgerNice: niceOf('ledger-nice', values['ledger-nice']),
    postgresNice: niceOf('postgres-nice', values['postgres-nice']),
    ledgerMemoryMb:
      values['ledger-memory-mb'] === undefined
        ? undefined
        : integerFlag(
            'ledger-memory-mb',
            { defaultValue: 0, min: 64, max: 1_048_576 },
            values['ledger-memory-mb'],
          ),
  };
}

/** Linux's range of nice values. */
const niceMin = -20;
const niceMax = 19;

function niceOf(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const nice = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(nice) || nice < niceMin || nice > niceMax) {
    throw new UsageError(`--${name} is an integer from ${niceMin} to ${niceMax}, got ${raw}`);
  }
  return nice;
}

function walFilesOf(raw: string | undefined): WalFilesMode | undefined {
  if (raw === undefined) return undefined;
  const mode = walFilesModes.find((known) => known === raw);
  if (mode === undefined) {
    throw new UsageError(`--wal-files is ${walFilesModes.join(' or ')}, got ${raw}`);
  }
  return mode;
}

function clientOf(raw: string | undefined): LoadClient {
  if (raw === undefined) return loadClientDefault;
  const client = loadClients.find((known) => known === raw);
  if (client === undefined) throw new UsageError(`--client is raw or undici, got ${raw}`);
  return client;
}

function generatorOf(raw: string | undefined, scenarios: readonly ScenarioName[]) {
  if (raw === undefined || raw === 'bench') return 'bench';
  if (raw !== 'wrk') throw new UsageError(`--generator is bench or wrk, got ${raw}`);
  if (scenarios.some((name) => name !== 'hot-sku')) {
    throw new UsageError('--generator wrk runs only --scenario hot-sku');
  }
  return 'wrk';
}

function nodeFlagsOf(flags: readonly string[]): string[] {
  for (const flag of flags) {
    if (!/^--[a-z0-9-]+(=[A-Za-z0-9._:/-]+)?$/.test(flag)) {
      throw new UsageError(`--node-flag wants one node flag like --name=value, got ${flag}`);
    }
  }
  return [...flags];
}

function listOf<T extends string>(
  flag: string,
  raw: string | undefined,
  known: readonly T[],
  defaults: readonly T[],
): readonly T[] {
  if (raw === undefined) return defaults;
  if (raw === 'all') return known;
  const items = raw.split(',').map((item) => item.trim());
  for (const item of items) {
    if (!(known as readonly string[]).includes(item)) {
      throw new UsageError(`--${flag}: unknown ${item}; known: ${known.join(', ')}, all`);
    }
  }
  return [...new Set(items)] as T[];
}

/** --database-url, or the local Postgres; a URL that is not postgres:// is a UsageError. */
export function databaseUrlOf(raw: string | undefined): string {
  const databaseUrl = raw ?? databaseUrlDefault;
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new UsageError(`--database-url must start with postgres://, got ${databaseUrl}`);
  }
  return databaseUrl;
}
