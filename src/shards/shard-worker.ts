// Worker-thread entry of one shard: wires the Shard to Postgres, its port and its metrics.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import client from 'prom-client';
import { InvariantError, merged } from '../actors/index.js';
import { systemClock } from '../clock.js';
import { expiriesPerSweepMax, journalCheckMs } from '../limits.js';
import { threadCpuMs } from '../observability/thread-cpu.js';
import { startTimeline } from '../observability/timeline.js';
import { JournalStore, SnapshotThread, type JournalConnection } from '../persistence/index.js';
import {
  decodeRequests,
  encodeBatch,
  encodeCensus,
  type CommitTiming,
  type DurableChanges,
  type FromShard,
  type ShardWorkerData,
  type ToShard,
} from './protocol.js';
import { Shard } from './shard.js';
import { ShardTimeline } from './shard-timeline.js';

const data = workerData as ShardWorkerData;
if (parentPort === null) throw new Error('shard-worker must run in a worker thread');
const port: MessagePort = parentPort;

/** Durable changes told and not yet sent: they go with the next replies (see `durableChanges`). */
let changesToTell: DurableChanges | undefined;

function tellAlone(): void {
  if (changesToTell === undefined) return;
  const changes = changesToTell;
  changesToTell = undefined;
  port.postMessage({ kind: 'durable', changes } satisfies FromShard);
}

/** Any message to the host: durable changes told before it leave before it. */
const post = (message: FromShard): void => {
  tellAlone();
  port.postMessage(message);
};

/** What this thread did, on the common clock (LEDGER_TIMELINE_FILE); undefined when off. */
const threadTimeline = startTimeline(data.timelineFile, `shard-${data.shard}`);
const timeline = threadTimeline === undefined ? undefined : new ShardTimeline(threadTimeline);

const registry = new client.Registry();
const flushSeconds = new client.Histogram({
  name: 'ledger_journal_flush_duration_seconds',
  help: 'Duration of one group-commit write to the journal',
  buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  registers: [registry],
});
const batchSize = new client.Histogram({
  name: 'ledger_journal_batch_size',
  help: 'Records written per group commit',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192],
  registers: [registry],
});

// Snapshots are captured and encoded a slice at a time between turns: how long the longest slice
// of each stopped the shard, and how many slices they took.
const snapshotLongestSlice = new client.Histogram({
  name: 'ledger_snapshot_longest_slice_seconds',
  help: "The longest slice of each snapshot: the most it stopped its shard's mailbox at once",
  buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25],
  registers: [registry],
});
const snapshotSlices = new client.Counter({
  name: 'ledger_snapshot_slices_total',
  help: 'Slices snapshots were captured and encoded in (between the shard turns)',
  registers: [registry],
});

// Read when scraped: the shard's own counts, no work on the hot path.
new client.Gauge({
  name: 'ledger_cart_holds_in_doubt',
  help: 'Cart holds prepared, or pinned by a cart confirm, whose decision is not yet known here',
  registers: [registry],
  collect() {
    this.set(shard.cartHoldsInDoubt);
  },
});
new client.Counter({
  name: 'inventory_cart_allocation_splits_total',
  help: 'Cart lines without a warehouse that allocation split over several warehouses',
  registers: [registry],
  collect() {
    this.reset();
    this.inc(shard.allocationSplits);
  },
});

new client.Counter({
  name: 'inventory_lot_units_written_off_total',
  help: 'Units of lots written off when their expires_on day ended (durable write-offs)',
  registers: [registry],
  collect() {
    this.reset();
    this.inc(shard.lotUnitsWrittenOff);
  },
});

function connect(): Promise<JournalConnection> {
  return JournalStore.connect(data.databaseUrl, {
    onError: (error) => log('warn', `journal connection error: ${error.message}`),
    ...(data.cluster === undefined ? {} : { fence: { node: data.cluster.node } }),
  });
}

function log(level: 'info' | 'warn' | 'error', message: string): void {
  // The main thread's logger owns stdout; shards send it one JSON line via stderr for now.
  if (data.logLevel === 'silent') return;
  process.stderr.write(
    `${JSON.stringify({ level, shard: data.shard, msg: message, time: Date.now() })}\n`,
  );
}

/**
 * An assertion or a bug: tell the host what broke (a stock invariant counts as an oversell
 * incident), then let the thread die; the host restarts it and it recovers from the journal.
 */
function die(error: unknown): void {
  const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
  post({ kind: 'fatal', message, invariant: error instanceof InvariantError });
  setImmediate(() => {
    throw error;
  });
}

/** Runs a timer's work; an assertion thrown there kills the thread the same reported way. */
function guarded(task: () => unknown): () => void {
  return () => {
    try {
      const result = task();
      if (result instanceof Promise) result.catch(die);
    } catch (error) {
      die(error);
    }
  };
}

/**
 * The snapshot thread made ahead, once the shard is ready, for its first snapshot to take: a
 * thread's start (an isolate, its modules, their compiling) costs about 0.3 s of a core, which a
 * thread made at the first snapshot spent in the middle of the load that filled the journal (a
 * sale's first minutes; bench/README.md, "Naming the JavaScript frames by the code that ran").
 * Later ones (after a failed write) are made when needed.
 */
let snapshotThreadAhead: SnapshotThread | undefined;
/** A snapshot thread was made (ahead, or by a snapshot), or the shard is stopping: none ahead. */
let noThreadAhead = false;

function snapshotThread(): SnapshotThread {
  const thread = snapshotThreadAhead ?? new SnapshotThread(data.databaseUrl);
  snapshotThreadAhead = undefined;
  noThreadAhead = true;
  return thread;
}

