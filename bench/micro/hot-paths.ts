// Micro-benchmarks of the ledger's hot pieces, one tinybench task each, run in this thread with
// no I/O: the partition hash, reservation id mint/parse, the journal record codec, the router ->
// shard batch codec (32 requests; and 8, against the same 8 with their shapes defined in the
// message, as before the batches shared them), PartitionState.apply of a reserve and of a
// confirm on one hot stock key, a reserve's answer counted in the metrics (prom-client's
// labelled counter and histogram, as the HTTP thread did it, against the TalliedHistogram series
// it uses now), a reserve's answer rendered (renderOutcome, against the object literal
// stringified as it was before), and a hold's own copy of an idempotency key decoded as a slice
// (ownText, against JSON's round trip as it was before). It prints ops/s (1 / mean), mean and p99
// per call in nanoseconds.
//
//   npx tsx bench/micro/hot-paths.ts [--time-ms 1000]
import { parseArgs } from 'node:util';
import { Packr } from 'msgpackr';
import { Bench, type Task } from 'tinybench';
import {
  PartitionState,
  type ReservationView,
  type ReserveCommand,
  type ReservedRecord,
  type StockRecord,
} from '../../src/actors/index.js';
import { ownText } from '../../src/actors/own-text.js';
import { renderOutcome } from '../../src/http/reply-render.js';
import { isoTime } from '../../src/iso-time.js';
import { decodeRecord, encodeRecord } from '../../src/persistence/record-codec.js';
import { partitionOf } from '../../src/router/partition-hash.js';
import { mintReservationId, reservationPartition } from '../../src/router/reservation-id.js';
import { decodeRequests, encodeBatch, type ShardRequest } from '../../src/shards/protocol.js';
import client from 'prom-client';
import { TalliedHistogram } from '../../src/observability/tallied-histogram.js';
import { stockAdjust } from '../lib/stock-adjust.js';
import { benchHoldId, benchReserve } from '../lib/hold-ids.js';
import { aDayRetained } from '../lib/retention.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
/** The ledger's default partition count. */
const partitions = 256;
/** Requests per router -> shard batch in the batch codec tasks. */
const batchRequests = 32;
/** Distinct stock keys the hash task cycles through, so it is not one cached string. */
const hashKeys = 4096;
/** The hot key is restocked by this much whenever it runs dry (the adjust maximum). */
const restockDelta = 1_000_000_000;
// Retention like the ledger's defaults (a day, a million finished entries per partition), so the
// confirm task also pays for the finished queue and its pruning once it is full.
const retention = aDayRetained;

const { values } = parseArgs({ options: { 'time-ms': { type: 'string', default: '1000' } } });
const timeMs = Number(values['time-ms']);

const productIds = Array.from({ length: hashKeys }, (_, index) => `sku-${index + 100_000}`);
const reservedRecord: ReservedRecord = {
  type: 'reserved',
  productId: 'sku-100042',
  warehouseId: 'wh-berlin-1',
  version: 123_456,
  atMs: 1_763_900_000_000,
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  reservationId: mintReservationId(17),
  quantity: 1,
  expiresAtMs: 1_763_900_600_000,
  idempotencyKey: 'checkout-7f3a9c2e-1b44-4c1e-9a57-0d2f6c8e1a90',
  requesterId: 'user-8812734',
};
const encodedRecord = encodeRecord(reservedRecord);
const sampleId = mintReservationId(200);

function reserveCommand(sequence: number): ReserveCommand {
  return benchReserve('hot-sku', `idem-${sequence}`, benchHoldId(sequence), {
    requesterId: 'user-1',
  });
}

const batch: ShardRequest[] = Array.from({ length: batchRequests }, (_, index) => ({
  id: 1_000_000 + index,
  partition: index % partitions,
  command: reserveCommand(index),
}));
const encodedBatch = encodeBatch(batch);
/** Requests per message to the hot shard under the hot-SKU load (bench/README.md): about 8. */
const smallBatch = 8;
const encodedSmallBatch = encodeBatch(batch.slice(0, smallBatch));
/** The batches as they were before protocol.ts's shared shapes: each defines its shapes. */
const eachMessageShapes = new Packr({ useRecords: true, moreTypes: false });
const smallBatchDefined = new Uint8Array(eachMessageShapes.pack(batch.slice(0, smallBatch)));

