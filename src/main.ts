// The composition root: configuration in, pieces wired, signals handled. Nothing else.
import pg from 'pg';
import { loadConfigOrExit, type Config } from './config.js';
import { EventPublisherHost } from './events/index.js';
import { systemClock } from './clock.js';
import {
  adjustDeltaMax,
  cartResolveIntervalMs,
  drainTimeoutMs,
  traceExportDelayMs,
  historyConnectionsMax,
  historyDaysAhead,
  historyLockTimeoutMs,
  historyMaintenanceIntervalMs,
  historyStatementTimeoutMs,
  walTrimBatchRows,
  pingTimeoutMs,
  snapshotTimeoutMs,
} from './limits.js';
import { Authenticator } from './http/auth.js';
import { Gate } from './http/gate.js';
import { HealthListener } from './http/health-listener.js';
import { RateLimiter } from './http/rate-limit.js';
import type { RequestTracing } from './http/tracing.js';
import { LedgerServer, nativeUws, type Readiness } from './http/server.js';
import { gcHelperAdviceHere } from './observability/gc-helpers.js';
import { createLogger, type Logger } from './observability/logger.js';
import { packageVersion } from './package-version.js';
import { LiveSummary } from './observability/live-summary.js';
import { startTimeline, type Timeline } from './observability/timeline.js';
import {
  createIngressMetrics,
  renderMetrics,
  type IngressMetrics,
} from './observability/metrics.js';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from './persistence/embedded/index.js';
import {
  durabilityProblems,
  durabilitySettings,
  HistoryMaintenance,
  HistoryStore,
  JournalLayoutError,
  JournalOwner,
  ReopeningConnection,
  loadReservationRoutes,
  type LeaseConnection,
  ownerLockId,
  migrate,
  openLayout,
  type JournalLayout,
} from './persistence/index.js';
import {
  CartCoordinator,
  CartResolver,
  PartitionTable,
  Router,
  StockReadView,
  partitionHashVersion,
} from './router/index.js';
import { ShardChannel, shardWorkerData } from './shards/index.js';
import type { ClusterNode, ClusterNodeOptions, FeedPort } from './cluster/index.js';
import { chooseFloor, floorWorkersOldGeneration, memoryLimitBytes } from './worker-heap.js';

/** The ledger's hold on the journal: alone, the owner lock; in a cluster, a share of it. */
interface JournalHold {
  readonly owned: boolean;
  release(): Promise<void>;
}

interface OpenedJournal {
  readonly layout: JournalLayout;
  readonly owner: JournalHold;
  /** In a cluster: the connection the node's leases are kept on, and the journal's identity. */
  readonly cluster?: { readonly connection: LeaseConnection; readonly journalId: string };
  /** Reservation id -> partition, for holds a migration moved (empty on most journals). */
  readonly routes: ReadonlyMap<string, number>;
}

/**
 * Claims the journal for this process, migrates it, checks its layout and loads the reservation
 * routes. The returned owner holds the ownership lock until the ledger stops, re-claiming it if
 * its connection is lost; if another ledger takes the journal meanwhile, this one exits 3 at once
 * (another owner exists, so there is nothing to drain to).
 */
async function openJournal(
  databaseUrl: string,
  config: Config,
  log: Logger,
): Promise<OpenedJournal> {
  if (config.cluster !== undefined) return openClusterJournal(databaseUrl, config, log);
  const owner = await JournalOwner.claim(
    {
      newClient: () =>
        new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 }),
      log: (level, fields, message) => log[level](fields, message),
      taken: () => process.exit(3),
    },
    config.journalClaimWaitSeconds * 1000,
    () => log.warn('the journal is locked by another ledger (or one that just died); waiting'),
  );
  try {
    const client = owner.connection;
    const ran = await migrate(client);
    if (ran.length > 0) log.info({ migrations: ran }, 'journal migrations applied');
    await reportDurability(client, log);
    const wanted = { partitions: config.partitions, hashVersion: partitionHashVersion };
    const layout = await openLayout(client, wanted, process.env.LEDGER_PARTITIONS !== undefined);
    const routes = await loadReservationRoutes(client, Date.now());
    if (routes.size > 0) log.info({ routes: routes.size }, 'reservation routes loaded');
    await owner.supervise();
    return { layout, owner, routes };
  } catch (error) {
    await owner.release();
    throw error;
  }
}

