// How long a shard's periodic work stops its thread at once, measured on the real Shard with a
// journal that answers at once (in memory, no I/O): an expiry storm (N holds of a hot key due
// together, swept by the expiry schedule, `expiriesPerSweepMax` per sweep), a lot write-off
// sweep (K keys whose lots all end the same day), a retention storm (a partition's finished
// holds all older than the retention when the next record lands: prune forgets them in that
// record's turn), a snapshot (in slices, for comparison), and a metrics scrape's read of the
// shard (carts in doubt).
//
//   npx tsx bench/micro/periodic-stalls.ts [--holds 150000] [--keys 10000]
import { parseArgs } from 'node:util';
import type { Clock } from '../../src/clock.js';
import { expiriesPerSweepMax } from '../../src/limits.js';
import type { JournalConnection, SnapshotWrite, WalRow } from '../../src/persistence/index.js';
import { mintReservationId } from '../../src/router/reservation-id.js';
import type { ShardRequest } from '../../src/shards/protocol.js';
import { Shard } from '../../src/shards/shard.js';
import { longestTurn } from '../lib/turn-probe.js';
import { stockAdjust } from '../lib/stock-adjust.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const { values } = parseArgs({
  options: {
    holds: { type: 'string', default: '150000' },
    keys: { type: 'string', default: '10000' },
  },
});
const holds = Number(values.holds);
const lotKeys = Number(values.keys);
const partition = 3;
const day = 86_400_000;

/** A journal that keeps nothing and answers every write at once. */
const journal: JournalConnection = {
  append: (_rows: readonly WalRow[]) => Promise.resolve(),
  writeSnapshot: (_row: SnapshotWrite) => Promise.resolve(),
  close: () => Promise.resolve(),
  latestSnapshots: () => Promise.resolve(new Map()),
  readTails: () => Promise.resolve(0),
  readAll: () => Promise.resolve(0),
  ping: () => Promise.resolve(),
  cutTail: () => Promise.resolve(0),
};

// On a machine shared with other work a task's wall time also counts the time the thread waited
// for a core: each task's CPU time (the process's) is measured too, and the longest reported.
let longestCpuMs = 0;
function timed<T>(task: () => T): T {
  const cpu = process.cpuUsage();
  try {
    return task();
  } finally {
    const used = process.cpuUsage(cpu);
    longestCpuMs = Math.max(longestCpuMs, (used.user + used.system) / 1000);
  }
}

let nowMs = Date.UTC(2026, 11, 2, 12);
const clock: Clock = {
  now: () => nowMs,
  monotonic: () => performance.now(),
  defer: (task) => void setImmediate(() => timed(task)),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 20));

let snapshotLongestMs = 0;
let snapshotSlices = 0;
const shard = new Shard(
  {
    shard: 0,
    partitions: [partition],
    // Retention as a 256-partition ledger's defaults give each partition.
    retention: { retainFinishedMs: day, retainFinishedMax: 3907, onHandMax: 1e12 },
    walBatchRecordsMax: 4096,
    snapshotEveryRecords: 1e9,
    expiriesPerSweepMax,
    inflightMax: 1e9,
  },
  {
    connect: () => Promise.resolve(journal),
    clock,
    send: () => undefined,
    log: () => undefined,
    flushed: () => undefined,
    durableChanges: () => undefined,
    census: () => undefined,
    snapshotted: ({ longestSliceMs, slices }) => {
      snapshotLongestMs = longestSliceMs;
      snapshotSlices = slices;
    },
  },
);

let requestId = 0;
function send(commands: ShardRequest['command'][]): number {
  const started = performance.now();
  const requests = commands.map((command) => ({ id: ++requestId, partition, command }));
  shard.handle(requests);
  return performance.now() - started;
}

const adjust = (productId: string, delta: number, lot?: { lotId: string; expiresOn: string }) =>
  stockAdjust(productId, 'wh-1', delta, lot);

function reserve(index: number, ttlSeconds: number) {
  return {
    kind: 'reserve',
    productId: 'hot-sku',
    warehouseId: 'wh-1',
    quantity: 1,
    ttlSeconds,
    idempotencyKey: `bench-abcdef12-0-${index.toString(36).padStart(6, '0')}`,
    reservationId: mintReservationId(partition),
    requesterId: 'bench',
    traceId: 'bench',
  } as const;
}

