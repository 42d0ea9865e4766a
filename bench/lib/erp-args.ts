// Command-line flags of the erp-sync bench, each with a default and a bound (as the flash-sale
// bench's), so that a typo or an absurd value stops the run before anything is started.
import { parseArgs } from 'node:util';
import { UsageError, databaseUrlOf, integerFlag } from './args.js';

export interface ErpSyncOptions {
  /** Pairs of loads: the hot-SKU load alone, and with imports running. */
  readonly runs: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly threads: number;
  readonly shards: number;
  /** Seed of the import files (which keys, ops and quantities): the same seed, the same files. */
  readonly seed: number;
  readonly databaseUrl: string;
}

export const erpSyncUsage = `Usage: npx tsx bench/erp-sync.ts [flags]   (or npm run bench:erp-sync -- [flags])

An ERP feed against the hot SKU, on one ledger (dist/src/main.js) on a scratch database: the
hot-SKU reserve load alone, then the same load while NDJSON stock imports of 10,000 lines
(POST /v1/stock/import: adjust and set lines over 4,000 keys of 2,000 products) run back to
back through its measured window; the two alternate for --runs pairs. Prints the hot SKU's
req/s and latency with and without the imports, each import's lines/s, checks every import
line's result and the end state, and writes bench/results/erp-sync-<timestamp>.{json,md}.

  --runs N            pairs of loads (alone, with imports), alternated (default 3, 1..20)
  --duration S        measured seconds of each load (default 10, 1..600)
  --warmup S          seconds of load before measuring, not counted (default 3, 0..120)
  --connections N     concurrent HTTP connections of the hot-SKU load (default 64, 1..1024)
  --threads N         load-generator threads (default 2, 1..16)
  --shards N          SHARDS for the ledger (default 2, 1..64)
  --seed N            seed of the import files (default 1, 0..4294967295)
  --database-url URL  admin connection to a local Postgres; a scratch database
                      bench_<random> is created there and dropped at the end
                      (default postgres://postgres@127.0.0.1:5432/postgres)
  --help              this text
`;

const integerFlags = {
  runs: { defaultValue: 3, min: 1, max: 20 },
  duration: { defaultValue: 10, min: 1, max: 600 },
  warmup: { defaultValue: 3, min: 0, max: 120 },
  connections: { defaultValue: 64, min: 1, max: 1024 },
  threads: { defaultValue: 2, min: 1, max: 16 },
  shards: { defaultValue: 2, min: 1, max: 64 },
  seed: { defaultValue: 1, min: 0, max: 0xffff_ffff },
} as const;

function integer(name: keyof typeof integerFlags, raw: string | undefined): number {
  return integerFlag(name, integerFlags[name], raw);
}

/** Parses argv (without node and the script); undefined means --help was asked for. */
export function parseErpSyncArguments(argv: readonly string[]): ErpSyncOptions | undefined {
  let values;
  try {
    const stringFlag = { type: 'string' } as const;
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(Object.keys(integerFlags).map((name) => [name, stringFlag])),
        'database-url': stringFlag,
        help: { type: 'boolean' },
      },
    }).values as Partial<Record<keyof typeof integerFlags | 'database-url', string>> & {
      help?: boolean;
    };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  if (values.help === true) return undefined;
  const databaseUrl = databaseUrlOf(values['database-url']);
  return {
    runs: integer('runs', values.runs),
    durationSeconds: integer('duration', values.duration),
    warmupSeconds: integer('warmup', values.warmup),
    connections: integer('connections', values.connections),
    threads: integer('threads', values.threads),
    shards: integer('shards', values.shards),
    seed: integer('seed', values.seed),
    databaseUrl,
  };
}
