// An opt-in timeline of what each ledger thread did, on one clock (LEDGER_TIMELINE_FILE): garbage
// collections, event-loop stalls, and whatever the thread's owner records (group commits,
// snapshot slices, reply batches). It exists to explain a latency tail, where a histogram only
// says that there was one: the bench joins these files with the latency of every request.
// Off, nothing of it runs: callers hold `undefined` and skip the calls.
//
// Events are JSON lines {"k": kind, "t": start in epoch ms with µs precision, ...fields}, kept in
// memory and appended to one file per thread at most every second (asynchronously, so the
// thread's work never waits for the disk) and once more, synchronously, when the thread stops.
import { appendFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { timelineEventsBufferedMax } from '../limits.js';

/** Epoch ms with the monotonic clock's precision: comparable across threads and processes. */
export const timelineNow = (): number => performance.timeOrigin + performance.now();

/** How often the stall probe asks to run; a stall is a probe late by more than the threshold. */
const probeIntervalMs = 1;
const stallThresholdMs = 2;
const appendEveryMs = 1000;

const gcKinds: Readonly<Record<number, string>> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/** The file one thread's events go to: `<prefix>.<thread>.jsonl`. */
export function timelinePath(prefix: string, thread: string): string {
  return `${prefix}.${thread}.jsonl`;
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000;

export class Timeline {
  private lines: string[] = [];
  private dropped = 0;
  private appending = false;
  private readonly stops: (() => void)[] = [];

  constructor(readonly path: string) {}

  /** One event that began at `atMs` (timelineNow()); numbers are rounded to the µs. */
  record(kind: string, atMs: number, fields: Readonly<Record<string, number | string>>): void {
    if (this.lines.length >= timelineEventsBufferedMax) {
      this.dropped += 1;
      return;
    }
    const event: Record<string, number | string> = { k: kind, t: round(atMs) };
    for (const [name, value] of Object.entries(fields)) {
      event[name] = typeof value === 'number' ? round(value) : value;
    }
    this.lines.push(JSON.stringify(event));
  }

  /** Starts the GC observer, the stall probe and the periodic append; `stop` ends them. */
  start(thread: string): this {
    this.record('start', timelineNow(), { thread, pid: process.pid });
    this.stops.push(
      observeGc((entry) => recordGc(this, entry)),
      probeStalls(this),
    );
    const timer = setInterval(() => void this.append(), appendEveryMs);
    timer.unref();
    this.stops.push(() => clearInterval(timer));
    return this;
  }

  /** Stops recording and writes what is left (synchronously: the thread is about to end). */
  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
    this.flushSync();
  }

  flushSync(): void {
    const text = this.take();
    if (text !== '') appendFileSync(this.path, text);
  }

  private take(): string {
    if (this.dropped > 0) {
      // Recorded past the bound, so that a reader knows the file has a hole here.
      this.lines.push(JSON.stringify({ k: 'dropped', t: round(timelineNow()), n: this.dropped }));
      this.dropped = 0;
    }
    if (this.lines.length === 0) return '';
    const text = `${this.lines.join('\n')}\n`;
    this.lines = [];
    return text;
  }

  private async append(): Promise<void> {
    if (this.appending) return;
    const text = this.take();
    if (text === '') return;
    this.appending = true;
    try {
      await appendFile(this.path, text);
    } catch (error) {
      // A timeline is a diagnosis aid: a full disk must not take the ledger down with it.
      process.stderr.write(`timeline: cannot append to ${this.path}: ${String(error)}\n`);
    } finally {
      this.appending = false;
    }
  }
}

/** A collection of this thread, as Node reports it. */
export interface GcEntry {
  /** perf_hooks' `constants.NODE_PERFORMANCE_GC_*`: minor (a scavenge), major, ... */
  readonly kind: number;
  /** Epoch ms. */
  readonly atMs: number;
  readonly ms: number;
}

/** Calls `onGc` for each collection of this thread (a turn or more after it); returns the stop. */
export function observeGc(onGc: (entry: GcEntry) => void): () => void {
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // Node puts the GC's kind in `detail` (its types do not declare the field).
      const { detail } = entry as PerformanceEntry & { detail?: { kind?: number } };
      onGc({
        kind: detail?.kind ?? 0,
        atMs: performance.timeOrigin + entry.startTime,
        ms: entry.duration,
      });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return () => observer.disconnect();
}

function recordGc(timeline: Timeline, { kind, atMs, ms }: GcEntry): void {
  timeline.record('gc', atMs, { ms, kind: gcKinds[kind] ?? String(kind) });
}

/**
 * A timer asking to run every millisecond: when it runs much later than that, the thread ran no
 * task meanwhile (one long task, a GC, or the OS gave the core to another thread). The event is
 * the gap between two runs of the probe.
 */
function probeStalls(timeline: Timeline): () => void {
  let lastMs = performance.now();
  const timer = setInterval(() => {
    const nowMs = performance.now();
    const gapMs = nowMs - lastMs;
    if (gapMs > probeIntervalMs + stallThresholdMs) {
      timeline.record('stall', performance.timeOrigin + lastMs, { ms: gapMs });
    }
    lastMs = nowMs;
  }, probeIntervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** A started timeline for this thread, or undefined when LEDGER_TIMELINE_FILE is not set. */
export function startTimeline(prefix: string | undefined, thread: string): Timeline | undefined {
  if (prefix === undefined) return undefined;
  return new Timeline(timelinePath(prefix, thread)).start(thread);
}
