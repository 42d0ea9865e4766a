// Proves the bench's timeline join on hand-made events: seconds bucket each thread's events by
// their start, a slow request finds what overlapped it (a commit's release after its write), the
// likeliest cause is the longest event (a stall named for the GC inside it), and the requests
// explained are the slowest ones and all above p99.9.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  causeCounts,
  causeOf,
  cyclesCoverMs,
  duringCycles,
  explain,
  hopCounts,
  majorCycles,
  overlapsOf,
  perSecond,
  readTimelineFiles,
  relationGrowth,
  slowestOf,
  type ThreadEvents,
} from '../../../bench/lib/timeline-join.js';
import { newWalFiles } from '../../../bench/lib/scratch-database.js';

const from = 1_000_000;

const threads: ThreadEvents[] = [
  {
    thread: 'main',
    events: [
      { k: 'gc', t: from + 100, ms: 3, kind: 'minor' },
      { k: 'stall', t: from + 1_500, ms: 30 },
      { k: 'gc', t: from + 1_505, ms: 20, kind: 'major' },
      { k: 'replies', t: from + 1_600, ms: 2, shard: 0, count: 40 },
    ],
  },
  {
    thread: 'shard-0',
    events: [
      { k: 'commit', t: from + 200, ms: 5, rows: 100, releaseMs: 1, replies: 100 },
      { k: 'commit', t: from + 300, ms: 9, rows: 300, releaseMs: 12, replies: 300 },
      { k: 'snapshot', t: from + 1_200, ms: 40, slices: 80, longestSliceMs: 0.6, bytes: 9 },
    ],
  },
];

