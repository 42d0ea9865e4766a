// The composition root: configuration in, pieces wired, signals handled. Nothing else.
import pg from 'pg';
import { loadConfigOrExit, type Config } from './config.js';
import {
  adjustDeltaMax,
  availableStockKeysMax,
  drainTimeoutMs,
  onHandMax,
  pingTimeoutMs,
} from './limits.js';
import { LedgerServer, nativeUws } from './http/server.js';
import { createLogger, type Logger } from './observability/logger.js';
import {
  createIngressMetrics,
  renderMetrics,
  type IngressMetrics,
} from './observability/metrics.js';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from './persistence/embedded-postgres.js';
import {
  JournalLayoutError,
  migrate,
  openLayout,
  type JournalLayout,
} from './persistence/index.js';
import { PartitionTable, Router, ShardClient, partitionHashVersion } from './router/index.js';
import { ShardHost, type ShardWorkerData } from './shards/index.js';

interface Shards {
  readonly hosts: ShardHost[];
  readonly clients: ShardClient[];
}

async function openJournal(
  databaseUrl: string,
  config: Config,
  log: Logger,
): Promise<JournalLayout> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const ran = await migrate(client);
    if (ran.length > 0) log.info({ migrations: ran }, 'journal migrations applied');
    const wanted = { partitions: config.partitions, hashVersion: partitionHashVersion };
    return await openLayout(client, wanted, process.env.LEDGER_PARTITIONS !== undefined);
  } finally {
    await client.end();
  }
}

function startShards(
  config: Config,
  databaseUrl: string,
  table: PartitionTable,
  metrics: IngressMetrics,
  server: () => LedgerServer,
  log: Logger,
): Shards {
  const hosts: ShardHost[] = [];
  const clients: ShardClient[] = [];
  let nextId = 0;
  const ids = (): number => (nextId = (nextId + 1) % 0x7fffffff);
  for (let shard = 0; shard < table.shards; shard += 1) {
    const data: ShardWorkerData = {
      shard,
      partitions: table.partitionsOf(shard),
      databaseUrl,
      retention: {
        retainFinishedMs: config.retainFinishedSeconds * 1000,
        retainFinishedMax: Math.max(1, Math.ceil(config.retainFinishedMax / table.partitions)),
        onHandMax,
      },
      walBatchRecordsMax: config.walBatchRecordsMax,
      snapshotEveryRecords: config.snapshotEveryRecords,
      expirySweepMs: config.expirySweepMs,
      logLevel: config.logLevel,
    };
    const host = new ShardHost(shard, data, {
      replies: (replies) => clients[shard]?.replies(replies),
      ready: (recovery) => log.info({ shard, ...recovery }, 'shard ready'),
      durable: (changes) => server().stockChanged(changes.stock),
      down: (error) => {
        if (/invariant/.test(error.message)) metrics.oversellIncidents.inc();
        clients[shard]?.failAll('The shard restarted; nothing in flight was acknowledged.');
      },
      log: (level, message) => log[level]({ shard }, message),
    });
    hosts.push(host);
    clients.push(new ShardClient(host, config.shardInflightMax, ids));
  }
  return { hosts, clients };
}

async function readiness(
  shards: Shards,
): Promise<{ ready: boolean; details: Record<string, number | boolean> }> {
  const answers = await Promise.all(
    shards.hosts.map((host) =>
      host.isReady
        ? host.request('ping', pingTimeoutMs).then(
            (answer) => answer.kind === 'pong' && answer.journalWritable,
            () => false,
          )
        : Promise.resolve(false),
    ),
  );
  const details: Record<string, number | boolean> = { shards: answers.length };
  answers.forEach((ok, shard) => (details[`shard_${shard}`] = ok));
  return { ready: answers.every(Boolean), details };
}

async function workerMetrics(shards: Shards): Promise<unknown[]> {
  const answers = await Promise.allSettled(
    shards.hosts.map((host) => host.request('metrics', pingTimeoutMs)),
  );
  return answers.flatMap((answer) =>
    answer.status === 'fulfilled' && answer.value.kind === 'metrics' ? [answer.value.metrics] : [],
  );
}

async function drain(shards: Shards): Promise<void> {
  const deadline = Date.now() + drainTimeoutMs;
  while (shards.clients.some((client) => client.depth > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function main(): Promise<void> {
  const config = loadConfigOrExit(process.env);
  const log = createLogger(config.logLevel);
  if (!nativeUws() && !config.allowUwsFallback) {
    process.stderr.write(
      'config error: uWebSockets.js native binary did not load; refusing the slow ' +
        'JavaScript fallback (set LEDGER_ALLOW_UWS_FALLBACK=1 to run on it anyway)\n',
    );
    process.exit(2);
  }
  let embedded: EmbeddedPostgresHandle | undefined;
  if (config.databaseUrl === undefined) {
    embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      log: (message) => log.info(message),
    });
  }
  const databaseUrl = config.databaseUrl ?? (embedded as EmbeddedPostgresHandle).url;
  let layout: JournalLayout;
  try {
    layout = await openJournal(databaseUrl, config, log);
  } catch (error) {
    await embedded?.stop();
    if (!(error instanceof JournalLayoutError)) throw error;
    process.stderr.write(`config error: ${error.message}\n`);
    process.exit(2);
  }
  const table = new PartitionTable(layout.partitions, config.shards);
  // The depth gauge reads the clients only when scraped, after both exist.
  const ingress = createIngressMetrics(() => shards.clients.map((client) => client.depth));
  const shards = startShards(config, databaseUrl, table, ingress, () => server, log);
  const server = new LedgerServer({
    bodyBytesMax: config.bodyBytesMax,
    limits: { ...config, adjustDeltaMax },
    availableStockKeysMax,
    router: new Router(table, shards.clients),
    metrics: ingress,
    renderMetrics: async () => renderMetrics(ingress.registry, await workerMetrics(shards)),
    readiness: () => readiness(shards),
    log,
  });
  // Listen first so /health/live answers during recovery; commands get 503 until shards are ready.
  const port = await server.listen(config.host, config.port);
  log.info(
    { host: config.host, port, partitions: layout.partitions, shards: table.shards },
    'listening',
  );
  if (config.natsUrl === undefined) log.info('NATS_URL is not set: event publishing is off');
  for (const host of shards.hosts) host.start();
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining');
    server.stopAccepting();
    void (async () => {
      await drain(shards);
      await Promise.all(shards.hosts.map((host) => host.stop()));
      server.close();
      await embedded?.stop();
      log.info('stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
