// Heap per pending hold, as a shard keeps it: reserves of one hot key arrive in batches the way
// the router sends them (`encodeBatch` on one side, `decodeRequests` on the shard's: msgpackr with
// its native string extraction, as in the ledger), and each is applied to the partition
// (PartitionState.apply) and put on the shard's expiry schedule (ExpirySchedule). After `--holds`
// pending holds, full GCs, and the heap they keep is divided by their number (and the array
// buffers: a pending hold's columns in the partition's store, pending-holds.ts); the same for a
// baseline batch of plain JavaScript strings made in process (`--from js`): the difference is
// what the wire's strings cost beyond their text. Each round runs in a process of its own (it
// needs `global.gc`, so it re-runs itself under `node --expose-gc`); the rounds alternate the two.
//
// It also times a full garbage collection with those holds alive (the median of 7): what marking
// the old generation costs grows with the objects a hold is made of, and a shard pays that cost
// in steps while it serves. A pending hold is no object in the store, nor in the expiry schedule
// (its slot and serial there: numbers).
//
// Then (unless --no-finished) every hold is confirmed and the expiry schedule dropped, so
// the partition keeps the same holds as finished ones, in the columns of retained-holds.ts (typed
// arrays, an arena of code units, hash tables of their own: no object per hold), and the same is
// measured again: the JavaScript heap per hold, the array buffers' bytes per hold, and a full GC.
//
// Every reserve carries what a checkout's does: a fresh UUID idempotency key, an id minted as
// the router mints it, a 32-character trace id, and a requester (the JWT subject) of
// `--requester` (default a 22-character service name).
//
//   npx tsx bench/micro/pending-hold-heap.ts [--holds 300000] [--batch 64] [--rounds 3]
//     [--no-finished]
import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PartitionState, type ReserveCommand } from '../../src/actors/index.js';
import { mintReservationId } from '../../src/router/reservation-id.js';
import { ExpirySchedule } from '../../src/shards/expiry-schedule.js';
import { decodeRequests, encodeBatch, type ShardRequest } from '../../src/shards/protocol.js';
import { integerFlag } from '../lib/args.js';
import { machineInfo } from '../lib/machine.js';
import { median } from '../lib/report.js';
import { stockAdjust } from '../lib/stock-adjust.js';
import { aDayRetained } from '../lib/retention.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);

const { values } = parseArgs({
  options: {
    holds: { type: 'string' },
    batch: { type: 'string' },
    rounds: { type: 'string' },
    requester: { type: 'string', default: 'checkout-service-prod-7' },
    from: { type: 'string' },
    'no-finished': { type: 'boolean', default: false },
  },
});
const finished = values['no-finished'] !== true;
const holds = integerFlag(
  'holds',
  { defaultValue: 300_000, min: 1, max: 10_000_000 },
  values.holds,
);
const batchSize = integerFlag('batch', { defaultValue: 64, min: 1, max: 10_000 }, values.batch);
const rounds = integerFlag('rounds', { defaultValue: 3, min: 1, max: 100 }, values.rounds);
const froms = ['wire', 'js'] as const;
type From = (typeof froms)[number];

const retention = aDayRetained;
const partition = 7;
const nowMs = 1_763_900_000_000;

function reserve(index: number): ShardRequest {
  const command: ReserveCommand = {
    kind: 'reserve',
    productId: 'hot-sku',
    warehouseId: 'bench-wh',
    quantity: 1,
    idempotencyKey: randomUUID(),
    ttlSeconds: 3600,
    reservationId: mintReservationId(partition),
    requesterId: `${values.requester}`,
    traceId: randomBytes(16).toString('hex'),
  };
  return { id: index, partition, command };
}

/** What one round measured. */
interface Round {
  readonly bytesPerHold: number;
  /** Array buffers (the store's columns) kept per pending hold, against before. */
  readonly bufferBytesPerHold: number;
  /** A full GC with the holds alive, median of `gcTimings`. */
  readonly gcMs: number;
  /** The same holds confirmed, as the partition retains them (absent with --no-finished). */
  readonly finished?: FinishedRound;
}

interface FinishedRound {
  /** The JavaScript heap kept per hold, against the heap before the holds were made. */
  readonly heapBytesPerHold: number;
  /** Array buffers (outside the collected heap) kept per hold, against before. */
  readonly bufferBytesPerHold: number;
  readonly gcMs: number;
}

const gcTimings = 7;

/** The heap after full GCs. */
function heapAfterGc(gc: () => void): number {
  for (let round = 0; round < 3; round += 1) gc();
  return process.memoryUsage().heapUsed;
}

/** One round in this process. */
function measure(from: From, gc: () => void): Round {
  const state = new PartitionState(partition, retention);
  const stocked = state.apply(stockAdjust('hot-sku', 'bench-wh', holds), nowMs);
  if (!stocked.outcome.ok) throw new Error('stocking failed');
  const before = heapAfterGc(gc);
  const buffersBefore = process.memoryUsage().arrayBuffers;
  const pending = measurePending(state, from, gc, before, buffersBefore);
  if (!finished) return pending;
  // The expiry schedule is gone with `measurePending`: a finished hold is off it, as the shard's
  // sweep finds.
  for (const reservationId of Array.from(state.pending.ids())) {
    const command = { kind: 'confirm', reservationId, traceId: '' } as const;
    if (!state.apply(command, nowMs).outcome.ok) throw new Error(`confirm of ${reservationId}`);
  }
  if (state.finishedCount !== holds || state.holdCount !== holds) {
    throw new Error(`${state.finishedCount} finished of ${state.holdCount}, not ${holds}`);
  }
  const heapAfter = heapAfterGc(gc);
  return {
    ...pending,
    finished: {
      heapBytesPerHold: (heapAfter - before) / holds,
      bufferBytesPerHold: (process.memoryUsage().arrayBuffers - buffersBefore) / holds,
      gcMs: fullGcMs(gc),
    },
  };
}

