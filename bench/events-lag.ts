// The events bench: how fast the publisher gets durable changes to a JetStream consumer under the
// hot-SKU load. It starts the built ledger with NATS_URL on a scratch database and a fresh stream,
// drives the flash-sale bench's hot-SKU load (its own generator: worker threads, keep-alive
// connections, a fresh idempotency key per reserve) while an ordered consumer reads the stream,
// and prints the end-to-end event lag (record time -> consumer receipt, p50/p90/p99/max) and
// publish throughput; then it re-publishes the whole journal to a second fresh stream with no
// HTTP load, which measures the publisher's catch-up throughput on its own.
//
//   npx tsx bench/events-lag.ts [--seconds 10] [--connections 64] [--threads 1] [--shards 2]
//                               [--nats nats://127.0.0.1:4222]
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { createDatabase, type TestDatabase } from '../test/helpers/database.js';
import { startLedger, type LedgerProcess } from '../test/helpers/ledger-process.js';
import { LoadGenerator, type LoadResult } from './lib/load-driver.js';
import { scenario } from './lib/scenarios.js';
import { stockScenario } from './lib/state-check.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** The flash-sale bench's hot-SKU scenario: one key stocked with 10^9, 1 unit per reserve. */
const hotSku = scenario('hot-sku', { soldOutStock: 1 });
/** How long the consumer may take to see every event after the load ends. */
const drainTimeoutMs = 60_000;

interface Options {
  readonly seconds: number;
  readonly connections: number;
  readonly threads: number;
  readonly shards: number;
  readonly natsUrl: string;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
      threads: { type: 'string', default: '1' },
      shards: { type: 'string', default: '2' },
      nats: { type: 'string', default: 'nats://127.0.0.1:4222' },
    },
  });
  const bounded = (name: string, raw: string, max: number): number => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new Error(`--${name} must be an integer in 1..${max}, got ${raw}`);
    }
    return value;
  };
  return {
    seconds: bounded('seconds', values.seconds, 600),
    connections: bounded('connections', values.connections, 1024),
    threads: bounded('threads', values.threads, 16),
    shards: bounded('shards', values.shards, 64),
    natsUrl: values.nats,
  };
}

/** Lag samples in ms; percentiles by nearest rank. */
class Samples {
  private readonly values: number[] = [];
  firstAtMs = 0;
  lastAtMs = 0;

  add(lagMs: number, nowMs: number): void {
    if (this.values.length === 0) this.firstAtMs = nowMs;
    this.lastAtMs = nowMs;
    this.values.push(lagMs);
  }

  get count(): number {
    return this.values.length;
  }

  summary(): string {
    const sorted = [...this.values].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
    return `p50 ${at(0.5)} ms, p90 ${at(0.9)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms`;
  }
}

/** An ordered consumer on the stream, recording each event's lag at receipt. */
async function consume(natsUrl: string, stream: string, samples: Samples) {
  const connection: NatsConnection = await connect({ servers: natsUrl });
  const manager = await jetstreamManager(connection);
  const consumer = await manager.jetstream().consumers.get(stream);
  const messages = await consumer.consume({ max_messages: 4096 });
  void (async () => {
    for await (const message of messages) {
      const now = Date.now();
      const body = message.json<{ timestamp: string }>();
      samples.add(now - Date.parse(body.timestamp), now);
    }
  })();
  return {
    async close(): Promise<void> {
      await messages.close();
      await connection.close();
    },
  };
}

/** The ledger makes the stream once it reaches NATS, which may be just after it is ready. */
async function consumeWhenReady(natsUrl: string, stream: string, samples: Samples) {
  const deadlineMs = Date.now() + 10_000;
  for (;;) {
    try {
      return await consume(natsUrl, stream, samples);
    } catch (error) {
      if (Date.now() > deadlineMs) throw error;
      await sleep(50);
    }
  }
}

/** The hot-SKU load, straight into its measured window (no warm-up: every event counts). */
async function reserveLoad(baseUrl: string, config: Options): Promise<LoadResult> {
  const generator = new LoadGenerator(config.threads);
  try {
    return await generator.run({
      label: 'events bench, hot SKU',
      baseUrl,
      scenario: hotSku,
      connections: config.connections,
      warmupSeconds: 0,
      durationSeconds: config.seconds,
      authorization: undefined,
      onMeasureStart: () => undefined,
      onMeasureEnd: () => undefined,
    });
  } finally {
    await generator.close();
  }
}

async function journalCount(database: TestDatabase): Promise<number> {
  const rows = await database.query<{ count: string }>('SELECT count(*) FROM ledger_wal');
  return Number(rows[0]?.count ?? 0);
}

/** Waits until the consumer has seen `wanted` events; the ms it took. */
async function drained(samples: Samples, wanted: number): Promise<number> {
  const startedMs = Date.now();
  while (samples.count < wanted && Date.now() - startedMs < drainTimeoutMs) await sleep(20);
  if (samples.count < wanted) throw new Error(`only ${samples.count} of ${wanted} events seen`);
  return Date.now() - startedMs;
}

