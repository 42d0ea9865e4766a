// Finding NATS for the event tests, starting private nats-server processes (so a test can stop
// and restart one), and reading a stream back. With LEDGER_REQUIRE_SERVICES=1 (CI) a missing
// NATS fails the suite; otherwise the tests that need it are skipped (as in services.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import formats from 'ajv-formats';
import type { JournalRecord } from '../../src/actors/index.js';
import { eventsOf, isPublished, isStreamNotFound } from '../../src/events/index.js';
import { decodeRecord } from '../../src/persistence/index.js';
import type { TestDatabase } from './database.js';
import { servicesRequired } from './services.js';

export const sharedNatsUrl = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
export const natsServerBinary = process.env.TEST_NATS_SERVER ?? '/usr/sbin/nats-server';

/** True if the shared NATS (with JetStream) answers and nats-server can be started here. */
export async function natsAvailable(): Promise<boolean> {
  try {
    accessSync(natsServerBinary, constants.X_OK);
    const connection = await connect({ servers: sharedNatsUrl, timeout: 3000, reconnect: false });
    try {
      await jetstreamManager(connection);
    } finally {
      await connection.close();
    }
    return true;
  } catch (error) {
    if (servicesRequired) throw new Error(`NATS JetStream is required but unusable: ${error}`);
    return false;
  }
}

/** Top-level await in a test file: `describe.runIf(await haveNats())(...)`. */
export const haveNats = natsAvailable;

