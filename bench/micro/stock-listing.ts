// What the stock listing costs the HTTP thread's read view at 1,000,000 keys (250,000 products x
// 4 warehouses over 256 partitions and two shards): the two censuses of a start (keys sorted
// once), the heap of the ordered index beyond the view's map, a new key arriving (one insert),
// and building a page of 1,000 keys, and of one product's 4 keys, all exact. No I/O, no threads.
// It needs `global.gc` for the heap figure, so it re-runs itself under `node --expose-gc`.
//
//   npx tsx bench/micro/stock-listing.ts [--keys 1000000] [--time-ms 1000]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { partitionOf } from '../../src/router/partition-hash.js';
import { StockReadView } from '../../src/router/read-view.js';
import { SortedKeys } from '../../src/router/sorted-keys.js';
import type { StockChange } from '../../src/shards/index.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const partitions = 256;
const warehouses = 4;

const gc = globalThis.gc;
if (gc === undefined) {
  const script = fileURLToPath(import.meta.url);
  const child = spawnSync(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', script, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  process.exit(child.status ?? 1);
}

const { values } = parseArgs({
  options: {
    keys: { type: 'string', default: '1000000' },
    'time-ms': { type: 'string', default: '1000' },
  },
});
const keyCount = Number(values.keys);
const timeMs = Number(values['time-ms']);

function heapUsed(): number {
  for (let round = 0; round < 3; round += 1) gc?.();
  return process.memoryUsage().heapUsed;
}

// Each shard's census, as the two shards of a start send them (keys in no particular order).
const censuses: StockChange[][] = [[], []];
for (let index = 0; index < keyCount; index += 1) {
  // A multiplicative scramble: products do not arrive in order.
  const product = `sku-${String((index * 7_919) % (keyCount / warehouses)).padStart(8, '0')}`;
  const change: StockChange = [product, `wh-${index % warehouses}`, 100, 0, 1];
  censuses[partitionOf(product, partitions) % 2]?.push(change);
}

const view = new StockReadView(partitions);
const everyPartition = Array.from({ length: partitions }, (_, partition) => partition);
for (const [shard, census] of censuses.entries()) {
  const startedMs = performance.now();
  const mine = everyPartition.filter((partition) => partition % 2 === shard);
  view.load(mine, census, Number.POSITIVE_INFINITY);
  const durationMs = performance.now() - startedMs;
  out(`census of shard ${shard} (${census.length} keys): ${durationMs.toFixed(0)} ms`);
}

// The index alone, over the same key strings (the view's map holds them already).
const keys = censuses.flat().map(([product, warehouse]) => `${product}\u0000${warehouse}`);
const heapBefore = heapUsed();
const index = new SortedKeys();
index.addAll(keys);
const indexBytes = heapUsed() - heapBefore;
out(`ordered index heap: ${(indexBytes / keyCount).toFixed(1)} bytes per key (${index.size} keys)`);

let fresh = 0;
let sink = 0;
const bench = new Bench({ time: timeMs, warmupTime: Math.min(timeMs, 500) });
bench
  .add('a new key arrives (apply of one unknown key)', () => {
    fresh += 1;
    view.apply([[`new-${String(fresh).padStart(9, '0')}`, 'wh-0', 1, 0, 1]]);
  })
  .add('a page of 1000 keys from a cursor, all exact', () => {
    const after = { productId: `sku-${String(fresh % 200_000).padStart(8, '0')}`, warehouseId: '' };
    const page = view.page({ productId: undefined, after, limit: 1000 }, 0);
    sink ^= page === 'not-loaded' ? 0 : page.entries.length;
  })
  .add("a page of one product's keys", () => {
    const productId = `sku-${String(fresh % 200_000).padStart(8, '0')}`;
    const page = view.page({ productId, after: undefined, limit: 100 }, 0);
    sink ^= page === 'not-loaded' ? 0 : page.entries.length;
  });
await bench.run();
for (const task of bench.tasks) {
  const result = task.result;
  if (result.state !== 'completed') {
    out(`${task.name}: ${result.state}`);
    process.exitCode = 1;
    continue;
  }
  const { mean, p99 } = result.latency;
  out(`${task.name}: mean ${(mean * 1000).toFixed(1)} us, p99 ${(p99 * 1000).toFixed(1)} us`);
}
// Keeps the pages' work from being optimized away.
if (sink === Number.MIN_SAFE_INTEGER) out('');
