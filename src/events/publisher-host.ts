// The main thread's handle on the event publisher's worker: passes on the shards' wake-ups
// (coalesced, one message per event-loop turn), keeps the latest stats for /metrics and
// /health/ready, restarts the worker if it dies, and stops it (in flight settled, cursors saved).
import type { Worker } from 'node:worker_threads';
import { merged } from '../actors/index.js';
import { spawnWorker } from '../worker-script.js';
import client from 'prom-client';
import { eventsStopTimeoutMs, workerRestartDelayMsMax } from '../limits.js';
import type { EventsWorkerData, FromPublisher, PublisherStats, ToPublisher } from './protocol.js';

export interface EventPublisherHostOptions {
  readonly workerData: EventsWorkerData;
  /** The registry /metrics renders; the publisher's metrics are added to it. */
  readonly registry: client.Registry;
  readonly log: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface EventPublisherStatus {
  readonly connected: boolean;
  readonly lagRecords: number;
  readonly lagSeconds: number;
}

const idleStats: PublisherStats = {
  connected: false,
  lagRecords: 0,
  oldestPendingAtMs: null,
  publishedTotal: 0,
  publishedBySubject: {},
  duplicatesTotal: 0,
  failuresTotal: 0,
};

function startWorker(workerData: EventsWorkerData): Worker {
  return spawnWorker(import.meta.url, 'events-worker', workerData);
}

export class EventPublisherHost {
  private worker: Worker | undefined;
  private latest: PublisherStats = idleStats;
  /** Totals already added to the counters, from the current worker (reset when it restarts). */
  private counted = { published: 0, duplicates: 0, failures: 0 };
  private countedBySubject = new Map<string, number>();
  private readonly pendingWake = new Map<number, number>();
  private wakeScheduled = false;
  private stopping = false;
  private stopped: (() => void) | undefined;
  private restartDelayMs = 100;
  private readonly published: client.Counter;
  private readonly publishedBySubject: client.Counter<'subject'>;
  private readonly duplicates: client.Counter;
  private readonly failures: client.Counter;

  constructor(private readonly options: EventPublisherHostOptions) {
    const owned = options.workerData.owned;
    this.owned = owned === undefined ? undefined : new Set(owned);
    const registers = [options.registry];
    const lag = (): EventPublisherStatus => this.stats();
    new client.Gauge({
      name: 'ledger_event_publisher_lag_records',
      help: 'Durable journal records not yet acknowledged by NATS JetStream',
      registers,
      collect() {
        this.set(lag().lagRecords);
      },
    });
    new client.Gauge({
      name: 'ledger_event_publisher_lag_seconds',
      help: 'Age of the oldest durable journal record not yet acknowledged by NATS JetStream',
      registers,
      collect() {
        this.set(lag().lagSeconds);
      },
    });
    new client.Gauge({
      name: 'ledger_event_publisher_connected',
      help: '1 while the event publisher has a NATS connection and its stream, else 0',
      registers,
      collect() {
        this.set(lag().connected ? 1 : 0);
      },
    });
    this.published = new client.Counter({
      name: 'ledger_event_publisher_published_total',
      help: 'Events acknowledged by NATS JetStream (duplicates included)',
      registers,
    });
    this.publishedBySubject = new client.Counter({
      name: 'inventory_events_published_total',
      help: 'Events acknowledged by NATS JetStream by subject (duplicates included)',
      labelNames: ['subject'],
      registers,
    });
    this.duplicates = new client.Counter({
      name: 'ledger_event_publisher_duplicates_total',
      help: 'Events JetStream already had (re-published after a failure or restart) and dropped',
      registers,
    });
    this.failures = new client.Counter({
      name: 'ledger_event_publisher_failures_total',
      help: 'Publish rounds that failed (timeout, error, lost connection) and resumed from cursors',
      registers,
    });
  }

  /** In a cluster: the partitions this node publishes now (a restarted worker starts with them). */
  private readonly owned: Set<number> | undefined;

  /** In a cluster: this node publishes these partitions from now on. */
  own(partitions: readonly number[]): void {
    if (this.owned === undefined) return;
    for (const partition of partitions) this.owned.add(partition);
    this.worker?.postMessage({ kind: 'own', partitions } satisfies ToPublisher);
  }