/** Tells the operator what in Postgres's settings weakens an acknowledgement (durability.ts). */
async function reportDurability(client: pg.ClientBase, log: Logger): Promise<void> {
  const settings = await durabilitySettings(client);
  for (const problem of durabilityProblems(settings)) {
    log[problem.level]({ component: 'journal', postgres: settings }, problem.message);
  }
}

/**
 * A node of a cluster shares the journal: it holds the ownership lock in shared mode for its
 * lifetime, so a ledger started alone on the same journal (which takes it whole) waits until no
 * node runs, and no node starts while it runs. Partitions are owned by leases (cluster/).
 */
async function openClusterJournal(
  databaseUrl: string,
  config: Config,
  log: Logger,
): Promise<OpenedJournal> {
  const open = async (): Promise<pg.Client> => {
    const client = new pg.Client({
      connectionString: databaseUrl,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      // A lease statement that hangs must fail before the lease it renews runs out.
      query_timeout: ((config.cluster?.leaseSeconds ?? 5) * 1000) / 2,
    });
    client.on('error', (error) => log.warn({ err: error }, 'cluster connection error'));
    await client.connect();
    const locked = await client
      .query<{ locked: boolean }>('SELECT pg_try_advisory_lock_shared($1) AS locked', [ownerLockId])
      .catch(async (error: unknown) => {
        await client.end().catch(() => undefined);
        throw error;
      });
    if (locked.rows[0]?.locked !== true) {
      await client.end().catch(() => undefined);
      throw new JournalLayoutError(
        'the journal is owned by a ledger running alone (without LEDGER_CLUSTER); stop it first',
      );
    }
    return client;
  };
  const client = await open();
  try {
    const ran = await migrate(client);
    if (ran.length > 0) log.info({ migrations: ran }, 'journal migrations applied');
    await reportDurability(client, log);
    const wanted = { partitions: config.partitions, hashVersion: partitionHashVersion };
    const layout = await openLayout(client, wanted, process.env.LEDGER_PARTITIONS !== undefined);
    const routes = await loadReservationRoutes(client, Date.now());
    const identity = await client.query<{ id: string }>(
      `SELECT to_hex((extract(epoch FROM created_at) * 1000000)::bigint) AS id FROM ledger_meta`,
    );
    // Lease statements go on this connection, opened again (with the shared lock) if it breaks.
    const connection = new ReopeningConnection(open, client);
    const owner: JournalHold = { owned: true, release: () => connection.close() };
    const journalId = identity.rows[0]?.id ?? '0';
    return { layout, owner, routes, cluster: { connection, journalId } };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

/** In a cluster: the node's lease keeper and forwarding, wired to its shards. */
async function startCluster(
  config: Config,
  journal: Pick<OpenedJournal, 'cluster'>,
  parts: Pick<ClusterNodeOptions, 'table' | 'shards' | 'view' | 'events' | 'log'>,
): Promise<ClusterNode | undefined> {
  if (config.cluster === undefined || journal.cluster === undefined) return undefined;
  const { nodeId, leaseSeconds } = config.cluster;
  const { connection, journalId } = journal.cluster;
  const natsUrl = config.natsUrl as string;
  // Loaded only in a cluster: with it comes the NATS client, which a single node's main thread
  // does not need (its events have a thread of their own).
  const { clusterNode } = await import('./cluster/index.js');
  return clusterNode({ nodeId, leaseSeconds, natsUrl, journal: journalId, connection, ...parts });
}

/** Where what the shards tell the main thread goes. */
interface ShardWiring {
  readonly view: StockReadView;
  readonly metrics: IngressMetrics;
  /** The server exists only after the channels (its router needs them): read it late. */
  readonly server: () => LedgerServer;
  /** In a cluster: the node (its other nodes' live feeds get these changes); read it late. */
  readonly cluster: () => ClusterNode | undefined;
  readonly events: EventPublisherHost | undefined;
  readonly log: Logger;
  readonly timeline: Timeline | undefined;
}

function startShards(
  config: Config,
  databaseUrl: string,
  table: PartitionTable,
  wiring: ShardWiring,
): ShardChannel[] {
  const { view, metrics, server, cluster, events, log } = wiring;
  const channels: ShardChannel[] = [];
  for (let shard = 0; shard < table.shards; shard += 1) {
    const data = shardWorkerData(
      config,
      shard,
      table.partitionsOf(shard),
      table.partitions,
      databaseUrl,
    );
    const admission = { queueDelayMs: config.shardQueueDelayMs, floor: config.shardShedFloor };
    const channel = new ShardChannel(
      shard,
      data,
      {
        ready: (recovery) => log.info({ shard, ...recovery }, 'shard ready'),
        // The read view first: a reply that follows this message must find the change there.
        durable: (changes) => {
          view.apply(changes.stock);
          view.readableUntil(data.partitions, changes.readableUntilMs);
          server().stockChanged(changes.stock);
          cluster()?.stockChanged(changes.stock);
          events?.wake(changes.durableLsns);
          for (const [productId, warehouseId, onHand, reserved] of changes.stock) {
            metrics.hotKeys.observe(productId, warehouseId, onHand - reserved);
          }
        },
        census: (partitions, stock, readableUntilMs) =>
          view.load(partitions, stock, readableUntilMs),
        down: (reason) => {
          if (reason.invariantBroken) metrics.oversellIncidents.inc();
        },
        log: (level, message) => log[level]({ shard }, message),
      },
      admission,
      wiring.timeline,
    );
    channels.push(channel);
  }
  return channels;
}

async function readiness(
  shards: readonly ShardChannel[],
  events: EventPublisherHost | undefined,
  owner: JournalHold,
  cluster: ClusterNode | undefined,
): Promise<{ ready: boolean; details: Record<string, number | boolean> }> {
  const answers = await Promise.all(
    shards.map((shard) =>
      shard.isReady
        ? shard.request('ping', pingTimeoutMs).then(
            (answer) => answer.kind === 'pong' && answer.journalWritable,
            () => false,
          )
        : Promise.resolve(false),
    ),
  );
  const details: Record<string, number | boolean> = { shards: answers.length };
  answers.forEach((ok, shard) => (details[`shard_${shard}`] = ok));
  details.journal_owned = owner.owned;
  if (cluster !== undefined) {
    // A node is ready once it has joined and serves every partition it holds (and forwards).
    const joined = cluster.keeper.ready;
    details.cluster_ready = joined;
    return { ready: joined && answers.every(Boolean), details };
  }
  if (events !== undefined) {
    // Shown, never counted against readiness: replies never wait for events.
    const status = events.stats();
    details.events_connected = status.connected;
    details.events_lag_records = status.lagRecords;
    details.events_lag_seconds = Math.round(status.lagSeconds * 1000) / 1000;
  }
  return { ready: owner.owned && answers.every(Boolean), details };
}

async function workerMetrics(shards: readonly ShardChannel[]): Promise<unknown[]> {
  const answers = await Promise.allSettled(
    shards.map((shard) => shard.request('metrics', pingTimeoutMs)),
  );
  return answers.flatMap((answer) =>
    answer.status === 'fulfilled' && answer.value.kind === 'metrics' ? [answer.value.metrics] : [],
  );
}

/** Asks every shard to snapshot its changed partitions; the number snapshotted. */
async function snapshotAll(shards: readonly ShardChannel[]): Promise<number> {
  const answers = await Promise.all(
    shards.map((shard) => shard.request('snapshot', snapshotTimeoutMs)),
  );
  return answers.reduce(
    (sum, answer) => sum + (answer.kind === 'snapshot-done' ? answer.partitions : 0),
    0,
  );
}

/** OpenTelemetry spans of requests, exported over OTLP/HTTP, when an OTLP endpoint is set. */
async function startTracing(config: Config, log: Logger): Promise<RequestTracing | undefined> {
  if (config.tracing === undefined) return undefined;
  const { serviceName, samplePercent } = config.tracing;
  log.info({ service: serviceName, sample_percent: samplePercent }, 'tracing to OTLP');
  // Loaded only when tracing is on: the OpenTelemetry SDK and its exporter are much of what the
  // main thread loads before anything of a start can run (bench/README.md, "Less for the main
  // thread to load").
  const [{ OTLPTraceExporter }, { RequestTracing }] = await Promise.all([
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('./http/tracing.js'),
  ]);
  // The exporter reads OTEL_EXPORTER_OTLP_*ENDPOINT and _HEADERS itself.
  const exporter = new OTLPTraceExporter();
  const version = packageVersion();
  return new RequestTracing({
    serviceName,
    version,
    samplePercent,
    exporter,
    exportDelayMs: traceExportDelayMs,
  });
}

/** The event publisher (its own worker thread), when NATS_URL is set. */
function startEvents(
  config: Config,
  databaseUrl: string,
  ingress: IngressMetrics,
  log: Logger,
): EventPublisherHost | undefined {
  if (config.natsUrl === undefined) {
    log.info('NATS_URL is not set: event publishing is off');
    return undefined;
  }
  const { streamName, subjectPrefix, duplicateWindowSeconds, maxAgeSeconds } = config.events;
  const events = new EventPublisherHost({
    workerData: {
      databaseUrl,
      natsUrl: config.natsUrl,
      stream: { name: streamName, subjectPrefix, duplicateWindowSeconds, maxAgeSeconds },
      // A node of a cluster publishes the partitions it holds only, told as they come and go.
      ...(config.cluster === undefined ? {} : { owned: [] }),
      ...(config.timelineFile === undefined ? {} : { timelineFile: config.timelineFile }),
    },
    registry: ingress.registry,
    log: (level, message) => log[level]({ component: 'events' }, message),
  });
  events.start();
  return events;
}

async function drain(shards: readonly ShardChannel[]): Promise<void> {
  const deadline = Date.now() + drainTimeoutMs;
  while (shards.some((shard) => shard.depth > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** V8's collector as the start sets it and speaks of it: the workers' floor, the helpers. */
function setUpCollector(config: Config, log: Logger): void {
  const gcAdvice = gcHelperAdviceHere();
  if (gcAdvice !== undefined) log.info(gcAdvice);
  // Each shard, its snapshot thread and the events publisher: the worker threads with a floor.
  const { floorMb, said } = chooseFloor(
    config.workerOldGenerationFloorMb,
    config.workerOldGenerationFloorSet,
    2 * config.shards + 1,
    memoryLimitBytes(),
  );
  if (said !== undefined) log[said.level](said.message);
  // Before any worker starts: each reads it as its heap is made.
  floorWorkersOldGeneration(floorMb);
}

function refuseJavaScriptFallback(config: Config): void {
  if (nativeUws() || config.allowUwsFallback) return;
  process.stderr.write(
    'config error: uWebSockets.js native binary did not load; refusing the slow ' +
      'JavaScript fallback (set LEDGER_ALLOW_UWS_FALLBACK=1 to run on it anyway)\n',
  );
  process.exit(2);
}

interface Operational {
  readonly readiness: () => Promise<Readiness>;
  readonly renderMetrics: () => Promise<string>;
}

/**
 * The node:http health listener (HTTP/1.0 health checks), when LEDGER_HEALTH_PORT is set. If it
 * cannot listen, the main server is closed first: exiting with a uWS listener open aborts.
 */
async function startHealth(
  config: Config,
  operational: Operational,
  server: LedgerServer,
  log: Logger,
): Promise<HealthListener | undefined> {
  if (config.healthPort === undefined) return undefined;
  const health = new HealthListener({ ...operational, log });
  try {
    const port = await health.listen(config.host, config.healthPort);
    log.info({ host: config.host, port }, 'health listener');
    return health;
  } catch (error) {
    server.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`health listener (LEDGER_HEALTH_PORT): ${reason}`, { cause: error });
  }
}

interface Journal extends OpenedJournal {
  readonly databaseUrl: string;
  readonly embedded: EmbeddedPostgresHandle | undefined;
}

/** The configured Postgres, or the embedded one; migrated and its layout checked (exit 2). */
async function startJournal(config: Config, log: Logger): Promise<Journal> {
  let embedded: EmbeddedPostgresHandle | undefined;
  if (config.databaseUrl === undefined) {
    embedded = await startEmbeddedPostgres({
      dataDir: config.dataDir,
      log: (message) => log.info(message),
    });
  }
  const databaseUrl = config.databaseUrl ?? (embedded as EmbeddedPostgresHandle).url;
  try {
    return { databaseUrl, ...(await openJournal(databaseUrl, config, log)), embedded };
  } catch (error) {
    await embedded?.stop();
    if (!(error instanceof JournalLayoutError)) throw error;
    process.stderr.write(`config error: ${error.message}\n`);
    process.exit(2);
  }
}

/** The coordinator of carts, counting each placement by result and scope. */
function cartCoordinator(router: Router, metrics: IngressMetrics): CartCoordinator {
  return new CartCoordinator({
    transport: router,
    clock: systemClock,
    // limits.ts: far longer than the few shard round trips a confirm takes, short enough that a
    // confirm that died half way does not keep a hold past its time for long.
    placed: (result, crossPartition) => {
      const scope = crossPartition ? 'cross' : 'single';
      metrics.cartAttempts.labels({ result, scope }).inc();
    },
  });
}

/** Finishes the carts left in doubt (a coordinator that died): asks every shard each second. */
function cartResolver(coordinator: CartCoordinator, shards: readonly ShardChannel[], log: Logger) {
  return new CartResolver({
    coordinator,
    intervalMs: cartResolveIntervalMs,
    inDoubt: async () => {
      const answers = await Promise.allSettled(
        shards.map((shard) => shard.request('in-doubt', pingTimeoutMs)),
      );
      return answers.flatMap((answer) =>
        answer.status === 'fulfilled' && answer.value.kind === 'in-doubt' ? answer.value.carts : [],
      );
    },
    log: (level, message) => log[level](message),
  });
}

/** Drops the movement history's days older than the retention; creates the days ahead. */
function historyMaintenance(
  config: Config,
  databaseUrl: string,
  metrics: IngressMetrics,
  log: Logger,
): HistoryMaintenance {
  return new HistoryMaintenance({
    newClient: () =>
      new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 }),
    retainDays: config.historyRetainDays,
    daysAhead: historyDaysAhead,
    lockTimeoutMs: historyLockTimeoutMs,
    intervalMs: historyMaintenanceIntervalMs,
    wal: {
      retainMs: config.walRetainHours * 3_600_000,
      eventsOn: config.natsUrl !== undefined,
      batchRows: walTrimBatchRows,
    },
    now: () => systemClock.now(),
    ran: (run) => {
      metrics.historyPartitionsDropped.inc(run.dropped.length);
      const { created, dropped, defaultRowsDeleted, skipped, walRowsTrimmed } = run;
      if (created.length + dropped.length + defaultRowsDeleted + skipped + walRowsTrimmed > 0) {
        log.info({ component: 'history', ...run }, 'movement history maintained');
      }
    },
    failed: (error) => log.warn({ component: 'history', err: error }, 'history maintenance failed'),
    // In a cluster, one node's run an interval is enough: the others find it claimed. A tenth
    // of the interval is left for timers that fire a little early.
    ...(config.cluster === undefined
      ? {}
      : {
          claim: {
            nodeId: config.cluster.nodeId,
            everyMs: historyMaintenanceIntervalMs * 0.9,
            skipped: () =>
              log.debug({ component: 'history' }, 'history maintenance done by another node'),
          },
        }),
  });
}

/** The history's reader pool, and its maintenance (a first run before the shards write). */
async function startHistory(
  config: Config,
  databaseUrl: string,
  metrics: IngressMetrics,
  log: Logger,
): Promise<{ maintenance: HistoryMaintenance; history: HistoryStore }> {
  const maintenance = historyMaintenance(config, databaseUrl, metrics, log);
  await maintenance.start();
  const history = HistoryStore.open(databaseUrl, {
    connectionsMax: historyConnectionsMax,
    statementTimeoutMs: historyStatementTimeoutMs,
    onError: (error) => log.warn({ component: 'history', err: error }, 'history pool error'),
  });
  return { maintenance, history };
}

/** The per-client rate limit (off at 0 a second: it then keeps no bucket). */
function rateLimiterOf(config: Config): RateLimiter {
  const burst = config.rateLimitBurst || 2 * config.rateLimitPerSecond;
  return new RateLimiter(config.rateLimitPerSecond, burst);
}

/** The live page's numbers, read from the metrics when a page asks (never per request). */
function liveSummary(
  metrics: IngressMetrics,
  shards: readonly ShardChannel[],
  events: EventPublisherHost | undefined,
): () => Promise<string> {
  const summary = new LiveSummary(
    {
      metrics,
      shardMetrics: () => workerMetrics(shards),
      queueDepths: () => shards.map((shard) => shard.depth),
      events: () => events?.stats(),
      now: () => Date.now(),
    },
    Date.now(),
  );
  return () => summary.json();
}

/** How much a request may send: one JSON body, and a stock import's file. */
function bodyLimits(
  config: Config,
): Pick<Config, 'bodyBytesMax' | 'importBytesMax' | 'importLinesMax'> {
  const { bodyBytesMax, importBytesMax, importLinesMax } = config;
  return { bodyBytesMax, importBytesMax, importLinesMax };
}

/** The server's live feed as a cluster node sees it (other nodes' changes go to it). */
function feedPort(server: LedgerServer): FeedPort {
  return {
    get watched() {
      return server.feedWatched;
    },
    changed: (changes) => server.stockChanged(changes),
  };
}

/** What a stop drains and closes, in order. */
interface Running {
  readonly log: Logger;
  readonly server: LedgerServer;
  readonly resolver: CartResolver;
  readonly cluster: ClusterNode | undefined;
  readonly shards: readonly ShardChannel[];
  readonly events: EventPublisherHost | undefined;
  readonly histories: { readonly maintenance: HistoryMaintenance; readonly history: HistoryStore };
  readonly tracing: RequestTracing | undefined;
  readonly health: HealthListener | undefined;
  readonly journal: Journal;
}

/** SIGTERM and SIGINT drain the ledger and stop it (exit 0). */
function stopOnSignals(running: Running): void {
  const { log, server, resolver, cluster, shards, events } = running;
  const { maintenance, history } = running.histories;
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining');
    server.stopAccepting();
    resolver.stop();
    void (async () => {
      // A node of a cluster hands its partitions over first: the others serve them meanwhile.
      await cluster?.leave();
      await drain(shards);
      await Promise.all(shards.map((shard) => shard.stop()));
      await events?.stop();
      await Promise.all([maintenance.stop(), history.close()]);
      server.close();
      await running.tracing?.shutdown().catch(() => undefined);
      await running.health?.close();
      await running.journal.owner.release();
      await running.journal.embedded?.stop();
      log.info('stopped');
      process.exit(0);
    })();
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

async function main(): Promise<void> {
  const config = loadConfigOrExit(process.env);
  const log = createLogger(config.logLevel);
  refuseJavaScriptFallback(config);
  setUpCollector(config, log);
  const journal = await startJournal(config, log);
  const { databaseUrl, layout, owner, routes } = journal;
  const table = new PartitionTable(layout.partitions, config.shards);
  // The depth gauge reads the channels only when scraped, after both exist.
  const limiter = rateLimiterOf(config);
  const ingress = createIngressMetrics(
    () => shards.map((shard) => shard.depth),
    config.metricsHotKeys,
    () => limiter.clients,
  );
  const histories = await startHistory(config, databaseUrl, ingress, log);
  const tracing = await startTracing(config, log);
  const events = startEvents(config, databaseUrl, ingress, log);
  const view = new StockReadView(table.partitions);
  // The HTTP thread's timeline, written out at exit (the shards write theirs when they stop).
  const timeline = startTimeline(config.timelineFile, 'main');
  if (timeline !== undefined) process.on('exit', () => timeline.stop());
  const wiring = {
    timeline,
    view,
    metrics: ingress,
    server: () => server,
    cluster: () => cluster,
    events,
    log,
  };
  const shards = startShards(config, databaseUrl, table, wiring);
  const cluster = await startCluster(config, journal, { table, shards, view, events, log });
  const operational: Operational = {
    renderMetrics: async () => renderMetrics(ingress.registry, await workerMetrics(shards)),
    readiness: () => readiness(shards, events, owner, cluster),
  };
  const placement = { owned: () => owner.owned, cluster: cluster?.routes };
  const router = new Router({ table, channels: shards, view, routes, ...placement });
  const carts = cartCoordinator(router, ingress);
  const resolver = cartResolver(carts, shards, log);
  const server = new LedgerServer({
    ...bodyLimits(config),
    limits: { ...config, adjustDeltaMax },
    router,
    carts,
    metrics: ingress,
    ...operational,
    snapshot: () =>
      cluster === undefined ? snapshotAll(shards) : cluster.snapshotAll(() => snapshotAll(shards)),
    summary: liveSummary(ingress, shards, events),
    history: histories.history,
    gate: new Gate(await Authenticator.open(config), limiter),
    version: packageVersion(),
    log,
    tracing,
    nodeId: config.cluster?.nodeId,
    cluster: cluster === undefined ? undefined : () => cluster.keeper.view(),
  });
  // Listen first so /health/live answers during recovery; commands get 503 until shards are ready.
  const port = await server.listen(config.host, config.port);
  log.info(
    { host: config.host, port, partitions: layout.partitions, shards: table.shards },
    'listening',
  );
  const health = await startHealth(config, operational, server, log);
  for (const shard of shards) shard.start();
  await cluster?.start(router, feedPort(server), () => snapshotAll(shards));
  resolver.start();
  const running = { log, server, resolver, cluster, shards, events, histories, tracing };
  stopOnSignals({ ...running, health, journal });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
