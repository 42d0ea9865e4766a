// One load-generator thread (a piscina task): `connections` closed-loop virtual users, each on
// its own keep-alive connection (pipelining 1: the bench's own client by default,
// raw-http-client.ts, or an undici Client), run one scenario until the end time, then
// finish the request in hand and stop, so nothing is left unanswered at the end. Latency of
// every request started in the measured window goes into HDR histograms (microseconds).
// Requests whose outcome is unknown (connection error, timeout) are handed back to be resolved
// by replaying them: that keeps the end-state check exact. In the cart scenario every request is
// one POST /v1/carts; an acknowledged cart counts one reserved unit per line. Where the scenario
// expects load shedding (flash-crowd), a 503 `overloaded` must carry retry-after, and the virtual
// user waits that long times 1 to 2 (jitter, so refused buyers do not come back in step).
import type { MessagePort } from 'node:worker_threads';
import * as hdr from 'hdr-histogram-js';
import { Client } from 'undici';
import type { LoadClient } from './load-client.js';
import { LoadTimeline, type LoadTimelineResult } from './load-timeline.js';
import { RawHttpClient } from './raw-http-client.js';
import {
  drawCartKeys,
  emptyTallies,
  stockKeyAt,
  type KeyTallies,
  type Scenario,
} from './scenarios.js';

export type Operation = 'reserve' | 'confirm' | 'release' | 'cart';
export const operations: readonly Operation[] = ['reserve', 'confirm', 'release', 'cart'];

/** Where each operation is posted (API.md; carts: "Additions (v1.1)"). */
export const operationPaths: Readonly<Record<Operation, string>> = {
  reserve: '/v1/reserve',
  confirm: '/v1/confirm',
  release: '/v1/release',
  cart: '/v1/carts',
};

export interface LoadTask {
  /**
   * Where the virtual users connect: connection i of the whole load (over every thread) goes to
   * `baseUrls[i % baseUrls.length]`, so a cluster's nodes share the load round-robin.
   */
  readonly baseUrls: readonly string[];
  /** The load-wide index of this thread's first connection. */
  readonly firstConnection: number;
  readonly scenario: Scenario;
  readonly connections: number;
  readonly threadIndex: number;
  /** Idempotency keys are `<prefix><thread>-<n>`: unique per run, per thread, per request. */
  readonly idempotencyPrefix: string;
  readonly authorization: string | undefined;
  /** Wall-clock times (Date.now()): load starts, measuring starts (end of warm-up), load ends. */
  readonly startAtMs: number;
  readonly measureFromMs: number;
  readonly endAtMs: number;
  readonly requestTimeoutMs: number;
  readonly client: LoadClient;
  /** Receives a ProgressTick every second. */
  readonly progress: MessagePort;
  /** --timeline: the ledger's timeline prefix; this thread keeps per-second and slow requests. */
  readonly timelinePrefix?: string;
}

export interface ProgressTick {
  readonly threadIndex: number;
  /** Answers read in the last second, and of them not 2xx (an expected 409 counts as 2xx here). */
  readonly answered: number;
  readonly unexpected: number;
  readonly errors: number;
}

/** A request whose answer was never read; replayed afterwards (same body) to learn its fate. */
export interface UnknownRequest {
  readonly operation: Operation;
  /** The key of every unit it moves: one for a reserve, confirm or release; a cart's lines. */
  readonly keyIndexes: readonly number[];
  readonly body: string;
  readonly error: string;
}

