// `--timeline` in the results: the joined timeline of one run (timeline-join.ts) as JSON and as
// markdown (a per-second table, the slow requests' causes, the slowest requests in detail).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CpuUse } from './machine.js';
import { tableRow } from './markdown.js';
import {
  causeCounts,
  explain,
  hopCounts,
  perSecond,
  readTimelineFiles,
  relationGrowth,
  slowestOf,
  type HopCounts,
  type LoadSecond,
  type SlowRequest,
  type SlowRequestReport,
  type ThreadSecond,
  type TimelineSecond,
} from './timeline-join.js';
import { slowRequestMs } from './load-timeline.js';
import { fileStamp } from './results-files.js';

/** The slowest requests always explained, and the most explained (p99.9 and above). */
const explainedTop = 20;
const explainedMax = 300;
/** Detailed in the markdown (the JSON holds every explained request). */
const detailedInMarkdown = 20;

export interface TimelineReport {
  /** Where the files are: `<prefix>.<thread>.jsonl`. */
  readonly prefix: string;
  readonly threads: readonly string[];
  readonly slowRequestMs: number;
  readonly slowRequests: number;
  readonly p999Ms: number;
  readonly seconds: readonly TimelineSecond[];
  readonly explained: readonly SlowRequestReport[];
  readonly causes: readonly (readonly [string, number])[];
  /** The system's database (the ledger's, the row lock's): each relation's growth, most first. */
  readonly tablesGrown: readonly (readonly [string, number])[];
  /** The ledger's messages between its HTTP thread and its shards over the measured window. */
  readonly hop: HopCounts;
}

/**
 * A fresh directory under bench/results/timelines/ for one run's files; returns their prefix
 * (`<directory>/t`: the files are `t.main.jsonl`, `t.shard-0.jsonl`, `t.load-0.jsonl`...).
 */
export function timelineDirectory(root: string, label: string): string {
  const stamp = fileStamp(new Date().toISOString());
  const directory = join(root, 'bench', 'results', 'timelines', `${stamp}-${label}`);
  mkdirSync(directory, { recursive: true });
  return join(directory, 't');
}

export function timelineReport(
  prefix: string,
  load: { readonly seconds: readonly LoadSecond[]; readonly slow: readonly SlowRequest[] },
  measureFromMs: number,
  p999Ms: number,
): TimelineReport {
  // The load's side kept beside the threads' files, so that the join can be made again.
  writeFileSync(`${prefix}.load.json`, `${JSON.stringify({ measureFromMs, p999Ms, ...load })}\n`);
  const threads = readTimelineFiles(prefix);
  const requests = slowestOf(load.slow, p999Ms, explainedTop, explainedMax);
  const explained = explain(requests, threads, measureFromMs);
  const measuredEndMs = measureFromMs + load.seconds.length * 1000;
  return {
    prefix,
    threads: threads.map(({ thread }) => thread),
    slowRequestMs,
    slowRequests: load.slow.length,
    p999Ms,
    seconds: perSecond(load.seconds, threads, measureFromMs),
    explained,
    causes: causeCounts(explained),
    tablesGrown: relationGrowth(threads, measureFromMs, measuredEndMs),
    hop: hopCounts(threads, measureFromMs, measuredEndMs),
  };
}

const ms = (value: number): string => value.toFixed(value >= 10 ? 0 : 1);