describe('the per-second table', () => {
  it('buckets every thread by the second its events began in', () => {
    const load = [0, 1].map((second) => ({ second, answers: 10, p50Ms: 1, p99Ms: 2, maxMs: 3 }));
    const [first, second] = perSecond(load, threads, from);
    expect(first?.threads.main).toMatchObject({ gcMs: 3, gcLongestMs: 3, stallLongestMs: 0 });
    expect(first?.threads['shard-0']).toMatchObject({
      commits: 2,
      commitMsSum: 14,
      commitMaxMs: 9,
      releaseMaxMs: 12,
      snapshots: 0,
    });
    expect(second?.threads.main).toMatchObject({ gcMs: 20, stallLongestMs: 30, handledMaxMs: 2 });
    expect(second?.threads['shard-0']).toMatchObject({ commits: 0, snapshots: 1 });
    expect(second?.answers).toBe(10);
  });

  it("counts Postgres's checkpoints and their longest write and sync, said beside a cause", () => {
    const postgres: ThreadEvents[] = [
      {
        thread: 'postgres',
        events: [
          { k: 'checkpoint', t: from + 10, ms: 600, count: 1 },
          { k: 'checkpoint', t: from + 900, ms: 40, count: 1 },
        ],
      },
      { thread: 'shard-0', events: [{ k: 'commit', t: from + 350, ms: 30, rows: 4 }] },
    ];
    const [only] = perSecond(
      [{ second: 0, answers: 1, p50Ms: 1, p99Ms: 1, maxMs: 1 }],
      postgres,
      from,
    );
    expect(only?.threads.postgres).toMatchObject({ checkpoints: 2, checkpointMaxMs: 600 });
    // A checkpoint runs in its own process for as long as its writes are spread: the commit that
    // waited is the cause, the checkpoint what it waited during.
    expect(causeOf(overlapsOf(postgres, from + 300, from + 500))).toBe(
      'shard-0 commit (during a checkpoint)',
    );
    expect(causeOf(overlapsOf(postgres, from + 500, from + 550))).toBe(
      'nothing recorded (during a checkpoint)',
    );
  });

  it("counts Postgres's autovacuums by the second they began in, and says them beside a cause", () => {
    const postgres: ThreadEvents[] = [
      {
        thread: 'postgres',
        events: [
          { k: 'autovacuum', t: from + 100, ms: 1_500, what: 'VACUUM public.ledger_wal' },
          { k: 'autovacuum', t: from + 700, ms: 250, what: 'ANALYZE public.ledger_wal' },
        ],
      },
      { thread: 'shard-0', events: [{ k: 'commit', t: from + 1_200, ms: 40, rows: 9 }] },
    ];
    const [first, second] = perSecond(
      [0, 1].map((at) => ({ second: at, answers: 1, p50Ms: 1, p99Ms: 1, maxMs: 1 })),
      postgres,
      from,
    );
    expect(first?.threads.postgres).toMatchObject({ autovacuums: 2, autovacuumMaxMs: 1_500 });
    expect(second?.threads.postgres).toMatchObject({ autovacuums: 0 });
    const overlaps = overlapsOf(postgres, from + 1_210, from + 1_230);
    expect(overlaps.find((overlap) => overlap.what === 'autovacuum')?.detail).toBe(
      'VACUUM public.ledger_wal',
    );
    expect(causeOf(overlaps)).toBe('shard-0 commit (during an autovacuum)');
    expect(causeOf(overlapsOf(postgres, from + 150, from + 160))).toBe(
      'nothing recorded (during an autovacuum)',
    );
  });

  it("sums Postgres's WAL, new WAL files and buffers written by second, and says a new file beside a cause", () => {
    const postgres: ThreadEvents[] = [
      {
        thread: 'postgres',
        events: [
          { k: 'wal', t: from + 0, ms: 250, bytes: 1_500_000 },
          { k: 'wal', t: from + 250, ms: 250, bytes: 2_000_000 },
          { k: 'wal-file', t: from + 250, ms: 250, count: 1 },
          { k: 'wal', t: from + 1_000, ms: 250, bytes: 700_000 },
          { k: 'buffers', t: from + 250, ms: 250, backend: 4_000, clean: 0 },
          { k: 'buffers', t: from + 500, ms: 250, backend: 96, clean: 10 },
          { k: 'buffers', t: from + 1_250, ms: 250, backend: 0, clean: 7 },
          { k: 'pagecache', t: from + 250, dirtyKb: 40_000, writebackKb: 6_000 },
          { k: 'pagecache', t: from + 500, dirtyKb: 90_000, writebackKb: 2_000 },
          { k: 'pagecache', t: from + 1_250, dirtyKb: 1_000, writebackKb: 0 },
        ],
      },
      { thread: 'shard-1', events: [{ k: 'commit', t: from + 420, ms: 60, rows: 64 }] },
    ];
    const [first, second] = perSecond(
      [0, 1].map((at) => ({ second: at, answers: 1, p50Ms: 1, p99Ms: 1, maxMs: 1 })),
      postgres,
      from,
    );
    expect(first?.threads.postgres).toMatchObject({ walBytes: 3_500_000, walFiles: 1 });
    expect(second?.threads.postgres).toMatchObject({ walBytes: 700_000, walFiles: 0 });
    // Buffers written out, by backends and by the background writer, summed the same way.
    expect(first?.threads.postgres).toMatchObject({ backendBuffers: 4_096, cleanBuffers: 10 });
    expect(second?.threads.postgres).toMatchObject({ backendBuffers: 0, cleanBuffers: 7 });
    // The kernel's page cache: the most dirty and under write-back at a read of the second.
    expect(first?.threads.postgres).toMatchObject({ dirtyMaxKb: 90_000, writebackMaxKb: 6_000 });
    expect(second?.threads.postgres).toMatchObject({ dirtyMaxKb: 1_000, writebackMaxKb: 0 });
    const overlaps = overlapsOf(postgres, from + 430, from + 470);
    expect(overlaps.find((overlap) => overlap.what === 'wal-file')?.detail).toBe('1 new');
    expect(causeOf(overlaps)).toBe('shard-1 commit (during a new WAL file)');
    // A commit after the reads that bound the new file is not said to be during it.
    expect(causeOf(overlapsOf(postgres, from + 1_100, from + 1_150))).toBe('nothing recorded');
  });

  it("sums the ledger's relations' growth by second and over a window, and never names it a cause", () => {
    const tables: ThreadEvents[] = [
      {
        thread: 'tables',
        events: [
          { k: 'relation', t: from - 1_000, ms: 1_000, name: 'ledger_wal', bytes: 8_192 },
          { k: 'relation', t: from + 0, ms: 1_000, name: 'ledger_wal', bytes: 2_000_000 },
          { k: 'relation', t: from + 0, ms: 1_000, name: 'ledger_wal_pkey', bytes: 400_000 },
          { k: 'relation', t: from + 1_000, ms: 1_000, name: 'ledger_wal', bytes: 1_000_000 },
          { k: 'relation', t: from + 1_000, ms: 1_000, name: 'ledger_movements', bytes: 3_000_000 },
          { k: 'relation', t: from + 2_000, ms: 1_000, name: 'ledger_wal', bytes: 5_000_000 },
        ],
      },
    ];
    const [first, second] = perSecond(
      [0, 1].map((at) => ({ second: at, answers: 1, p50Ms: 1, p99Ms: 1, maxMs: 1 })),
      tables,
      from,
    );
    expect(first?.threads.tables?.grownBytes).toBe(2_400_000);
    expect(second?.threads.tables?.grownBytes).toBe(4_000_000);
    // Over the two measured seconds: the reads before and after them left out, most first.
    expect(relationGrowth(tables, from, from + 2_000)).toStrictEqual([
      ['ledger_wal', 3_000_000],
      ['ledger_movements', 3_000_000],
      ['ledger_wal_pkey', 400_000],
    ]);
    expect(overlapsOf(tables, from + 100, from + 900)).toStrictEqual([]);
  });

  it('counts WAL files made, not those recycled (renamed ahead) or removed', () => {
    const before = new Set(['000000010000000000000010', '000000010000000000000011']);
    const recycled = new Set(['000000010000000000000011', '000000010000000000000012']);
    expect(newWalFiles(before, recycled)).toBe(0);
    const made = new Set([...before, '000000010000000000000012', '000000010000000000000013']);
    expect(newWalFiles(before, made)).toBe(2);
    expect(newWalFiles(before, new Set(['000000010000000000000011']))).toBe(0);
  });

  it("counts the HTTP thread's messages to and from the shards in the window, and their items", () => {
    const threads: ThreadEvents[] = [
      {
        thread: 'main',
        events: [
          { k: 'requests', t: from - 1, shard: 0, count: 50 },
          { k: 'requests', t: from, shard: 0, count: 7 },
          { k: 'requests', t: from + 400, shard: 1, count: 9 },
          { k: 'replies', t: from + 500, ms: 0.2, shard: 0, count: 16 },
          { k: 'durable', t: from + 500, ms: 0.1, shard: 0, count: 3 },
          { k: 'requests', t: from + 2_000, shard: 0, count: 50 },
        ],
      },
      // A shard's own events are not the HTTP thread's messages.
      { thread: 'shard-0', events: [{ k: 'requests', t: from + 10, count: 99 }] },
    ];
    expect(hopCounts(threads, from, from + 2_000)).toStrictEqual({
      requestMessages: 2,
      requests: 16,
      replyMessages: 1,
      replies: 16,
    });
    expect(hopCounts([], from, from + 2_000)).toStrictEqual({
      requestMessages: 0,
      requests: 0,
      replyMessages: 0,
      replies: 0,
    });
  });

  it('leaves out events outside the measured window', () => {
    const late: ThreadEvents[] = [
      { thread: 'main', events: [{ k: 'gc', t: from + 5_000, ms: 9 }] },
    ];
    const [only] = perSecond([{ second: 0, answers: 1, p50Ms: 1, p99Ms: 1, maxMs: 1 }], late, from);
    expect(only?.threads.main?.gcMs).toBe(0);
  });
});

