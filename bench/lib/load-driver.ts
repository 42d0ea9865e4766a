// Drives one load (one scenario against one server) with piscina worker threads running
// load-worker.ts, prints a live progress line, and merges what the threads measured: HDR
// histograms, answers by status, answers per second, per-key tallies, unknown outcomes.
import { randomBytes } from 'node:crypto';
import { MessageChannel } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import { Piscina } from 'piscina';
import { loadClientDefault, type LoadClient } from './load-client.js';
import type {
  LoadTask,
  LoadTaskResult,
  Operation,
  ProgressTick,
  UnknownRequest,
} from './load-worker.js';
import { newHistogram, operations } from './load-worker.js';
import type { LoadSecond, SlowRequest } from './timeline-join.js';
import { addTallies, emptyTallies, type KeyTallies, type Scenario } from './scenarios.js';

/** The load starts this long after the tasks are handed out, so every thread starts together. */
const startDelayMs = 300;
/**
 * Where the connections are opened first (flash-crowd), this much more per connection, up to a
 * ceiling: 5,000 opened at once meet the server's listen backlog and some wait for SYN retries
 * (1 s, 3 s); but an open connection left idle for 10 s is closed by uWebSockets.js, and the
 * crowd's first requests would find it gone.
 */
const connectDelayMsPerConnection = 1;
const connectDelayMsMax = 4000;
/** A request without an answer after this long counts as an error (outcome resolved later). */
const requestTimeoutMs = 10_000;
const progressLineEverySeconds = 5;

export interface LoadOptions {
  readonly label: string;
  readonly baseUrl: string;
  /** Several servers (a cluster's nodes): connections round-robin over them instead of baseUrl. */
  readonly baseUrls?: readonly string[];
  readonly scenario: Scenario;
  readonly connections: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  readonly authorization: string | undefined;
  /** Called when the measured window starts and ends (to snapshot CPU and metrics). */
  readonly onMeasureStart: () => void | Promise<void>;
  readonly onMeasureEnd: () => void | Promise<void>;
  /** --timeline: the ledger's timeline prefix; the load threads write theirs beside it. */
  readonly timelinePrefix?: string;
  /** What carries the requests (default `loadClientDefault`). */
  readonly client?: LoadClient;
}

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
}

export interface LoadResult {
  /** Answers completed in the measured window over its length. */
  readonly requestsPerSecond: number;
  readonly latency: LatencySummary;
  readonly latencyByOperation: Partial<Record<Operation, LatencySummary>>;
  /** By operation and status ("reserve 200": the admitted reserves; "reserve 503": the shed). */
  readonly latencyByStatus: Record<string, LatencySummary>;
  /** Every operation's histogram merged, for the plot (µs). */
  readonly histogram: hdr.Histogram;
  /**
   * The same corrected for coordinated omission, where the generator says (wrk prints only
   * that); else run-system corrects `histogram` the same way.
   */
  readonly correctedHistogram?: hdr.Histogram;
  readonly statusCounts: Record<string, number>;
  readonly warmupStatusCounts: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly errorCount: number;
  readonly perSecond: number[];
  /** 503 overloaded answers by their retry-after seconds, whole run. */
  readonly retryAfterCounts: Record<string, number>;
  readonly tallies: KeyTallies;
  readonly unknown: UnknownRequest[];
  /**
   * Reserves sent whose answer was never read and which cannot be replayed (wrk stops with one in
   * flight per connection): each may or may not have taken effect. 0 for the bench's generator,
   * which waits for every answer.
   */
  readonly unresolved?: number;
  readonly firstInsufficientAtMs: number | null;
  readonly unexpected: number;
  /** Date.now() when the load (warm-up included) started. */
  readonly startAtMs: number;
  readonly threads: number;
  /** With --timeline: per second of the measured window, and every slow request. */
  readonly timeline?: { readonly seconds: LoadSecond[]; readonly slow: SlowRequest[] };
  /** Epoch ms the measured window started at. */
  readonly measureFromMs: number;
}

export function summarize(histogram: hdr.Histogram): LatencySummary {
  const ms = (microseconds: number): number => microseconds / 1000;
  return {
    count: histogram.totalCount,
    meanMs: histogram.totalCount === 0 ? 0 : ms(histogram.mean),
    p50Ms: ms(histogram.getValueAtPercentile(50)),
    p90Ms: ms(histogram.getValueAtPercentile(90)),
    p99Ms: ms(histogram.getValueAtPercentile(99)),
    p999Ms: ms(histogram.getValueAtPercentile(99.9)),
    maxMs: ms(histogram.maxValue),
  };
}

