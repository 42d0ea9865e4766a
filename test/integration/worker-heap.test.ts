// LEDGER_WORKER_OLD_GENERATION_FLOOR_MB reaches the worker threads: set from the main thread once
// it runs, as main.ts sets it, V8 starts no full collection of a worker's heap below the floor,
// where without it the same worker collects its old generation again and again. Each case runs in
// a node process of its own (the compiled module, as the ledger runs it): the floor holds for
// every worker its process starts after, and must not reach the test runner's threads. Under a
// memory limit (a container's: a real cgroup made for the test) the floors are fitted to it.
import { spawnSync } from 'node:child_process';
import { totalmem } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import {
  chooseFloor,
  fittedFloorMb,
  floorWorkersOldGeneration,
  memoryLimitBytes,
  oldGenerationFloorFlag,
} from '../../src/worker-heap.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { startLedger } from '../helpers/ledger-process.js';
import { makeMemoryCgroup } from '../../bench/lib/memory-cgroup.js';
import { havePostgres } from '../helpers/services.js';

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
    expect(loadConfig({}).workerOldGenerationFloorSet).toBe(false);
    expect(loadConfig({ LEDGER_WORKER_OLD_GENERATION_FLOOR_MB: '128' })).toMatchObject({
      workerOldGenerationFloorMb: 128,
      workerOldGenerationFloorSet: true,
    });
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

const mib = 2 ** 20;

describe('the floor under a memory limit', () => {
  it('keeps the floors together within a third of the limit', () => {
    // Two shards, their snapshot threads, the events publisher: five workers.
    expect(fittedFloorMb(128, 5, undefined)).toBe(128);
    expect(fittedFloorMb(128, 5, 2048 * mib)).toBe(128);
    expect(fittedFloorMb(128, 5, 1024 * mib)).toBe(68);
    expect(fittedFloorMb(128, 5, 512 * mib)).toBe(34);
    expect(fittedFloorMb(128, 9, 512 * mib)).toBe(18);
    expect(fittedFloorMb(0, 5, 512 * mib)).toBe(0);
    expect(fittedFloorMb(128, 5, 3 * mib)).toBe(0);
  });

  it('fits the default floor and says so; keeps a floor set, with a warning', () => {
    expect(chooseFloor(128, false, 5, 2048 * mib)).toStrictEqual({ floorMb: 128 });
    expect(chooseFloor(128, true, 5, undefined)).toStrictEqual({ floorMb: 128 });
    const fitted = chooseFloor(128, false, 5, 1024 * mib);
    expect(fitted.floorMb).toBe(68);
    expect(fitted.said?.level).toBe('info');
    expect(fitted.said?.message).toMatch(/floor 68 MB, not 128.*\(1024 MB\)/);
    const kept = chooseFloor(128, true, 5, 1024 * mib);
    expect(kept.floorMb).toBe(128);
    expect(kept.said?.level).toBe('warn');
    expect(kept.said?.message).toMatch(/=128 kept as set.*5 worker threads/);
  });

  it('reads no limit from what Node gives without one', () => {
    expect(memoryLimitBytes(2 ** 64)).toBeUndefined();
    expect(memoryLimitBytes(0)).toBeUndefined();
    expect(memoryLimitBytes(undefined)).toBeUndefined();
    expect(memoryLimitBytes(totalmem())).toBeUndefined();
    expect(memoryLimitBytes(512 * mib)).toBe(512 * mib);
  });

  const cgroup = makeMemoryCgroup(512 * mib);
  afterAll(() => cgroup?.remove());

  it.runIf(cgroup !== undefined)('reads a real cgroup limit of 512 MiB in a process in it', () => {
    const main = `
import { fittedFloorMb, memoryLimitBytes } from ${JSON.stringify(moduleUrl)};
const limit = memoryLimitBytes();
process.stdout.write(JSON.stringify({ limit, floorMb: fittedFloorMb(128, 5, limit) }));
`;
    const [command, ...args] = [...(cgroup?.launcher ?? []), process.execPath];
    const child = spawnSync(command ?? '', [...args, '--input-type=module', '-e', main], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(child.stderr).toBe('');
    expect(JSON.parse(child.stdout)).toStrictEqual({ limit: 512 * mib, floorMb: 34 });
  });
});

describe.runIf(await havePostgres())('the ledger in a container of 1 GiB', () => {
  let database: TestDatabase;
  const cgroup = makeMemoryCgroup(1024 * mib);

  beforeAll(async () => {
    database = await createDatabase();
  });

  afterAll(async () => {
    await database?.drop();
    cgroup?.remove();
  });

  it.runIf(cgroup !== undefined)(
    'starts with its workers’ floors fitted, and says so',
    async () => {
      const ledger = await startLedger({
        env: { DATABASE_URL: database.url, SHARDS: '2' },
        launcher: cgroup?.launcher ?? [],
      });
      try {
        const output = ledger.output();
        expect(output).toMatch(/worker threads' old generation floor 68 MB, not 128/);
        expect(output).toMatch(/the 5 worker threads' floors are kept within a third/);
        expect(output).toMatch(/of the memory limit \(1024 MB\)/);
      } finally {
        expect(await ledger.stop()).toBe(0);
      }
    },
  );

  it.runIf(cgroup !== undefined)(
    'keeps a floor set as set, and warns that it does not fit',
    async () => {
      const ledger = await startLedger({
        env: {
          DATABASE_URL: database.url,
          SHARDS: '2',
          LEDGER_WORKER_OLD_GENERATION_FLOOR_MB: '128',
        },
        launcher: cgroup?.launcher ?? [],
      });
      try {
        const output = ledger.output();
        expect(output).toMatch(/LEDGER_WORKER_OLD_GENERATION_FLOOR_MB=128 kept as set/);
        expect(output).toMatch(/more than a third of the memory limit \(1024 MB\)/);
        expect(output).not.toMatch(/old generation floor 68 MB/);
      } finally {
        expect(await ledger.stop()).toBe(0);
      }
    },
  );
});