describe('what overlapped a slow request', () => {
  it("finds a commit's release turn after its write, and not what ended before", () => {
    // Sent at 311, answered at 330: the write (300..309) ended before; its release (309..321) not.
    const overlaps = overlapsOf(threads, from + 311, from + 330);
    expect(overlaps.map((overlap) => `${overlap.thread} ${overlap.what}`)).toStrictEqual([
      'shard-0 release',
    ]);
    expect(overlaps[0]?.atMs).toBe(-2);
    expect(overlaps[0]?.detail).toBe('300 rows, release 12.0 ms');
  });

  it('names a stall for the GC inside it, and the longest event otherwise', () => {
    const stalled = overlapsOf(threads, from + 1_490, from + 1_540);
    expect(causeOf(stalled)).toBe('main gc major');
    expect(causeOf(overlapsOf(threads, from + 295, from + 330))).toBe('shard-0 release');
    expect(causeOf([])).toBe('nothing recorded');
  });

  it('names a stall shared by a load thread and two ledger threads for the machine', () => {
    const stall = (thread: string, ms: number) => ({
      thread,
      what: 'stall',
      ms,
      atMs: 0,
      detail: '',
    });
    expect(causeOf([stall('main', 40), stall('shard-1', 30), stall('load-0', 25)])).toBe(
      'every thread stalled',
    );
    // The load thread stalled for much less: the HTTP thread's own stop.
    expect(causeOf([stall('main', 40), stall('shard-1', 30), stall('load-0', 5)])).toBe(
      'main stall',
    );
    expect(causeOf([stall('main', 40), stall('load-0', 30), stall('load-1', 30)])).toBe(
      'main stall',
    );
  });

  it('never names a sliced snapshot as the cause, and says when a snapshot was being written', () => {
    expect(causeOf(overlapsOf(threads, from + 1_210, from + 1_230))).toBe('nothing recorded');
    const write = { thread: 'shard-0', what: 'snapshot-write', ms: 900, atMs: -5, detail: '' };
    const commit = { thread: 'shard-0', what: 'commit', ms: 80, atMs: 1, detail: '' };
    expect(causeOf([write, commit])).toBe('shard-0 commit (during a snapshot write)');
  });

  it("says the longest of Postgres's backend waits of 20 ms or more beside a cause, never as one", () => {
    const postgres: ThreadEvents[] = [
      {
        thread: 'postgres',
        events: [
          { k: 'pg-wait', t: from + 100, ms: 60, what: 'IO:WALSync', pid: 7 },
          { k: 'pg-wait', t: from + 110, ms: 30, what: 'running', pid: 7 },
          { k: 'pg-wait', t: from + 400, ms: 20, what: 'running', pid: 8 },
          { k: 'pg-wait', t: from + 600, ms: 19, what: 'LWLock:WALWrite', pid: 8 },
        ],
      },
      { thread: 'shard-1', events: [{ k: 'commit', t: from + 95, ms: 70, rows: 12 }] },
    ];
    const overlaps = overlapsOf(postgres, from + 120, from + 170);
    expect(overlaps.find((overlap) => overlap.what === 'wait IO:WALSync')).toMatchObject({
      thread: 'postgres',
      ms: 60,
      detail: 'backend 7',
    });
    expect(causeOf(overlaps)).toBe('shard-1 commit (during a backend waiting on IO:WALSync)');
    expect(causeOf(overlapsOf(postgres, from + 405, from + 410))).toBe(
      'nothing recorded (during a backend running)',
    );
    // Shorter than a commit worth explaining: not said.
    expect(causeOf(overlapsOf(postgres, from + 605, from + 610))).toBe('nothing recorded');
  });

  it('explains each request with its time into the window and counts the causes', () => {
    const reports = explain(
      [
        { sentMs: from + 1_490, latencyMs: 50 },
        { sentMs: from + 1_495, latencyMs: 40 },
        { sentMs: from + 311, latencyMs: 19 },
      ],
      threads,
      from,
    );
    expect(reports[0]?.sentAtSeconds).toBeCloseTo(1.49);
    expect(causeCounts(reports)).toStrictEqual([
      ['main gc major', 2],
      ['shard-0 release', 1],
    ]);
  });
});

