// A worker for thread-cpu.test.ts: spins until its own thread's CPU time (as threadCpuMs reads
// it) has grown by `burnMs`, or a wall-clock bound passes, then says how much it grew.
import { parentPort, workerData } from 'node:worker_threads';
import { threadCpuMs } from '../../../src/observability/thread-cpu.js';

const { burnMs, wallLimitMs } = workerData as { burnMs: number; wallLimitMs: number };
const before = threadCpuMs() ?? 0;
const deadline = Date.now() + wallLimitMs;
let spins = 0;
while ((threadCpuMs() ?? 0) - before < burnMs && Date.now() < deadline) spins += 1;
parentPort?.postMessage({ grewMs: (threadCpuMs() ?? 0) - before, spins });
