// Command-line flags of the cluster bench, each with a default and a bound (as the flash-sale
// bench's), so that a typo or an absurd value stops the run before anything is started.
import { parseArgs } from 'node:util';
import { UsageError, databaseUrlOf, integerFlag } from './args.js';

export type ClusterPart = 'throughput' | 'hop' | 'failover';
export const clusterParts: readonly ClusterPart[] = ['throughput', 'hop', 'failover'];

export interface ClusterBenchOptions {
  readonly parts: readonly ClusterPart[];
  /** Cluster sizes of the throughput part, in order (1, 2, 3). */
  readonly nodeCounts: readonly number[];
  readonly runs: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly connections: number;
  readonly threads: number;
  readonly skus: number;
  /** SHARDS of every node. */
  readonly shards: number;
  readonly partitions: number;
  readonly leaseSeconds: number;
  /** Forwarded and direct reserves each, measured, per hop run. */
  readonly hopRequests: number;
  readonly hopConnections: number;
  readonly failoverRuns: number;
  readonly failoverConnections: number;
  /** Seconds of failover load before the kill. */
  readonly killAfterSeconds: number;
  readonly databaseUrl: string;
  readonly natsUrl: string;
  /** When set, every node runs with --cpu-prof and writes its profiles to DIR/<node id>. */
  readonly cpuProfileDirectory: string | undefined;
}

export const clusterUsage = `Usage: npm run bench:cluster -- [flags]

Cluster mode (LEDGER_CLUSTER=1) on this box: nodes of dist/src/main.js on one scratch database
(bench_<random>) and one NATS, with a fresh events stream per cluster, all stopped and removed
at the end (also on failure and Ctrl-C). Three parts, in order:
  throughput  many-SKU reserves (--skus keys, 1 unit each, new idempotency key each time) from
              the flash-sale load generator, its connections round-robin over every node's
              port, for each cluster size of --nodes: req/s, latency, CPU of every process
  hop         a forwarded reserve against the same reserve sent to its partition's owner
              (owners learnt from x-served-by), closed loop, few connections: the added hop
  failover    three nodes under a steady keyed reserve load; one is killed with SIGKILL; for
              each partition it owned: last 200 before the kill -> first 200 after; every
              acknowledged reservation read back through a survivor (lost must be 0)
Writes bench/results/cluster-<timestamp>.{json,md}. Exit code 1 on a lost acknowledgement,
a failed end-state check or an unexpected answer outside the failover.

  --parts LIST            throughput,hop,failover (default all three)
  --nodes LIST            cluster sizes of the throughput part (default 1,2,3; each 1..3)
  --runs N                throughput runs per cluster size (default 2, 1..20)
  --duration S            measured seconds of a throughput run (default 10, 1..600)
  --warmup S              seconds before measuring (default 2, 0..120)
  --connections N         throughput connections (default 64, 1..1024)
  --threads N             load-generator threads (default 2, 1..16)
  --skus N                stock keys, one product each, stocked 10^9 (default 1000, 1..10000)
  --shards N              SHARDS of every node (default 1, 1..64)
  --partitions N          LEDGER_PARTITIONS (default 256, the ledger's, 1..4096)
  --lease-seconds N       LEDGER_LEASE_SECONDS (default 5, the ledger's, 2..300)
  --hop-requests N        measured reserves of each kind per hop run (default 2000, 10..100000)
  --hop-connections N     closed-loop connections of the hop part (default 1, 1..16)
  --failover-runs N       kills, each on a fresh three-node cluster (default 3, 1..20)
  --failover-connections N  closed-loop connections of the failover load (default 16, 1..256)
  --kill-after S          seconds of failover load before the kill (default 8, 2..120)
  --database-url URL      admin connection to a local Postgres
                          (default postgres://postgres@127.0.0.1:5432/postgres)
  --nats URL              the NATS server with JetStream (default nats://127.0.0.1:4222)
  --cpu-prof-dir DIR      run every node with node --cpu-prof; its profiles in DIR/<node id>
  --help                  this text
`;

const integerFlags = {
  runs: { defaultValue: 2, min: 1, max: 20 },
  duration: { defaultValue: 10, min: 1, max: 600 },
  warmup: { defaultValue: 2, min: 0, max: 120 },
  connections: { defaultValue: 64, min: 1, max: 1024 },
  threads: { defaultValue: 2, min: 1, max: 16 },
  skus: { defaultValue: 1000, min: 1, max: 10_000 },
  shards: { defaultValue: 1, min: 1, max: 64 },
  partitions: { defaultValue: 256, min: 1, max: 4096 },
  'lease-seconds': { defaultValue: 5, min: 2, max: 300 },
  'hop-requests': { defaultValue: 2000, min: 10, max: 100_000 },
  'hop-connections': { defaultValue: 1, min: 1, max: 16 },
  'failover-runs': { defaultValue: 3, min: 1, max: 20 },
  'failover-connections': { defaultValue: 16, min: 1, max: 256 },
  'kill-after': { defaultValue: 8, min: 2, max: 120 },
} as const;

type IntegerName = keyof typeof integerFlags;

function listOf<T extends string>(flag: string, raw: string, known: readonly T[]): T[] {
  const items = raw.split(',').map((item) => item.trim());
  for (const item of items) {
    if (!(known as readonly string[]).includes(item)) {
      throw new UsageError(`--${flag}: unknown ${item}; known: ${known.join(', ')}`);
    }
  }
  return [...new Set(items)] as T[];
}

/** Parses argv (without node and the script); undefined means --help was asked for. */
export function parseClusterArguments(argv: readonly string[]): ClusterBenchOptions | undefined {
  let values;
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(
          Object.keys(integerFlags).map((name) => [name, { type: 'string' as const }]),
        ),
        parts: { type: 'string' },
        nodes: { type: 'string' },
        'database-url': { type: 'string' },
        nats: { type: 'string' },
        'cpu-prof-dir': { type: 'string' },
        help: { type: 'boolean' },
      },
    }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  if (values.help === true) return undefined;
  const integer = (name: IntegerName): number => {
    const raw = values[name];
    return integerFlag(name, integerFlags[name], typeof raw === 'string' ? raw : undefined);
  };
  const text = (name: string): string | undefined => {
    const raw = values[name];
    return typeof raw === 'string' ? raw : undefined;
  };
  const nodeCounts = listOf('nodes', text('nodes') ?? '1,2,3', ['1', '2', '3']).map(Number);
  const natsUrl = text('nats') ?? 'nats://127.0.0.1:4222';
  if (!/^nats:\/\//.test(natsUrl)) throw new UsageError(`--nats must start with nats://`);
  return {
    parts: listOf('parts', text('parts') ?? clusterParts.join(','), clusterParts),
    nodeCounts,
    runs: integer('runs'),
    durationSeconds: integer('duration'),
    warmupSeconds: integer('warmup'),
    connections: integer('connections'),
    threads: integer('threads'),
    skus: integer('skus'),
    shards: integer('shards'),
    partitions: integer('partitions'),
    leaseSeconds: integer('lease-seconds'),
    hopRequests: integer('hop-requests'),
    hopConnections: integer('hop-connections'),
    failoverRuns: integer('failover-runs'),
    failoverConnections: integer('failover-connections'),
    killAfterSeconds: integer('kill-after'),
    databaseUrl: databaseUrlOf(text('database-url')),
    natsUrl,
    cpuProfileDirectory: text('cpu-prof-dir'),
  };
}
