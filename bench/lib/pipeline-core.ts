// The ledger's durable core in this process, without HTTP: the server's own ShardChannel (one
// worker thread per shard, each with its journal connections) and Router, on a migrated journal,
// wired as src/main.ts wires them (its startShards: the same worker data from the same Config,
// the same admission rule, the read view kept up to date from the `durable` messages). What is
// left out is the HTTP server, auth, the event publisher, the history maintenance and the cart
// coordinator; none of them is on a reserve's path.
import pg from 'pg';
import client from 'prom-client';
import { loadConfig, type Config } from '../../src/config.js';
import { renderMetrics } from '../../src/observability/metrics.js';
import { migrate, openLayout } from '../../src/persistence/index.js';
import {
  PartitionTable,
  Router,
  StockReadView,
  partitionHashVersion,
} from '../../src/router/index.js';
import {
  ShardChannel,
  shardWorkerData,
  type ShardChannelListener,
} from '../../src/shards/index.js';
import { threadTicks } from './thread-cpu.js';

export interface CoreSettings {
  readonly shards: number;
  readonly commitsInFlight: number;
  /** LEDGER_WAL_BATCH_RECORDS_MAX; the server's default when absent. */
  readonly walBatchRecordsMax?: number;
}

export interface RunningCore {
  readonly config: Config;
  readonly router: Router;
  readonly channels: readonly ShardChannel[];
  /** The threads that appeared while each shard started: its worker (and what that started). */
  readonly shardThreads: readonly ReadonlySet<number>[];
  /** Every shard's metrics, merged, in the Prometheus text format (as `/metrics` shows them). */
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

const systemRequestTimeoutMs = 10_000;
const readyWaitMs = 120_000;

async function openJournal(url: string, config: Config): Promise<number> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await migrate(admin);
    const wanted = { partitions: config.partitions, hashVersion: partitionHashVersion };
    return (await openLayout(admin, wanted, false)).partitions;
  } finally {
    await admin.end();
  }
}

/** Starts one shard and waits for it to be ready; the threads it brought with it. */
async function startShard(channel: ShardChannel): Promise<Set<number>> {
  const before = new Set(threadTicks().keys());
  channel.start();
  const deadline = performance.now() + readyWaitMs;
  while (!channel.isReady) {
    if (performance.now() > deadline) throw new Error(`shard ${channel.index} not ready in time`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return new Set([...threadTicks().keys()].filter((id) => !before.has(id)));
}

function channelOf(
  config: Config,
  table: PartitionTable,
  view: StockReadView,
  url: string,
  stopping: () => boolean,
) {
  const admission = { queueDelayMs: config.shardQueueDelayMs, floor: config.shardShedFloor };
  return (shard: number): ShardChannel => {
    const data = shardWorkerData(config, shard, table.partitionsOf(shard), table.partitions, url);
    const listener: ShardChannelListener = {
      ready: () => undefined,
      // As the server does: the read view first, so a reply that follows finds the change.
      durable: (changes) => {
        view.apply(changes.stock);
        view.readableUntil(data.partitions, changes.readableUntilMs);
      },
      census: (list, stock, untilMs) => view.load(list, stock, untilMs),
      down: (reason) => {
        if (!stopping()) process.stderr.write(`shard ${shard} down: ${reason.message}\n`);
      },
      log: (level, message) => {
        if (level !== 'info') process.stderr.write(`shard ${shard} ${level}: ${message}\n`);
      },
    };
    return new ShardChannel(shard, data, listener, admission);
  };
}

/** Starts the core on a database (migrated here); `stop` drains and ends the shard threads. */
export async function startCore(databaseUrl: string, settings: CoreSettings): Promise<RunningCore> {
  const config = loadConfig({
    DATABASE_URL: databaseUrl,
    SHARDS: String(settings.shards),
    LEDGER_COMMITS_IN_FLIGHT: String(settings.commitsInFlight),
    LOG_LEVEL: 'warn',
    ...(settings.walBatchRecordsMax === undefined
      ? {}
      : { LEDGER_WAL_BATCH_RECORDS_MAX: String(settings.walBatchRecordsMax) }),
  });
  const partitions = await openJournal(databaseUrl, config);
  const table = new PartitionTable(partitions, config.shards);
  const view = new StockReadView(table.partitions);
  let stopping = false;
  const channelFor = channelOf(config, table, view, databaseUrl, () => stopping);
  const channels = Array.from({ length: table.shards }, (_, shard) => channelFor(shard));
  const shardThreads: Set<number>[] = [];
  const stop = async (): Promise<void> => {
    stopping = true;
    await Promise.all(channels.map((channel) => channel.stop()));
  };
  try {
    for (const channel of channels) shardThreads.push(await startShard(channel));
  } catch (error) {
    await stop();
    throw error;
  }
  const router = new Router({ table, channels, view });
  const metrics = async (): Promise<string> => {
    const answers = await Promise.all(
      channels.map((channel) => channel.request('metrics', systemRequestTimeoutMs)),
    );
    const workers = answers.flatMap((answer) =>
      answer.kind === 'metrics' ? [answer.metrics] : [],
    );
    return renderMetrics(new client.Registry(), workers);
  };
  return { config, router, channels, shardThreads, metrics, stop };
}
