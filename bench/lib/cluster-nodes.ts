// A ledger cluster for the cluster bench: a scratch database, a fresh events stream, and N nodes
// of dist/src/main.js (LEDGER_CLUSTER=1, each its own LEDGER_NODE_ID) started as
// test/integration/cluster.test.ts starts them (the first alone, so that it creates the journal,
// then the others), awaited until the partitions are divided evenly; and the CPU of each of its
// processes around a measured window. Everything is undone by the Cleanup it is given: the nodes
// stopped by their PIDs, the stream deleted, the database dropped.
import { randomBytes } from 'node:crypto';
import { join as joinPath } from 'node:path';
import { deleteStream, uniqueStream } from '../../test/helpers/nats.js';
import type { ClusterBenchOptions } from './cluster-args.js';
import type { Cleanup } from './cleanup.js';
import { call } from './ledger-api.js';
import { startLedger, type LedgerChild } from './ledger-child.js';
import { clockTicksPerSecond } from '../../src/observability/thread-cpu.js';
import { machineBusyTicks, processTicks, ticksOfProcessesNamed } from './machine.js';
import { createScratchDatabase } from './scratch-database.js';

/** How long the nodes may take to divide the partitions evenly after they started. */
const balanceTimeoutMs = 120_000;
const balancePollMs = 200;

export interface ClusterNodeProcess {
  readonly id: string;
  readonly child: LedgerChild;
  /** False once the bench killed it. */
  alive: boolean;
  /** The node's cluster log lines (partitions taken, handed over, lost), as logged. */
  readonly clusterLines: string[];
}

export interface RunningCluster {
  readonly nodes: ClusterNodeProcess[];
  readonly databaseName: string;
  readonly stream: string;
  /** Partitions each node held when the cluster was first balanced, by node id. */
  readonly division: Record<string, number>;
}

