// The publisher's way to NATS JetStream: one connection at a time (a "session"), the stream made
// if it is missing, and publishes carrying Nats-Msg-Id so the stream drops duplicates.
//
// The client's own reconnect is off on purpose. While it reconnects, it keeps the publishes made
// meanwhile and sends them on the new connection, ahead of anything re-published from the
// cursors; an event lost with the old connection would then land after a later one of its
// partition. A fresh connection per session sends nothing the publisher did not just hand it.
// Reconnecting is this loop's job: it retries for ever, backing off up to retryDelayMsMax.
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamClient,
  type StreamConfig,
} from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { streamSubjectFilter, type OutboundEvent } from './event-mapping.js';
import type { EventSink, PublishAck } from './publisher.js';
import type { EventStreamSettings } from './protocol.js';
import { Signal } from './signal.js';

export interface NatsSinkOptions {
  readonly url: string;
  readonly stream: EventStreamSettings;
  readonly publishTimeoutMs: number;
  readonly retryDelayMsMax: number;
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** Called when a session opens or ends. */
  readonly onChange: () => void;
}

interface Session {
  readonly connection: NatsConnection;
  readonly client: JetStreamClient;
}

/** A TCP connect plus the NATS handshake; a silent server is given up on after this. */
const connectTimeoutMs = 5_000;
/** JetStream API calls (stream info and create). */
const apiTimeoutMs = 5_000;
/** An idle connection to a vanished server is noticed within about interval x 2. */
const pingIntervalMs = 10_000;
const retryDelayMsMin = 100;

export class NatsEventSink implements EventSink {
  private session: Session | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;
  private readonly retry = new Signal();

  constructor(private readonly options: NatsSinkOptions) {}

  get connected(): boolean {
    return this.session !== undefined;
  }

  start(): void {
    this.running ??= this.run();
  }

  publish(event: OutboundEvent): Promise<PublishAck> {
    const session = this.session;
    if (session === undefined) return Promise.reject(new Error('not connected to NATS'));
    return session.client
      .publish(event.subject, JSON.stringify(event.body), {
        msgID: event.msgId,
        timeout: this.options.publishTimeoutMs,
      })
      .then((ack) => ({ duplicate: ack.duplicate }));
  }

  restart(reason: string): void {
    const session = this.session;
    if (session === undefined) return;
    this.session = undefined;
    this.options.onChange();
    this.options.log('warn', `closing the NATS connection to start afresh: ${reason}`);
    // Closing fails whatever is still in flight at once and drops what was not sent.
    session.connection.close().catch((error: unknown) => {
      this.options.log('warn', `closing the NATS connection failed: ${messageOf(error)}`);
    });
  }

  /** Ends the session (after the publisher has settled what was in flight) and the loop. */
  async close(): Promise<void> {
    this.stopped = true;
    this.retry.notify();
    const session = this.session;
    this.session = undefined;
    await session?.connection.close();
    await this.running;
  }

  private async run(): Promise<void> {
    let delayMs = retryDelayMsMin;
    let attempts = 0;
    while (!this.stopped) {
      const session = await this.open(attempts);
      if (session !== undefined) {
        if (attempts > 0) this.options.log('info', `NATS reachable again after ${attempts} tries`);
        attempts = 0;
        delayMs = retryDelayMsMin;
        await this.serve(session);
      } else {
        attempts += 1;
      }
      if (this.stopped) break;
      await this.retry.wait(delayMs);
      delayMs = Math.min(delayMs * 2, this.options.retryDelayMsMax);
    }
  }

  /** Opens a session: connects and makes sure the stream exists; undefined on failure. */
  private async open(attempts: number): Promise<Session | undefined> {
    let connection: NatsConnection | undefined;
    try {
      connection = await connect({
        servers: this.options.url,
        name: 'inventory-ledger-events',
        reconnect: false,
        timeout: connectTimeoutMs,
        pingInterval: pingIntervalMs,
        maxPingOut: 2,
        // Otherwise every publish captures a stack trace for a timeout that rarely comes: a
        // fifth of the publisher's time under load.
        noAsyncTraces: true,
      });
      await ensureStream(connection, this.options.stream, this.options.log);
      return {
        connection,
        client: jetstream(connection, { timeout: this.options.publishTimeoutMs }),
      };
    } catch (error) {
      // Said on the first failure, then now and then: an outage must not flood the log.
      if (attempts % 30 === 0) {
        this.options.log(
          'warn',
          `NATS not available (${messageOf(error)}); events wait in the journal, retrying`,
        );
      }
      await connection?.close().catch((closeError: unknown) => {
        this.options.log('warn', `closing a failed NATS connection: ${messageOf(closeError)}`);
      });
      return undefined;
    }
  }

  /** Publishes through this session until its connection ends. */
  private async serve(session: Session): Promise<void> {
    if (this.stopped) {
      await session.connection.close();
      return;
    }
    this.session = session;
    this.options.onChange();
    this.options.log('info', `publishing events to JetStream stream ${this.options.stream.name}`);
    const ended = await session.connection.closed();
    if (this.session === session) {
      this.session = undefined;
      this.options.onChange();
      const why = ended instanceof Error ? `: ${ended.message}` : '';
      this.options.log('warn', `NATS connection lost${why}; events wait in the journal`);
    }
  }
}

/** Creates the stream if it is missing; an existing one is used as it is (with a warning). */
async function ensureStream(
  connection: NatsConnection,
  settings: EventStreamSettings,
  log: NatsSinkOptions['log'],
): Promise<void> {
  const manager = await jetstreamManager(connection, { timeout: apiTimeoutMs });
  const subject = `${settings.subjectPrefix}${streamSubjectFilter}`;
  const existing = await streamConfig(manager.streams, settings.name);
  if (existing !== undefined) {
    warnIfDifferent(existing, subject, settings, log);
    return;
  }
  try {
    await manager.streams.add({
      name: settings.name,
      subjects: [subject],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(settings.duplicateWindowSeconds * 1000),
      max_age: nanos(settings.maxAgeSeconds * 1000),
      num_replicas: 1,
    });
    log('info', `created JetStream stream ${settings.name} on ${subject}`);
  } catch (error) {
    // Another ledger may have made it in the meantime; anything else is a real failure.
    if ((await streamConfig(manager.streams, settings.name)) === undefined) throw error;
  }
}

async function streamConfig(
  streams: { info(name: string): Promise<{ config: StreamConfig }> },
  name: string,
): Promise<StreamConfig | undefined> {
  try {
    return (await streams.info(name)).config;
  } catch (error) {
    if (isStreamNotFound(error)) return undefined;
    throw error;
  }
}

/** JetStream's answer for a stream that does not exist (yet). */
export function isStreamNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound;
}

function warnIfDifferent(
  config: StreamConfig,
  subject: string,
  settings: EventStreamSettings,
  log: NatsSinkOptions['log'],
): void {
  if (!config.subjects.includes(subject)) {
    log(
      'warn',
      `stream ${settings.name} exists with subjects ${config.subjects.join(', ')}, not ` +
        `${subject}: events it does not capture fail to publish and are retried`,
    );
  }
  if (config.duplicate_window < nanos(settings.duplicateWindowSeconds * 1000)) {
    log(
      'warn',
      `stream ${settings.name} drops duplicates within ${config.duplicate_window / 1e9} s only ` +
        `(LEDGER_EVENTS_DUPLICATE_WINDOW_SECONDS=${settings.duplicateWindowSeconds})`,
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
