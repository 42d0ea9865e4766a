// Recovery replay speed: how many journal records a shard decodes and replays per second (issue
// 4's target: >= 1,000,000). It makes a realistic journal (bench/lib/journal-generator.ts: real
// PartitionStates driven with a mix of adjusts, reserves, confirms, releases and expiries) on
// 10,000 keys over 256 partitions, keeps each record encoded (as pg hands rows over), then times
// decodeRecord + PartitionState.replay of all of them, partition by partition as recovery does,
// into fresh states, and checks they end equal to the live ones. Reported, as medians of rounds:
// - one thread: decoding alone, replaying pre-decoded records alone, and both (what recovery does),
//   and the bytes of columns (actors/columns.ts) the stores made meanwhile: their fresh memory;
// - --threads 1,2: the partitions split over N worker threads as shards own them (partition % N),
//   each replaying its own, and the aggregate records/s from "go" until the last one is done;
// - --from-postgres: the journal written to a scratch database (bench_<random>, dropped afterwards,
//   also on failure) through the real JournalStore, then read back with its tail reads alone, and
//   read + decode + replay, on one thread as a shard's recovery does.
// - --retain none: the same bench with nothing retained (every finished hold and adjust key
//   forgotten at once, live and in replay), which measures what the retained holds cost it: the
//   ceiling of any leaner form of them. The default, day, keeps them a day (all of this journal).
// - --written-order: also, on the main thread, decode + replay with the rows in the order they were
//   written (partitions interleaved, each row replayed on its partition's state), and in pages of
//   --page-rows written rows, each page replayed partition by partition: what a cold start's one
//   pass over the WAL table does (src/shards/partition-recovery.ts; its pages of 4,000 heap blocks
//   hold about 235,000 of these rows, 58.7 a block). The rounds above replay one partition after
//   another, each start to end, which no recovery does.
// The machine may be shared: compare runs made back to back, and read the every-round figures.
//
//   npx tsx bench/micro/recovery-replay.ts [--records 1000000] [--keys 10000] [--rounds 3]
//     [--threads 1,2] [--retain day|none] [--written-order [--page-rows 235000]] [--from-postgres]
//     [--database-url postgres://postgres@127.0.0.1:5432/postgres]
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, workerData, type Worker } from 'node:worker_threads';
import pg from 'pg';
import {
  PartitionState,
  type JournalRecord,
  type RetentionPolicy,
  type StockRecord,
} from '../../src/actors/index.js';
import { JournalStore, type WalRow } from '../../src/persistence/index.js';
import { migrate } from '../../src/persistence/migrations.js';
import { columnBytesMade } from '../../src/actors/columns.js';
import { decodeRecord, decodeRecordAt } from '../../src/persistence/record-codec.js';
import { PartitionTable } from '../../src/router/partition-table.js';
import { spawnWorker } from '../../src/worker-script.js';
import { JournalGenerator } from '../lib/journal-generator.js';
import { median as medianOf } from '../lib/report.js';
import { withScratchDatabase } from '../lib/scratch-database.js';
import { aDayRetained } from '../lib/retention.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const partitions = 256;
const targetRecordsPerSecond = 1_000_000;
const retentions = {
  day: aDayRetained,
  none: { retainFinishedMs: 0, retainFinishedMax: 1, onHandMax: 1e12 },
} as const satisfies Record<string, RetentionPolicy>;
/** Rows per JournalStore.append when filling the scratch database (and per generator take). */
const appendRows = 10_000;

interface Journal {
  readonly live: PartitionState[];
  /** Encoded records per partition, in journal order. */
  readonly payloads: Buffer[][];
  readonly types: Map<string, number>;
  /** The partition of each record, in the order written. */
  readonly order: Uint16Array;
}

/**
 * One partition's records back to back, each decoded where it lies (`decodeRecordAt`), as a
 * recovery decodes the rows of the page it read: a million separate Buffers held at once would
 * only burden the GC.
 */
interface PackedPartition {
  readonly partition: number;
  readonly bytes: Buffer;
  /** End offset of each record in `bytes`. */
  readonly ends: Int32Array;
}

