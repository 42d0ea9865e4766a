// The load of a plain wrk run (`--generator wrk`), for the hot SKU only: what a load tester who
// points wrk at the server sees, beside the bench's own generator. wrk (C, epoll, one event loop
// per thread) costs less CPU per request than undici on worker threads, so on a box where the
// generator shares the cores with the server it leaves the server more of them. The warm-up is
// a wrk run of its own, then the measured run; bench/lib/wrk-reserve.lua builds every request
// (a fresh idempotency key each) and prints the whole latency distribution, rebuilt here into
// the same HDR histogram the bench's generator fills. wrk cannot say which key each answer was
// for or which status a non-2xx was: hot-sku has one key and expects only 200s, so the 200s are
// the requests less the non-2xx, and a non-2xx is an unexpected answer.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Histogram } from 'hdr-histogram-js';
import { summarize, type LoadOptions, type LoadResult, type LoadSource } from './load-driver.js';
import { undoWrkCorrection, wrkInterval, type Distribution } from './coordinated-omission.js';
import { newHistogram } from './load-worker.js';
import { emptyTallies, stockKeyAt } from './scenarios.js';

const script = fileURLToPath(new URL('./wrk-reserve.lua', import.meta.url));
/** wrk's own request timeout: an answer later than this counts as a timeout error. */
const timeoutSeconds = 10;
/** How long past its duration a wrk run may take before it is killed (its report included). */
const graceMs = 15_000;

interface WrkErrors {
  readonly connect: number;
  readonly read: number;
  readonly write: number;
  readonly status: number;
  readonly timeout: number;
}

export interface WrkOutcome extends WrkErrors {
  /** Answers read (any status). */
  readonly requests: number;
  /** Requests sent: the difference is in flight when wrk stopped, its answer never read. */
  readonly issued: number;
  readonly durationUs: number;
  /** True when the distribution was read at quantiles (too wide to read value by value). */
  readonly approximate?: boolean;
  /** [microseconds, count] for every distinct latency wrk recorded (or at quantiles). */
  readonly latency: readonly (readonly [number, number])[];
}

/** The `WRK-RESULT {json}` line of wrk-reserve.lua's done(), or an Error saying what came out. */
export function parseWrkOutput(stdout: string): WrkOutcome {
  const line = stdout.split('\n').find((text) => text.startsWith('WRK-RESULT '));
  if (line === undefined) throw new Error(`wrk printed no WRK-RESULT line:\n${stdout}`);
  const parsed = JSON.parse(line.slice('WRK-RESULT '.length)) as WrkOutcome;
  if (!Number.isInteger(parsed.requests) || !Array.isArray(parsed.latency)) {
    throw new Error(`wrk's WRK-RESULT line is not what wrk-reserve.lua writes: ${line}`);
  }
  return parsed;
}

/** A distribution (µs → count) into an HDR histogram, as the bench's own generator records. */
export function histogramOf(distribution: Distribution): Histogram {
  const histogram = newHistogram();
  for (const [microseconds, count] of distribution) {
    histogram.recordValueWithCount(Math.max(1, microseconds), count);
  }
  return histogram;
}

/**
 * What wrk timed (`timed`, one sample per answer, as the bench's generator times) and what it
 * prints (`printed`, corrected for coordinated omission: bench/lib/coordinated-omission.ts).
 */
export function distributionsOf(outcome: WrkOutcome, connections: number) {
  if (outcome.approximate === true) {
    throw new Error("wrk's latencies spread too wide to be read value by value: no exact figures");
  }
  const printed: Distribution = new Map(outcome.latency);
  const interval = wrkInterval(outcome.durationUs, outcome.requests, connections);
  const timed = interval === null ? printed : undoWrkCorrection(printed, interval);
  let samples = 0;
  for (const count of timed.values()) samples += count;
  if (samples !== outcome.requests) {
    throw new Error(
      `wrk's distribution holds ${samples} answers once uncorrected, not ${outcome.requests}`,
    );
  }
  return { timed, printed };
}

/** The path of wrk, or undefined when it is not installed. */
export function wrkPath(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path !== '' ? path : undefined;
}