interface ClusterView {
  readonly nodes: readonly { node_id: string; partitions: number; ready: boolean }[];
  readonly partitions: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts `count` nodes; the cleanup stops them, deletes the stream and drops the database (in
 * that order, whatever happens).
 */
export async function startCluster(
  root: string,
  count: number,
  options: Pick<
    ClusterBenchOptions,
    'databaseUrl' | 'natsUrl' | 'shards' | 'leaseSeconds' | 'partitions' | 'cpuProfileDirectory'
  >,
  cleanup: Cleanup,
): Promise<RunningCluster> {
  const database = await createScratchDatabase(options.databaseUrl);
  cleanup.push(`drop the database ${database.name}`, () => database.drop());
  const { stream, prefix } = uniqueStream('cbench');
  // The stream exists once a node's publisher made it; deleting one that never came is fine.
  cleanup.push(`delete the stream ${stream}`, () =>
    deleteStream(options.natsUrl, stream).catch((error: unknown) => {
      if (!String(error).includes('not found')) throw error;
    }),
  );
  const tag = randomBytes(3).toString('hex');
  const ids = Array.from({ length: count }, (_, index) => `bench-${tag}-${index + 1}`);
  const start = async (id: string): Promise<ClusterNodeProcess> => {
    const clusterLines: string[] = [];
    const child = await startLedger({
      root,
      databaseUrl: database.url,
      shards: options.shards,
      cpuProfileDirectory:
        options.cpuProfileDirectory === undefined
          ? undefined
          : joinPath(options.cpuProfileDirectory, id),
      nodeFlags: [],
      ledgerEnvironment: {
        NATS_URL: options.natsUrl,
        LEDGER_EVENTS_STREAM: stream,
        LEDGER_EVENTS_SUBJECT_PREFIX: prefix,
        LEDGER_CLUSTER: '1',
        LEDGER_NODE_ID: id,
        LEDGER_LEASE_SECONDS: String(options.leaseSeconds),
        LEDGER_PARTITIONS: String(options.partitions),
      },
      onSpawned: (spawned) => cleanup.push(`stop node ${id}`, () => spawned.stop()),
      onLine: (line) => {
        if (line.includes('"component":"cluster"')) clusterLines.push(line);
      },
    });
    return { id, child, alive: true, clusterLines };
  };
  const first = await start(ids[0] as string);
  const others = await Promise.all(ids.slice(1).map((id) => start(id)));
  const nodes = [first, ...others];
  const division = await balanced(nodes, options.partitions);
  return { nodes, databaseName: database.name, stream, division };
}

/** A node's share: partitions / nodes, the remainder one each to the first (by id). */
function shareOk(partitions: number, nodes: number, held: number): boolean {
  const base = Math.floor(partitions / nodes);
  return held === base || (held === base + 1 && partitions % nodes !== 0);
}

/** Waits until every node sees every node ready, each holding its share of the partitions. */
async function balanced(
  nodes: readonly ClusterNodeProcess[],
  partitions: number,
): Promise<Record<string, number>> {
  const deadline = Date.now() + balanceTimeoutMs;
  let last = '';
  for (;;) {
    const views = await Promise.all(
      nodes.map(async (node) => (await call(node.child.baseUrl, '/v1/cluster')).body),
    );
    const settled = views.every((raw) => {
      const view = raw as unknown as ClusterView;
      const held = view.nodes.reduce((sum, each) => sum + each.partitions, 0);
      return (
        view.nodes.length === nodes.length &&
        held === partitions &&
        view.nodes.every((each) => each.ready && shareOk(partitions, nodes.length, each.partitions))
      );
    });
    last = JSON.stringify(views[0]);
    if (settled) {
      const view = views[0] as unknown as ClusterView;
      return Object.fromEntries(view.nodes.map((each) => [each.node_id, each.partitions]));
    }
    if (Date.now() > deadline) {
      throw new Error(`the cluster did not balance within ${balanceTimeoutMs} ms: ${last}`);
    }
    await sleep(balancePollMs);
  }
}

export interface ClusterCpuSnapshot {
  readonly atMs: number;
  readonly benchMicroseconds: number;
  readonly nodeTicks: readonly (number | undefined)[];
  readonly postgresTicks: number | undefined;
  readonly natsTicks: number | undefined;
  readonly machineTicks: number | undefined;
}

/** Cores (1.0 = one core busy) of each process over a window; null where /proc had nothing. */
export interface ClusterCpu {
  readonly seconds: number;
  readonly nodes: readonly (number | null)[];
  readonly postgres: number | null;
  readonly nats: number | null;
  /** The bench process: the load generator's threads and the main thread. */
  readonly generator: number;
  readonly machine: number | null;
  /** Busy cores none of the above account for: other work on the machine, the kernel. */
  readonly other: number | null;
}

export function clusterCpuSnapshot(nodes: readonly ClusterNodeProcess[]): ClusterCpuSnapshot {
  const usage = process.cpuUsage();
  return {
    atMs: performance.now(),
    benchMicroseconds: usage.user + usage.system,
    nodeTicks: nodes.map((node) => processTicks(node.child.pid)?.ticks),
    postgresTicks: ticksOfProcessesNamed(['postgres']),
    natsTicks: ticksOfProcessesNamed(['nats-server']),
    machineTicks: machineBusyTicks(),
  };
}

export function clusterCpu(before: ClusterCpuSnapshot, after: ClusterCpuSnapshot): ClusterCpu {
  const seconds = (after.atMs - before.atMs) / 1000;
  // Below 0 when a process of the name (another session's Postgres backend) ended meanwhile.
  const cores = (a: number | undefined, b: number | undefined): number | null =>
    a === undefined || b === undefined || b < a ? null : (b - a) / clockTicksPerSecond / seconds;
  const nodes = before.nodeTicks.map((ticks, index) => cores(ticks, after.nodeTicks[index]));
  const postgres = cores(before.postgresTicks, after.postgresTicks);
  const nats = cores(before.natsTicks, after.natsTicks);
  const generator = (after.benchMicroseconds - before.benchMicroseconds) / 1e6 / seconds;
  const machine = cores(before.machineTicks, after.machineTicks);
  const known = [...nodes, postgres, nats];
  const other =
    machine === null || known.some((value) => value === null)
      ? null
      : Math.max(0, machine - generator - known.reduce<number>((sum, v) => sum + (v ?? 0), 0));
  return { seconds, nodes, postgres, nats, generator, machine, other };
}