function pack(rows: readonly Buffer[], partition: number): PackedPartition {
  const ends = new Int32Array(rows.length);
  let end = 0;
  rows.forEach((row, index) => {
    end += row.length;
    ends[index] = end;
  });
  return { partition, bytes: Buffer.concat(rows), ends };
}

/** Where row `index` of the partition starts in its bytes (it ends at `ends[index]`). */
function rowStart(packed: PackedPartition, index: number): number {
  return index === 0 ? 0 : (packed.ends[index - 1] as number);
}

/** The record of row `index` of the partition, decoded where it lies. */
function decodeAt(packed: PackedPartition, index: number): JournalRecord {
  return decodeRecordAt(packed.bytes, rowStart(packed, index), packed.ends[index] as number);
}

/** Each row as a Buffer of its own (for writing the journal, and decoding it ahead). */
function* rowsOf(packed: PackedPartition): Generator<Buffer> {
  for (let index = 0; index < packed.ends.length; index += 1) {
    yield packed.bytes.subarray(rowStart(packed, index), packed.ends[index]);
  }
}

/**
 * What replay must rebuild: for each stock key on_hand, reserved, version and pending holds, and
 * for each partition the finished entries it retains.
 */
function summary(states: readonly PartitionState[]): Map<string, string> {
  const result = new Map<string, string>();
  for (const state of states) {
    for (const [key, actor] of state.actors) {
      const pending = actor.reservations?.size ?? 0;
      result.set(key, `${actor.onHand}/${actor.reserved}/${actor.version}/${pending}`);
    }
    result.set(`partition ${state.partition}`, `${state.finishedCount} retained`);
  }
  return result;
}

function makeJournal(recordCount: number, keyCount: number, retention: RetentionPolicy): Journal {
  const generator = new JournalGenerator({ partitions, recordCount, keyCount, retention });
  const payloads = generator.live.map((): Buffer[] => []);
  const order = new Uint16Array(recordCount);
  let written = 0;
  for (;;) {
    const records = generator.take(appendRows);
    if (records.length === 0) break;
    for (const { partition, payload } of records) {
      (payloads[partition] as Buffer[]).push(payload);
      order[written] = partition;
      written += 1;
    }
  }
  return { live: generator.live, payloads, types: generator.types, order };
}

function replayAll(
  journal: readonly PackedPartition[],
  retention: RetentionPolicy,
): PartitionState[] {
  return journal.map((packed) => {
    const state = new PartitionState(packed.partition, retention);
    for (let index = 0; index < packed.ends.length; index += 1) {
      state.replay(decodeAt(packed, index));
    }
    return state;
  });
}

/**
 * Decode + replay in the order the rows were written: one row at a time (pageRows 0), or in
 * pages of pageRows rows, each page's rows replayed partition by partition (in the order the
 * partitions first appear in it), as a cold start's one pass does.
 */
function replayWritten(bench: Bench, pageRows: number): PartitionState[] {
  const { journal, order, retention } = bench;
  const states = journal.map((packed) => new PartitionState(packed.partition, retention));
  const nextRow = journal.map(() => 0);
  const replayNext = (partition: number): void => {
    const packed = journal[partition] as PackedPartition;
    const index = nextRow[partition] as number;
    (states[partition] as PartitionState).replay(decodeAt(packed, index));
    nextRow[partition] = index + 1;
  };
  if (pageRows === 0) {
    for (const partition of order) replayNext(partition);
    return states;
  }
  for (let first = 0; first < order.length; first += pageRows) {
    const counts = new Map<number, number>();
    for (const partition of order.subarray(first, first + pageRows)) {
      counts.set(partition, (counts.get(partition) ?? 0) + 1);
    }
    for (const [partition, count] of counts) {
      for (let row = 0; row < count; row += 1) replayNext(partition);
    }
  }
  return states;
}

