// Command-line flags of the hot-SKU bench, each with a default and a bound, so that a typo or an
// absurd value stops the run before anything is started instead of hanging a shared machine.
import { parseArgs } from 'node:util';

export interface BenchOptions {
  readonly connections: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly shards: number;
  readonly databaseUrl: string;
  /** When set, the ledger child runs with --cpu-prof and writes its profiles here. */
  readonly cpuProfileDirectory: string | undefined;
  /** Extra LEDGER_* settings for the child (--ledger-env NAME=VALUE), to compare configurations. */
  readonly ledgerEnvironment: Readonly<Record<string, string>>;
  /** Runs the same load against the ledger and the baselines in bench/baselines/, in turn. */
  readonly compare: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const usage = `Usage: npm run bench -- [flags]

Measures the durable reserve path on one hot stock key: starts the built ledger
(dist/src/main.js) on a scratch database, drives POST /v1/reserve with autocannon,
checks the reserved count, and writes bench/results/hot-sku-<timestamp>.json.

  --connections N     concurrent HTTP connections, pipelining 1 (default 64, 1..1024)
  --duration S        measured seconds (default 15, 1..600)
  --warmup S          seconds of load before measuring, not counted (default 3, 0..120)
  --shards N          SHARDS for the ledger (default 2, 1..64)
  --database-url URL  admin connection to a local Postgres; a scratch database
                      bench_<random> is created there and dropped at the end
                      (default postgres://postgres@127.0.0.1:5432/postgres)
  --ledger-env N=V    extra ledger setting, N must start with LEDGER_ (repeatable),
                      e.g. --ledger-env LEDGER_SNAPSHOT_EVERY_RECORDS=1000000
  --cpu-prof-dir DIR  run the ledger with node --cpu-prof; one .cpuprofile per thread
                      (main and each shard) is written to DIR when it stops
  --compare           run the same load against the ledger, then the baselines
                      postgres-row-lock, redis-lua (not durable) and bare-uws, one after
                      another; prints a table with ratios and writes
                      bench/results/compare-<timestamp>.json
  --help              this text
`;

interface IntegerFlag {
  readonly defaultValue: number;
  readonly min: number;
  readonly max: number;
}

const integerFlags = {
  connections: { defaultValue: 64, min: 1, max: 1024 },
  duration: { defaultValue: 15, min: 1, max: 600 },
  warmup: { defaultValue: 3, min: 0, max: 120 },
  shards: { defaultValue: 2, min: 1, max: 64 },
} as const satisfies Record<string, IntegerFlag>;

const databaseUrlDefault = 'postgres://postgres@127.0.0.1:5432/postgres';

function integer(name: keyof typeof integerFlags, raw: string | undefined): number {
  const flag: IntegerFlag = integerFlags[name];
  if (raw === undefined) return flag.defaultValue;
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= flag.min && value <= flag.max)) {
    throw new UsageError(
      `--${name} must be an integer from ${flag.min} to ${flag.max}, got ${raw}`,
    );
  }
  return value;
}

function ledgerEnvironment(settings: readonly string[]): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const setting of settings) {
    const match = /^(LEDGER_[A-Z0-9_]+)=(.*)$/.exec(setting);
    if (match?.[1] === undefined || match[2] === undefined) {
      throw new UsageError(`--ledger-env wants LEDGER_NAME=value, got ${setting}`);
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
        'ledger-env': { type: 'string', multiple: true },
        compare: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  const values = parsed.values;
  if (values.help === true) return undefined;
  const databaseUrl = values['database-url'] ?? databaseUrlDefault;
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new UsageError(`--database-url must start with postgres://, got ${databaseUrl}`);
  }
  return {
    connections: integer('connections', values.connections),
    durationSeconds: integer('duration', values.duration),
    warmupSeconds: integer('warmup', values.warmup),
    shards: integer('shards', values.shards),
    databaseUrl,
    cpuProfileDirectory: values['cpu-prof-dir'],
    ledgerEnvironment: ledgerEnvironment(values['ledger-env'] ?? []),
    compare: values.compare === true,
  };
}
