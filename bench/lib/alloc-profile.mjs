// A preload for the ledger under the bench (`--node-flag=--import=./bench/lib/alloc-profile.mjs`):
// V8's sampling heap profiler in every thread (worker threads inherit the flag), counting what was
// allocated, the objects collected since included, so that it says where a thread's allocation
// comes from rather than what it keeps. It samples from LEDGER_ALLOC_PROFILE_FROM_SECONDS after the
// thread starts (default 25) for LEDGER_ALLOC_PROFILE_SECONDS (default 20), one sample per 4 KiB on
// average, and writes `<pid>-<thread id>.heapprofile` (Chrome DevTools' format) to
// LEDGER_ALLOC_PROFILE_DIR; `npx tsx bench/alloc-profile-summary.ts FILE` sums it by function. With
// LEDGER_ALLOC_PROFILE_OLD=1 the objects a scavenge collected are left out: what is left is what
// survived the young generation (promoted, then collected by a full GC, or still alive), the
// allocations that make a thread's scavenges copy and its old generation grow.
// Pass the variables with --ledger-env (the bench passes only LEDGER_ names; the ledger reads none
// of these). Nothing here runs unless LEDGER_ALLOC_PROFILE_DIR is set.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';

const directory = process.env.LEDGER_ALLOC_PROFILE_DIR;
if (directory !== undefined && directory !== '') {
  const fromMs = Number(process.env.LEDGER_ALLOC_PROFILE_FROM_SECONDS ?? 25) * 1000;
  const forMs = Number(process.env.LEDGER_ALLOC_PROFILE_SECONDS ?? 20) * 1000;
  const session = new Session();
  session.connect();
  const post = (method, params = {}) =>
    new Promise((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  const sample = async () => {
    await post('HeapProfiler.enable');
    await post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMinorGC: process.env.LEDGER_ALLOC_PROFILE_OLD !== '1',
      includeObjectsCollectedByMajorGC: true,
    });
    await new Promise((resolve) => setTimeout(resolve, forMs).unref());
    const { profile } = await post('HeapProfiler.stopSampling');
    writeFileSync(
      join(directory, `${process.pid}-${threadId}.heapprofile`),
      JSON.stringify(profile),
    );
  };
  // Unreferenced: a thread that ends before the window simply writes nothing.
  setTimeout(() => {
    sample().catch((error) => process.stderr.write(`alloc profile: ${String(error)}\n`));
  }, fromMs).unref();
}