export interface LoadTaskResult {
  /** Per operation: HDR histogram of the measured window's latencies (µs), compressed base64. */
  readonly histograms: Record<Operation, string>;
  /** The same by operation and status ("reserve 200", "reserve 503"), compressed base64. */
  readonly statusHistograms: Record<string, string>;
  /**
   * Answers by operation, status and (for a refusal) error code ("reserve 409
   * insufficient_stock"), measured window / warm-up.
   */
  readonly statusCounts: Record<string, number>;
  readonly warmupStatusCounts: Record<string, number>;
  /** Errors (no answer read) by message, whole run. */
  readonly errors: Record<string, number>;
  /** Answers completed in each second of the measured window. */
  readonly perSecond: number[];
  /** 503 overloaded answers by their retry-after seconds ("1", "2"), whole run. */
  readonly retryAfterCounts: Record<string, number>;
  readonly tallies: KeyTallies;
  readonly unknown: UnknownRequest[];
  /** Date.now() of the first 409 insufficient_stock answer seen, if any. */
  readonly firstInsufficientAtMs: number | null;
  /** Answers neither 200 nor an expected refusal (sold-out's 409 insufficient_stock). */
  readonly unexpected: number;
  readonly timeline?: LoadTimelineResult;
}

/** Highest latency the histograms track (µs); a request is timed out well before. */
const trackedMicrosecondsMax = 120_000_000;
/** After a connection error, a virtual user waits this long before its next request. */
const pauseAfterErrorMs = 50;
/** Unknown outcomes kept for the replay; beyond this the run is broken anyway. */
const unknownMax = 100_000;
/** A retry-after beyond this is not waited out (a run would stall): the answer is unexpected. */
const retryAfterSecondsMax = 60;

/** The histogram every thread records into and the driver merges into: one configuration. */
export function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: trackedMicrosecondsMax,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

interface Answer {
  readonly status: number;
  readonly text: string;
  /** The retry-after header's seconds, when it has a valid one (RFC 9110: delay-seconds). */
  readonly retryAfterSeconds: number | undefined;
}

/** One virtual user's keep-alive connection, one request at a time. */
interface Connection {
  post(path: string, body: string): Promise<Answer>;
  /** A GET whose answer is read and dropped (opening the connection). */
  get(path: string): Promise<void>;
  close(): Promise<void>;
}

function undiciConnection(url: string, headers: Record<string, string>, timeoutMs: number) {
  const client = new Client(url, {
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 60_000,
  });
  const connection: Connection = {
    async post(path, body) {
      const response = await client.request({ path, method: 'POST', headers, body });
      return {
        status: response.statusCode,
        text: await response.body.text(),
        retryAfterSeconds: retryAfterOf(response.headers['retry-after']),
      };
    },
    async get(path) {
      const response = await client.request({ path, method: 'GET' });
      await response.body.dump();
    },
    close: () => client.close(),
  };
  return connection;
}

function rawConnection(url: string, headers: Record<string, string>, timeoutMs: number) {
  const client = new RawHttpClient(url, { headers, timeoutMs });
  const connection: Connection = {
    async post(path, body) {
      const answer = await client.request('POST', path, body);
      const retryAfterSeconds = retryAfterOf(answer.retryAfter);
      return { status: answer.status, text: answer.text, retryAfterSeconds };
    },
    async get(path) {
      await client.request('GET', path);
    },
    close: () => client.close(),
  };
  return connection;
}

/** The error code of a refusal's body (docs/api.md), or '' when there is none. */
function errorCodeOf(text: string): string {
  return /"code"\s*:\s*"([a-z_]+)"/.exec(text)?.[1] ?? '';
}

function retryAfterOf(header: string | string[] | undefined): number | undefined {
  if (typeof header !== 'string' || !/^[0-9]+$/.test(header)) return undefined;
  const seconds = Number(header);
  return seconds <= retryAfterSecondsMax ? seconds : undefined;
}

/** "reserve 200", "reserve 409 insufficient_stock", "reserve 503 overloaded no retry-after". */
export function answerLabel(operation: Operation, answer: Answer): string {
  if (answer.status === 200) return `${operation} 200`;
  const code = errorCodeOf(answer.text);
  const label =
    code === '' ? `${operation} ${answer.status}` : `${operation} ${answer.status} ${code}`;
  return answer.status === 503 && answer.retryAfterSeconds === undefined
    ? `${label} no retry-after`
    : label;
}

