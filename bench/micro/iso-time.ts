// What writing a time costs: `new Date(ms).toISOString()` against `isoTime` (src/iso-time.ts),
// alone and inside a reserve's answer body as the HTTP thread renders it (two times, then
// JSON.stringify, which flattens the pieces isoTime joins). The times come as under a hot SKU:
// a clock that moves a millisecond every few answers, the expiry 15 minutes on. Rounds alternate
// the two ways; each figure is ns per call, the median of the rounds.
//
//   npx tsx bench/micro/iso-time.ts [--rounds 5] [--calls 2000000]
import { isoTime } from '../../src/iso-time.js';
import { parseIntegerFlags } from '../lib/args.js';
import { median } from '../lib/report.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);

const { rounds, calls } = parseIntegerFlags({
  rounds: { defaultValue: 5, min: 1, max: 100 },
  calls: { defaultValue: 2_000_000, min: 1, max: 100_000_000 },
});

type Writer = (epochMs: number) => string;
const withDate: Writer = (epochMs) => new Date(epochMs).toISOString();

const startMs = Date.UTC(2026, 11, 5, 18, 0, 0);
const holdMs = 15 * 60_000;
/** About 30 answers a millisecond, as a hot SKU's batches come. */
const timeOf = (index: number): number => startMs + Math.floor(index / 30);

/** Keeps results alive so the loop is not optimized away. */
let sink = 0;

function nsPerCall(step: (index: number) => string): number {
  const started = process.hrtime.bigint();
  for (let index = 0; index < calls; index += 1) sink += step(index).length;
  return Number(process.hrtime.bigint() - started) / calls;
}

function timeAlone(write: Writer): number {
  return nsPerCall((index) => write(timeOf(index)));
}

function answerBody(write: Writer): number {
  return nsPerCall((index) => {
    const createdMs = timeOf(index);
    return JSON.stringify({
      reservation_id: `r-7-${index.toString(36).padStart(12, '0')}`,
      status: 'PENDING',
      product_id: 'sku-hot',
      warehouse_id: 'wh-1',
      quantity: 1,
      expires_at: write(createdMs + holdMs),
      created_at: write(createdMs),
    });
  });
}

const cases: readonly [string, () => number][] = [
  ['time alone, toISOString', () => timeAlone(withDate)],
  ['time alone, isoTime', () => timeAlone(isoTime)],
  ['answer body, toISOString', () => answerBody(withDate)],
  ['answer body, isoTime', () => answerBody(isoTime)],
];

const results = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (let round = 0; round < rounds; round += 1) {
  for (const [name, run] of cases) results.get(name)?.push(run());
}
out(`${calls.toLocaleString('en-US')} calls a round, ${rounds} rounds (ns per call, median):`);
for (const [name, perRound] of results) {
  const shown = perRound.map((ns) => ns.toFixed(0)).join(' ');
  out(`  ${name.padEnd(26)} ${(median(perRound) ?? 0).toFixed(1)}   (rounds: ${shown})`);
}
if (sink === 0) out('(nothing written)');