/**
 * The longest the thread went without running a setImmediate task while `work` ran: every
 * stop of the shard's mailbox (a sweep, its deferred rest, a group commit's completion) counts.
 */
async function longestTurnOf(work: () => Promise<void>): Promise<number> {
  longestCpuMs = 0;
  return (await longestTurn(work)).turnMs;
}

/** Sweeps (as the sweep timer does) until nothing is due; the longest turn meanwhile. */
async function sweepAll(): Promise<{ turnMs: number; sweeps: number }> {
  let sweeps = 0;
  const turnMs = await longestTurnOf(async () => {
    for (;;) {
      const swept = timed(() => shard.sweep(nowMs));
      await settle();
      if (swept === 0 && timed(() => shard.sweep(nowMs)) === 0) return;
      sweeps += 1;
    }
  });
  return { turnMs, sweeps };
}

async function main(): Promise<void> {
  await shard.start();
  send([adjust('hot-sku', 1_000_000_000)]);
  for (let index = 0; index < holds; index += 1000) {
    const batch = [];
    for (let at = index; at < Math.min(holds, index + 1000); at += 1) batch.push(reserve(at, 600));
    send(batch);
    await settle();
  }
  out(`one partition; a hot key with ${holds} pending holds, all due at once`);

  const snapshotStarted = performance.now();
  const snapshotTurn = await longestTurnOf(async () => {
    await shard.snapshotAll();
  });
  out(
    `  a snapshot (in slices): longest slice ${snapshotLongestMs.toFixed(2)} ms, ` +
      `${snapshotSlices} slices, ${(performance.now() - snapshotStarted).toFixed(0)} ms in all; ` +
      `longest turn ${snapshotTurn.toFixed(2)} ms (CPU ${longestCpuMs.toFixed(2)} ms)`,
  );

  nowMs += 600_000;
  const storm = await sweepAll();
  const stormCpu = longestCpuMs;
  out(
    `  expiry storm: ${holds} due at once, ${storm.sweeps} timer sweeps (at most ` +
      `${expiriesPerSweepMax} each, in slices); longest turn ${storm.turnMs.toFixed(2)} ms (CPU ${stormCpu.toFixed(2)} ms)`,
  );

  // The expired holds are finished entries now (up to the retention's count): a day later the
  // next record's turn forgets every one of them.
  nowMs += day + 1;
  let prune = 0;
  const pruneTurn = await longestTurnOf(async () => {
    prune = timed(() => send([adjust('hot-sku', 1)]));
    await settle();
  });
  out(
    `  retention storm: the first record a day later (prunes 3907 finished) took ${prune.toFixed(2)} ms` +
      ` (longest turn ${pruneTurn.toFixed(2)} ms, CPU ${longestCpuMs.toFixed(2)} ms)`,
  );

  // Lots: keys each with two named lots ending today, written off by the sweep.
  const expiresOn = new Date(nowMs).toISOString().slice(0, 10);
  for (let index = 0; index < lotKeys; index += 500) {
    const batch = [];
    for (let at = index; at < Math.min(lotKeys, index + 500); at += 1) {
      batch.push(adjust(`lot-sku-${at}`, 5, { lotId: 'a', expiresOn }));
      batch.push(adjust(`lot-sku-${at}`, 5, { lotId: 'b', expiresOn }));
    }
    send(batch);
    await settle();
  }
  nowMs += day;
  const lots = await sweepAll();
  out(
    `  lot write-offs: ${lotKeys} keys (two lots each), ${lots.sweeps} timer sweeps; ` +
      `longest turn ${lots.turnMs.toFixed(2)} ms (CPU ${longestCpuMs.toFixed(2)} ms)`,
  );

  const scrapeStarted = performance.now();
  void shard.cartHoldsInDoubt;
  out(
    `  a metrics scrape's read of the shard: ${(performance.now() - scrapeStarted).toFixed(3)} ms`,
  );
  await shard.stop();
}

main().catch((error: unknown) => {
  process.stderr.write(`periodic-stalls bench failed: ${String(error)}\n`);
  process.exitCode = 1;
});