describe('the requests explained', () => {
  const slow = [25, 90, 40, 31, 60].map((latencyMs, index) => ({ sentMs: index, latencyMs }));

  it('are the slowest first, at least `top` of them, more when more are above p99.9', () => {
    expect(slowestOf(slow, 100, 2, 10).map((r) => r.latencyMs)).toStrictEqual([90, 60]);
    expect(slowestOf(slow, 30, 2, 10).map((r) => r.latencyMs)).toStrictEqual([90, 60, 40, 31]);
    expect(slowestOf(slow, 0, 2, 3)).toHaveLength(3);
  });
});

describe('reading the files', () => {
  it('reads every <prefix>.<thread>.jsonl beside the prefix: main, shards, load, postgres, tables', () => {
    const directory = mkdtempSync(join(tmpdir(), 'timeline-join-'));
    try {
      writeFileSync(join(directory, 't.load-0.jsonl'), '{"k":"gc","t":1,"ms":2}\n');
      writeFileSync(join(directory, 't.shard-0.jsonl'), '{"k":"start","t":1}\n\n');
      writeFileSync(join(directory, 't.main.jsonl'), '{"k":"start","t":1}\n{"k":"gc","t":2}\n');
      writeFileSync(join(directory, 't.tables.jsonl'), '');
      writeFileSync(join(directory, 't.postgres.jsonl'), '');
      writeFileSync(join(directory, 'other.main.jsonl'), '{"k":"start","t":1}\n');
      const read = readTimelineFiles(join(directory, 't'));
      expect(read.map((thread) => [thread.thread, thread.events.length])).toStrictEqual([
        ['main', 2],
        ['shard-0', 1],
        ['load-0', 1],
        ['postgres', 0],
        ['tables', 0],
      ]);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('major collection cycles', () => {
  const hot: ThreadEvents[] = [
    {
      thread: 'shard-1',
      events: [
        { k: 'gc', t: from + 100, ms: 1, kind: 'minor' },
        { k: 'gc', t: from + 1_000, ms: 5, kind: 'incremental' },
        { k: 'gc', t: from + 1_200, ms: 3, kind: 'incremental' },
        { k: 'gc', t: from + 1_400, ms: 10, kind: 'major' },
        // A full collection with no marking before it is a cycle of its own length.
        { k: 'gc', t: from + 5_000, ms: 20, kind: 'major' },
      ],
    },
    { thread: 'main', events: [{ k: 'gc', t: from + 3_000, ms: 2, kind: 'minor' }] },
  ];

  it('runs from the first incremental step to the end of the full collection', () => {
    expect(majorCycles(hot)).toStrictEqual([
      { thread: 'shard-1', from: from + 1_000, to: from + 1_410 },
      { thread: 'shard-1', from: from + 5_000, to: from + 5_020 },
    ]);
  });

  it('counts the requests at or above a latency that were in flight during a cycle', () => {
    const slow = [
      { sentMs: from + 900, latencyMs: 150 }, // answered during the marking
      { sentMs: from + 1_405, latencyMs: 60 }, // sent during the full collection
      { sentMs: from + 2_000, latencyMs: 90 }, // between the cycles
      { sentMs: from + 1_100, latencyMs: 30 }, // during one, but under the latency
    ];
    expect(duringCycles(slow, 50, majorCycles(hot))).toStrictEqual({ over: 3, during: 2 });
  });

  it('covers the window once: cycles cut to it, and overlapping cycles of two threads once', () => {
    const cycles = [
      { thread: 'shard-0', from: from - 200, to: from + 100 }, // begun before the window
      { thread: 'shard-1', from: from + 1_000, to: from + 1_400 },
      { thread: 'shard-0', from: from + 1_200, to: from + 1_600 }, // overlaps the one before
      { thread: 'main', from: from + 1_250, to: from + 1_300 }, // inside both
      { thread: 'shard-1', from: from + 9_900, to: from + 10_300 }, // ends after the window
      { thread: 'shard-1', from: from + 10_500, to: from + 10_800 }, // after the window
    ];
    expect(cyclesCoverMs(cycles, from, from + 10_000)).toBe(100 + 600 + 100);
    expect(cyclesCoverMs([], from, from + 10_000)).toBe(0);
  });
});
