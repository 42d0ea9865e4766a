// The bench's --wal-stats reads pg_waldump's record lines: each line's resource manager, record
// kind, whole length and first block's relation are tallied; lines that are not records (a
// first-record notice, a blank line) are left out. The report gives the parts per answer.
import { describe, expect, it } from 'vitest';
import { parseBenchArguments } from '../../../bench/lib/args.js';
import { walStatsTable } from '../../../bench/lib/report.js';
import type { SystemRun } from '../../../bench/lib/run-system.js';
import { tallyWalLines } from '../../../bench/lib/wal-composition.js';

const lines = [
  'pg_waldump: first record is after 3/F08DD638, at 3/F08DD650, skipping over 24 bytes',
  'rmgr: Heap        len (rec/tot):    182/   182, tx:     981233, lsn: 3/F08DD650, prev 3/F08DD618, desc: INSERT off 12 flags 0x00, blkref #0: rel 1663/16384/24611 blk 88',
  'rmgr: Btree       len (rec/tot):     64/    64, tx:     981233, lsn: 3/F08DD708, prev 3/F08DD650, desc: INSERT_LEAF off 40, blkref #0: rel 1663/16384/24614 blk 7',
  'rmgr: Heap        len (rec/tot):    190/   190, tx:     981233, lsn: 3/F08DD748, prev 3/F08DD708, desc: INSERT off 13 flags 0x00, blkref #0: rel 1663/16384/24611 blk 88',
  'rmgr: Heap        len (rec/tot):     59/  8119, tx:     981234, lsn: 3/F08DD808, prev 3/F08DD748, desc: INSERT+INIT off 1 flags 0x00, blkref #0: rel 1663/16384/24611 blk 89 FPW',
  'rmgr: Transaction len (rec/tot):     34/    34, tx:     981233, lsn: 3/F08DF7C0, prev 3/F08DD808, desc: COMMIT 2026-12-06 06:40:01.123456 UTC',
  '',
];

describe('tallyWalLines', () => {
  it('tallies records by relation and kind, whole lengths, and skips what is not a record', () => {
    const tallies = tallyWalLines(lines);
    expect([...tallies.keys()].sort()).toEqual(['', '16384/24611', '16384/24614']);
    expect(tallies.get('16384/24611')?.get('Heap/INSERT')).toEqual({ records: 2, bytes: 372 });
    expect(tallies.get('16384/24611')?.get('Heap/INSERT+INIT')).toEqual({
      records: 1,
      bytes: 8119,
    });
    expect(tallies.get('16384/24614')?.get('Btree/INSERT_LEAF')).toEqual({
      records: 1,
      bytes: 64,
    });
    expect(tallies.get('')?.get('Transaction/COMMIT')).toEqual({ records: 1, bytes: 34 });
  });

  it('is a flag of the bench, off unless given', () => {
    expect(parseBenchArguments([])?.walStats).toBe(false);
    expect(parseBenchArguments(['--wal-stats'])?.walStats).toBe(true);
  });
});

describe('walStatsTable', () => {
  const run = (walStats: SystemRun['walStats']): SystemRun =>
    ({ requestsPerSecond: 100, walStats }) as unknown as SystemRun;

  it('gives each part per answer and folds the parts under half a per cent into one row', () => {
    const table = walStatsTable(
      run({
        records: 2_003,
        bytes: 400_000,
        parts: [
          { relation: 'ledger_wal', record: 'Heap/INSERT', records: 1_000, bytes: 300_000 },
          {
            relation: 'ledger_wal_pkey',
            record: 'Btree/INSERT_LEAF',
            records: 1_000,
            bytes: 98_800,
          },
          { relation: '(no relation)', record: 'Transaction/COMMIT', records: 2, bytes: 1_000 },
          { relation: 'ledger_snapshots', record: 'Heap/INSERT', records: 1, bytes: 200 },
        ],
      }),
      10,
    );
    const rows = table.split('\n').filter((line) => line.startsWith('| '));
    // 1,000 answers: 100 a second for 10 s.
    expect(rows).toContain('| ledger_wal | Heap/INSERT | 1.00 | 300.00 | 300 | 75.0% |');
    expect(rows).toContain('| ledger_wal_pkey | Btree/INSERT_LEAF | 1.00 | 98.80 | 99 | 24.7% |');
    expect(rows).toContain('| (the rest) |  | 0.00 | 1.20 | 400 | 0.3% |');
    expect(rows.some((line) => line.includes('Transaction/COMMIT'))).toBe(false);
  });

  it('says why when the WAL could not be read', () => {
    expect(walStatsTable(run({ error: 'pg_waldump exited 1: no such file' }), 10)).toBe(
      'Not read: pg_waldump exited 1: no such file',
    );
  });
});