function threadCell(thread: string, cell: ThreadSecond | undefined): string {
  if (cell === undefined) return '';
  if (thread === 'tables') {
    return cell.grownBytes > 0 ? `grew ${(cell.grownBytes / 2 ** 20).toFixed(1)}` : '';
  }
  if (thread === 'postgres') {
    const work = [];
    if (cell.checkpoints > 0) work.push(`ckpt ${cell.checkpoints} (${ms(cell.checkpointMaxMs)})`);
    if (cell.autovacuums > 0) work.push(`av ${cell.autovacuums} (${ms(cell.autovacuumMaxMs)})`);
    if (cell.walBytes > 0) work.push(`wal ${(cell.walBytes / 1e6).toFixed(1)}`);
    if (cell.walFiles > 0) work.push(`new ${cell.walFiles}`);
    if (cell.backendBuffers > 0) work.push(`bw ${cell.backendBuffers}`);
    if (cell.cleanBuffers > 0) work.push(`bg ${cell.cleanBuffers}`);
    const mb = (kb: number): string => (kb / 1024).toFixed(0);
    if (cell.dirtyMaxKb > 0 || cell.writebackMaxKb > 0) {
      work.push(`dirty ${mb(cell.dirtyMaxKb)} wb ${mb(cell.writebackMaxKb)}`);
    }
    return work.join(' ');
  }
  const parts = [`gc ${ms(cell.gcMs)}/${ms(cell.gcLongestMs)}`];
  if (cell.stallLongestMs > 0) parts.push(`st ${ms(cell.stallLongestMs)}`);
  if (cell.commits > 0) {
    const mean = cell.commitMsSum / cell.commits;
    parts.push(`c ${cell.commits} ${ms(mean)}/${ms(cell.commitMaxMs)} r ${ms(cell.releaseMaxMs)}`);
  }
  if (cell.snapshots > 0) parts.push(`snap ${cell.snapshots} (${ms(cell.snapshotSliceMaxMs)})`);
  if (cell.snapshotWrites > 0) parts.push(`w ${cell.snapshotWrites}`);
  if (thread === 'main' && cell.handledMaxMs > 0) parts.push(`h ${ms(cell.handledMaxMs)}`);
  return parts.join(' ');
}

function secondsTable(report: TimelineReport, cpu: readonly CpuUse[]): string[] {
  const header = ['s', 'answers', 'p50', 'p99', 'max', 'ledger/other cores', ...report.threads];
  const lines = [tableRow(header), `|${header.map(() => '---').join('|')}|`];
  for (const second of report.seconds) {
    const use = cpu[second.second];
    const cores =
      use === undefined
        ? ''
        : `${use.ledgerCores?.toFixed(2) ?? '?'}/${use.otherCores?.toFixed(2) ?? '?'}`;
    const cells = [
      String(second.second),
      String(second.answers),
      ms(second.p50Ms),
      ms(second.p99Ms),
      ms(second.maxMs),
      cores,
      ...report.threads.map((thread) => threadCell(thread, second.threads[thread])),
    ];
    lines.push(tableRow(cells));
  }
  return lines;
}

/**
 * The explained requests one per cause event: many requests in flight meet the same event (a
 * slow commit holds every connection's request), and the table shows it once, with how many.
 * A request no thread's event explains (a system without a timeline of its own, say) is grouped
 * by the longest event it met anywhere, a Postgres backend's wait most often.
 */