/** A reserve's answer as the shard sends it: a plain pending hold; each render a new time. */
const reservation: ReservationView = {
  reservationId: benchHoldId(7),
  status: 'PENDING',
  productId: 'hot-sku',
  warehouseId: 'wh-1',
  quantity: 1,
  expiresAtMs: 1_763_900_600_000,
  createdAtMs: 1_763_900_000_000,
};
/** The same body as it was rendered before: a literal of its fields, stringified. */
function reservationLiteralJson(view: ReservationView): string {
  return JSON.stringify({
    reservation_id: view.reservationId,
    status: view.status,
    product_id: view.productId,
    warehouse_id: view.warehouseId,
    quantity: view.quantity,
    expires_at: isoTime(view.expiresAtMs),
    created_at: isoTime(view.createdAtMs),
  });
}

/** Idempotency keys as msgpackr's decoder hands them out: slices of one joined string. */
const joinedKeys = Array.from(
  { length: 1024 },
  (_, index) => `checkout-7f3a9c2e-1b44-4c1e-9a57-${String(index).padStart(12, '0')}`,
).join('');
const keySlices = Array.from({ length: 1024 }, (_, index) =>
  joinedKeys.slice(index * 46, (index + 1) * 46),
);

/** One partition with one hot key; sequences give every reserve a fresh idempotency key. */
class HotKey {
  readonly state = new PartitionState(0, retention);
  sequence = 0;
  nowMs = 1_763_900_000_000;
  pendingId = '';

  restockIfDry(): void {
    const actor = this.state.actors.get('hot-sku\u0000wh-1');
    if (actor !== undefined && actor.available > 0) return;
    this.sequence += 1;
    const result = this.state.apply(stockAdjust('hot-sku', 'wh-1', restockDelta), this.nowMs);
    if (!result.outcome.ok) throw new Error(`restock failed: ${result.outcome.code}`);
  }

  reserve(): string {
    this.sequence += 1;
    this.nowMs += 1;
    const command = reserveCommand(this.sequence);
    const result = this.state.apply(command, this.nowMs);
    if (!result.outcome.ok) throw new Error(`reserve failed: ${result.outcome.code}`);
    return command.reservationId;
  }

  confirm(reservationId: string): void {
    this.nowMs += 1;
    const result = this.state.apply({ kind: 'confirm', reservationId, traceId: '' }, this.nowMs);
    if (!result.outcome.ok) throw new Error(`confirm failed: ${result.outcome.code}`);
  }
}

// The reserve duration's buckets (src/observability/metrics.ts), both ways.
const durationBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.12, 0.25, 0.5, 1, 2.5];
const metricsRegistry = new client.Registry();
const promAttempts = new client.Counter({
  name: 'bench_attempts_total',
  help: 'bench',
  labelNames: ['result'],
  registers: [metricsRegistry],
}).labels('ok');
const promSeconds = new client.Histogram({
  name: 'bench_prom_seconds',
  help: 'bench',
  labelNames: ['result'],
  buckets: durationBuckets,
  registers: [metricsRegistry],
}).labels('ok');
const tallied = new TalliedHistogram({
  name: 'bench_tallied_seconds',
  help: 'bench',
  labelName: 'result',
  buckets: durationBuckets,
  registers: [metricsRegistry],
});
/** Answer times spread over the buckets, as a run's are. */
const answerSeconds = Array.from({ length: 64 }, (_, index) => 0.0002 * 1.12 ** index);

const reserving = new HotKey();
const confirming = new HotKey();
let keyIndex = 0;
let sink = 0;

