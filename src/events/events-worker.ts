// Worker-thread entry of the event publisher: wires the EventPublisher to Postgres (the journal
// and the cursors), to NATS, and to the main thread. A thread of its own keeps JSON encoding and
// the NATS client off the HTTP thread.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import pg from 'pg';
import {
  eventsCursorSaveIntervalMs,
  eventsInflightMax,
  eventsPageRowsMax,
  eventsPollIntervalMs,
  eventsPublishTimeoutMs,
  eventsRetryDelayMsMax,
} from '../limits.js';
import { startTimeline } from '../observability/timeline.js';
import { NatsEventSink } from './nats-sink.js';
import { PostgresOutboxStore } from './outbox-store.js';
import type { EventsWorkerData, FromPublisher, ToPublisher } from './protocol.js';
import { EventPublisher } from './publisher.js';

const data = workerData as EventsWorkerData;
if (parentPort === null) throw new Error('events-worker must run in a worker thread');
const port: MessagePort = parentPort;

/** Stats go to the main thread this often (for /metrics and /health/ready). */
const statsIntervalMs = 250;

// Only GCs and stalls: what this thread takes from the cores the shards and HTTP thread share.
const timeline = startTimeline(data.timelineFile, 'events');

const post = (message: FromPublisher): void => port.postMessage(message);
const log = (level: 'info' | 'warn' | 'error', message: string): void =>
  post({ kind: 'log', level, message });

const pool = new pg.Pool({
  connectionString: data.databaseUrl,
  // One connection reads the journal while the other saves cursors.
  max: 2,
  statement_timeout: 10_000,
  query_timeout: 15_000,
  connectionTimeoutMillis: 5_000,
  keepAlive: true,
  // A cursor lost in a Postgres crash only means re-publishing (deduplicated), so cursor saves
  // need not wait for the disk: they stay cheap next to the journal's own commits.
  options: '-c synchronous_commit=off',
});
pool.on('error', (error) => log('warn', `event publisher's Postgres connection: ${error.message}`));

// The sink reports connection changes to the publisher, which is built after it.
let connectionChanged = (): void => undefined;
const sink = new NatsEventSink({
  url: data.natsUrl,
  stream: data.stream,
  publishTimeoutMs: eventsPublishTimeoutMs,
  retryDelayMsMax: eventsRetryDelayMsMax,
  log,
  onChange: () => connectionChanged(),
});
const publisher = new EventPublisher({
  store: new PostgresOutboxStore(pool),
  sink,
  limits: {
    inflightMax: eventsInflightMax,
    pageRowsMax: eventsPageRowsMax,
    pollIntervalMs: eventsPollIntervalMs,
    cursorSaveIntervalMs: eventsCursorSaveIntervalMs,
    retryDelayMsMax: eventsRetryDelayMsMax,
  },
  subjectPrefix: data.stream.subjectPrefix,
  now: Date.now,
  log,
  owned: data.owned,
});
const postStats = (): void => post({ kind: 'stats', stats: publisher.stats() });
connectionChanged = () => {
  publisher.connectionChanged();
  postStats();
};
const statsTimer = setInterval(postStats, statsIntervalMs);

async function stop(): Promise<void> {
  clearInterval(statsTimer);
  await publisher.stop();
  await sink.close();
  postStats();
  await pool.end();
  timeline?.stop();
  post({ kind: 'stopped' });
  port.close();
}

const fail = (error: unknown): never => {
  log('error', `event publisher failed: ${error instanceof Error ? error.stack : String(error)}`);
  // Ends this thread only; the host starts a new one, which resumes from the saved cursors.
  process.exit(1);
};

port.on('message', (message: ToPublisher) => {
  switch (message.kind) {
    case 'wake':
      publisher.wake(message.durableLsns);
      return;
    case 'own':
      publisher.own(message.partitions).catch(fail);
      return;
    case 'disown':
      publisher.disown(message.partitions);
      return;
    case 'stop':
      stop().catch(fail);
  }
});

sink.start();
publisher.start().catch(fail);