/** Makes the pending holds, each on an expiry schedule of its own here, and measures them. */
function measurePending(
  state: PartitionState,
  from: From,
  gc: () => void,
  before: number,
  buffersBefore: number,
): Omit<Round, 'finished'> {
  const schedule = new ExpirySchedule();
  for (let first = 0; first < holds; first += batchSize) {
    const batch: ShardRequest[] = [];
    for (let index = first; index < Math.min(holds, first + batchSize); index += 1) {
      batch.push(reserve(index));
    }
    const requests = from === 'wire' ? decodeRequests(encodeBatch(batch)) : batch;
    for (const request of requests) {
      const result = state.apply(request.command, nowMs);
      if (!result.outcome.ok) throw new Error(`reserve refused: ${JSON.stringify(result.outcome)}`);
      if (result.record?.type === 'reserved') {
        // As the shard schedules it: by its slot and serial in the partition's store.
        const slot = state.holdSlot(result.record.reservationId);
        schedule.schedule(partition, state.holdSerial(slot), result.record.expiresAtMs, slot);
      }
    }
  }
  const after = heapAfterGc(gc);
  if (state.holdCount !== holds) throw new Error(`${state.holdCount} holds, not ${holds}`);
  if (schedule.size !== holds) throw new Error(`${schedule.size} scheduled, not ${holds}`);
  return {
    bytesPerHold: (after - before) / holds,
    bufferBytesPerHold: (process.memoryUsage().arrayBuffers - buffersBefore) / holds,
    gcMs: fullGcMs(gc),
  };
}

/** A full GC, the median of `gcTimings`. */
function fullGcMs(gc: () => void): number {
  const timings: number[] = [];
  for (let round = 0; round < gcTimings; round += 1) {
    const startedMs = performance.now();
    gc();
    timings.push(performance.now() - startedMs);
  }
  return median(timings) ?? 0;
}

const gc = globalThis.gc;
if (values.from !== undefined) {
  if (gc === undefined) throw new Error('a round needs --expose-gc');
  const from = froms.find((known) => known === values.from);
  if (from === undefined) throw new Error(`--from is wire or js, got ${values.from}`);
  out(JSON.stringify(measure(from, () => gc())));
} else {
  const machine = machineInfo();
  out(
    `${machine.cpuCount} × ${machine.cpuModel}, Node ${machine.nodeVersion}; ${holds} pending ` +
      `holds of one key, batches of ${batchSize}, requester ${JSON.stringify(values.requester)}`,
  );
  const script = fileURLToPath(import.meta.url);
  const results = new Map<From, Round[]>(froms.map((from) => [from, []]));
  for (let round = 0; round < rounds; round += 1) {
    const order = round % 2 === 0 ? froms : [...froms].reverse();
    for (const from of order) {
      const child = spawnSync(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', script, ...process.argv.slice(2), '--from', from],
        { encoding: 'utf8' },
      );
      if (child.status !== 0) throw new Error(`round failed: ${child.stderr}`);
      const result = JSON.parse(child.stdout.trim()) as Round;
      results.get(from)?.push(result);
      out(
        `  round ${round + 1}, strings from ${from}: ${result.bytesPerHold.toFixed(0)} heap and ` +
          `${result.bufferBytesPerHold.toFixed(0)} array buffer bytes per pending hold, full GC ` +
          `${result.gcMs.toFixed(1)} ms` +
          (result.finished === undefined ? '' : `; ${finishedText(result.finished)}`),
      );
    }
  }
  const listed = (values: readonly number[], digits: number): string =>
    `median ${(median(values) ?? 0).toFixed(digits)} (${values.map((value) => value.toFixed(digits)).join(', ')})`;
  for (const [from, measured] of results) {
    const bytes = measured.map((result) => result.bytesPerHold);
    const buffers = measured.map((result) => result.bufferBytesPerHold);
    const gcMs = measured.map((result) => result.gcMs);
    out(
      `strings from ${from}: pending, heap bytes per hold ${listed(bytes, 0)}, array buffer ` +
        `bytes per hold ${listed(buffers, 0)}, full GC ms ${listed(gcMs, 1)}`,
    );
    const done = measured.flatMap((result) =>
      result.finished === undefined ? [] : [result.finished],
    );
    if (done.length === 0) continue;
    const heapBytes = listed(
      done.map((round) => round.heapBytesPerHold),
      0,
    );
    const bufferBytes = listed(
      done.map((round) => round.bufferBytesPerHold),
      0,
    );
    const finishedGcMs = listed(
      done.map((round) => round.gcMs),
      1,
    );
    out(
      `strings from ${from}: finished (columns), heap bytes per hold ${heapBytes}, array ` +
        `buffer bytes per hold ${bufferBytes}, full GC ms ${finishedGcMs}`,
    );
  }
}

function finishedText(round: FinishedRound): string {
  return (
    `confirmed: ${round.heapBytesPerHold.toFixed(0)} heap bytes and ` +
    `${round.bufferBytesPerHold.toFixed(0)} array buffer bytes per hold, full GC ` +
    `${round.gcMs.toFixed(1)} ms`
  );
}
