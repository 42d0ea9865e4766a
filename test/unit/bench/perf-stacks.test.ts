// bench/perf-breakdown.ts's reading of `perf script`: samples parsed with their thread, the
// thread's role told from its stacks, each sample placed in the first activity its stack
// matches, and its time owed to its nearest JavaScript frame; and the Postgres backends'
// recording, placed by Postgres's own activities.
import { describe, expect, it } from 'vitest';
import {
  activityOf,
  activityTotals,
  breakdown,
  otherActivity,
  ownerOf,
  ownerTotals,
  parsePerfScript,
  postgresActivities,
  postgresOtherActivity,
} from '../../../bench/lib/perf-stacks.js';

const script = `
 100/100
\t    7f00 JS:*pack /app/node_modules/msgpackr/pack.js:472:16
\t    7f01 JS:*sendBatch file:///app/dist/src/shards/shard-channel.js:90:9
\t    7f02 JS:*atTurnEnd file:///app/dist/src/turn-batch.js:62:17
\t  14abb83 uv__io_poll

 100/100
\t ffff0001 tcp_sendmsg_locked
\t ffff0002 __send
\t  14abb83 uv__io_poll

 100/107
\t    7f10 JS:*set file:///app/dist/src/actors/split-map.js:110:8
\t    7f11 JS:*handle file:///app/dist/src/shards/shard.js:229:11
\t    7f12 JS:^onMessage file:///app/dist/src/shards/shard-worker.js:169:25

 100/107
\t  1194991 v8::internal::Scavenger::ScavengeObject
\t    7f10 JS:*set file:///app/dist/src/actors/split-map.js:110:8
\t    7f11 JS:*handle file:///app/dist/src/shards/shard.js:229:11

 100/107
\t    7f20 JS:*clearBuffer node:internal/streams/writable:744:21
\t    7f21 JS:*append file:///app/dist/src/persistence/journal-store.js:20:817
\t    7f22 JS:*writeOnce file:///app/dist/src/persistence/group-commit.js:186:20

 100/103
\t  1000001 v8::internal::Scavenger::ScavengePage
\t  1000002 v8::platform::DefaultWorkerThreadsTaskRunner::WorkerThread::Run
`;

describe('perf script stacks', () => {
  const samples = parsePerfScript(script);

  it('reads each sample with its process, thread and frames, leaf first', () => {
    expect(samples.map((sample) => sample.tid)).toEqual([100, 100, 107, 107, 107, 103]);
    expect(samples[0]?.pid).toBe(100);
    expect(samples[0]?.frames[0]).toBe('JS:*pack /app/node_modules/msgpackr/pack.js:472:16');
    expect(samples[1]?.frames).toEqual(['tcp_sendmsg_locked', '__send', 'uv__io_poll']);
  });

  it('places a sample in the first activity its stack matches', () => {
    expect(samples.map((sample) => activityOf(sample))).toEqual([
      'HTTP: batches to the shards',
      otherActivity,
      'shard: requests applied',
      // A collection inside a request's work counts as the collection.
      'garbage collection',
      'shard: group commit written',
      'garbage collection',
    ]);
  });

  it("owes a sample's time to its nearest JavaScript frame, else its leaf", () => {
    expect(ownerOf(samples[0] as never)).toBe('JS:*pack node_modules/msgpackr/pack.js:472:16');
    expect(ownerOf(samples[1] as never)).toBe('tcp_sendmsg_locked');
    expect(ownerOf(samples[3] as never)).toBe('JS:*set src/actors/split-map.js:110:8');
  });

  it('breaks each thread down, with its role, the busiest first', () => {
    const threads = breakdown(samples);
    expect(threads.map((thread) => [thread.tid, thread.role, thread.samples])).toEqual([
      [107, 'shard', 3],
      [100, 'HTTP thread', 2],
      [103, 'V8 helper', 1],
    ]);
    const shard = threads[0];
    expect(activityTotals(shard === undefined ? [] : [shard])).toEqual([
      ['garbage collection', 1],
      ['shard: group commit written', 1],
      ['shard: requests applied', 1],
    ]);
    expect(ownerTotals(shard === undefined ? [] : [shard])[0]).toEqual([
      'JS:*set src/actors/split-map.js:110:8',
      2,
    ]);
  });
});