function writtenOrder(bench: Bench, pageRows: number): void {
  const { expected, rounds } = bench;
  const one: number[] = [];
  const paged: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const [byRow, rowSeconds] = timed(() => replayWritten(bench, 0));
    checkEqual(expected, summary(byRow));
    one.push(rowSeconds);
    const [byPage, pageSeconds] = timed(() => replayWritten(bench, pageRows));
    checkEqual(expected, summary(byPage));
    paged.push(pageSeconds);
  }
  const rate = (seconds: number): string => rateOf(bench, seconds);
  const pages = pageRows.toLocaleString('en-US');
  out(`median of ${rounds} rounds, main thread, rows in the order written (records/s):`);
  out(`  decode + replay, row by row, partitions interleaved: ${rate(median(one))}`);
  out(
    `  decode + replay, pages of ${pages} rows, each partition by partition: ${rate(median(paged))}`,
  );
  out(`  every round, row by row: ${one.map(rate).join(', ')}`);
  out(`  every round, in pages: ${paged.map(rate).join(', ')}`);
}

function decodeAll(journal: readonly PackedPartition[]): number {
  let versions = 0;
  for (const packed of journal) {
    for (let index = 0; index < packed.ends.length; index += 1) {
      versions += (decodeAt(packed, index) as StockRecord).version;
    }
  }
  return versions;
}

function replayDecoded(
  journal: readonly PackedPartition[],
  records: JournalRecord[][],
  retention: RetentionPolicy,
) {
  return records.map((rows, index) => {
    const state = new PartitionState((journal[index] as PackedPartition).partition, retention);
    for (const record of rows) state.replay(record);
    return state;
  });
}

function checkEqual(expected: Map<string, string>, actual: Map<string, string>): void {
  if (actual.size !== expected.size) throw new Error('replay rebuilt another set of stock keys');
  for (const [key, value] of expected) {
    if (actual.get(key) !== value) throw new Error(`stock key ${key} differs after replay`);
  }
}

function timed<T>(run: () => T): [T, number] {
  const started = process.hrtime.bigint();
  const result = run();
  return [result, Number(process.hrtime.bigint() - started) / 1e9];
}

async function timedAsync<T>(run: () => Promise<T>): Promise<[T, number]> {
  const started = process.hrtime.bigint();
  const result = await run();
  return [result, Number(process.hrtime.bigint() - started) / 1e9];
}

const median = (list: number[]): number => medianOf(list) ?? 0;

interface Bench {
  readonly recordCount: number;
  readonly rounds: number;
  readonly journal: readonly PackedPartition[];
  readonly expected: Map<string, string>;
  readonly retention: RetentionPolicy;
  readonly order: Uint16Array;
}

function rateOf(bench: Bench, seconds: number): string {
  return Math.round(bench.recordCount / seconds).toLocaleString('en-US');
}

function oneThread(bench: Bench): void {
  const { journal, expected, rounds, retention } = bench;
  const full: number[] = [];
  const decodeOnly: number[] = [];
  const replayOnly: number[] = [];
  const columnBytes: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const bytesBefore = columnBytesMade();
    const [replayed, seconds] = timed(() => replayAll(journal, retention));
    columnBytes.push(columnBytesMade() - bytesBefore);
    checkEqual(expected, summary(replayed));
    full.push(seconds);
    decodeOnly.push(timed(() => decodeAll(journal))[1]);
    const decoded = journal.map((packed) => [...rowsOf(packed)].map((row) => decodeRecord(row)));
    replayOnly.push(timed(() => replayDecoded(journal, decoded, retention))[1]);
  }
  const fullSeconds = median(full);
  const status = bench.recordCount / fullSeconds >= targetRecordsPerSecond ? 'MET' : 'NOT MET';
  const rate = (seconds: number): string => rateOf(bench, seconds);
  out(`median of ${rounds} rounds, main thread (records/s):`);
  out(`  decode + replay: ${rate(fullSeconds)} (target >= 1,000,000: ${status})`);
  out(`  decodeRecord alone: ${rate(median(decodeOnly))}`);
  out(`  PartitionState.replay alone (pre-decoded): ${rate(median(replayOnly))}`);
  out(`  every round, decode + replay: ${full.map(rate).join(', ')}`);
  out(`  every round, decode alone: ${decodeOnly.map(rate).join(', ')}`);
  const made = median(columnBytes);
  out(
    `  columns made by a decode + replay (the stores' fresh memory, kept or dropped): ` +
      `${(made / 2 ** 20).toFixed(1)} MiB, ${Math.round(made / bench.recordCount)} bytes a record`,
  );
}