class ThreadLoad {
  readonly histograms = new Map<Operation, hdr.Histogram>(
    operations.map((operation) => [operation, newHistogram()]),
  );
  readonly statusHistograms = new Map<string, hdr.Histogram>();
  readonly statusCounts: Record<string, number> = {};
  readonly warmupStatusCounts: Record<string, number> = {};
  readonly errors: Record<string, number> = {};
  readonly perSecond: number[] = [];
  readonly retryAfterCounts: Record<string, number> = {};
  readonly unknown: UnknownRequest[] = [];
  readonly tallies: KeyTallies;
  firstInsufficientAtMs: number | null = null;
  /** Answers neither 200 nor an expected refusal, warm-up and measured window together. */
  unexpected = 0;
  private issued = 0;
  /** Connections that sent a request already: the first of each is the crowd's wave. */
  private readonly sentOn = new WeakSet<Connection>();
  // Performance-clock equivalents of the task's wall-clock times.
  private measureFrom: number;
  private readonly endAt: number;
  readonly headers: Record<string, string>;
  private tick = { answered: 0, unexpected: 0, errors: 0 };
  readonly timeline: LoadTimeline | undefined;

  constructor(readonly task: LoadTask) {
    this.tallies = emptyTallies(task.scenario.keyCount);
    const seconds = Math.round((task.endAtMs - task.measureFromMs) / 1000);
    this.timeline =
      task.timelinePrefix === undefined
        ? undefined
        : new LoadTimeline(task.timelinePrefix, task.threadIndex, task.measureFromMs, seconds);
    const offset = performance.now() - Date.now();
    this.measureFrom = task.measureFromMs + offset;
    this.endAt = task.endAtMs + offset;
    this.headers = { 'content-type': 'application/json' };
    if (task.authorization !== undefined) this.headers.authorization = task.authorization;
  }

  /**
   * The load starts now. Without a warm-up, measuring starts now too: the wall clock's whole
   * milliseconds could put a crowd's first wave, all sent at this instant, before
   * `measureFromMs` and out of the latency histograms.
   */
  started(): void {
    if (this.task.measureFromMs === this.task.startAtMs) {
      this.measureFrom = Math.min(this.measureFrom, performance.now());
    }
  }

  get running(): boolean {
    return performance.now() < this.endAt;
  }

  /** Milliseconds left until the load ends (a wait never outlasts the run). */
  get remainingMs(): number {
    return Math.max(0, this.endAt - performance.now());
  }

  nextIdempotencyKey(): string {
    this.issued += 1;
    return `${this.task.idempotencyPrefix}${this.task.threadIndex}-${this.issued.toString(36)}`;
  }

  async send(
    connection: Connection,
    operation: Operation,
    body: string,
    keyIndexes: readonly number[],
  ) {
    const started = performance.now();
    const first = !this.sentOn.has(connection);
    if (first) this.sentOn.add(connection);
    let answer: Answer;
    try {
      answer = await connection.post(operationPaths[operation], body);
    } catch (error) {
      this.failed(operation, body, keyIndexes, error);
      return undefined;
    }
    this.answered(operation, answer, started, performance.now(), first);
    return answer;
  }

