// A preload for the ledger under the bench (`--node-flag=--import=./bench/lib/heap-watch.mjs`):
// every thread (worker threads inherit the flag) writes a line of its heap's figures every
// LEDGER_HEAP_WATCH_MS (default 500) to `<pid>-<thread id>.log` in LEDGER_HEAP_WATCH_DIR:
//
//   <ms since the thread started> used=<MB> old=<MB> external=<MB> arrayBuffers=<MB>
//
// `used` is the JavaScript heap in use, `old` its old space, `external` the memory V8 counts
// outside the heap for this thread (v8.getHeapStatistics().external_memory: ArrayBuffers among
// it, what V8 sets against the old generation's room), `arrayBuffers` what the thread's
// ArrayBuffers and SharedArrayBuffers hold (process.memoryUsage().arrayBuffers, counted per
// thread). Pass the variables with --ledger-env (the bench passes only LEDGER_ names; the ledger
// reads none of these); the directory is made if missing. Nothing here runs unless
// LEDGER_HEAP_WATCH_DIR is set.
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import { threadId } from 'node:worker_threads';

const directory = process.env.LEDGER_HEAP_WATCH_DIR;
if (directory !== undefined && directory !== '') {
  const everyMs = Number(process.env.LEDGER_HEAP_WATCH_MS ?? 500);
  mkdirSync(directory, { recursive: true });
  const file = join(directory, `${process.pid}-${threadId}.log`);
  const startMs = performance.now();
  const mb = (bytes) => (bytes / 1e6).toFixed(1);
  // Unreferenced: the thread ends when its work does.
  setInterval(() => {
    const heap = getHeapStatistics();
    const old = getHeapSpaceStatistics().find((space) => space.space_name === 'old_space');
    const line =
      `${Math.round(performance.now() - startMs)} used=${mb(heap.used_heap_size)} ` +
      `old=${mb(old?.space_used_size ?? 0)} external=${mb(heap.external_memory)} ` +
      `arrayBuffers=${mb(process.memoryUsage().arrayBuffers)}\n`;
    appendFileSync(file, line);
  }, everyMs).unref();
}
