// What a hot key's steady churn of holds costs the shard: a sale's checkouts reserve, and each
// hold is confirmed a while later, so the key keeps about --window holds pending while new ones
// come and the oldest go, --steps times (a reserve, then the oldest hold's confirm once the window
// is full). The partition's store of pending holds keeps taking freed slots again and moving its
// strings down in their arenas; the finished holds pile up in the retained store as the ledger's
// defaults keep them. It prints the steps a second, the longest step and how many went past
// --over-ms, and what the churn took of fresh memory: the process's minor page faults (each a
// 4 KiB page touched for the first time) and the bytes of its ArrayBuffers, after a first pass
// of the window and at the end.
//
// Each step is what the shard does for its commands on the hot key (bench/lib/hot-key.ts: the
// partition and the shard's expiry schedule, as pending-growth.ts drives them). A step's time
// includes any garbage collection that lands in it.
//
//   npx tsx bench/micro/hold-churn.ts [--window 20000] [--steps 2000000] [--over-ms 2]
import { parseArgs } from 'node:util';
import { HotKey } from '../lib/hot-key.js';
import { StepTimes } from '../lib/step-times.js';

const { values } = parseArgs({
  options: {
    window: { type: 'string', default: '20000' },
    steps: { type: 'string', default: '2000000' },
    'over-ms': { type: 'string', default: '2' },
  },
});
const [window, steps, overMs] = [values.window, values.steps, values['over-ms']].map(Number) as [
  number,
  number,
  number,
];
let nowMs = 1_763_900_000_000;
const hot = new HotKey(1e12, nowMs);

/** The pending holds' ids, oldest first, in a ring of the window's size. */
const ring: string[] = new Array<string>(window);
let [oldest, pending] = [0, 0];

function step(): void {
  // A millisecond a step keeps every hold inside the hour's TTL: none expires, all are confirmed.
  nowMs += 1;
  if (pending === window) {
    hot.confirm(ring[oldest] as string, nowMs);
    oldest = (oldest + 1) % window;
    pending -= 1;
  }
  const command = hot.reserveCommand();
  hot.reserve(command, nowMs);
  ring[(oldest + pending) % window] = command.reservationId;
  pending += 1;
}

const freshMemory = (): { faults: number; arrayBuffers: number } => ({
  faults: process.resourceUsage().minorPageFault,
  arrayBuffers: process.memoryUsage().arrayBuffers,
});

// The first pass of the window fills it: what the churn costs is counted from there.
for (let index = 0; index < window; index += 1) step();
const before = freshMemory();
const times = new StepTimes(overMs, steps);
for (let index = 0; index < steps; index += 1) times.time(index, step);
const after = freshMemory();
if (hot.state.pending.size !== window) {
  throw new Error(`${hot.state.pending.size} pending, not ${window}`);
}

const out = (line: string) => process.stdout.write(`${line}\n`);
const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;
out(
  `node ${process.version}: ${steps.toLocaleString('en-US')} steps on one key, ` +
    `${window.toLocaleString('en-US')} holds pending`,
);
out(`  steps/s: ${Math.round(steps / (times.totalMs / 1000)).toLocaleString('en-US')}`);
out(`  longest step ${times.longestMs.toFixed(1)} ms, ${times.slow.length} over ${overMs} ms`);
out(`    slowest (ms at step): ${times.slowest(8)}`);
out(`    µs a step by tenth of the run: ${times.perTenth()}`);
out(
  `  minor page faults: ${(after.faults - before.faults).toLocaleString('en-US')} ` +
    `(${(((after.faults - before.faults) * 1000) / steps).toFixed(2)} a thousand steps)`,
);
out(
  `  ArrayBuffers: ${mb(before.arrayBuffers)} after the first window, ${mb(after.arrayBuffers)} at the end`,
);