const bench = new Bench({ time: timeMs, warmupTime: Math.min(timeMs, 500) });
bench
  .add('partitionOf (256 partitions)', () => {
    keyIndex = (keyIndex + 1) % hashKeys;
    sink ^= partitionOf(productIds[keyIndex] as string, partitions);
  })
  .add('mintReservationId', () => {
    sink ^= mintReservationId(keyIndex++ % partitions).length;
  })
  .add('reservationPartition (parse)', () => {
    sink ^= reservationPartition(sampleId, partitions);
  })
  .add('encodeRecord (reserved)', () => {
    sink ^= encodeRecord(reservedRecord).length;
  })
  .add('decodeRecord (reserved)', () => {
    sink ^= (decodeRecord(encodedRecord) as StockRecord).version;
  })
  .add(`encodeBatch (${batchRequests} reserve requests)`, () => {
    sink ^= encodeBatch(batch).length;
  })
  .add(`decodeRequests (${batchRequests} reserve requests)`, () => {
    sink ^= decodeRequests(encodedBatch).length;
  })
  .add(`decodeRequests (${smallBatch} reserve requests)`, () => {
    sink ^= decodeRequests(encodedSmallBatch).length;
  })
  .add(`decode (${smallBatch} reserve requests), shapes defined in each message`, () => {
    sink ^= (eachMessageShapes.unpack(smallBatchDefined) as unknown[]).length;
  })
  .add(
    'PartitionState.apply reserve (hot key)',
    () => {
      // Each hold is confirmed right after (untimed) so pending holds do not pile up.
      reserving.pendingId = reserving.reserve();
    },
    {
      beforeEach: () => reserving.restockIfDry(),
      afterEach: () => reserving.confirm(reserving.pendingId),
    },
  )
  .add('reserve metrics: prom-client labelled counter + histogram', () => {
    keyIndex = (keyIndex + 1) & 63;
    promAttempts.inc();
    promSeconds.observe(answerSeconds[keyIndex] as number);
  })
  .add("renderOutcome (a reserve's answer)", () => {
    keyIndex = (keyIndex + 1) & 1023;
    const view = { ...reservation, createdAtMs: reservation.createdAtMs + keyIndex };
    sink ^= renderOutcome({ ok: true, reservation: view, replayed: false }).body.length;
  })
  .add("a reserve's answer as a literal stringified (as before)", () => {
    keyIndex = (keyIndex + 1) & 1023;
    const view = { ...reservation, createdAtMs: reservation.createdAtMs + keyIndex };
    sink ^= reservationLiteralJson(view).length;
  })
  .add('ownText (a 46-character slice)', () => {
    keyIndex = (keyIndex + 1) & 1023;
    sink ^= ownText(keySlices[keyIndex] as string).length;
  })
  .add("the same slice copied by JSON's round trip (as before)", () => {
    keyIndex = (keyIndex + 1) & 1023;
    sink ^= (JSON.parse(JSON.stringify(keySlices[keyIndex])) as string).length;
  })
  .add('reserve metrics: TalliedHistogram series', () => {
    keyIndex = (keyIndex + 1) & 63;
    tallied.series('ok').observe(answerSeconds[keyIndex] as number);
  })
  .add(
    'PartitionState.apply confirm (hot key)',
    () => {
      confirming.confirm(confirming.pendingId);
    },
    {
      beforeEach: () => {
        confirming.restockIfDry();
        confirming.pendingId = confirming.reserve();
      },
    },
  );

bench.runSync();

const nanosecondsPerMs = 1e6;
const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
const number = (value: number): string => Math.round(value).toLocaleString('en-US');

function describe(task: Task): string[] {
  const result = task.result;
  if (result.state !== 'completed') return [task.name, result.state, '', '', ''];
  return [
    task.name,
    // 1 / mean latency: tinybench's throughput.mean averages 1/sample, which overstates it.
    number(1000 / result.latency.mean),
    number(result.latency.mean * nanosecondsPerMs),
    number(result.latency.p99 * nanosecondsPerMs),
    number(task.runs),
  ];
}

out(`node ${process.version}, ${timeMs} ms per task (sink ${sink & 1})`);
out(row(['task', 'ops/s', 'mean ns', 'p99 ns', 'samples']));
out(row(['---', '---:', '---:', '---:', '---:']));
for (const task of bench.tasks) out(row(describe(task)));
const failed = bench.tasks.filter((task) => task.result.state !== 'completed');
for (const task of failed) {
  const result = task.result;
  if (result.state === 'errored') out(`${task.name}: ${result.error.message}`);
}
if (failed.length > 0) process.exitCode = 1;
