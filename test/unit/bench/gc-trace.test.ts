// --gc-trace reads V8's --trace-gc-nvp lines (bench/lib/gc-trace.ts): the lines below are cut from
// what the ledger printed under the bench (their other pairs dropped; the parser ignores them).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  GcTrace,
  gcLogFile,
  isV8TraceLine,
  parseGcTraceLine,
} from '../../../bench/lib/gc-trace.js';

const scavenge = (isolate: string, pause: number, bytes: [number, number, number]): string =>
  `[11943:${isolate}]      145 ms: pause=${pause} mutator=124.4 gc=s reduce_memory=0 ` +
  `scavenge=3.27 scavenge.roots=0.14 scavenge.parallel=2.92 scavenge_throughput=226760 ` +
  `allocated=${bytes[0]} promoted=${bytes[2]} new_space_survived=${bytes[1]} ` +
  `nodes_died_in_new=5 promotion_ratio=0.0% average_survival_ratio=42.6%`;

const markCompact =
  '[11943:0x42ef2ba0]      998 ms: pause=11.5 mutator=213.6 gc=mc reduce_memory=0 ' +
  'time_to_safepoint=0.00 heap.prologue=0.00 clear=1 allocated=5495336 promoted=2457816 ' +
  'new_space_survived=0 nodes_promoted=0';

describe('gc trace', () => {
  it('reads a scavenge and a full collection, and nothing else', () => {
    expect(parseGcTraceLine(scavenge('0x42ef2ba0', 3.8, [4180344, 371472, 0]), 7)).toEqual({
      isolate: '0x42ef2ba0',
      kind: 's',
      pauseMs: 3.8,
      allocated: 4180344,
      survived: 371472,
      promoted: 0,
      atMs: 7,
    });
    expect(parseGcTraceLine(markCompact, 8)).toMatchObject({
      kind: 'mc',
      pauseMs: 11.5,
      allocated: 5495336,
      promoted: 2457816,
    });
    // A count V8 printed wrapped around (a heap that shrank since the last collection).
    expect(parseGcTraceLine(scavenge('0x1', 1, [18446744073723000000, 0, 0]), 9)?.allocated).toBe(
      0,
    );
    expect(parseGcTraceLine('{"level":30,"msg":"listening","port":8080}', 9)).toBeUndefined();
    expect(parseGcTraceLine('[11943:0x42ef2ba0] 5 ms: Scavenge 3.1 (4.0) -> 2.9 ms', 9)).toBe(
      undefined,
    );
  });

  it('sums each thread over the window, threads in the order they first printed', () => {
    const trace = new GcTrace();
    trace.line('not a trace line', 100);
    trace.line(scavenge('0xaaa', 9, [1e6, 1e6, 1e6]), 100); // before the window
    trace.line(scavenge('0xbbb', 2, [4e6, 1e6, 0]), 1_000);
    trace.line(scavenge('0xaaa', 1, [2e6, 5e5, 0]), 1_100);
    trace.line(scavenge('0xbbb', 4, [4e6, 1e6, 2e6]), 1_200);
    trace.line(scavenge('0xbbb', 3, [4e6, 1e6, 1e6]), 1_300);
    trace.line(markCompact.replace('0x42ef2ba0', '0xbbb'), 1_400);
    trace.line(scavenge('0xccc', 5, [1e6, 0, 0]), 5_000); // after it
    const [first, second, ...rest] = trace.summary(1_000, 2_000);
    expect(rest).toEqual([]);
    expect(first).toEqual({
      thread: 'thread 1',
      scavenges: { count: 1, pauseTotalMs: 1, pauseMedianMs: 1, pauseMaxMs: 1 },
      fullCollections: { count: 0, pauseTotalMs: 0, pauseMedianMs: 0, pauseMaxMs: 0 },
      allocatedMb: 2,
      survivedMb: 0.5,
      promotedMb: 0,
    });
    expect(second?.thread).toBe('thread 2');
    expect(second?.scavenges).toEqual({
      count: 3,
      pauseTotalMs: 9,
      pauseMedianMs: 3,
      pauseMaxMs: 4,
    });
    expect(second?.fullCollections.count).toBe(1);
    expect(second?.fullCollections.pauseMaxMs).toBe(11.5);
    expect(second?.allocatedMb).toBeCloseTo(12 + 5.495336, 6);
    expect(second?.promotedMb).toBeCloseTo(3 + 2.457816, 6);
    expect(second?.survivedMb).toBe(3);
  });

  it('says which lines were V8’s, and keeps those as they came in the log file', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'gc-log-'));
    try {
      const trace = new GcTrace();
      const log = gcLogFile(join(directory, 't'));
      const lines = ['{"msg":"listening"}', scavenge('0xaaa', 2, [1, 2, 3]), markCompact];
      for (const line of lines) if (trace.line(line, 1)) log.write(line);
      await log.close();
      expect(readFileSync(join(directory, 't.gc.log'), 'utf8')).toBe(`${lines[1]}\n${lines[2]}\n`);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('tells V8 trace lines of other flags from the ledger’s own', () => {
    const marking =
      '[6313:0x7f2808000f00]     5309 ms: [IncrementalMarking] Start (task): (size/limit/slack) ' +
      'v8: 13MB / 35MB / 22MB global: 13MB / 35MB / 22MB';
    expect(isV8TraceLine(marking)).toBe(true);
    expect(isV8TraceLine(markCompact)).toBe(true);
    expect(isV8TraceLine('{"level":"info","msg":"[6313:0x1] 5 ms: not V8"}')).toBe(false);
    expect(isV8TraceLine('listening on 127.0.0.1:3000')).toBe(false);
  });
});