function runWrk(
  wrk: string,
  options: LoadOptions,
  threads: number,
  seconds: number,
  prefix: string,
): Promise<WrkOutcome> {
  const key = stockKeyAt(options.scenario.name, 0);
  const args = [
    ...['-t', String(threads), '-c', String(options.connections), '-d', `${seconds}s`],
    ...['--timeout', `${timeoutSeconds}s`, '-s', script, options.baseUrl],
    ...['--', key.productId, key.warehouseId, prefix, options.authorization ?? ''],
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(wrk, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const killer = setTimeout(() => child.kill('SIGKILL'), seconds * 1000 + graceMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(killer);
      if (code !== 0) reject(new Error(`wrk exited with ${String(code)}: ${stderr}${stdout}`));
      else {
        try {
          resolve(parseWrkOutput(stdout));
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      }
    });
  });
}

const errorsOf = (outcome: WrkOutcome): Record<string, number> =>
  Object.fromEntries(
    (['connect', 'read', 'write', 'timeout'] as const)
      .filter((name) => outcome[name] > 0)
      .map((name) => [`wrk ${name} errors`, outcome[name]]),
  );

const statusCountsOf = (outcome: WrkOutcome): Record<string, number> => {
  const counts: Record<string, number> = { 'reserve 200': outcome.requests - outcome.status };
  if (outcome.status > 0) counts['reserve non-2xx (wrk does not say which)'] = outcome.status;
  return counts;
};

const unread = (outcome: WrkOutcome | undefined): number =>
  outcome === undefined ? 0 : Math.max(0, outcome.issued - outcome.requests);

function resultOf(
  warmup: WrkOutcome | undefined,
  measured: WrkOutcome,
  connections: number,
  startAtMs: number,
): Omit<LoadResult, 'measureFromMs'> {
  const { timed, printed } = distributionsOf(measured, connections);
  const histogram = histogramOf(timed);
  const summary = summarize(histogram);
  const tallies = emptyTallies(1);
  const admitted = (outcome: WrkOutcome | undefined): number =>
    outcome === undefined ? 0 : outcome.requests - outcome.status;
  tallies.reserved[0] = admitted(warmup) + admitted(measured);
  const errors = errorsOf(measured);
  return {
    requestsPerSecond: measured.requests / (measured.durationUs / 1e6),
    latency: summary,
    latencyByOperation: { reserve: summary },
    latencyByStatus: {},
    histogram,
    correctedHistogram: histogramOf(printed),
    statusCounts: statusCountsOf(measured),
    // wrk's hot-sku expects only 200s: no shed answers, so no retry-after to count.
    retryAfterCounts: {},
    warmupStatusCounts: warmup === undefined ? {} : statusCountsOf(warmup),
    errors,
    errorCount: Object.values(errors).reduce((sum, count) => sum + count, 0),
    // wrk reports the whole run only: no answers per second.
    perSecond: [],
    tallies,
    // wrk does not say which requests went unanswered, so none can be replayed: the check
    // allows for each (`unresolved`) having taken effect or not.
    unknown: [],
    unresolved: unread(warmup) + unread(measured),
    firstInsufficientAtMs: null,
    unexpected: measured.status + (warmup?.status ?? 0),
    startAtMs,
    threads: 0,
  };
}

/** `--generator wrk`: the same run() as the bench's LoadGenerator, by wrk child processes. */
export class WrkGenerator implements LoadSource {
  readonly wrk = true;

  constructor(
    readonly threads: number,
    private readonly path: string,
  ) {}

  close(): Promise<void> {
    return Promise.resolve();
  }

  async run(options: LoadOptions): Promise<LoadResult> {
    if (options.scenario.name !== 'hot-sku' || options.baseUrls !== undefined) {
      throw new Error('--generator wrk drives the hot-sku scenario against one server only');
    }
    const threads = Math.min(this.threads, options.connections);
    const prefix = randomBytes(6).toString('hex');
    const startAtMs = Date.now();
    const warmup =
      options.warmupSeconds > 0
        ? await runWrk(this.path, options, threads, options.warmupSeconds, `${prefix}w`)
        : undefined;
    const measureFromMs = Date.now();
    await options.onMeasureStart();
    const measured = await runWrk(this.path, options, threads, options.durationSeconds, prefix);
    await options.onMeasureEnd();
    const result = resultOf(warmup, measured, options.connections, startAtMs);
    return { ...result, threads, measureFromMs };
  }
}
