// What a key's small tables cost as the key comes and goes: a key with a hold or two makes its
// hold tables (split maps, src/actors/split-map.ts) at its first hold and drops them at its last.
// Each figure is ns per step, the median of the rounds:
// - `Int32Array(20)`: making the index a table of 8 had (2 * 8 + 8 / 2 elements);
// - `new map, set, delete`: a split map made, one hold set and deleted, the map dropped;
// - `set, delete`: the same on a map kept from step to step.
// Ids come from a pool made before the loops (a hold's id is made elsewhere).
//
//   npx tsx bench/micro/small-tables.ts [--rounds 5] [--steps 1000000]
import { SplitMap } from '../../src/actors/split-map.js';
import { parseIntegerFlags } from '../lib/args.js';
import { median } from '../lib/report.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);

const { rounds, steps } = parseIntegerFlags({
  rounds: { defaultValue: 5, min: 1, max: 100 },
  steps: { defaultValue: 1_000_000, min: 1, max: 100_000_000 },
});

const ids = Array.from(
  { length: 1024 },
  (_, index) => `0007${index.toString(16).padStart(4, '0')}-5e1d-8a3b-9c2f-4d6e8f0a1b2c`,
);

const cases: Record<string, () => number> = {
  'Int32Array(20)': () => {
    let checksum = 0;
    for (let step = 0; step < steps; step += 1) checksum += new Int32Array(20).length;
    return checksum;
  },
  'new map, set, delete': () => {
    let checksum = 0;
    for (let step = 0; step < steps; step += 1) {
      const id = ids[step & 1023] as string;
      const map = new SplitMap<number>();
      map.set(id, step);
      checksum += map.size;
      map.delete(id);
    }
    return checksum;
  },
  'set, delete': () => {
    let checksum = 0;
    const map = new SplitMap<number>();
    for (let step = 0; step < steps; step += 1) {
      const id = ids[step & 1023] as string;
      map.set(id, step);
      checksum += map.size;
      map.delete(id);
    }
    return checksum;
  },
};

const times = new Map<string, number[]>(Object.keys(cases).map((name) => [name, []]));
for (let round = 0; round < rounds; round += 1) {
  for (const [name, run] of Object.entries(cases)) {
    const startedMs = performance.now();
    if (run() !== steps && name !== 'Int32Array(20)') throw new Error(`${name}: wrong size`);
    times.get(name)?.push(((performance.now() - startedMs) * 1e6) / steps);
  }
}
out(`node ${process.version}, ${steps} steps, ${rounds} rounds (ns per step, median; every round)`);
for (const [name, each] of times) {
  out(
    `  ${name.padEnd(22)} ${(median(each) ?? Number.NaN).toFixed(0).padStart(6)}   (${each.map((ns) => ns.toFixed(0)).join(', ')})`,
  );
}