  private answered(
    operation: Operation,
    answer: Answer,
    started: number,
    done: number,
    first: boolean,
  ): void {
    const expected = answer.status === 200 || this.expectedRefusal(answer);
    if (answer.status === 409 && this.firstInsufficientAtMs === null && expected) {
      this.firstInsufficientAtMs = Date.now();
    }
    const label = answerLabel(operation, answer);
    const counts = started >= this.measureFrom ? this.statusCounts : this.warmupStatusCounts;
    counts[label] = (counts[label] ?? 0) + 1;
    if (answer.status === 503 && answer.retryAfterSeconds !== undefined) {
      const seconds = String(answer.retryAfterSeconds);
      this.retryAfterCounts[seconds] = (this.retryAfterCounts[seconds] ?? 0) + 1;
    }
    if (started >= this.measureFrom) {
      const microseconds = Math.max(1, Math.round((done - started) * 1000));
      this.histograms.get(operation)?.recordValue(microseconds);
      this.recordByStatus(`${operation} ${answer.status}`, microseconds);
      // A crowd's first wave apart: the admitted sent in the first second of the window.
      if (answer.status === 200 && started < this.measureFrom + 1000) {
        this.recordByStatus(`${operation} 200 sent in the first second`, microseconds);
      }
      // The wave itself: each connection's first request, whatever its answer. Against a server
      // that answers at once (bare-uws) it is what the generator and the box alone take to send
      // and answer a crowd arriving together: the floor under the admitted first wave.
      if (first) this.recordByStatus(`${operation} first of each connection`, microseconds);
    }
    if (done >= this.measureFrom && done < this.endAt) {
      const second = Math.floor((done - this.measureFrom) / 1000);
      this.perSecond[second] = (this.perSecond[second] ?? 0) + 1;
    }
    this.timeline?.answered(started, done);
    this.tick.answered += 1;
    if (!expected) {
      this.tick.unexpected += 1;
      this.unexpected += 1;
    }
  }

  private recordByStatus(label: string, microseconds: number): void {
    let histogram = this.statusHistograms.get(label);
    if (histogram === undefined) {
      histogram = newHistogram();
      this.statusHistograms.set(label, histogram);
    }
    histogram.recordValue(microseconds);
  }

  /**
   * 409 insufficient_stock is the expected answer once a sold-out key has run dry; 503
   * overloaded with a retry-after where the scenario expects the server to shed load.
   */
  expectedRefusal(answer: Answer): boolean {
    const { sellsOut, shedsLoad } = this.task.scenario;
    if (answer.status === 409) return sellsOut && errorCodeOf(answer.text) === 'insufficient_stock';
    return answer.status === 503 && shedsLoad && shedWithRetryAfter(answer);
  }

  /**
   * A 200 whose body is not what was asked (a cart without every unit held): counted as an
   * unexpected answer, under its own label.
   */
  wrongBody(operation: Operation, started: number): void {
    const label = `${operation} 200 with a body not matching the request`;
    const counts = started >= this.measureFrom ? this.statusCounts : this.warmupStatusCounts;
    counts[label] = (counts[label] ?? 0) + 1;
    this.tick.unexpected += 1;
    this.unexpected += 1;
  }

  private failed(
    operation: Operation,
    body: string,
    keyIndexes: readonly number[],
    error: unknown,
  ): void {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    this.errors[message] = (this.errors[message] ?? 0) + 1;
    this.tick.errors += 1;
    if (this.unknown.length < unknownMax) {
      this.unknown.push({ operation, keyIndexes, body, error: message });
    }
  }

  /** Opening a connection before the load failed. */
  connectFailed(error: unknown): void {
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const label = `opening the connection: ${message}`;
    this.errors[label] = (this.errors[label] ?? 0) + 1;
  }

  takeTick(): ProgressTick {
    const tick = { threadIndex: this.task.threadIndex, ...this.tick };
    this.tick = { answered: 0, unexpected: 0, errors: 0 };
    return tick;
  }
}

function shedWithRetryAfter(answer: Answer): boolean {
  return answer.retryAfterSeconds !== undefined && errorCodeOf(answer.text) === 'overloaded';
}

/**
 * Waits out a shed answer's retry-after times 1 to 2, as a well-behaved checkout would (never
 * sooner than told; the jitter spreads the crowd's returns), or until the load ends.
 */
function honourRetryAfter(answer: Answer, remainingMs: number): Promise<void> {
  const ms = (answer.retryAfterSeconds ?? 0) * 1000 * (1 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, Math.min(ms, remainingMs)));
}