function addCounts(into: Record<string, number>, from: Record<string, number>): void {
  for (const [key, count] of Object.entries(from)) into[key] = (into[key] ?? 0) + count;
}

/** What drives a load: the bench's own generator, or wrk (bench/lib/wrk-driver.ts). */
export interface LoadSource {
  readonly threads: number;
  /** The load runs in wrk child processes, whose CPU the bench counts from /proc. */
  readonly wrk: boolean;
  run(options: LoadOptions): Promise<LoadResult>;
  close(): Promise<void>;
}

/** The piscina pool of load threads, kept for the whole bench invocation. */
export class LoadGenerator implements LoadSource {
  readonly wrk = false;
  private readonly pool: Piscina;

  constructor(readonly threads: number) {
    this.pool = new Piscina({
      filename: new URL('./load-worker-boot.mjs', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
      concurrentTasksPerWorker: 1,
    });
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }

  async run(options: LoadOptions): Promise<LoadResult> {
    const threads = Math.min(this.threads, options.connections);
    const connectMs = options.scenario.connectsFirst
      ? Math.min(options.connections * connectDelayMsPerConnection, connectDelayMsMax)
      : 0;
    const startAtMs = Date.now() + startDelayMs + connectMs;
    const measureFromMs = startAtMs + options.warmupSeconds * 1000;
    const endAtMs = measureFromMs + options.durationSeconds * 1000;
    const progress = new ProgressLine(options, threads, measureFromMs);
    const prefix = `bench-${randomBytes(4).toString('hex')}-`;
    // The window's hooks read counters (CPU, /metrics, Postgres's WAL): the run waits for them.
    const hooks: Promise<void>[] = [];
    const hookAt = (atMs: number, hook: () => void | Promise<void>) =>
      setTimeout(() => hooks.push(Promise.resolve().then(hook)), atMs - Date.now());
    const windowTimers = [
      hookAt(measureFromMs, options.onMeasureStart),
      hookAt(endAtMs, options.onMeasureEnd),
    ];
    const connectionsOf = (threadIndex: number): number =>
      Math.floor(options.connections / threads) +
      (threadIndex < options.connections % threads ? 1 : 0);
    let firstConnection = 0;
    const tasks = Array.from({ length: threads }, (_, threadIndex) => {
      const { port1, port2 } = new MessageChannel();
      port1.on('message', (tick: ProgressTick) => progress.add(tick));
      const connections = connectionsOf(threadIndex);
      const task: LoadTask = {
        baseUrls: options.baseUrls ?? [options.baseUrl],
        firstConnection,
        scenario: options.scenario,
        connections,
        threadIndex,
        idempotencyPrefix: prefix,
        authorization: options.authorization,
        startAtMs,
        measureFromMs,
        endAtMs,
        requestTimeoutMs,
        client: options.client ?? loadClientDefault,
        progress: port2,
        ...(options.timelinePrefix === undefined ? {} : { timelinePrefix: options.timelinePrefix }),
      };
      firstConnection += connections;
      const result = this.pool.run(task, { transferList: [port2] }) as Promise<LoadTaskResult>;
      return result.finally(() => port1.close());
    });
    let results: LoadTaskResult[];
    try {
      results = await Promise.all(tasks);
    } finally {
      for (const timer of windowTimers) clearTimeout(timer);
      progress.finish();
    }
    await Promise.all(hooks);
    return {
      ...merge(options, results, startAtMs, threads),
      measureFromMs,
      ...timelineOf(results),
    };
  }
}

/** The load threads' per-second histograms merged (answers, p50, p99, max), slow requests. */
function timelineOf(results: readonly LoadTaskResult[]): Pick<LoadResult, 'timeline'> {
  const parts = results.flatMap((result) =>
    result.timeline === undefined ? [] : [result.timeline],
  );
  if (parts.length === 0) return {};
  const length = Math.max(...parts.map((part) => part.seconds.length));
  const seconds = Array.from({ length }, (_, second): LoadSecond => {
    const merged = newHistogram();
    for (const part of parts) {
      const encoded = part.seconds[second];
      if (encoded !== undefined) merged.add(hdr.decodeFromCompressedBase64(encoded));
    }
    const summary = summarize(merged);
    return {
      second,
      answers: summary.count,
      p50Ms: summary.p50Ms,
      p99Ms: summary.p99Ms,
      maxMs: summary.maxMs,
    };
  });
  const slow = parts.flatMap((part) =>
    part.slow.map(([sentMs, latencyMs]): SlowRequest => ({ sentMs, latencyMs })),
  );
  return { timeline: { seconds, slow } };
}

function merge(
  options: LoadOptions,
  results: readonly LoadTaskResult[],
  startAtMs: number,
  threads: number,
): Omit<LoadResult, 'measureFromMs'> {
  const all = newHistogram();
  const latencyByOperation: Partial<Record<Operation, LatencySummary>> = {};
  for (const operation of operations) {
    const merged = newHistogram();
    for (const result of results) {
      merged.add(hdr.decodeFromCompressedBase64(result.histograms[operation]));
    }
    if (merged.totalCount > 0) latencyByOperation[operation] = summarize(merged);
    all.add(merged);
  }
  const latencyByStatus: Record<string, LatencySummary> = {};
  const labels = new Set(results.flatMap((result) => Object.keys(result.statusHistograms)));
  for (const label of [...labels].sort()) {
    const merged = newHistogram();
    for (const result of results) {
      const encoded = result.statusHistograms[label];
      if (encoded !== undefined) merged.add(hdr.decodeFromCompressedBase64(encoded));
    }
    latencyByStatus[label] = summarize(merged);
  }
  const statusCounts: Record<string, number> = {};
  const warmupStatusCounts: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const retryAfterCounts: Record<string, number> = {};
  const tallies = emptyTallies(options.scenario.keyCount);
  const perSecond = new Array<number>(options.durationSeconds).fill(0);
  for (const result of results) {
    addCounts(statusCounts, result.statusCounts);
    addCounts(warmupStatusCounts, result.warmupStatusCounts);
    addCounts(errors, result.errors);
    addCounts(retryAfterCounts, result.retryAfterCounts);
    addTallies(tallies, result.tallies);
    result.perSecond.forEach((count, second) => {
      if (second < perSecond.length) perSecond[second] = (perSecond[second] ?? 0) + count;
    });
  }
  const firstSoldOut = results
    .map((result) => result.firstInsufficientAtMs)
    .filter((at): at is number => at !== null);
  return {
    requestsPerSecond: perSecond.reduce((sum, count) => sum + count, 0) / options.durationSeconds,
    latency: summarize(all),
    latencyByOperation,
    latencyByStatus,
    histogram: all,
    statusCounts,
    warmupStatusCounts,
    errors,
    errorCount: Object.values(errors).reduce((sum, count) => sum + count, 0),
    perSecond,
    retryAfterCounts,
    tallies,
    unknown: results.flatMap((result) => result.unknown),
    firstInsufficientAtMs: firstSoldOut.length === 0 ? null : Math.min(...firstSoldOut),
    unexpected: results.reduce((sum, result) => sum + result.unexpected, 0),
    startAtMs,
    threads,
  };
}

/**
 * A live progress line: redrawn in place on a terminal, one line every few seconds otherwise
 * (a log file should not fill with carriage returns).
 */
class ProgressLine {
  private readonly pending = new Map<number, ProgressTick[]>();
  private seconds = 0;
  private answered = 0;
  private unexpected = 0;
  private errors = 0;
  private readonly tty = process.stdout.isTTY === true;

