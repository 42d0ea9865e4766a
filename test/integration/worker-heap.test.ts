// LEDGER_WORKER_OLD_GENERATION_FLOOR_MB reaches the worker threads: set from the main thread once
// it runs, as main.ts sets it, V8 starts no full collection of a worker's heap below the floor,
// where without it the same worker collects its old generation again and again. Each case runs in
// a node process of its own (the compiled module, as the ledger runs it): the floor holds for
// every worker its process starts after, and must not reach the test runner's threads.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { floorWorkersOldGeneration, oldGenerationFloorFlag } from '../../src/worker-heap.js';

const moduleUrl = new URL('../../dist/src/worker-heap.js', import.meta.url).href;

/**
 * A worker that keeps 100,000 to 200,000 small objects alive at a time while it makes three
 * million (so most of them are promoted before they die: some 150 MB through the old
 * generation), then reports its full collections. A module, as `--input-type` makes it.
 */
const churn = `
import { PerformanceObserver, constants } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
let major = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) major += 1;
  }
}).observe({ entryTypes: ['gc'] });
const live = [];
for (let index = 0; index < 3_000_000; index += 1) {
  live.push({ index, text: 'held ' + index });
  if (live.length > 200_000) live.splice(0, 100_000);
}
setTimeout(() => parentPort.postMessage(major), 100);
`;

/** The full collections of a worker started after `floorWorkersOldGeneration(floorMb)`. */
function workerFullCollections(floorMb: number): number {
  const main = `
import { Worker } from 'node:worker_threads';
import { floorWorkersOldGeneration } from ${JSON.stringify(moduleUrl)};
floorWorkersOldGeneration(${floorMb});
new Worker(${JSON.stringify(churn)}, { eval: true }).on('message', (major) => {
  process.stdout.write(String(major));
});
`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', main], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(child.stderr).toBe('');
  expect(child.status).toBe(0);
  return Number(child.stdout);
}

describe('the worker threads’ old generation floor', () => {
  it('is 128 MB unless set, and 0 leaves V8’s own limits', () => {
    expect(loadConfig({}).workerOldGenerationFloorMb).toBe(128);
    expect(oldGenerationFloorFlag(128)).toBe('--initial-old-space-size=128');
    expect(oldGenerationFloorFlag(0)).toBeUndefined();
    const set: string[] = [];
    floorWorkersOldGeneration(0, (flags) => set.push(flags));
    floorWorkersOldGeneration(64, (flags) => set.push(flags));
    expect(set).toStrictEqual(['--initial-old-space-size=64']);
  });

  it('spares a worker started after it the full collections it makes without', () => {
    expect(workerFullCollections(0)).toBeGreaterThanOrEqual(1);
    expect(workerFullCollections(256)).toBe(0);
  });
});
