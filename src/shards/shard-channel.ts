// The main thread's one handle on one shard: it spawns the worker, batches commands to it per
// event-loop turn (or sooner, when a long turn would hold a batch back), correlates replies, bounds
// what is in flight (beyond the bound a command is refused at once, 503 overloaded, never queued
// without limit), sheds reserves that would wait longer than the queue-delay bound
// (queue-admission.ts: refused here, never sent), carries system round trips, and when the thread
// dies, fails everything in flight and starts a new one.
import type { Worker } from 'node:worker_threads';
import { merged, type Command } from '../actors/index.js';
import { systemClock, type Clock } from '../clock.js';
import { PendingSlots } from '../pending-slots.js';
import { TurnBatch } from '../turn-batch.js';
import {
  handOverTimeoutMs,
  shardSystemRequestsMax,
  shedLogEveryMs,
  workerRestartDelayMsMax,
} from '../limits.js';
import { timelineNow, type Timeline } from '../observability/timeline.js';
import { spawnWorker } from '../worker-script.js';
import {
  decodeCensus,
  decodeReplies,
  encodeBatch,
  failure,
  type DurableChanges,
  type FromShard,
  type RecoveryStats,
  type ShardReply,
  type ShardRequest,
  type ShardWorkerData,
  type StockChange,
  type SystemRequestKind,
  type ToShard,
} from './protocol.js';
import {
  DrainRate,
  retryAfterSeconds,
  sheds,
  TurnedAway,
  type AdmissionRule,
  type QueueState,
} from './queue-admission.js';

export type ReplyCallback = (reply: ShardReply) => void;

/** Why a shard's thread ended. */
export interface ShardDown {
  readonly message: string;
  /** A stock invariant broke (an oversell was about to happen): the oversell metric counts it. */
  readonly invariantBroken: boolean;
}

export interface ShardChannelListener {
  ready(recovery: RecoveryStats): void;
  /** After each group commit: what became durable (event publisher wake-up, live feed). */
  durable(changes: DurableChanges): void;
  /** After a recovery: every stock key of those partitions (the read view's reload). */
  census(partitions: readonly number[], stock: StockChange[], readableUntilMs: number): void;
  /** The thread is gone; everything in flight was answered 503 and it is being restarted. */
  down(reason: ShardDown): void;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

type SystemWaiter = (message: FromShard | undefined) => void;

const requestIdMax = 0x7fffffff;
const noShedding: AdmissionRule = { queueDelayMs: 0, floor: 0 };
const shedMessage =
  'The shard is busy: this reserve would wait longer than the queue-delay bound; nothing was ' +
  'done, retry after retry-after.';

export class ShardChannel {
  private worker: Worker | undefined;
  private ready = false;
  private stopping = false;
  /** Reply callbacks by request id (not a Map: pending-slots.ts says why). */
  private readonly inflight = new PendingSlots<ReplyCallback>();
  private readonly drain = new DrainRate();
  /** Requests refused overloaded lately, and the retry-after the last one was given. */
  private readonly turnedAway = new TurnedAway();
  private retryAfter = 1;
  /** Reserves shed since the last warning line, and when that line was written. */
  private shedSinceLog = 0;
  private shedLoggedMs = Number.NEGATIVE_INFINITY;
  /** Commands not sent yet: they leave for the shard in one message (turn-batch.ts). */
  private readonly queue: TurnBatch<ShardRequest>;
  private readonly system = new Map<number, SystemWaiter>();
  private nextSystemId = 0;
  private stopped: (() => void) | undefined;
  /** What the dying thread said about itself, for the `down` report. */
  private fatal: { message: string; invariant: boolean } | undefined;
  private restartDelayMs = 100;

