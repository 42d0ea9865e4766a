// A floor under each worker thread's old generation (LEDGER_WORKER_OLD_GENERATION_FLOOR_MB): V8
// starts no full collection of a thread's heap below it. A hot SKU's shard keeps a heap of tens of
// MB and promotes a few MB a second of what dies soon after (a reply's objects caught by a
// scavenge while their group commit is in flight). V8 sets the next full collection's start a
// few MB above what the last one left, so that shard was marking its heap over and over: 50 full
// collections in 25 s, 2.9 s of CPU with the helper threads' marking on a 2-core machine (bench/
// README.md, "A floor under the shards' old generation"). With a floor of 128 MB it made 11–13 a
// minute, and 0–1 once the group commit's arrays and the expiry heap had left its heap; the
// garbage in between is at most the floor, per thread.
//
// Where the process's memory is limited (a container's limit: its cgroup, as Node reads it), the
// floors together may take a third of that limit at most: five workers of 128 MB (two shards,
// their snapshot threads, the events publisher) could hold up to 640 MB of garbage, more than a
// pod of 512 MB has for everything. A floor fitted smaller only makes full collections sooner.
//
// V8 reads the floor (`--initial-old-space-size`) as it makes each isolate: set from the main
// thread once it runs, it holds for every worker started after (shards, their snapshot threads,
// the events publisher), not for the main thread, whose heap promotes almost nothing. Node offers
// no per-worker setting for it (a worker's resourceLimits set the young generation and maxima).
// A leaf module: it imports nothing of ours.
import { totalmem } from 'node:os';
import { setFlagsFromString } from 'node:v8';

/** Of a memory limit, the share the worker threads' floors may come to together. */
export const floorsShareOfLimit = 1 / 3;

/**
 * The process's memory limit in bytes (its cgroup's, the least of those above it, as libuv reads
 * them), or undefined if there is none: Node gives a huge number then, or 0, and a limit at or
 * above the machine's memory limits nothing.
 */
export function memoryLimitBytes(
  constrained: number | undefined = process.constrainedMemory(),
): number | undefined {
  return constrained !== undefined && constrained > 0 && constrained < totalmem()
    ? constrained
    : undefined;
}

/**
 * The floor each worker thread gets: `mb` (the configured floor), or less where `workers` floors
 * of `mb` would come to more than a third of the memory limit (`limitBytes`; undefined: none).
 */
export function fittedFloorMb(mb: number, workers: number, limitBytes: number | undefined): number {
  if (limitBytes === undefined || workers < 1) return mb;
  return Math.min(mb, Math.floor((limitBytes * floorsShareOfLimit) / workers / 2 ** 20));
}

/** The floor the worker threads get, and what the start says of it (nothing if it is `mb`). */
export interface FloorChoice {
  readonly floorMb: number;
  readonly said?: { readonly level: 'info' | 'warn'; readonly message: string };
}

/**
 * The floor for `workers` worker threads: `mb` where it fits a third of the memory limit
 * (`limitBytes`), or where it was set (`set`: kept, with a warning); else the default fitted.
 */
export function chooseFloor(
  mb: number,
  set: boolean,
  workers: number,
  limitBytes: number | undefined,
): FloorChoice {
  const fitted = fittedFloorMb(mb, workers, limitBytes);
  if (fitted >= mb) return { floorMb: mb };
  const limitMb = Math.round((limitBytes ?? 0) / 2 ** 20);
  if (set) {
    const message =
      `LEDGER_WORKER_OLD_GENERATION_FLOOR_MB=${mb} kept as set: the ${workers} worker ` +
      `threads' floors come to more than a third of the memory limit (${limitMb} MB)`;
    return { floorMb: mb, said: { level: 'warn', message } };
  }
  const message =
    `worker threads' old generation floor ${fitted} MB, not ${mb}: the ${workers} ` +
    `worker threads' floors are kept within a third of the memory limit (${limitMb} MB)`;
  return { floorMb: fitted, said: { level: 'info', message } };
}

/** The V8 flag for a floor of `mb` MB; undefined for 0 (V8's own limits). */
export function oldGenerationFloorFlag(mb: number): string | undefined {
  return mb > 0 ? `--initial-old-space-size=${mb}` : undefined;
}

/** Gives every worker thread started from now on an old generation floor of `mb` MB (0: none). */
export function floorWorkersOldGeneration(
  mb: number,
  setFlags: (flags: string) => void = setFlagsFromString,
): void {
  const flag = oldGenerationFloorFlag(mb);
  if (flag !== undefined) setFlags(flag);
}
