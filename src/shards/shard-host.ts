// The main thread's handle on one shard worker: spawns it, relays its messages, and when the
// thread dies, reports it and starts a new one that recovers the shard from the journal.
import type { Worker } from 'node:worker_threads';
import { spawnWorker } from '../worker-script.js';
import { workerRestartDelayMsMax } from '../limits.js';
import type {
  DurableChanges,
  FromShard,
  RecoveryStats,
  ShardReply,
  ShardWorkerData,
  ToShard,
} from './protocol.js';
import { decodeReplies } from './protocol.js';

export interface ShardHostListener {
  replies(replies: ShardReply[]): void;
  ready(recovery: RecoveryStats): void;
  /** After each group commit: what became durable (event publisher wake-up, live stock feed). */
  durable(changes: DurableChanges): void;
  /** The worker is gone; every request sent to it and not answered must be failed. */
  down(error: Error): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

type Pending = (message: FromShard) => void;

function startWorker(workerData: ShardWorkerData): Worker {
  return spawnWorker(import.meta.url, 'shard-worker', workerData);
}

export class ShardHost {
  private worker: Worker | undefined;
  private ready = false;
  private stopping = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private restartDelayMs = 100;

  constructor(
    readonly index: number,
    private readonly workerData: ShardWorkerData,
    private readonly listener: ShardHostListener,
  ) {}

  get isReady(): boolean {
    return this.ready;
  }

  start(): void {
    const worker = startWorker(this.workerData);
    this.worker = worker;
    worker.on('message', (message: FromShard) => this.onMessage(message));
    worker.on('error', (error) => this.onExit(worker, error));
    worker.on('exit', (code) =>
      this.onExit(worker, new Error(`shard worker exited with code ${code}`)),
    );
  }

  private onMessage(message: FromShard): void {
    switch (message.kind) {
      case 'replies':
        this.listener.replies(decodeReplies(message.payload));
        return;
      case 'durable':
        this.listener.durable(message.changes);
        return;
      case 'ready':
        this.ready = true;
        this.restartDelayMs = 100;
        this.listener.ready(message.recovery);
        return;
      case 'fatal':
        this.listener.log('error', `shard ${this.index}: ${message.message}`);
        return;
      case 'stopped':
        this.pending.get(0)?.(message);
        return;
      default:
        this.pending.get(message.id)?.(message);
    }
  }

  private onExit(worker: Worker, error: Error): void {
    if (this.worker !== worker) return; // a second event for a worker already handled
    this.worker = undefined;
    this.ready = false;
    for (const [id, resolve] of this.pending) {
      if (id !== 0) resolve({ kind: 'pong', id, journalWritable: false });
    }
    this.listener.down(error);
    if (this.stopping) {
      this.pending.get(0)?.({ kind: 'stopped' });
      return;
    }
    this.listener.log('error', `shard ${this.index} died (${error.message}); restarting`);
    const delayMs = this.restartDelayMs;
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, workerRestartDelayMsMax);
    setTimeout(() => {
      if (!this.stopping) this.start();
    }, delayMs).unref();
  }

  /**
   * Ends the worker thread at once, as a crash would; the host then restarts it and the shard
   * recovers from the journal. For operators (a stuck shard) and for crash tests.
   */
  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }

  /** Posts a batch of encoded requests; false if no live worker can take it. */
  post(payload: Uint8Array): boolean {
    if (this.worker === undefined || !this.ready) return false;
    this.worker.postMessage({ kind: 'requests', payload } satisfies ToShard, [
      payload.buffer as ArrayBuffer,
    ]);
    return true;
  }

  /** One system round trip; rejects after `timeoutMs` (a stuck shard is not a ready shard). */
  request(kind: 'ping' | 'metrics' | 'snapshot', timeoutMs: number): Promise<FromShard> {
    const worker = this.worker;
    if (worker === undefined) return Promise.reject(new Error(`shard ${this.index} is down`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`shard ${this.index} did not answer ${kind} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, (message) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(message);
      });
      worker.postMessage({ kind, id } satisfies ToShard);
    });
  }

  /** Drains the shard (pending writes, a final snapshot) and waits for the thread to end. */
  async stop(): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (worker === undefined) return;
    const stopped = new Promise<void>((resolve) => this.pending.set(0, () => resolve()));
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ kind: 'stop' } satisfies ToShard);
    await stopped;
    await exited;
  }
}
