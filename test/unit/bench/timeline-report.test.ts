// The --timeline report's line on the ledger's tables: their growth over the measured seconds,
// largest first, the relations under 0.1 MB folded into one figure, and no line without growth.
import { describe, expect, it } from 'vitest';
import { timelineMarkdown, type TimelineReport } from '../../../bench/lib/timeline-report.js';

const mib = 2 ** 20;

function report(tablesGrown: [string, number][]): TimelineReport {
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
    explained: [],
    causes: [],
    tablesGrown,
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