function reserveBody(load: ThreadLoad, keyIndex: number): string {
  const key = stockKeyAt(load.task.scenario.name, keyIndex);
  return JSON.stringify({
    product_id: key.productId,
    warehouse_id: key.warehouseId,
    quantity: 1,
    idempotency_key: load.nextIdempotencyKey(),
    // The longest TTL, so that no hold expires while a run is still counting.
    ttl_seconds: 3600,
  });
}

function reservationIdOf(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { reservation_id?: unknown };
    return typeof parsed.reservation_id === 'string' ? parsed.reservation_id : undefined;
  } catch (error) {
    void error;
    return undefined;
  }
}

/** One checkout step after an acknowledged hold: confirm it or release it. */
async function finishHold(
  load: ThreadLoad,
  connection: Connection,
  keyIndex: number,
  text: string,
) {
  const reservationId = reservationIdOf(text);
  if (reservationId === undefined) throw new Error(`reserve answered 200 without an id: ${text}`);
  const confirm = Math.random() < load.task.scenario.confirmShare;
  const operation: Operation = confirm ? 'confirm' : 'release';
  const answer = await load.send(
    connection,
    operation,
    JSON.stringify({ reservation_id: reservationId }),
    [keyIndex],
  );
  if (answer?.status !== 200) return;
  const tally = confirm ? load.tallies.confirmed : load.tallies.released;
  tally[keyIndex] = (tally[keyIndex] ?? 0) + 1;
}

async function virtualUser(load: ThreadLoad, connection: Connection): Promise<void> {
  const { keyCount, checkout, cartLines } = load.task.scenario;
  if (cartLines !== null) return cartUser(load, connection);
  while (load.running) {
    const keyIndex = keyCount === 1 ? 0 : Math.floor(Math.random() * keyCount);
    const body = reserveBody(load, keyIndex);
    const answer = await load.send(connection, 'reserve', body, [keyIndex]);
    if (answer === undefined) {
      await new Promise((resolve) => setTimeout(resolve, pauseAfterErrorMs));
      continue;
    }
    if (answer.status === 503 && load.task.scenario.shedsLoad && shedWithRetryAfter(answer)) {
      await honourRetryAfter(answer, load.remainingMs);
      continue;
    }
    if (answer.status !== 200) continue;
    load.tallies.reserved[keyIndex] = (load.tallies.reserved[keyIndex] ?? 0) + 1;
    if (checkout) await finishHold(load, connection, keyIndex, answer.text);
  }
}

function cartBody(load: ThreadLoad, keyIndexes: readonly number[]): string {
  const { name } = load.task.scenario;
  return JSON.stringify({
    idempotency_key: load.nextIdempotencyKey(),
    lines: keyIndexes.map((keyIndex) => {
      const key = stockKeyAt(name, keyIndex);
      return { product_id: key.productId, warehouse_id: key.warehouseId, quantity: 1 };
    }),
    ttl_seconds: 3600,
  });
}

/**
 * Whether a cart's 200 holds what was asked: a PENDING cart with an id whose holds, PENDING
 * and each with a reservation id and a line of the request, add up per stock key to the units
 * its lines asked for there (lines on one key are summed into one hold by the server).
 */