  /** In a cluster: these partitions are published elsewhere from now on. */
  disown(partitions: readonly number[]): void {
    if (this.owned === undefined) return;
    for (const partition of partitions) this.owned.delete(partition);
    this.worker?.postMessage({ kind: 'disown', partitions } satisfies ToPublisher);
  }

  start(): void {
    const data = this.options.workerData;
    const worker = startWorker(
      this.owned === undefined ? data : merged(data, { owned: [...this.owned] }),
    );
    this.worker = worker;
    this.counted = { published: 0, duplicates: 0, failures: 0 };
    this.countedBySubject = new Map();
    worker.on('message', (message: FromPublisher) => this.onMessage(message));
    worker.on('error', (error) => this.onExit(worker, error));
    worker.on('exit', (code) =>
      this.onExit(worker, new Error(`events worker exited with code ${code}`)),
    );
  }

  /** From the shards' durable listener: partition, lsn, ... pairs now durable. */
  wake(durableLsns: readonly number[]): void {
    for (let index = 0; index + 1 < durableLsns.length; index += 2) {
      const partition = durableLsns[index] as number;
      const lsn = durableLsns[index + 1] as number;
      if (lsn > (this.pendingWake.get(partition) ?? 0)) this.pendingWake.set(partition, lsn);
    }
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => this.sendWake());
  }

  stats(): EventPublisherStatus {
    const { connected, lagRecords, oldestPendingAtMs } = this.latest;
    const lagSeconds =
      oldestPendingAtMs === null ? 0 : Math.max(0, (Date.now() - oldestPendingAtMs) / 1000);
    return { connected, lagRecords, lagSeconds };
  }

  /** Lets the worker settle what is in flight and save its cursors, within a bound. */
  async stop(): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (worker === undefined) return;
    const done = new Promise<void>((resolve) => {
      this.stopped = resolve;
      worker.once('exit', () => resolve());
    });
    worker.postMessage({ kind: 'stop' } satisfies ToPublisher);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), eventsStopTimeoutMs);
    });
    const timedOut = await Promise.race([done.then(() => false), late]);
    clearTimeout(timer);
    if (timedOut) this.options.log('warn', 'event publisher did not stop in time; ending it');
    await worker.terminate();
  }

  private sendWake(): void {
    this.wakeScheduled = false;
    if (this.worker === undefined || this.pendingWake.size === 0) return;
    const durableLsns: number[] = [];
    for (const [partition, lsn] of this.pendingWake) durableLsns.push(partition, lsn);
    this.pendingWake.clear();
    this.worker.postMessage({ kind: 'wake', durableLsns } satisfies ToPublisher);
  }

  private onMessage(message: FromPublisher): void {
    switch (message.kind) {
      case 'stats':
        this.count(message.stats);
        this.latest = message.stats;
        if (message.stats.connected) this.restartDelayMs = 100;
        return;
      case 'log':
        this.options.log(message.level, message.message);
        return;
      case 'stopped':
        this.stopped?.();
        return;
    }
  }

  /** The worker sends running totals; the counters get what is new since the last message. */
  private count(stats: PublisherStats): void {
    this.published.inc(Math.max(0, stats.publishedTotal - this.counted.published));
    for (const [subject, total] of Object.entries(stats.publishedBySubject)) {
      const added = total - (this.countedBySubject.get(subject) ?? 0);
      if (added > 0) this.publishedBySubject.labels(subject).inc(added);
      this.countedBySubject.set(subject, total);
    }
    this.duplicates.inc(Math.max(0, stats.duplicatesTotal - this.counted.duplicates));
    this.failures.inc(Math.max(0, stats.failuresTotal - this.counted.failures));
    this.counted = {
      published: stats.publishedTotal,
      duplicates: stats.duplicatesTotal,
      failures: stats.failuresTotal,
    };
  }

  private onExit(worker: Worker, error: Error): void {
    if (this.worker !== worker) return; // a second event for a worker already handled
    this.worker = undefined;
    this.latest = merged(this.latest, { connected: false });
    if (this.stopping) return;
    this.options.log('error', `event publisher died (${error.message}); restarting it`);
    const delayMs = this.restartDelayMs;
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, workerRestartDelayMsMax);
    setTimeout(() => {
      if (!this.stopping) this.start();
    }, delayMs).unref();
  }
}