  constructor(
    private readonly options: LoadOptions,
    private readonly threads: number,
    private readonly measureFromMs: number,
  ) {}

  /** Counts a second once every thread has reported it. */
  add(tick: ProgressTick): void {
    const ticks = this.pending.get(tick.threadIndex) ?? [];
    ticks.push(tick);
    this.pending.set(tick.threadIndex, ticks);
    if (this.pending.size < this.threads) return;
    if ([...this.pending.values()].some((queue) => queue.length === 0)) return;
    let answered = 0;
    for (const queue of this.pending.values()) {
      const next = queue.shift();
      answered += next?.answered ?? 0;
      this.unexpected += next?.unexpected ?? 0;
      this.errors += next?.errors ?? 0;
    }
    this.answered += answered;
    this.seconds += 1;
    this.print(answered);
  }

  private print(lastSecond: number): void {
    const { label, warmupSeconds, durationSeconds } = this.options;
    const phase = Date.now() < this.measureFromMs ? 'warm-up' : 'measured';
    const total = warmupSeconds + durationSeconds;
    const line =
      `  ${label}: ${phase} ${Math.min(this.seconds, total)}/${total} s, ` +
      `${lastSecond} answers in the last s, ${this.answered} in all, ` +
      `${this.unexpected} unexpected, ${this.errors} errors`;
    if (this.tty) process.stdout.write(`\r\x1b[2K${line}`);
    else if (this.seconds % progressLineEverySeconds === 0) process.stdout.write(`${line}\n`);
  }

  finish(): void {
    if (this.tty) process.stdout.write('\n');
  }
}