export function cartAnswerMatches(
  text: string,
  scenario: Scenario,
  keyIndexes: readonly number[],
): boolean {
  let body: { cart_id?: unknown; status?: unknown; holds?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch (error) {
    void error;
    return false;
  }
  if (typeof body.cart_id !== 'string' || body.status !== 'PENDING') return false;
  if (!Array.isArray(body.holds)) return false;
  const owed = new Map<string, number>();
  for (const keyIndex of keyIndexes) {
    const key = stockKeyAt(scenario.name, keyIndex);
    const name = `${key.productId}/${key.warehouseId}`;
    owed.set(name, (owed.get(name) ?? 0) + 1);
  }
  for (const hold of body.holds as Record<string, unknown>[]) {
    const name = `${String(hold.product_id)}/${String(hold.warehouse_id)}`;
    const line = hold.line;
    if (typeof hold.reservation_id !== 'string' || hold.status !== 'PENDING') return false;
    if (!Number.isInteger(line) || (line as number) < 0 || (line as number) >= keyIndexes.length) {
      return false;
    }
    if (typeof hold.quantity !== 'number') return false;
    owed.set(name, (owed.get(name) ?? 0) - hold.quantity);
  }
  return [...owed.values()].every((units) => units === 0);
}

/** Posts carts until the end time; an acknowledged cart holds one unit per line. */
async function cartUser(load: ThreadLoad, connection: Connection): Promise<void> {
  const { scenario } = load.task;
  while (load.running) {
    const keyIndexes = drawCartKeys(scenario, Math.random);
    const started = performance.now();
    const answer = await load.send(connection, 'cart', cartBody(load, keyIndexes), keyIndexes);
    if (answer === undefined) {
      await new Promise((resolve) => setTimeout(resolve, pauseAfterErrorMs));
      continue;
    }
    if (answer.status !== 200) continue;
    for (const keyIndex of keyIndexes) {
      load.tallies.reserved[keyIndex] = (load.tallies.reserved[keyIndex] ?? 0) + 1;
    }
    if (!cartAnswerMatches(answer.text, scenario, keyIndexes)) load.wrongBody('cart', started);
  }
}

/** Opens every connection (GET /health/live); a failure counts as an error. */
async function openConnections(load: ThreadLoad, connections: readonly Connection[]) {
  await Promise.all(
    connections.map(async (connection) => {
      try {
        await connection.get('/health/live');
      } catch (error) {
        load.connectFailed(error);
      }
    }),
  );
}

export default async function runLoadTask(task: LoadTask): Promise<LoadTaskResult> {
  const load = new ThreadLoad(task);
  const open = task.client === 'raw' ? rawConnection : undiciConnection;
  const connections = Array.from({ length: task.connections }, (_, index) => {
    const url = task.baseUrls[(task.firstConnection + index) % task.baseUrls.length] as string;
    return open(url, load.headers, task.requestTimeoutMs);
  });
  if (task.scenario.connectsFirst) await openConnections(load, connections);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, task.startAtMs - Date.now())));
  load.started();
  const ticker = setInterval(() => task.progress.postMessage(load.takeTick()), 1000);
  try {
    await Promise.all(connections.map((connection) => virtualUser(load, connection)));
  } finally {
    clearInterval(ticker);
    task.progress.postMessage(load.takeTick());
    task.progress.close();
    await Promise.all(connections.map((connection) => connection.close()));
  }
  const histograms = Object.fromEntries(
    operations.map((operation) => {
      const histogram = load.histograms.get(operation) ?? newHistogram();
      return [operation, hdr.encodeIntoCompressedBase64(histogram)];
    }),
  ) as Record<Operation, string>;
  const statusHistograms = Object.fromEntries(
    [...load.statusHistograms].map(([label, histogram]) => [
      label,
      hdr.encodeIntoCompressedBase64(histogram),
    ]),
  );
  return {
    histograms,
    statusHistograms,
    statusCounts: load.statusCounts,
    warmupStatusCounts: load.warmupStatusCounts,
    errors: load.errors,
    perSecond: Array.from({ length: load.perSecond.length }, (_, i) => load.perSecond[i] ?? 0),
    retryAfterCounts: load.retryAfterCounts,
    tallies: load.tallies,
    unknown: load.unknown,
    firstInsufficientAtMs: load.firstInsufficientAtMs,
    unexpected: load.unexpected,
    ...(load.timeline === undefined ? {} : { timeline: load.timeline.finish() }),
  };
}