  constructor(
    readonly index: number,
    private readonly workerData: ShardWorkerData,
    private readonly listener: ShardChannelListener,
    private readonly admission: AdmissionRule = noShedding,
    /** The HTTP thread's timeline (LEDGER_TIMELINE_FILE): reply batches and durable changes. */
    private readonly timeline: Timeline | undefined = undefined,
    /** Batch ages and drain rates are read from its monotonic time; batches leave at its defer. */
    private readonly clock: Clock = systemClock,
  ) {
    this.queue = new TurnBatch((batch) => this.sendBatch(batch), clock.defer);
    this.leases = new Map(workerData.cluster?.leases ?? []);
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** The running thread's young generation in MB, as V8 set it up; undefined while none runs. */
  get youngGenerationMb(): number | undefined {
    return this.worker?.resourceLimits?.maxYoungGenerationSizeMb;
  }

  /** Commands sent and not answered yet. */
  get depth(): number {
    return this.inflight.size;
  }

  /**
   * In a cluster: the leases this shard holds now, [partition, epoch]. A restarted thread is
   * spawned with them (and recovers them), not with the ones it started with.
   */
  private readonly leases: Map<number, number>;
  /** Waiting for the thread's next `ready` (a hand-over sent while it was down). */
  private readyWaiters: (() => void)[] = [];

  start(): void {
    const cluster = this.workerData.cluster;
    const data: ShardWorkerData =
      cluster === undefined
        ? this.workerData
        : merged(this.workerData, { cluster: { node: cluster.node, leases: [...this.leases] } });
    const young = data.youngGenerationMb;
    const limits = young === undefined ? {} : { maxYoungGenerationSizeMb: young };
    const worker = spawnWorker(import.meta.url, 'shard-worker', data, limits);
    this.worker = worker;
    // A thread that died is done with: its ids were failed, and their slots may be given again.
    worker.on('message', (message: FromShard) => {
      if (this.worker === worker) this.onMessage(message);
    });
    worker.on('error', (error) => this.onExit(worker, error.message));
    worker.on('exit', (code) => this.onExit(worker, `shard worker exited with code ${code}`));
  }

  /**
   * Sends a command; `callback` gets the reply. Returns the request's id, with which `cancel`
   * can still take it back before it leaves this turn (0 if it was answered at once).
   */
  send(partition: number, command: Command, callback: ReplyCallback): number {
    if (!this.ready) {
      callback(
        failure(0, 'unavailable', 'The shard is recovering from the journal; retry shortly.'),
      );
      return 0;
    }
    if (this.inflight.size >= this.workerData.inflightMax) {
      callback(this.refusal(undefined));
      return 0;
    }
    // Only a reserve is shed here: it is where a crowd's demand comes in (a cart's lines are
    // shed by the cart coordinator, before any part of the cart is sent). A confirm or release
    // ends a hold already granted (refusing it would keep stock from the crowd), and operators'
    // writes must get through a crowd; those are bounded by inflightMax alone.
    const shed = command.kind === 'reserve' ? this.shed(shedMessage) : undefined;
    if (shed !== undefined) {
      callback(shed);
      return 0;
    }
    const nowMs = this.clock.monotonic();
    if (this.inflight.size === 0) this.drain.busyFrom(nowMs);
    const id = this.inflight.add(callback);
    this.queue.add({ id, partition, command }, nowMs);
    return id;
  }

  /**
   * Demand arriving now (a reserve, a cart's lines): the 503 overloaded to answer it with if it
   * would wait longer than the bound, else undefined (it may be sent). Counts what it sheds and
   * now and then says so.
   */
  shed(message: string): ShardReply | undefined {
    const state = this.queueState();
    if (!sheds(state, this.admission)) return undefined;
    const refusal = this.refusal(message, state);
    this.shedSinceLog += 1;
    const nowMs = this.clock.monotonic();
    if (nowMs - this.shedLoggedMs >= shedLogEveryMs) {
      this.listener.log(
        'warn',
        `shard ${this.index} sheds reserves (503 overloaded): ${this.shedSinceLog} since the ` +
          `last line; ${state.inFlight} in flight, draining ${Math.round(state.drainPerSecond)}/s, ` +
          `cycle ${Math.round(state.cycleMs)} ms, bound ${this.admission.queueDelayMs} ms, ` +
          `floor ${this.admission.floor}, retry-after ${this.retryAfter} s`,
      );
      this.shedLoggedMs = nowMs;
      this.shedSinceLog = 0;
    }
    return refusal;
  }

  /** What the admission rule looks at: in flight now, the drain rate and the cycle. */
  private queueState(): QueueState {
    const { perSecond, cycleMs } = this.drain;
    return { inFlight: this.inflight.size, drainPerSecond: perSecond, cycleMs };
  }

  /** A 503 overloaded, its retry-after sized by the backlog behind it (queue-admission.ts). */
  private refusal(message: string | undefined, state = this.queueState()): ShardReply {
    const nowMs = this.clock.monotonic();
    this.turnedAway.add(nowMs);
    this.retryAfter = retryAfterSeconds(state, this.turnedAway.within(this.retryAfter, nowMs));
    return failure(0, 'overloaded', message, this.retryAfter);
  }

  /**
   * Takes a command back if it has not left for the shard yet (it then never applies, and its
   * callback is never called). False if it already left: its reply will come.
   */
  cancel(id: number): boolean {
    if (!this.queue.remove((request) => request.id === id)) return false;
    this.inflight.take(id);
    return true;
  }

  /** A batch of commands, to the shard in one message. */
  private sendBatch(batch: ShardRequest[]): void {
    const worker = this.worker;
    if (worker === undefined || !this.ready) {
      for (const request of batch) this.answer(failure(request.id, 'unavailable'));
      return;
    }
    const payload = encodeBatch(batch);
    worker.postMessage({ kind: 'requests', payload } satisfies ToShard, [
      payload.buffer as ArrayBuffer,
    ]);
    // How full the messages to the shard are (the report's hop line), beside the replies' count.
    this.timeline?.record('requests', timelineNow(), { shard: this.index, count: batch.length });
  }

  private answer(reply: ShardReply): void {
    this.inflight.take(reply.id)?.(reply);
  }

  /** A batch of replies: answered, and counted into the drain rate (queue-admission.ts). */
  private replied(replies: readonly ShardReply[]): void {
    this.drain.answered(replies.length, this.clock.monotonic());
    for (const reply of replies) this.answer(reply);
  }

  /**
   * Runs `work` (a message from the shard; it returns how many replies or changes it held) and,
   * with a timeline, records how long it held this thread (one closure per message, not per
   * request).
   */
  private timed(kind: 'replies' | 'durable', work: () => number): void {
    if (this.timeline === undefined) {
      work();
      return;
    }
    const startedMs = timelineNow();
    const count = work();
    const ms = timelineNow() - startedMs;
    this.timeline.record(kind, startedMs, { shard: this.index, ms, count });
  }

  private changed(changes: DurableChanges): void {
    this.timed('durable', () => {
      this.listener.durable(changes);
      return changes.stock.length;
    });
  }

  private onMessage(message: FromShard): void {
    switch (message.kind) {
      case 'replies':
        // The changes first: a reply that follows must find its change in the read view.
        if (message.changes !== undefined) this.changed(message.changes);
        this.timed('replies', () => {
          const replies = decodeReplies(message.payload);
          this.replied(replies);
          return replies.length;
        });
        return;
      case 'durable':
        this.changed(message.changes);
        return;
      case 'census':
        this.listener.census(
          message.partitions,
          decodeCensus(message.payload),
          message.readableUntilMs,
        );
        return;
      case 'ready': {
        this.ready = true;
        this.restartDelayMs = 100;
        this.listener.ready(message.recovery);
        const waiters = this.readyWaiters;
        this.readyWaiters = [];
        for (const resolve of waiters) resolve();
        return;
      }
      case 'fatal':
        this.fatal = { message: message.message, invariant: message.invariant };
        this.listener.log('error', `shard ${this.index}: ${message.message}`);
        return;
      case 'stopped':
        this.stopped?.();
        return;
      default:
        this.system.get(message.id)?.(message);
    }
  }

  private onExit(worker: Worker, message: string): void {
    if (this.worker !== worker) return; // a second event for a worker already handled
    this.worker = undefined;
    this.ready = false;
    const fatal = this.fatal;
    this.fatal = undefined;
    // Nothing the thread did for these was acknowledged; retries with the same key are safe.
    const waiting = this.inflight.waiting();
    this.queue.clear();
    this.drain.forget();
    for (const id of waiting) {
      this.answer(failure(id, 'unavailable', 'The shard restarted; nothing in flight was done.'));
    }
    for (const waiter of [...this.system.values()]) waiter(undefined);
    this.listener.down({
      message: fatal?.message ?? message,
      invariantBroken: fatal?.invariant ?? false,
    });
    if (this.stopping) {
      this.stopped?.();
      return;
    }
    this.listener.log('error', `shard ${this.index} died (${message}); restarting`);
    const delayMs = this.restartDelayMs;
    this.restartDelayMs = Math.min(this.restartDelayMs * 2, workerRestartDelayMsMax);
    setTimeout(() => {
      if (!this.stopping) this.start();
    }, delayMs).unref();
  }

  /**
   * A cluster hands partitions to this shard: resolves once they are recovered and served (or,
   * if the thread died meanwhile, once the restarted thread, spawned with them, is ready).
   */
  async adopt(leases: readonly (readonly [partition: number, epoch: number])[]): Promise<void> {
    for (const [partition, epoch] of leases) this.leases.set(partition, epoch);
    await this.handOver({ kind: 'adopt', id: 0, leases });
  }

  /** A cluster takes partitions away; resolves once the shard no longer serves them. */
  async drop(partitions: readonly number[], handOver: boolean): Promise<void> {
    for (const partition of partitions) this.leases.delete(partition);
    await this.handOver({ kind: 'drop', id: 0, partitions, handOver });
  }

  private async handOver(message: Extract<ToShard, { kind: 'adopt' | 'drop' }>): Promise<void> {
    if (this.stopping) return;
    const restarted = new Promise<void>((resolve) => this.readyWaiters.push(resolve));
    // Recovering partitions takes as long as their journals: far longer than a system request.
    const answered = this.call(message, handOverTimeoutMs).then(
      () => true,
      () => false,
    );
    const done = await Promise.race([answered, restarted.then(() => true)]);
    // The thread died: a restarted one is spawned with the leases as they are now.
    if (!done && this.worker === undefined && !this.stopping) await restarted;
    if (!done && this.worker !== undefined) {
      this.listener.log('error', `shard ${this.index} did not answer ${message.kind} in time`);
    }
  }

  /**
   * One system round trip; rejects after `timeoutMs` (a stuck shard is not a ready shard), when
   * the thread dies first, or at once when too many are already waiting.
   */
  request(kind: SystemRequestKind, timeoutMs: number): Promise<FromShard> {
    return this.call({ kind, id: 0 }, timeoutMs);
  }

  private call(
    message: Extract<ToShard, { readonly id: number }>,
    timeoutMs: number,
  ): Promise<FromShard> {
    const { kind } = message;
    const worker = this.worker;
    if (worker === undefined) return Promise.reject(new Error(`shard ${this.index} is down`));
    if (this.system.size >= shardSystemRequestsMax) {
      return Promise.reject(new Error(`shard ${this.index} has too many ${kind} requests waiting`));
    }
    this.nextSystemId = this.nextSystemId >= requestIdMax ? 1 : this.nextSystemId + 1;
    const id = this.nextSystemId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.system.delete(id);
        reject(new Error(`shard ${this.index} did not answer ${kind} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.system.set(id, (message) => {
        clearTimeout(timer);
        this.system.delete(id);
        if (message === undefined) reject(new Error(`shard ${this.index} died`));
        else resolve(message);
      });
      worker.postMessage(merged(message, { id }) satisfies ToShard);
    });
  }

  /**
   * Ends the worker thread at once, as a crash would; the channel then restarts it and the shard
   * recovers from the journal. For operators (a stuck shard) and for crash tests.
   */
  async terminate(): Promise<void> {
    await this.worker?.terminate();
  }

  /** Drains the shard (pending writes, a final snapshot) and waits for the thread to end. */
  async stop(): Promise<void> {
    this.stopping = true;
    const worker = this.worker;
    if (worker === undefined) return;
    const stopped = new Promise<void>((resolve) => (this.stopped = resolve));
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    worker.postMessage({ kind: 'stop' } satisfies ToShard);
    await stopped;
    await exited;
  }
}
