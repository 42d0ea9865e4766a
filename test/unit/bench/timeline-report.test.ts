// The --timeline report's line on the ledger's tables (their growth over the measured seconds,
// largest first, the relations under 0.1 MB folded into one figure, and no line without growth),
// its line on the messages between the HTTP thread and the shards, and its table of the slowest
// requests, one row per event that held them.
import { describe, expect, it } from 'vitest';
import type { HopCounts, SlowRequestReport } from '../../../bench/lib/timeline-join.js';
import { timelineMarkdown, type TimelineReport } from '../../../bench/lib/timeline-report.js';

const mib = 2 ** 20;

const noHop: HopCounts = { requestMessages: 0, requests: 0, replyMessages: 0, replies: 0 };

function report(
  tablesGrown: [string, number][],
  explained: SlowRequestReport[] = [],
  hop: HopCounts = noHop,
): TimelineReport {
  return {
    prefix: '/tmp/t',
    threads: ['main', 'tables'],
    slowRequestMs: 20,
    slowRequests: 0,
    p999Ms: 10,
    seconds: [0, 1, 2, 3].map((second) => ({
      second,
      answers: 100,
      p50Ms: 1,
      p99Ms: 2,
      maxMs: 3,
      threads: {},
    })),
    explained,
    causes: [],
    tablesGrown,
    hop,
  };
}

describe("the timeline report's tables line", () => {
  it('gives the total, the rate over the measured seconds and each relation, small ones folded', () => {
    const markdown = timelineMarkdown(
      report([
        ['ledger_wal', 6 * mib],
        ['ledger_movements_p20261206', 3 * mib],
        ['ledger_wal_pkey', 0.5 * mib],
        ['ledger_snapshots', 8_192],
        ['ledger_snapshot_parts', 16_384],
      ]),
      [],
    );
    const line = markdown.split('\n').find((text) => text.startsWith("The system's database grew"));
    expect(line).toContain('grew by 9.5 MB over the 4 s measured (2.4 MB a second;');
    expect(line).toContain(
      ': ledger_wal 6.0, ledger_movements_p20261206 3.0, ledger_wal_pkey 0.5, 2 more 24 kB together.',
    );
  });

  it('has no such line when nothing grew', () => {
    expect(timelineMarkdown(report([]), [])).not.toContain("The system's database grew");
  });
});

describe("the timeline report's hop line", () => {
  const hopLine = (markdown: string) =>
    markdown.split('\n').find((text) => text.startsWith('Between the HTTP thread and the shards'));

  it('gives the messages each way, per second and how full they were on average', () => {
    const hop = { requestMessages: 4_800, requests: 36_000, replyMessages: 1_200, replies: 36_000 };
    expect(hopLine(timelineMarkdown(report([], [], hop), []))).toBe(
      'Between the HTTP thread and the shards over the 4 s measured: 4800 messages of requests ' +
        '(1200 a second, 7.5 requests each on average), 1200 of replies (300 a second, 30.0 ' +
        'replies each).',
    );
  });

  it('has no such line for a system without shards', () => {
    expect(hopLine(timelineMarkdown(report([]), []))).toBeUndefined();
  });
});

describe("the timeline report's slowest requests", () => {
  /** A request sent at `sentAtSeconds` that met the backend's wait begun at 28.5 s. */
  const heldByWait = (sentAtSeconds: number, latencyMs: number): SlowRequestReport => ({
    sentAtSeconds,
    latencyMs,
    overlaps: [
      {
        thread: 'postgres',
        what: 'wait IO:WALSync',
        ms: 102,
        atMs: (28.5 - sentAtSeconds) * 1000,
        detail: 'backend 7',
      },
    ],
    cause: 'nothing recorded (during a backend waiting on IO:WALSync)',
  });

  /** The rows of the table under "One row per cause event". */
  const rows = (markdown: string): string[] => {
    const lines = markdown.split('\n');
    const from = lines.findIndex((line) => line.startsWith('One row per cause event'));
    return lines.slice(from).filter((line) => /^\| [0-9]/.test(line));
  };

  it('shows the requests one wait held, with no thread event of their own, as one row', () => {
    const markdown = timelineMarkdown(
      report([], [heldByWait(28.52, 89), heldByWait(28.527, 88), heldByWait(28.53, 80)]),
      [],
    );
    expect(rows(markdown)).toHaveLength(1);
    expect(rows(markdown)[0]).toContain('| 28.520 | 89 | 3 | nothing recorded');
  });

  it('keeps requests that met different waits apart', () => {
    const later = { ...heldByWait(40.1, 70), overlaps: [] };
    const markdown = timelineMarkdown(report([], [heldByWait(28.52, 89), later]), []);
    expect(rows(markdown)).toHaveLength(2);
  });
});