// ---- Worker threads: each owns the partitions a shard of N would own, and replays them. ----

interface WorkerJob {
  readonly role: 'recovery-replay-worker';
  readonly journal: readonly PackedPartition[];
  readonly retention: RetentionPolicy;
}

interface WorkerRound {
  readonly seconds: number;
  readonly summary: Array<[string, string]>;
}

function runWorker(job: WorkerJob): void {
  const port = parentPort;
  if (port === null) throw new Error('a worker without a parent port');
  // Buffers arrive as plain Uint8Arrays; pg hands Buffers over, so replay Buffers here too.
  const journal = job.journal.map(({ partition, bytes, ends }) => {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { partition, bytes: buffer, ends };
  });
  port.on('message', (message: 'go' | 'stop') => {
    if (message === 'stop') {
      port.close();
      return;
    }
    const [states, seconds] = timed(() => replayAll(journal, job.retention));
    const round: WorkerRound = { seconds, summary: [...summary(states)] };
    port.postMessage(round);
  });
  port.postMessage('ready');
}

async function startWorkers(bench: Bench, threads: number): Promise<Worker[]> {
  const table = new PartitionTable(partitions, threads);
  const workers = Array.from({ length: threads }, (_, shard) => {
    const owned = table.partitionsOf(shard).map((p) => bench.journal[p] as PackedPartition);
    const job: WorkerJob = {
      role: 'recovery-replay-worker',
      journal: owned,
      retention: bench.retention,
    };
    return spawnWorker(import.meta.url, 'recovery-replay', job);
  });
  await Promise.all(workers.map((worker) => once(worker, 'message')));
  return workers;
}

/** Wall-clock seconds of each round, from "go" to the last worker done. */
async function parallelRounds(bench: Bench, threads: number): Promise<number[]> {
  const workers = await startWorkers(bench, threads);
  try {
    const walls: number[] = [];
    for (let round = 0; round < bench.rounds; round += 1) {
      const [results, seconds] = await timedAsync(() =>
        Promise.all(
          workers.map(async (worker) => {
            worker.postMessage('go');
            const [result] = (await once(worker, 'message')) as [WorkerRound];
            return result;
          }),
        ),
      );
      walls.push(seconds);
      checkEqual(bench.expected, new Map(results.flatMap((result) => result.summary)));
    }
    return walls;
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

async function parallel(bench: Bench, threadCounts: readonly number[]): Promise<void> {
  if (threadCounts.length === 0) return;
  out(`median of ${bench.rounds} rounds, partitions split over worker threads (records/s, all):`);
  for (const threads of threadCounts) {
    const walls = await parallelRounds(bench, threads);
    const rate = (seconds: number): string => rateOf(bench, seconds);
    const wall = median(walls);
    const status = bench.recordCount / wall >= targetRecordsPerSecond ? 'MET' : 'NOT MET';
    out(`  ${threads} thread(s), decode + replay: ${rate(wall)} (target: ${status})`);
    out(`    every round: ${walls.map(rate).join(', ')}`);
  }
}

// ---- From Postgres: the real JournalStore's tail reads into decode + replay. ----

async function fromPostgres(bench: Bench, databaseUrl: string): Promise<void> {
  await withScratchDatabase(databaseUrl, async (url) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await timePostgres(bench, new JournalStore(client), client);
    } finally {
      await client.end();
    }
  });
}