/** Samples /health/ready's publisher lag every 250 ms while `running()`; the maxima. */
async function peakLag(baseUrl: string, running: () => boolean) {
  let records = 0;
  let seconds = 0;
  while (running()) {
    const details = (await fetch(`${baseUrl}/health/ready`).then((reply) => reply.json())) as {
      events_lag_records?: number;
      events_lag_seconds?: number;
    };
    records = Math.max(records, details.events_lag_records ?? 0);
    seconds = Math.max(seconds, details.events_lag_seconds ?? 0);
    await sleep(250);
  }
  return { records, seconds };
}

function ledgerEnv(database: TestDatabase, config: Options, stream: string) {
  return {
    DATABASE_URL: database.url,
    NATS_URL: config.natsUrl,
    SHARDS: String(config.shards),
    LEDGER_EVENTS_STREAM: stream.toUpperCase(),
    LEDGER_EVENTS_SUBJECT_PREFIX: `${stream}.`,
  };
}

async function underLoad(config: Options, database: TestDatabase, stream: string) {
  const ledger = await startLedger({ env: ledgerEnv(database, config, stream) });
  const samples = new Samples();
  const consumer = await consumeWhenReady(config.natsUrl, stream.toUpperCase(), samples);
  try {
    await stockScenario(ledger.baseUrl, hotSku);
    const threads = `${config.threads} load thread(s)`;
    out(`load: ${config.seconds} s, ${config.connections} connections, ${threads}, hot SKU`);
    let loading = true;
    const peak = peakLag(ledger.baseUrl, () => loading);
    const result = await reserveLoad(ledger.baseUrl, config);
    loading = false;
    const wanted = await journalCount(database);
    const drainMs = await drained(samples, wanted);
    // Answers are counted by operation and status ("reserve 200").
    const ok = result.statusCounts['reserve 200'] ?? 0;
    const others = Object.entries(result.statusCounts).filter(([key]) => key !== 'reserve 200');
    const spanSeconds = (samples.lastAtMs - samples.firstAtMs) / 1000;
    out(`  reserves answered 200: ${ok} (${Math.round(result.requestsPerSecond)}/s)`);
    out(
      `  other answers: ${JSON.stringify(Object.fromEntries(others))}, unanswered ${result.errorCount}`,
    );
    out(`  events received: ${samples.count} (journal records: ${wanted})`);
    out(`  publish throughput: ${Math.round(samples.count / spanSeconds)} events/s`);
    out(`  end-to-end event lag (record time -> consumer): ${samples.summary()}`);
    const { p50Ms, p99Ms } = result.latency;
    out(
      `  for comparison, reserve reply latency: p50 ${p50Ms.toFixed(2)} ms, p99 ${p99Ms.toFixed(2)} ms`,
    );
    const { records, seconds } = await peak;
    out(`  peak publisher lag: ${records} records, ${seconds.toFixed(3)} s`);
    out(`  last event seen ${drainMs} ms after the load ended`);
  } finally {
    await consumer.close();
    await ledger.stop();
  }
}

/** Re-publishes the whole journal to a fresh stream with no HTTP load: catch-up throughput. */
async function catchUp(config: Options, database: TestDatabase, stream: string) {
  await database.query('DELETE FROM ledger_event_cursors');
  const wanted = await journalCount(database);
  const samples = new Samples();
  // The consumer needs the stream, so the ledger makes it; timing starts at the first event.
  const ledger: LedgerProcess = await startLedger({ env: ledgerEnv(database, config, stream) });
  try {
    const consumer = await consumeWhenReady(config.natsUrl, stream.toUpperCase(), samples);
    await drained(samples, wanted);
    const spanSeconds = (samples.lastAtMs - samples.firstAtMs) / 1000;
    out(`catch-up: ${wanted} journal records re-published to a fresh stream, no HTTP load`);
    out(`  publish throughput: ${Math.round(samples.count / spanSeconds)} events/s`);
    await consumer.close();
  } finally {
    await ledger.stop();
  }
}

/** Removes the bench's streams, whichever of them exist. */
async function deleteStreams(natsUrl: string, names: readonly string[]): Promise<void> {
  const connection = await connect({ servers: natsUrl });
  const manager = await jetstreamManager(connection);
  for (const name of names) {
    await manager.streams.delete(name.toUpperCase()).catch((error: unknown) => {
      if (!String(error).includes('not found')) out(`could not delete stream ${name}: ${error}`);
    });
  }
  await connection.close();
}

async function main(): Promise<void> {
  const config = options();
  out('building dist/ (the ledger runs compiled, as npm start does)');
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
    cwd: root,
    stdio: 'inherit',
  });
  const database = await createDatabase('bench_events');
  const tag = `evbench_${randomBytes(3).toString('hex')}`;
  try {
    await underLoad(config, database, `${tag}_load`);
    await catchUp(config, database, `${tag}_catchup`);
  } finally {
    await database.drop();
    await deleteStreams(config.natsUrl, [`${tag}_load`, `${tag}_catchup`]);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`events bench failed: ${error instanceof Error ? error.stack : error}\n`);
  process.exit(1);
});
