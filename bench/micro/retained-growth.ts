// What a hot key's retained finished holds cost the shard as they pile up: the longest single
// append while one partition retains 1,100,000 finished holds (each with a fresh UUID id and
// idempotency key, as a hot SKU's confirms make them), and the total time; and for the columns,
// the array buffers they hold at the end (after a full collection), per hold.
//
// Two structures, one after the other, in this process:
// - `columns`: the partition's retained holds as they are kept now (src/actors/retained-holds.ts:
//   fixed chunks, extendible hash tables);
// - `maps`: as they were kept before, rebuilt here for the comparison: each hold an object in
//   the actor's two Maps (by id, by idempotency key) and the partition's Map from id to actor,
//   plus the finished queue's arrays. A Map doubles its table by rehashing every entry at once.
//
//   npx tsx bench/micro/retained-growth.ts [--holds 1100000] [--over-ms 2]
import { randomUUID } from 'node:crypto';
import { RetainedHolds } from '../../src/actors/retained-holds.js';
import { StockActor, type Reservation } from '../../src/actors/stock-actor.js';
import { fullCollection } from '../lib/full-collection.js';
import { StepTimes, growthOptions } from '../lib/step-times.js';

const { holds, overMs } = growthOptions();

function finishedHold(index: number): Reservation {
  return {
    id: randomUUID(),
    quantity: 1,
    createdAtMs: index,
    expiresAtMs: index + 900_000,
    originalExpiresAtMs: index + 900_000,
    idempotencyKey: randomUUID(),
    requesterId: 'bench',
    buyerId: '',
    reference: '',
    cartId: '',
    status: 'CONFIRMED',
    finishedAtMs: index + 1,
    confirmedQuantity: 1,
    pin: undefined,
  };
}

function run(append: (hold: Reservation) => void): StepTimes {
  const times = new StepTimes(overMs, holds);
  for (let index = 0; index < holds; index += 1) {
    const hold = finishedHold(index);
    times.time(index, () => append(hold));
  }
  return times;
}

// A full collection first, so arrays grown away from are not counted as held.
const arrayBuffers = (): number => {
  fullCollection();
  return process.memoryUsage().arrayBuffers;
};
/** What the columns held at the end, in bytes. */
let columnBytes = 0;

function columns(): StepTimes {
  const actor = new StockActor('hot-sku', 'wh-1');
  const retained = new RetainedHolds();
  const before = arrayBuffers();
  const times = run((hold) => retained.pushHold(actor, hold));
  columnBytes = arrayBuffers() - before;
  if (retained.size !== holds) throw new Error(`retained ${retained.size} of ${holds}`);
  return times;
}

function maps(): StepTimes {
  const actor = new StockActor('hot-sku', 'wh-1');
  const byId = new Map<string, Reservation>();
  const byKey = new Map<string, Reservation>();
  const owners = new Map<string, StockActor>();
  const [actors, ids, keys, times]: [StockActor[], string[], string[], number[]] = [[], [], [], []];
  return run((hold) => {
    byId.set(hold.id, hold);
    byKey.set(hold.idempotencyKey, hold);
    owners.set(hold.id, actor);
    actors.push(actor);
    ids.push(hold.id);
    keys.push('');
    times.push(hold.finishedAtMs);
  });
}

const out = (line: string) => process.stdout.write(`${line}\n`);
out(`node ${process.version}: ${holds.toLocaleString('en-US')} finished holds retained on one key`);
for (const [name, measure] of [
  ['columns (now)', columns],
  ['maps (before)', maps],
] as const) {
  const result = measure();
  out(
    `  ${name}: longest append ${result.longestMs.toFixed(1)} ms, ` +
      `${result.slow.length} over ${overMs} ms, all appends ${(result.totalMs / 1000).toFixed(2)} s`,
  );
  out(`    slowest: ${result.slowest(6, ' ms')}`);
  if (name === 'columns (now)') {
    out(
      `    array buffers held: ${(columnBytes / 2 ** 20).toFixed(1)} MiB, ` +
        `${(columnBytes / holds).toFixed(0)} bytes a hold`,
    );
  }
}