async function fill(store: JournalStore, journal: readonly PackedPartition[]): Promise<void> {
  let rows: WalRow[] = [];
  for (const packed of journal) {
    let lsn = 0;
    for (const payload of rowsOf(packed)) {
      lsn += 1;
      rows.push({ partition: packed.partition, lsn, payload });
      if (rows.length === appendRows) {
        await store.append(rows);
        rows = [];
      }
    }
  }
  await store.append(rows);
}

async function timePostgres(bench: Bench, store: JournalStore, client: pg.Client): Promise<void> {
  const { journal, rounds, retention } = bench;
  const [, fillSeconds] = await timedAsync(async () => {
    await migrate(client);
    await fill(store, journal);
    await client.query('VACUUM ANALYZE ledger_wal');
  });
  out(
    `from Postgres (journal written in ${fillSeconds.toFixed(1)} s), one thread, median of ${rounds} rounds (records/s):`,
  );
  const readOnly: number[] = [];
  const full: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    let rows = 0;
    const [, readSeconds] = await timedAsync(async () => {
      for (const packed of journal) {
        await store.readTail(packed.partition, 0, () => {
          rows += 1;
        });
      }
    });
    if (rows !== bench.recordCount) throw new Error(`read back ${rows} rows`);
    readOnly.push(readSeconds);
    const [states, seconds] = await timedAsync(async () => {
      const replayed: PartitionState[] = [];
      for (const packed of journal) {
        const state = new PartitionState(packed.partition, retention);
        await store.readTail(packed.partition, 0, (_lsn, payload) => {
          state.replay(decodeRecord(payload));
        });
        replayed.push(state);
      }
      return replayed;
    });
    checkEqual(bench.expected, summary(states));
    full.push(seconds);
  }
  const rate = (seconds: number): string => rateOf(bench, seconds);
  out(`  JournalStore.readTail alone: ${rate(median(readOnly))}`);
  out(`  read + decode + replay: ${rate(median(full))}`);
  out(`  every round, read + decode + replay: ${full.map(rate).join(', ')}`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '1000000' },
      keys: { type: 'string', default: '10000' },
      rounds: { type: 'string', default: '3' },
      threads: { type: 'string', default: '1,2' },
      retain: { type: 'string', default: 'day' },
      'from-postgres': { type: 'boolean', default: false },
      'written-order': { type: 'boolean', default: false },
      'page-rows': { type: 'string', default: '235000' },
      'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    },
  });
  const recordCount = Number(values.records);
  const keyCount = Number(values.keys);
  const threadCounts = values.threads.split(',').filter(Boolean).map(Number);
  if (values.retain !== 'day' && values.retain !== 'none') {
    throw new Error(`--retain ${values.retain}: day or none`);
  }
  const retention = retentions[values.retain];
  const [made, makeSeconds] = timed(() => makeJournal(recordCount, keyCount, retention));
  // Only the packed journal and the expected end state stay: the live states would otherwise sit
  // in this thread's heap during the timed rounds, and make its garbage collection dearer.
  const expected = summary(made.live);
  const journal = made.payloads.map(pack);
  const bytes = journal.reduce((sum, packed) => sum + packed.bytes.length, 0);
  const mix = [...made.types].map(([type, count]) => `${type} ${count}`).join(', ');
  const count = recordCount.toLocaleString('en-US');
  out(`node ${process.version}: ${count} records on ${keyCount} keys`);
  out(`  (${partitions} partitions; made live in ${makeSeconds.toFixed(1)} s: ${mix})`);
  out(`  mean encoded record: ${(bytes / recordCount).toFixed(1)} bytes`);
  out(`  retained: ${values.retain === 'day' ? 'a day (all of this journal)' : 'nothing'}`);
  made.live.length = 0;
  made.payloads.length = 0;
  const rounds = Number(values.rounds);
  const bench: Bench = { recordCount, rounds, journal, expected, retention, order: made.order };
  oneThread(bench);
  if (values['written-order']) writtenOrder(bench, Number(values['page-rows']));
  await parallel(bench, threadCounts);
  if (values['from-postgres']) await fromPostgres(bench, values['database-url']);
}

if (isMainThread) await main();
else runWorker(workerData as WorkerJob);
