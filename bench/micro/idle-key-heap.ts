// Heap per idle stock key: stocks N keys (one adjust each, no idempotency key, no holds) spread
// over 256 partitions by the real partition hash, as a ledger's shards would hold them, and
// measures heapUsed before and after with full GCs. Target (issue 4): <= 200 bytes per key at
// 1,000,000 keys. It needs `global.gc`, so it re-runs itself under `node --expose-gc` if missing.
//
//   npx tsx bench/micro/idle-key-heap.ts [--keys 1000000]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PartitionState } from '../../src/actors/index.js';
import { partitionOf } from '../../src/router/partition-hash.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const partitions = 256;
const targetBytesPerKey = 200;
const retention = { retainFinishedMs: 86_400_000, retainFinishedMax: 1_000_000, onHandMax: 1e12 };

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

const { values } = parseArgs({ options: { keys: { type: 'string', default: '1000000' } } });
const keyCount = Number(values.keys);

function heapUsed(collect: () => void): number {
  for (let round = 0; round < 3; round += 1) collect();
  return process.memoryUsage().heapUsed;
}

// Ids are built before the baseline: a real ledger also receives them from outside (the HTTP
// body). Stock keys made by PartitionState are then counted as the ledger's own cost.
function productIdFor(index: number): string {
  return `sku-${String(index).padStart(8, '0')}`;
}

function stock(states: PartitionState[], productIds: readonly string[]): void {
  for (const productId of productIds) {
    const warehouseId = 'wh-1';
    const state = states[partitionOf(productId, warehouseId, states.length)] as PartitionState;
    const result = state.apply(
      {
        kind: 'adjust',
        productId,
        warehouseId,
        delta: 100,
        reason: '',
        idempotencyKey: '',
        actorId: 'bench',
        traceId: '',
      },
      1_763_900_000_000,
    );
    if (!result.outcome.ok) throw new Error(`adjust failed: ${result.outcome.code}`);
  }
}

/** Heap bytes per key that `build` keeps alive (the result is held until measured). */
function bytesPerKey(collect: () => void, build: () => unknown): number {
  const before = heapUsed(collect);
  const kept = build();
  const after = heapUsed(collect);
  if (kept === undefined) throw new Error('nothing kept');
  return (after - before) / keyCount;
}

/** A pointer slot of the arrays used to hold the breakdown's pieces (64-bit, uncompressed). */
const slotBytes = 8;

function breakdown(collect: () => void, productIds: readonly string[]): void {
  const actors = bytesPerKey(collect, () => {
    const states = [new PartitionState(0, retention)];
    stock(states, productIds);
    return [...(states[0] as PartitionState).actors.values()];
  });
  const keys = bytesPerKey(collect, () => {
    const state = new PartitionState(0, retention);
    stock([state], productIds);
    const stockKeys = [...state.actors.keys()];
    state.actors.clear();
    return stockKeys;
  });
  const owned = bytesPerKey(collect, () => {
    const states = Array.from({ length: partitions }, (_, p) => new PartitionState(p, retention));
    stock(states, productIds);
    return states;
  });
  // Decoded from a request, each id is a string of its own, the warehouse id included.
  const arriving = bytesPerKey(collect, () => {
    const ids: string[] = [];
    for (let index = 0; index < keyCount; index += 1) {
      ids.push(productIdFor(index), `wh-${index % 1}`);
    }
    return ids;
  });
  // The arrays that hold the pieces cost a slot per element: removed.
  const actorBytes = actors - slotBytes;
  const keyBytes = keys - slotBytes;
  const rest = owned - actorBytes - keyBytes;
  const idBytes = arriving - 2 * slotBytes;
  out('breakdown per key (separate heaps, so +-5 bytes):');
  out(`  StockActor object (9 fields, maps unallocated): ${actorBytes.toFixed(1)}`);
  out(`  stock key string, product + NUL + warehouse (cons + flat): ${keyBytes.toFixed(1)}`);
  out(`  Map entry + partition overhead (the rest): ${rest.toFixed(1)}`);
  out(`  ids from the wire, kept by the actor (product + warehouse): ${idBytes.toFixed(1)}`);
  out(`  total with the ids counted: ${(owned + idBytes).toFixed(1)}`);
}

if (gc !== undefined) {
  const collect = (): void => gc();
  const productIds = Array.from({ length: keyCount }, (_, index) => productIdFor(index));
  const owned = bytesPerKey(collect, () => {
    const states = Array.from({ length: partitions }, (_, p) => new PartitionState(p, retention));
    stock(states, productIds);
    const total = states.reduce((sum, state) => sum + state.actors.size, 0);
    if (total !== keyCount) throw new Error(`stocked ${total} keys, expected ${keyCount}`);
    return states;
  });
  const status = owned <= targetBytesPerKey ? 'MET' : 'NOT MET';
  const keys = keyCount.toLocaleString('en-US');
  out(`node ${process.version}: ${keys} idle keys over ${partitions} partitions`);
  out(`heap per idle key, ids not counted: ${owned.toFixed(1)} bytes`);
  out(
    `target <= ${targetBytesPerKey}: ${status}, margin ${(targetBytesPerKey - owned).toFixed(1)}`,
  );
  breakdown(collect, productIds);
}
