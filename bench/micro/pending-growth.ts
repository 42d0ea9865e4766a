// What a hot key's pending holds cost the shard as they pile up and then go: the longest single
// reserve while one key comes to hold 1,100,000 pending holds (a flash sale's hour-long TTL, or a
// hot-SKU bench at 8k reserves/s for two minutes), then the longest single confirm as every one
// of them is confirmed, oldest first; and the total time of each phase.
//
// Each step is what the shard does for one command on the hot key: PartitionState.apply (the
// partition's store of pending holds, the retained finished holds) and the shard's expiry
// schedule (a reserve's entry; a confirm leaves it stale, and the schedule drops stale entries
// once they are half of it). Ids are minted as the router mints them; idempotency keys
// are fresh UUIDs, as a checkout's are. A step's time includes any garbage collection that lands
// in it: the shard stops for that too.
//
//   npx tsx bench/micro/pending-growth.ts [--holds 1100000] [--over-ms 2]
import { HotKey } from '../lib/hot-key.js';
import { StepTimes, growthOptions } from '../lib/step-times.js';

const { holds, overMs } = growthOptions();
let nowMs = 1_763_900_000_000;
const hot = new HotKey(1_000_000_000, nowMs);

const reserving = new StepTimes(overMs, holds);
const ids: string[] = [];
for (let index = 0; index < holds; index += 1) {
  const command = hot.reserveCommand();
  ids.push(command.reservationId);
  // One millisecond a reserve: 1.1M of them stay inside the hour's TTL, so none is due.
  nowMs += 1;
  reserving.time(index, () => hot.reserve(command, nowMs));
}
if (hot.state.holdCount !== holds)
  throw new Error(`${hot.state.holdCount} holds, ${holds} reserved`);

const confirming = new StepTimes(overMs, holds);
for (let index = 0; index < holds; index += 1) {
  const reservationId = ids[index] as string;
  nowMs += 1;
  confirming.time(holds - index, () => hot.confirm(reservationId, nowMs));
}
if (hot.state.pending.size !== 0) throw new Error('holds left pending');

const out = (line: string) => process.stdout.write(`${line}\n`);
out(`node ${process.version}: ${holds.toLocaleString('en-US')} pending holds on one key`);
for (const [name, phase] of [
  ['reserve', reserving],
  ['confirm', confirming],
] as const) {
  out(
    `  longest ${name} ${phase.longestMs.toFixed(1)} ms, ${phase.slow.length} over ${overMs} ms, ` +
      `all ${(phase.totalMs / 1000).toFixed(2)} s`,
  );
  out(`    slowest (ms at holds pending): ${phase.slowest(8)}`);
  out(`    µs a ${name} by tenth of the phase: ${phase.perTenth()}`);
}