/** A stream name and subject prefix nobody else uses, so test runs never collide. */
export function uniqueStream(tag: string): { stream: string; prefix: string } {
  const id = `${tag}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  return { stream: `T_${id}`.toUpperCase(), prefix: `t_${id}.` };
}

export async function withJetStream<T>(
  url: string,
  use: (manager: JetStreamManager, connection: NatsConnection) => Promise<T>,
): Promise<T> {
  const connection = await connect({ servers: url, timeout: 3000, reconnect: false });
  try {
    return await use(await jetstreamManager(connection), connection);
  } finally {
    await connection.close();
  }
}

export interface StoredEvent {
  readonly seq: number;
  readonly subject: string;
  readonly msgId: string | undefined;
  readonly body: Record<string, unknown>;
}

/**
 * Every message of the stream, in stream order (what a consumer sees, duplicates dropped); none
 * while the ledger's publisher has not yet connected and made the stream (it does so in the
 * background: a ledger is ready before NATS is, and its events wait in the journal).
 */
export async function readStream(url: string, stream: string): Promise<StoredEvent[]> {
  return withJetStream(url, async (manager) => {
    const last = await lastSequence(manager, stream);
    const events: StoredEvent[] = [];
    if (last === 0) return events;
    const consumer = await manager.jetstream().consumers.get(stream);
    while (events.length < last) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 2000 });
      for await (const message of batch) {
        events.push({
          seq: message.seq,
          subject: message.subject,
          msgId: message.headers?.get('Nats-Msg-Id'),
          body: message.json<Record<string, unknown>>(),
        });
        if (message.seq >= last) break;
      }
      if (events.at(-1)?.seq === last) break;
    }
    return events;
  });
}

async function lastSequence(manager: JetStreamManager, stream: string): Promise<number> {
  try {
    return (await manager.streams.info(stream)).state.last_seq;
  } catch (error) {
    if (isStreamNotFound(error)) return 0;
    throw error;
  }
}

export async function deleteStream(url: string, stream: string): Promise<void> {
  await withJetStream(url, async (manager) => {
    await manager.streams.delete(stream);
  });
}

export interface NatsServer {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGTERM: JetStream flushes its store) and waits for it to exit. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same store. */
  restart(): Promise<void>;
  /** Stops it for good and removes its store. */
  dispose(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

async function waitReachable(url: string, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await withJetStream(url, async () => undefined);
      return;
    } catch (error) {
      if (Date.now() > deadline)
        throw new Error(`nats-server did not start: ${error}\n${output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** A private nats-server with JetStream on a free port and a temporary store directory. */
export async function startNatsServer(): Promise<NatsServer> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'ledger-nats-'));
  const url = `nats://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';
  const launch = async (): Promise<void> => {
    output = '';
    const started = spawn(
      natsServerBinary,
      ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    started.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    started.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child = started;
    await waitReachable(url, () => output);
  };
  const stop = async (): Promise<void> => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  };
  await launch();
  return {
    port,
    url,
    stop,
    restart: launch,
    async dispose() {
      await stop();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

/** Validates an event body against schemas/events/<subject>.schema.json (JSON Schema 2020-12). */
export function eventValidator(): (subject: string, body: unknown) => string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  // ajv-formats is CommonJS: under NodeNext its default import is the module object.
  formats.default(ajv);
  const directory = fileURLToPath(new URL('../../schemas/events/', import.meta.url));
  const validators = new Map<string, ValidateFunction>();
  for (const file of readdirSync(directory)) {
    const schema = JSON.parse(readFileSync(join(directory, file), 'utf8')) as { title: string };
    validators.set(schema.title, ajv.compile(schema));
  }
  return (subject, body) => {
    const validate = validators.get(subject);
    if (validate === undefined) return [`no schema for subject ${subject}`];
    if (validate(body)) return [];
    return (validate.errors ?? []).map((error) => `${error.instancePath} ${error.message}`);
  };
}

export interface JournalEntry {
  readonly id: string;
  readonly partition: number;
  readonly lsn: number;
  readonly record: JournalRecord;
}

/** Every durable journal record, as the event it must become (`<partition>-<lsn>`). */
export async function journalEntries(database: TestDatabase): Promise<JournalEntry[]> {
  const rows = await database.query<{ partition: number; lsn: string; payload: Buffer }>(
    'SELECT partition, lsn, payload FROM ledger_wal ORDER BY partition, lsn',
  );
  const entries = rows.map((row) => ({
    id: `${row.partition}-${Number(row.lsn)}`,
    partition: row.partition,
    lsn: Number(row.lsn),
    record: decodeRecord(row.payload),
  }));
  // Only the records that become events (a cart confirm's steps publish nothing).
  return entries.filter((entry) => isPublished(entry.record));
}

export async function streamMessageCount(url: string, stream: string): Promise<number> {
  return withJetStream(url, async (manager) => (await manager.streams.info(stream)).state.messages);
}

/** Waits until the stream holds as many messages as the journal has records. */
export async function waitForStreamToCatchUp(
  url: string,
  stream: string,
  database: TestDatabase,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = -1;
  let wanted = 0;
  while (Date.now() < deadline) {
    // Every event of every record (a cart confirm's steps publish none, a crossing adds some).
    const entries = await journalEntries(database);
    wanted = entries.reduce(
      (sum, entry) => sum + eventsOf(entry.partition, entry.lsn, entry.record).length,
      0,
    );
    seen = await streamMessageCount(url, stream).catch(() => -1);
    if (seen >= wanted) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`stream ${stream} holds ${seen} events, the journal ${wanted} records`);
}

/**
 * What must hold between the journal and the stream, as a list of problems (empty: all good):
 * every event of every record (its own, then one per line it crossed), none missing, none
 * twice, the header id equal to the body's event_id, each partition's in journal order.
 */
export function streamProblems(journal: JournalEntry[], events: StoredEvent[]): string[] {
  const problems: string[] = [];
  const due = new Map<number, string[]>();
  for (const entry of journal) {
    const ids = due.get(entry.partition) ?? [];
    for (const event of eventsOf(entry.partition, entry.lsn, entry.record)) ids.push(event.msgId);
    due.set(entry.partition, ids);
  }
  const wanted = new Set([...due.values()].flat());
  const seen = new Set<string>();
  const position = new Map<number, number>();
  for (const event of events) {
    const id = String(event.body.event_id);
    if (event.msgId !== id) problems.push(`seq ${event.seq}: Nats-Msg-Id ${event.msgId} != ${id}`);
    if (seen.has(id)) problems.push(`event ${id} is in the stream twice`);
    if (!wanted.has(id)) problems.push(`event ${id} has no journal record`);
    seen.add(id);
    const partition = Number(id.split('-')[0]);
    const index = position.get(partition) ?? 0;
    const next = due.get(partition)?.[index];
    if (id !== next) problems.push(`partition ${partition}: event ${id} where ${next} was due`);
    position.set(partition, index + 1);
  }
  for (const id of wanted) if (!seen.has(id)) problems.push(`no event for journal record ${id}`);
  return problems.slice(0, 20);
}
