// `npx tsx bench/timeline-summary.ts <prefix>`: what each thread of a `--timeline` run did over
// the whole run (prefix: bench/results/timelines/<run>/t): GCs by kind (count, total, median,
// longest, how many took 10 ms or more), stalls, group commits (rows, Postgres time, release
// turn; begun during a snapshot write or a checkpoint against the rest), snapshots and their
// writes, Postgres's checkpoints, what each relation of the system's database grew by over the
// run (the sizes' reads). With the load's side beside the files (t.load.json), the likeliest
// causes of the slowest requests again, as the bench's report gives them, and each thread's
// major collection cycles (marking begun to collection ended) with how many of the requests at
// or above p99.9 were in flight during one.
import { existsSync, readFileSync } from 'node:fs';
import {
  cyclesCoverMs,
  duringCycles,
  majorCycles,
  readTimelineFiles,
  relationGrowth,
  type SlowRequest,
  type ThreadEvents,
  type TimelineEvent,
} from './lib/timeline-join.js';
import { timelineMarkdown, timelineReport } from './lib/timeline-report.js';

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
}

const fixed = (value: number): string => value.toFixed(1);

function spread(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  const total = sorted.reduce((sum, value) => sum + value, 0);
  const over10 = sorted.filter((value) => value >= 10).length;
  return (
    `n ${sorted.length}, total ${fixed(total)}, p50 ${fixed(quantile(sorted, 0.5))}, ` +
    `p99 ${fixed(quantile(sorted, 0.99))}, max ${fixed(sorted.at(-1) ?? 0)}, ≥10 ms: ${over10}`
  );
}

function summarize(events: readonly TimelineEvent[]): string[] {
  const lines: string[] = [];
  const of = (kind: string) => events.filter((event) => event.k === kind);
  const gcKinds = [...new Set(of('gc').map((event) => String(event.kind)))].sort();
  for (const kind of gcKinds) {
    const ms = of('gc').filter((event) => event.kind === kind);
    lines.push(`  gc ${kind} ms: ${spread(ms.map((event) => event.ms ?? 0))}`);
  }
  const stalls = of('stall');
  if (stalls.length > 0) lines.push(`  stall ms: ${spread(stalls.map((event) => event.ms ?? 0))}`);
  const commits = of('commit');
  if (commits.length > 0) {
    lines.push(`  commit rows: ${spread(commits.map((event) => Number(event.rows)))}`);
    lines.push(`  commit ms (Postgres): ${spread(commits.map((event) => event.ms ?? 0))}`);
    lines.push(`  release turn ms: ${spread(commits.map((event) => Number(event.releaseMs)))}`);
  }
  const kinds = [
    'snapshot',
    'snapshot-write',
    'sweep',
    'replies',
    'durable',
    'checkpoint',
    'dropped',
  ];
  for (const kind of kinds) {
    const found = of(kind);
    if (found.length === 0) continue;
    const longestSlice = Math.max(...found.map((event) => Number(event.longestSliceMs ?? 0)));
    const bytes = found.map((event) => Number(event.bytes ?? 0)).join(', ');
    const extra =
      kind === 'snapshot' ? `; longest slice ${fixed(longestSlice)} ms, B ${bytes}` : '';
    lines.push(`  ${kind} ms: ${spread(found.map((event) => event.ms ?? 0))}${extra}`);
  }
  const grown = relationGrowth([{ thread: '', events }], -Infinity, Infinity);
  if (grown.length > 0) {
    const each = grown.map(([name, bytes]) => `${name} ${fixed(bytes / 2 ** 20)}`).join(', ');
    lines.push(`  relations grew, MB: ${each}`);
  }
  return lines;
}

interface Window {
  readonly from: number;
  readonly to: number;
}

const windowsOf = (events: readonly TimelineEvent[], kind: string): Window[] =>
  events
    .filter((event) => event.k === kind)
    .map((event) => ({ from: event.t, to: event.t + (event.ms ?? 0) }));

