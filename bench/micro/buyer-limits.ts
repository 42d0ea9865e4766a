// What purchase limits cost a product's shard: the heap taken by N buyers each holding one unit
// of one limited product (the holds themselves, counted toward the limit, with their buyer
// entries), measured as the heap after a full GC minus the heap of the same holds made without a
// buyer, so the figure is what the limit adds. Also the time of one limit check against them.
//
//   node --expose-gc --import tsx bench/micro/buyer-limits.ts [--buyers 1000000]
import { parseArgs } from 'node:util';
import { PartitionState, type Command } from '../../src/actors/index.js';
import { mintReservationId } from '../../src/router/reservation-id.js';
import { machineInfo } from '../lib/machine.js';
import { stockAdjust } from '../lib/stock-adjust.js';

const { values } = parseArgs({ options: { buyers: { type: 'string', default: '1000000' } } });
const buyers = Number(values.buyers);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc --import tsx');
const retention = {
  retainFinishedMs: 86_400_000,
  retainFinishedMax: 10_000_000,
  onHandMax: 1e12,
  buyersPerProductMax: buyers,
};
const t0 = Date.UTC(2026, 11, 2);

function heapAfterGc(): number {
  (gc as () => void)();
  (gc as () => void)();
  return process.memoryUsage().heapUsed;
}

/** One partition, one product (limited to 5 per buyer), N holds of one unit each. */
function fill(withBuyers: boolean): { state: PartitionState; heapBytes: number } {
  const before = heapAfterGc();
  const state = new PartitionState(0, retention);
  const adjust: Command = stockAdjust('limited-sku', 'wh-1', buyers);
  state.apply(adjust, t0);
  const limit: Command = {
    kind: 'put-settings',
    productId: 'limited-sku',
    changes: { maxPerBuyer: 5 },
    actorId: '',
    traceId: '',
  };
  state.apply(limit, t0);
  for (let index = 0; index < buyers; index += 1) {
    const command: Command = {
      kind: 'reserve',
      productId: 'limited-sku',
      warehouseId: 'wh-1',
      quantity: 1,
      idempotencyKey: `key-${index.toString().padStart(12, '0')}`,
      ttlSeconds: 3600,
      reservationId: mintReservationId(0),
      requesterId: '',
      traceId: '',
      ...(withBuyers ? { buyerId: `buyer-${index.toString().padStart(10, '0')}` } : {}),
    };
    const outcome = state.apply(command, t0 + index).outcome;
    if (!outcome.ok) throw new Error(`reserve ${index}: ${JSON.stringify(outcome)}`);
  }
  return { state, heapBytes: heapAfterGc() - before };
}

const plain = fill(false);
const plainBytes = plain.heapBytes;
plain.state.apply({ kind: 'read-stock', productId: 'limited-sku', warehouseId: 'wh-1' }, t0);
const limited = fill(true);
const started = performance.now();
const checks = 100_000;
for (let index = 0; index < checks; index += 1) {
  const buyerId = `buyer-${((index * 7919) % buyers).toString().padStart(10, '0')}`;
  const outcome = limited.state.apply(
    {
      kind: 'reserve',
      productId: 'limited-sku',
      warehouseId: 'wh-1',
      quantity: 5,
      idempotencyKey: `check-${index}`,
      ttlSeconds: 60,
      reservationId: mintReservationId(0),
      requesterId: '',
      traceId: '',
      buyerId,
    },
    t0 + buyers + index,
  ).outcome;
  if (outcome.ok || outcome.code !== 'purchase_limit_exceeded') throw new Error('no limit');
}
const checkMicros = ((performance.now() - started) * 1000) / checks;
const added = limited.heapBytes - plainBytes;
process.stdout.write(
  `${machineLine()}\n` +
    `holds without buyers: ${(plainBytes / 2 ** 20).toFixed(0)} MiB for ${buyers} holds\n` +
    `holds with buyers:    ${(limited.heapBytes / 2 ** 20).toFixed(0)} MiB\n` +
    `the limit adds:       ${(added / 2 ** 20).toFixed(0)} MiB, ` +
    `${(added / buyers).toFixed(0)} bytes per buyer\n` +
    `one refused limit check: ${checkMicros.toFixed(2)} µs\n`,
);

function machineLine(): string {
  const machine = machineInfo();
  return `${machine.cpuCount} × ${machine.cpuModel}, Node ${machine.nodeVersion}`;
}