/** The group commit that ended last, kept only while tracing is on. */
let lastCommit: CommitTiming | undefined;

const shard = new Shard(
  {
    shard: data.shard,
    // In a cluster the shard starts empty and adopts its leases once started.
    partitions: data.cluster === undefined ? data.partitions : [],
    partitionsMove: data.cluster !== undefined,
    partitionCount: data.partitionCount,
    retention: data.retention,
    walBatchRecordsMax: data.walBatchRecordsMax,
    commitsInFlight: data.commitsInFlight,
    snapshotEveryRecords: data.snapshotEveryRecords,
    expiriesPerSweepMax,
    inflightMax: data.inflightMax,
  },
  {
    connect,
    // Snapshots are written from a thread of their own: sending a large row costs its thread
    // tens of ms (snapshot-thread.ts).
    connectSnapshots: () => {
      const thread = snapshotThread();
      return Promise.resolve(timeline === undefined ? thread : timeline.snapshotWrites(thread));
    },
    clock: systemClock,
    send: (replies) => {
      timeline?.replies(replies.length);
      const payload = encodeBatch(replies);
      const changes = changesToTell;
      changesToTell = undefined;
      const message: FromShard =
        changes === undefined
          ? { kind: 'replies', payload }
          : { kind: 'replies', payload, changes };
      port.postMessage(message, [payload.buffer as ArrayBuffer]);
    },
    log,
    snapshotted: (stats) => {
      const { longestSliceMs, slices } = stats;
      snapshotLongestSlice.observe(longestSliceMs / 1000);
      snapshotSlices.inc(slices);
      timeline?.snapshot(stats);
    },
    durableChanges: (changes) => {
      // A commit tells its changes, then sends the replies it released: they leave together,
      // or the changes alone at the end of this task when no reply follows.
      tellAlone();
      changesToTell = changes;
      queueMicrotask(tellAlone);
    },
    census: (partitions, stock, readableUntilMs) => {
      tellAlone();
      const payload = encodeCensus(stock);
      const message = { kind: 'census', partitions, payload, readableUntilMs } as const;
      port.postMessage(message satisfies FromShard, [payload.buffer as ArrayBuffer]);
    },
    flushed: (rows, durationMs) => {
      flushSeconds.observe(durationMs / 1000);
      batchSize.observe(rows);
      timeline?.flushed(rows, durationMs);
      if (data.traceCommits) {
        // Epoch time with the monotonic clock's precision, comparable across threads.
        const endedMs = performance.timeOrigin + performance.now();
        lastCommit = [endedMs - durationMs, endedMs, rows];
      }
    },
    lastCommit: data.traceCommits ? () => lastCommit : undefined,
  },
);

const sweepTimer = setInterval(
  guarded(() => (timeline === undefined ? shard.sweep(Date.now()) : timeline.sweep(shard))),
  data.expirySweepMs,
);
// Checks the journal connection even when nobody asks (no probe, no writes), so a connection the
// server dropped while idle is replaced before the next request needs it.
const journalCheckTimer = setInterval(
  guarded(() => shard.journalWritable()),
  journalCheckMs,
);

async function onMessage(message: ToShard): Promise<void> {
  switch (message.kind) {
    case 'requests':
      shard.handle(decodeRequests(message.payload));
      return;
    case 'ping':
      post({ kind: 'pong', id: message.id, journalWritable: await shard.journalWritable() });
      return;
    case 'metrics':
      post({ kind: 'metrics', id: message.id, metrics: await registry.getMetricsAsJSON() });
      return;
    case 'snapshot':
      post({ kind: 'snapshot-done', id: message.id, partitions: await shard.snapshotAll() });
      return;
    case 'in-doubt':
      post({ kind: 'in-doubt', id: message.id, carts: shard.cartsInDoubt(Date.now()) });
      return;
    case 'adopt':
      await started;
      post({
        kind: 'adopted',
        id: message.id,
        recovery: await shard.adopt(new Map(message.leases)),
      });
      return;
    case 'drop':
      await started;
      await shard.drop(message.partitions, message.handOver);
      post({ kind: 'dropped', id: message.id });
      return;
    case 'stop':
      clearInterval(sweepTimer);
      clearInterval(journalCheckTimer);
      // A stop during the recovery: no thread is made ahead once it ends (it would keep this one).
      noThreadAhead = true;
      await shard.stop();
      await snapshotThreadAhead?.close();
      snapshotThreadAhead = undefined;
      timeline?.stop();
      post({ kind: 'stopped' });
      port.close();
      return;
  }
}

port.on('message', (message: ToShard) => {
  onMessage(message).catch(die);
});
// A reload that meets an assertion rejects with nobody awaiting it yet: the same death.
process.on('unhandledRejection', die);

/** Started, and (in a cluster) the leases it was spawned with adopted. */
const started = shard.start().then(async (recovery) => {
  const leases = data.cluster?.leases ?? [];
  return leases.length === 0 ? recovery : await shard.adopt(new Map(leases));
});
started.then((recovery) => {
  // The thread's whole CPU so far: its boot and module loading, then the recovery.
  const cpuMs = threadCpuMs();
  post({ kind: 'ready', recovery: cpuMs === undefined ? recovery : merged(recovery, { cpuMs }) });
  // After the recovery (which it would slow down), unless the recovery's snapshot made one.
  if (!noThreadAhead) {
    snapshotThreadAhead = new SnapshotThread(data.databaseUrl);
    noThreadAhead = true;
  }
}, die);