/** Group commits begun inside the windows (a snapshot write, a checkpoint) against the rest. */
function commitsDuring(
  commits: readonly TimelineEvent[],
  windows: readonly Window[],
  what: string,
): string[] {
  if (windows.length === 0 || commits.length === 0) return [];
  const inside = (event: TimelineEvent) =>
    windows.some((window) => event.t >= window.from && event.t <= window.to);
  const during = commits.filter(inside).map((event) => event.ms ?? 0);
  const otherwise = commits.filter((event) => !inside(event)).map((event) => event.ms ?? 0);
  return [
    `  commit ms begun during ${what}: ${during.length === 0 ? 'none' : spread(during)}`,
    `  commit ms otherwise: ${spread(otherwise)}`,
  ];
}

function main(): void {
  const prefix = process.argv[2];
  if (prefix === undefined) {
    process.stderr.write('usage: npx tsx bench/timeline-summary.ts <prefix, e.g. .../t>\n');
    process.exit(2);
  }
  const threads = readTimelineFiles(prefix);
  const checkpoints = windowsOf(
    threads.find(({ thread }) => thread === 'postgres')?.events ?? [],
    'checkpoint',
  );
  for (const { thread, events } of threads) {
    const commits = events.filter((event) => event.k === 'commit');
    const lines = [
      ...summarize(events),
      ...commitsDuring(commits, windowsOf(events, 'snapshot-write'), 'a snapshot write'),
      ...commitsDuring(commits, checkpoints, 'a Postgres checkpoint'),
    ];
    process.stdout.write(`${thread}\n${lines.join('\n')}\n`);
  }
  const loadFile = `${prefix}.load.json`;
  if (!existsSync(loadFile)) return;
  const load = JSON.parse(readFileSync(loadFile, 'utf8')) as LoadSide;
  const report = timelineReport(prefix, load, load.measureFromMs, load.p999Ms);
  const markdown = timelineMarkdown(report, []);
  process.stdout.write(`\n${markdown.slice(markdown.indexOf('Likeliest cause'))}`);
  process.stdout.write(`${majorCyclesText(threads, load).join('\n')}\n`);
}

/** The load's side as `timelineReport` keeps it beside the threads' files (t.load.json). */
type LoadSide = Parameters<typeof timelineReport>[1] & {
  readonly measureFromMs: number;
  readonly p999Ms: number;
  readonly slow: readonly SlowRequest[];
};

/**
 * Each major collection cycle in seconds of the measured window (marking begun, collection
 * ended), and how many of the requests at or above p99.9 were in flight during one.
 */
function majorCyclesText(threads: readonly ThreadEvents[], load: LoadSide): string[] {
  const windowEndMs = load.measureFromMs + load.seconds.length * 1000;
  const cycles = majorCycles(threads).filter(
    (cycle) => cycle.to >= load.measureFromMs && cycle.from < windowEndMs,
  );
  if (cycles.length === 0) return ['\nNo major collection in the measured window.'];
  const at = (ms: number) => ((ms - load.measureFromMs) / 1000).toFixed(2);
  const lines = ['\nMajor collection cycles (s into the measured window: marking began–ended):'];
  for (const thread of [...new Set(cycles.map((cycle) => cycle.thread))]) {
    const own = cycles.filter((cycle) => cycle.thread === thread);
    lines.push(
      `  ${thread}: ${own.map((cycle) => `${at(cycle.from)}–${at(cycle.to)}`).join(', ')}`,
    );
  }
  const { over, during } = duringCycles(load.slow, load.p999Ms, cycles);
  const covered = cyclesCoverMs(cycles, load.measureFromMs, windowEndMs);
  lines.push(
    `  requests at or above p99.9 (${fixed(load.p999Ms)} ms) in flight during one: ${during} ` +
      `of ${over}; the cycles cover ${fixed(covered / 1000)} s of the ` +
      `${load.seconds.length} s window`,
  );
  return lines;
}

main();