function byCauseEvent(explained: readonly SlowRequestReport[]): [SlowRequestReport, number][] {
  const groups = new Map<string, [SlowRequestReport, number]>();
  for (const request of explained) {
    const top =
      request.overlaps.find((overlap) => request.cause.startsWith(overlap.thread)) ??
      request.overlaps[0];
    const startMs = Math.round(request.sentAtSeconds * 1000 + (top?.atMs ?? 0));
    const key = `${request.cause} ${top === undefined ? request.sentAtSeconds : startMs}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [request, 1]);
    else group[1] += 1;
  }
  return [...groups.values()];
}

function explainedTable(report: TimelineReport): string[] {
  const lines = [
    '| sent at s | latency ms | requests | likeliest cause | what overlapped it (longest per thread and kind) |',
    '|---|---|---|---|---|',
  ];
  for (const [request, count] of byCauseEvent(report.explained).slice(0, detailedInMarkdown)) {
    const overlaps = request.overlaps
      .slice(0, 5)
      .map((overlap) => {
        const detail = overlap.detail === '' ? '' : ` (${overlap.detail})`;
        return `${overlap.thread} ${overlap.what} ${ms(overlap.ms)} ms @${ms(overlap.atMs)}${detail}`;
      })
      .join('; ');
    const cells = [
      request.sentAtSeconds.toFixed(3),
      ms(request.latencyMs),
      String(count),
      request.cause,
      overlaps,
    ];
    lines.push(tableRow(cells));
  }
  return lines;
}

/** The relations' growth over the measured window, largest first (none: no line). */
function tablesGrownLines(report: TimelineReport): string[] {
  const total = report.tablesGrown.reduce((sum, [, bytes]) => sum + bytes, 0);
  if (total === 0) return [];
  const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
  const seconds = Math.max(1, report.seconds.length);
  // Relations that grew by less than 0.1 MB (a page or a few) go together at the end.
  const shown = report.tablesGrown.filter(([, bytes]) => bytes >= 0.1 * 2 ** 20);
  const rest = report.tablesGrown.length - shown.length;
  const restBytes = total - shown.reduce((sum, [, bytes]) => sum + bytes, 0);
  const each = [
    ...shown.map(([name, bytes]) => `${name} ${mb(bytes)}`),
    ...(rest > 0 ? [`${rest} more ${(restBytes / 1024).toFixed(0)} kB together`] : []),
  ].join(', ');
  return [
    `The system's database grew by ${mb(total)} MB over the ${seconds} s measured ` +
      `(${mb(total / seconds)} MB a second; Postgres 15 writes each page a relation grows by ` +
      `into the page cache as zeros at once): ${each}.`,
    '',
  ];
}

/** How full the messages between the HTTP thread and the shards were (none: no line). */
function hopLines(report: TimelineReport): string[] {
  const { requestMessages, requests, replyMessages, replies } = report.hop;
  if (requestMessages === 0 && replyMessages === 0) return [];
  const seconds = Math.max(1, report.seconds.length);
  const each = (items: number, messages: number): string =>
    messages === 0 ? 'none' : (items / messages).toFixed(1);
  return [
    `Between the HTTP thread and the shards over the ${seconds} s measured: ` +
      `${requestMessages} messages of requests (${(requestMessages / seconds).toFixed(0)} a ` +
      `second, ${each(requests, requestMessages)} requests each on average), ` +
      `${replyMessages} of replies (${(replyMessages / seconds).toFixed(0)} a second, ` +
      `${each(replies, replyMessages)} replies each).`,
    '',
  ];
}

/** The markdown of one run's timeline. */
export function timelineMarkdown(report: TimelineReport, cpu: readonly CpuUse[]): string {
  const causes = report.causes.map(([cause, count]) => `${cause}: ${count}`).join(', ');
  return [
    `Timeline files: \`${report.prefix}.<thread>.jsonl\`. ${report.slowRequests} requests took ` +
      `${report.slowRequestMs} ms or more; p99.9 ${ms(report.p999Ms)} ms.`,
    '',
    `Per second (latency ms of the requests completed in it; per thread: gc total/longest ms, ` +
      `st longest stall ms, c commits mean/max ms (Postgres) r longest release turn ms, snap ` +
      `snapshots captured (longest slice ms), w snapshot writes, h longest reply/durable batch ` +
      `handled on the HTTP thread; postgres: checkpoints ended (longest write+sync ms), av ` +
      `autovacuums begun (longest ms), wal MB of WAL written, new WAL files made, not recycled, ` +
      `bw buffers of 8 kB written out by backends themselves, bg by the background writer; ` +
      `dirty / wb the most MB of the kernel's page cache dirty and under write-back at a read; ` +
      `tables: MB the system's database grew by, read once a second):`,
    '',
    ...secondsTable(report, cpu),
    '',
    ...tablesGrownLines(report),
    ...hopLines(report),
    `Likeliest cause of the ${report.explained.length} slowest requests (the ${explainedTop} ` +
      `slowest and every one above p99.9; the longest event overlapping each): ${causes}.`,
    '',
    `One row per cause event (the slowest request it held, and how many of the explained it held):`,
    '',
    ...explainedTable(report),
    '',
  ].join('\n');
}