describe("a durable floor's stacks", () => {
  // bare-uws-commit-journal: its commit thread behind the hop, where the ledger has its shard.
  const floor = parsePerfScript(`
 200/200
\t  ffff0002 __send
\t    7f30 JS:* file:///app/bench/lib/baseline-http.ts:2:257

 200/211
\t    7f40 JS:*append file:///app/src/persistence/journal-store.ts:20:817
\t    7f41 JS:*writeAll file:///app/bench/lib/floor-commit.ts:1:1624

 200/211
\t  1000003 Builtins_CopyDataProperties
\t    7f41 JS:*writeAll file:///app/bench/lib/floor-commit.ts:1:1624

 200/211
\t    7f50 JS:*unpack file:///app/node_modules/msgpackr/unpack.js:59:8
\t    7f51 JS:* file:///app/bench/baselines/floor-commit-worker.ts:1:712
`);

  it('reads its commit thread as the shard, and its commits as group commits written', () => {
    const threads = breakdown(floor);
    expect(threads.map((thread) => [thread.tid, thread.role, thread.samples])).toEqual([
      [211, 'shard', 3],
      [200, 'HTTP thread', 1],
    ]);
    expect(activityTotals(threads.filter((thread) => thread.role === 'shard'))).toEqual([
      ['shard: group commit written', 2],
      [otherActivity, 1],
    ]);
  });
});

describe("the Postgres backends' stacks", () => {
  const backends = parsePerfScript(`
 900/900
\t ffff0100 pglz_compress
\t  5530001 [unknown]
\t  5530002 heap_insert
\t  5530003 standard_ExecutorRun

 900/900
\t ffff0200 memcpy
\t  5530010 XLogInsert
\t  5530002 heap_insert
\t  5530003 standard_ExecutorRun

 900/900
\t  5530020 [unknown]
\t  5530002 heap_insert
\t  5530003 standard_ExecutorRun

 901/901
\t ffff0300 pvm_irq_enable
\t  5530030 issue_xlog_fsync
\t  5530031 XLogFlush
\t  5530032 CommitTransactionCommand

 901/901
\t  5530040 array_recv
\t  5530041 [unknown]

 901/901
\t ffff0400 tcp_sendmsg_locked
\t  5530050 secure_write
\t  5530051 pq_flush

 901/901
\t  5530060 [unknown]
\t  5530061 PostgresMain

 901/901
\t ffff0500 smp_call_function_many_cond
\t ffff0501 flush_tlb_mm_range
\t ffff0502 __do_sys_brk
\t  5530070 __brk
\t  5530071 [unknown]
`);

  it('places each sample by what the backend was doing, inner work first', () => {
    const activities = backends.map((sample) =>
      activityOf(sample, postgresActivities, postgresOtherActivity),
    );
    expect(activities).toEqual([
      'compression (pglz)',
      // The WAL records a row insert makes count as WAL, not as the row.
      'WAL records made and inserted',
      'rows inserted (heap)',
      'WAL flushed at commit',
      'arrays and bytea received',
      'socket read and written',
      postgresOtherActivity,
      'heap given back and taken (brk)',
    ]);
  });

  it('calls every thread of that recording a Postgres backend', () => {
    const threads = breakdown(backends, 'postgres');
    expect(threads.map((thread) => [thread.tid, thread.role, thread.samples])).toEqual([
      [901, 'Postgres backend', 5],
      [900, 'Postgres backend', 3],
    ]);
    expect(new Map(activityTotals(threads))).toEqual(
      new Map([
        ['compression (pglz)', 1],
        ['WAL records made and inserted', 1],
        ['rows inserted (heap)', 1],
        ['WAL flushed at commit', 1],
        ['arrays and bytea received', 1],
        ['socket read and written', 1],
        [postgresOtherActivity, 1],
        ['heap given back and taken (brk)', 1],
      ]),
    );
  });
});
