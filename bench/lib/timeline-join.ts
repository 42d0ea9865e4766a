// `--timeline`: joins what the load generator saw (answers and latency per second, every slow
// request) with what each thread recorded on the same clock (the ledger's LEDGER_TIMELINE_FILE
// files and the load threads' own): a per-second table, and for each of the slowest requests
// what overlapped it on each thread, with the longest such event named as its likely cause.
// Pure functions over parsed events, except readTimelineFiles.
import { readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface TimelineEvent {
  readonly k: string;
  /** Start, epoch ms. */
  readonly t: number;
  readonly ms?: number;
  readonly [field: string]: unknown;
}

export interface ThreadEvents {
  readonly thread: string;
  readonly events: readonly TimelineEvent[];
}

export interface LoadSecond {
  readonly second: number;
  readonly answers: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface SlowRequest {
  /** Sent at, epoch ms. */
  readonly sentMs: number;
  readonly latencyMs: number;
}

/** One thread in one second (events counted in the second they began). */
export interface ThreadSecond {
  gcMs: number;
  gcLongestMs: number;
  stallLongestMs: number;
  commits: number;
  commitMsSum: number;
  commitMaxMs: number;
  releaseMaxMs: number;
  /** Snapshots captured (slices on this thread) and written (on the snapshot thread). */
  snapshots: number;
  snapshotSliceMaxMs: number;
  snapshotWrites: number;
  /** The HTTP thread: the longest reply batch or durable message it handled. */
  handledMaxMs: number;
  /** Postgres: checkpoints, and the longest one's write and sync time. */
  checkpoints: number;
  checkpointMaxMs: number;
  /** Postgres: autovacuums that began in this second, and the longest of them. */
  autovacuums: number;
  autovacuumMaxMs: number;
  /** Postgres: WAL bytes written (pg_stat_wal), and new WAL files made (not recycled ones). */
  walBytes: number;
  walFiles: number;
  /** Postgres: buffers written out of shared_buffers by backends, and by the background writer. */
  backendBuffers: number;
  cleanBuffers: number;
  /** The kernel: the most kB dirty, and under write-back, at any read in the second. */
  dirtyMaxKb: number;
  writebackMaxKb: number;
  /** The system's database (the ledger's, the row lock's): bytes its relations grew by. */
  grownBytes: number;
}

export interface TimelineSecond extends LoadSecond {
  readonly threads: Readonly<Record<string, ThreadSecond>>;
}

/** An event that overlapped a slow request, named for the report. */
export interface Overlap {
  readonly thread: string;
  /**
   * 'gc major', 'stall', 'commit' (Postgres's time), 'release', 'replies', 'snapshot-write';
   * Postgres's 'checkpoint', 'autovacuum' and 'wal-file' (the reads of pg_wal between which a
   * new file appeared), and 'wait X' (a client backend seen in the wait event X, or 'running',
   * over that span).
   */
  readonly what: string;
  readonly ms: number;
  /** Where it began, ms after the request was sent (negative: before). */
  readonly atMs: number;
  readonly detail: string;
}

export interface SlowRequestReport {
  /** Seconds into the measured window. */
  readonly sentAtSeconds: number;
  readonly latencyMs: number;
  /** The longest overlapping event per thread and kind, longest first. */
  readonly overlaps: readonly Overlap[];
  readonly cause: string;
}

/** Where a thread's column goes: the HTTP thread, the shards, the rest, Postgres, the tables. */
const fixedOrder: ReadonlyMap<string, string> = new Map([
  ['main', '0'],
  ['postgres', '3'],
  ['tables', '4'],
]);

const threadOrder = (thread: string): string =>
  fixedOrder.get(thread) ?? (thread.startsWith('shard-') ? `1${thread}` : `2${thread}`);

/** Every `<prefix>.<thread>.jsonl` beside `prefix`, parsed, threads in a stable order. */
export function readTimelineFiles(prefix: string): ThreadEvents[] {
  const directory = dirname(prefix);
  const head = `${basename(prefix)}.`;
  return readdirSync(directory)
    .filter((name) => name.startsWith(head) && name.endsWith('.jsonl'))
    .map((name) => ({
      thread: name.slice(head.length, -'.jsonl'.length),
      events: parseEvents(readFileSync(join(directory, name), 'utf8')),
    }))
    .sort((a, b) => threadOrder(a.thread).localeCompare(threadOrder(b.thread)));
}

export function parseEvents(text: string): TimelineEvent[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TimelineEvent);
}

function emptySecond(): ThreadSecond {
  return {
    gcMs: 0,
    gcLongestMs: 0,
    stallLongestMs: 0,
    commits: 0,
    commitMsSum: 0,
    commitMaxMs: 0,
    releaseMaxMs: 0,
    snapshots: 0,
    snapshotSliceMaxMs: 0,
    snapshotWrites: 0,
    handledMaxMs: 0,
    checkpoints: 0,
    checkpointMaxMs: 0,
    autovacuums: 0,
    autovacuumMaxMs: 0,
    walBytes: 0,
    walFiles: 0,
    backendBuffers: 0,
    cleanBuffers: 0,
    dirtyMaxKb: 0,
    writebackMaxKb: 0,
    grownBytes: 0,
  };
}

function addEvent(into: ThreadSecond, event: TimelineEvent): void {
  const ms = event.ms ?? 0;
  switch (event.k) {
    case 'gc':
      into.gcMs += ms;
      into.gcLongestMs = Math.max(into.gcLongestMs, ms);
      return;
    case 'stall':
      into.stallLongestMs = Math.max(into.stallLongestMs, ms);
      return;
    case 'commit':
      into.commits += 1;
      into.commitMsSum += ms;
      into.commitMaxMs = Math.max(into.commitMaxMs, ms);
      into.releaseMaxMs = Math.max(into.releaseMaxMs, Number(event.releaseMs ?? 0));
      return;
    case 'snapshot':
      into.snapshots += 1;
      into.snapshotSliceMaxMs = Math.max(into.snapshotSliceMaxMs, Number(event.longestSliceMs));
      return;
    case 'snapshot-write':
      into.snapshotWrites += 1;
      return;
    case 'replies':
    case 'durable':
      into.handledMaxMs = Math.max(into.handledMaxMs, ms);
      return;
    case 'checkpoint':
      into.checkpoints += 1;
      into.checkpointMaxMs = Math.max(into.checkpointMaxMs, ms);
      return;
    case 'autovacuum':
      into.autovacuums += 1;
      into.autovacuumMaxMs = Math.max(into.autovacuumMaxMs, ms);
      return;
    case 'wal':
      into.walBytes += Number(event.bytes ?? 0);
      return;
    case 'wal-file':
      into.walFiles += Number(event.count ?? 0);
      return;
    case 'buffers':
      into.backendBuffers += Number(event.backend ?? 0);
      into.cleanBuffers += Number(event.clean ?? 0);
      return;
    case 'pagecache':
      into.dirtyMaxKb = Math.max(into.dirtyMaxKb, Number(event.dirtyKb ?? 0));
      into.writebackMaxKb = Math.max(into.writebackMaxKb, Number(event.writebackKb ?? 0));
      return;
    case 'relation':
      into.grownBytes += Number(event.bytes ?? 0);
  }
}

/** The HTTP thread's messages to and from the shards over a window, and what they carried. */
export interface HopCounts {
  readonly requestMessages: number;
  readonly requests: number;
  readonly replyMessages: number;
  readonly replies: number;
}

/**
 * The messages the HTTP thread ('main') sent to the shards ('requests' events) and took from
 * them ('replies', not the durable changes sent alone) in [fromMs, toMs), with their counts.
 */
export function hopCounts(
  threads: readonly ThreadEvents[],
  fromMs: number,
  toMs: number,
): HopCounts {
  let [requestMessages, requests, replyMessages, replies] = [0, 0, 0, 0];
  for (const event of threads.find(({ thread }) => thread === 'main')?.events ?? []) {
    if (event.t < fromMs || event.t >= toMs) continue;
    if (event.k === 'requests') {
      requestMessages += 1;
      requests += Number(event.count ?? 0);
    } else if (event.k === 'replies') {
      replyMessages += 1;
      replies += Number(event.count ?? 0);
    }
  }
  return { requestMessages, requests, replyMessages, replies };
}

/**
 * What each relation grew by in [fromMs, toMs) (the 'relation' reads that began in it), most
 * first.
 */
export function relationGrowth(
  threads: readonly ThreadEvents[],
  fromMs: number,
  toMs: number,
): [string, number][] {
  const grown = new Map<string, number>();
  for (const { events } of threads) {
    for (const event of events) {
      if (event.k !== 'relation' || event.t < fromMs || event.t >= toMs) continue;
      const name = String(event.name);
      grown.set(name, (grown.get(name) ?? 0) + Number(event.bytes ?? 0));
    }
  }
  return [...grown].sort((a, b) => b[1] - a[1]);
}

/** The load's seconds, each with what every thread did in it. */
export function perSecond(
  load: readonly LoadSecond[],
  threads: readonly ThreadEvents[],
  measureFromMs: number,
): TimelineSecond[] {
  const table = load.map((second) => ({
    ...second,
    threads: Object.fromEntries(threads.map(({ thread }) => [thread, emptySecond()])),
  }));
  for (const { thread, events } of threads) {
    for (const event of events) {
      const row = table[Math.floor((event.t - measureFromMs) / 1000)];
      const cell = row?.threads[thread];
      if (cell !== undefined) addEvent(cell, event);
    }
  }
  return table;
}

/** The interval an event held its thread (a commit: Postgres's time, then its release turn). */
function intervalsOf(event: TimelineEvent): { what: string; from: number; ms: number }[] {
  const ms = event.ms ?? 0;
  switch (event.k) {
    case 'gc':
      return [{ what: `gc ${String(event.kind)}`, from: event.t, ms }];
    case 'commit': {
      const releaseMs = Number(event.releaseMs ?? 0);
      return [
        { what: 'commit', from: event.t, ms },
        { what: 'release', from: event.t + ms, ms: releaseMs },
      ];
    }
    case 'pg-wait':
      return [{ what: `wait ${String(event.what)}`, from: event.t, ms }];
    case 'stall':
    case 'checkpoint':
    case 'autovacuum':
    case 'wal-file':
    case 'replies':
    case 'durable':
    case 'snapshot':
    case 'snapshot-write':
    case 'sweep':
      return [{ what: event.k, from: event.t, ms }];
    default:
      return [];
  }
}

function detailOf(event: TimelineEvent): string {
  if (event.k === 'commit') {
    return `${String(event.rows)} rows, release ${Number(event.releaseMs ?? 0).toFixed(1)} ms`;
  }
  if (event.k === 'replies' || event.k === 'durable') return `${String(event.count)} from shard`;
  if (event.k === 'snapshot') return `${String(event.slices)} slices, ${String(event.bytes)} B`;
  if (event.k === 'snapshot-write') return `${String(event.bytes)} B`;
  if (event.k === 'autovacuum') return String(event.what);
  if (event.k === 'wal-file') return `${String(event.count)} new`;
  if (event.k === 'pg-wait') return `backend ${String(event.pid)}`;
  return '';
}

/** Per thread and kind, the longest event overlapping [from, to], longest first. */
export function overlapsOf(threads: readonly ThreadEvents[], from: number, to: number): Overlap[] {
  const longest = new Map<string, Overlap>();
  for (const { thread, events } of threads) {
    for (const event of events) {
      for (const interval of intervalsOf(event)) {
        if (interval.ms <= 0 || interval.from >= to || interval.from + interval.ms <= from)
          continue;
        const key = `${thread} ${interval.what}`;
        if ((longest.get(key)?.ms ?? -1) >= interval.ms) continue;
        const detail = detailOf(event);
        const atMs = interval.from - from;
        longest.set(key, { thread, what: interval.what, ms: interval.ms, atMs, detail });
      }
    }
  }
  return [...longest.values()].sort((a, b) => b.ms - a.ms);
}

const isLoadThread = (thread: string): boolean => thread.startsWith('load-');

/**
 * The likeliest cause among the overlaps: the longest event. A stall holding a GC of its thread
 * at least half its length is named for the GC (the probe only saw the thread stop). A stall
 * that a load thread and two ledger threads (two processes) shared, each at least half as long,
 * is named `every thread stalled`: no thread's own work stops another process's threads, so
 * the cores were elsewhere (other work, Postgres, the VM). Snapshot capture is in slices and its
 * total is not one stop, and a snapshot write runs on a thread of its own, a checkpoint and an
 * autovacuum in a Postgres process (a checkpoint's writes spread over minutes when the WAL's
 * volume asks for it): none is the cause itself, only said beside it. Nor is a new WAL file,
 * which only the commits wait for: it is known only to within the two reads of pg_wal around it,
 * nor a backend's wait of 20 ms or more (the longest is said), which is a commit's inside.
 */
export function causeOf(overlaps: readonly Overlap[]): string {
  const cause = stopOf(overlaps);
  // A snapshot row written meanwhile (on its own thread), a checkpoint and an autovacuum stop no
  // thread, but take a core and Postgres's WAL or disk: said beside the cause.
  const beside = [];
  if (overlaps.some((overlap) => overlap.what === 'checkpoint')) beside.push('a checkpoint');
  if (overlaps.some((overlap) => overlap.what === 'snapshot-write'))
    beside.push('a snapshot write');
  if (overlaps.some((overlap) => overlap.what === 'autovacuum')) beside.push('an autovacuum');
  if (overlaps.some((overlap) => overlap.what === 'wal-file')) beside.push('a new WAL file');
  // The longest (overlaps come longest first) of a backend's states long enough to hold a commit.
  const wait = overlaps.find((overlap) => isWait(overlap.what) && overlap.ms >= waitNotedMs);
  const state = wait?.what.slice('wait '.length);
  if (state !== undefined) {
    beside.push(state === 'running' ? 'a backend running' : `a backend waiting on ${state}`);
  }
  return beside.length === 0 ? cause : `${cause} (during ${beside.join(' and ')})`;
}

/** What runs beside the threads rather than stopping one (and Postgres's backends' waits). */
const background = new Set(['snapshot', 'snapshot-write', 'checkpoint', 'autovacuum', 'wal-file']);
const isWait = (what: string): boolean => what.startsWith('wait ');
/** A backend's wait (or run) said beside a cause from this long: a commit held as long. */
const waitNotedMs = 20;

function stopOf(overlaps: readonly Overlap[]): string {
  const candidates = overlaps.filter(
    (overlap) => !background.has(overlap.what) && !isWait(overlap.what),
  );
  const top = candidates[0];
  if (top === undefined) return 'nothing recorded';
  if (top.what !== 'stall') return `${top.thread} ${top.what}`;
  const gc = candidates.find(
    (overlap) =>
      overlap.thread === top.thread && overlap.what.startsWith('gc') && overlap.ms >= top.ms / 2,
  );
  if (gc !== undefined) return `${gc.thread} ${gc.what}`;
  const stalled = candidates.filter(
    (overlap) => overlap.what === 'stall' && overlap.ms >= top.ms / 2,
  );
  const loadStalled = stalled.filter((overlap) => isLoadThread(overlap.thread)).length;
  if (loadStalled >= 1 && stalled.length - loadStalled >= 2) return 'every thread stalled';
  return `${top.thread} ${top.what}`;
}

/**
 * The requests to explain: the `top` slowest, and every one slower than `p999Ms`, at most
 * `max`, slowest first.
 */
export function slowestOf(
  slow: readonly SlowRequest[],
  p999Ms: number,
  top: number,
  max: number,
): SlowRequest[] {
  const sorted = [...slow].sort((a, b) => b.latencyMs - a.latencyMs);
  const above = sorted.filter((request) => request.latencyMs > p999Ms).length;
  return sorted.slice(0, Math.min(Math.max(top, above), max));
}

export function explain(
  requests: readonly SlowRequest[],
  threads: readonly ThreadEvents[],
  measureFromMs: number,
): SlowRequestReport[] {
  return requests.map((request) => {
    const overlaps = overlapsOf(threads, request.sentMs, request.sentMs + request.latencyMs);
    return {
      sentAtSeconds: (request.sentMs - measureFromMs) / 1000,
      latencyMs: request.latencyMs,
      overlaps,
      cause: causeOf(overlaps),
    };
  });
}

/** How many of the explained requests each cause accounts for, most first. */
export function causeCounts(reports: readonly SlowRequestReport[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const report of reports) counts.set(report.cause, (counts.get(report.cause) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}

/**
 * A major collection of one thread from the start of its marking to the end of its last pause:
 * V8 marks incrementally (and on its helper threads) for a while before the full collection
 * that ends a cycle, and the marking takes cores the other threads want.
 */
export interface MajorCycle {
  readonly thread: string;
  /** Epoch ms: the cycle's first incremental step, or the full collection's start if none. */
  readonly from: number;
  /** Epoch ms: the end of the full collection. */
  readonly to: number;
}

/**
 * Each thread's major collection cycles: a full ('major') collection with the incremental steps
 * since the one before it.
 */
export function majorCycles(threads: readonly ThreadEvents[]): MajorCycle[] {
  const cycles: MajorCycle[] = [];
  for (const { thread, events } of threads) {
    let from: number | undefined;
    const collections = events.filter((event) => event.k === 'gc').sort((a, b) => a.t - b.t);
    for (const event of collections) {
      if (event.kind === 'incremental') from ??= event.t;
      else if (event.kind === 'major') {
        cycles.push({ thread, from: from ?? event.t, to: event.t + (event.ms ?? 0) });
        from = undefined;
      }
    }
  }
  return cycles.sort((a, b) => a.from - b.from);
}

/** Of the requests at or above `overMs`, those in flight during any of the cycles. */
export function duringCycles(
  slow: readonly SlowRequest[],
  overMs: number,
  cycles: readonly MajorCycle[],
): { readonly over: number; readonly during: number } {
  const over = slow.filter((request) => request.latencyMs >= overMs);
  const inFlight = (request: SlowRequest, cycle: MajorCycle) =>
    request.sentMs <= cycle.to && request.sentMs + request.latencyMs >= cycle.from;
  const during = over.filter((request) => cycles.some((cycle) => inFlight(request, cycle)));
  return { over: over.length, during: during.length };
}

/**
 * How much of the window [fromMs, toMs) the cycles cover, in ms: each cut to the window, and
 * time covered by cycles of several threads at once counted once.
 */
export function cyclesCoverMs(cycles: readonly MajorCycle[], fromMs: number, toMs: number): number {
  const cut = cycles
    .map((cycle) => [Math.max(cycle.from, fromMs), Math.min(cycle.to, toMs)] as const)
    .filter(([from, to]) => to > from)
    .sort((a, b) => a[0] - b[0]);
  let covered = 0;
  let reached = -Infinity;
  for (const [from, to] of cut) {
    if (to <= reached) continue;
    covered += to - Math.max(from, reached);
    reached = to;
  }
  return covered;
}
