// threadCpuMs reads the calling thread's CPU time, not the process's: a shard reports its own
// recovery's cost with it, apart from the other threads. The stat-line parser under it (and
// under the benches' process figures) counts fields from the name's last parenthesis.
import { once } from 'node:events';
import { platform } from 'node:os';
import { describe, expect, it } from 'vitest';
import { statField, threadCpuMs, ticksOfStatLine } from '../../../src/observability/thread-cpu.js';
import { spawnWorker } from '../../../src/worker-script.js';

describe('the /proc stat line', () => {
  // pid (name) state ppid ... minflt (10) ... utime (14) stime (15): a name may hold spaces and
  // a parenthesis of its own.
  const line = '4242 (node (a) b) S 1 2 3 4 5 6 7777 0 0 0 120 35 0 0 20 0 9 0';

  it('reads each field by its number, whatever the name holds', () => {
    expect(statField(line, 4)).toBe(1);
    expect(statField(line, 10)).toBe(7777);
    expect(statField(line, 15)).toBe(35);
    expect(ticksOfStatLine(line)).toBe(155);
  });

  it('says undefined, not a number, for what is not there', () => {
    expect(statField(line, 2)).toBeUndefined();
    expect(statField(line, 60)).toBeUndefined();
    expect(statField('no parenthesis at all', 10)).toBeUndefined();
    expect(ticksOfStatLine('4242 (short) S 1')).toBeUndefined();
  });
});

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
