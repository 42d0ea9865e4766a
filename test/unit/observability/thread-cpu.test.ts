// threadCpuMs reads the calling thread's CPU time, not the process's: a shard reports its own
// recovery's cost with it, apart from the other threads.
import { once } from 'node:events';
import { platform } from 'node:os';
import { describe, expect, it } from 'vitest';
import { threadCpuMs } from '../../../src/observability/thread-cpu.js';
import { spawnWorker } from '../../../src/worker-script.js';

describe.runIf(platform() === 'linux')('threadCpuMs', () => {
  it('counts the calling thread only: a worker burning CPU does not move the main thread', async () => {
    const mainBefore = threadCpuMs();
    expect(mainBefore).toBeGreaterThanOrEqual(0);
    const worker = spawnWorker(import.meta.url, 'thread-cpu-burner', {
      burnMs: 300,
      wallLimitMs: 30_000,
    });
    const [result] = (await once(worker, 'message')) as [{ grewMs: number; spins: number }];
    await worker.terminate();
    const mainGrewMs = (threadCpuMs() ?? 0) - (mainBefore ?? 0);
    // The worker saw its own time grow by what it burned; this thread, which only waited (and
    // started the worker), grew by less than that.
    expect(result.grewMs).toBeGreaterThanOrEqual(300);
    expect(mainGrewMs).toBeLessThan(result.grewMs);
    expect(result.spins).toBeGreaterThan(0);
  });
});
