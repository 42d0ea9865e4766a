// Writes a generated journal into ledger_wal fast: one binary COPY, fed chunk by chunk as the
// generator makes records, with the stream's back-pressure respected, so a 10-million-record
// journal never sits in memory whole. Also reads a journal back the way a shard's recovery does
// (JournalStore's tail reads; with or without decode + replay) to show where recovery's time goes.
import { once } from 'node:events';
import { constants as perfConstants } from 'node:perf_hooks';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { RetentionPolicy } from '../../src/actors/index.js';
import { observeGc, type GcEntry } from '../../src/observability/timeline.js';
import { JournalStore } from '../../src/persistence/index.js';
import { recoveryPageRows } from '../../src/limits.js';
import { migrate } from '../../src/persistence/migrations.js';
import { recoverPartitions } from '../../src/shards/partition-recovery.js';
import type { JournalGenerator } from './journal-generator.js';

/** Records generated and encoded per COPY chunk: bounds the bench's memory. */
const chunkRecords = 50_000;
const copyHeader = Buffer.concat([
  Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'),
  Buffer.alloc(8), // flags, then the header extension length: both 0
]);
const copyTrailer = Buffer.from([0xff, 0xff]);

/** One chunk of rows in COPY's binary format: (partition int4, lsn int8, payload bytea). */
function copyRows(records: ReturnType<JournalGenerator['take']>): Buffer {
  let bytes = 0;
  for (const record of records) bytes += 2 + 8 + 12 + 4 + record.payload.length;
  const buffer = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const { partition, lsn, payload } of records) {
    at = buffer.writeInt16BE(3, at);
    at = buffer.writeInt32BE(4, at);
    at = buffer.writeInt32BE(partition, at);
    at = buffer.writeInt32BE(8, at);
    at = buffer.writeBigInt64BE(BigInt(lsn), at);
    at = buffer.writeInt32BE(payload.length, at);
    at += payload.copy(buffer, at);
  }
  return buffer;
}

export interface JournalWritten {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
}

/** Migrates the scratch database, then generates and COPYs the whole journal in. */
export async function writeJournal(
  databaseUrl: string,
  generator: JournalGenerator,
  progress: (records: number) => void,
): Promise<JournalWritten> {
  const startedMs = performance.now();
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let records = 0;
  let bytes = 0;
  try {
    await migrate(client);
    const stream = client.query(
      copyFrom('COPY ledger_wal (partition, lsn, payload) FROM STDIN (FORMAT binary)'),
    );
    const finished = once(stream, 'finish');
    const write = async (chunk: Buffer): Promise<void> => {
      bytes += chunk.length;
      if (!stream.write(chunk)) await once(stream, 'drain');
    };
    await write(copyHeader);
    for (;;) {
      const chunk = generator.take(chunkRecords);
      if (chunk.length === 0) break;
      records += chunk.length;
      await write(copyRows(chunk));
      progress(records);
    }
    stream.end(copyTrailer);
    await finished;
    // What autovacuum would have done to a journal this old: the tail reads' plan depends on it.
    await client.query('VACUUM ANALYZE ledger_wal');
  } finally {
    await client.end();
  }
  return { records, bytes, seconds: (performance.now() - startedMs) / 1000 };
}

export interface ReadBack {
  readonly rows: number;
  /** JournalStore.readTail of every partition, one connection, rows dropped. */
  readonly readSeconds: number;
  /** JournalStore.readAll of every partition (one pass over the table), rows dropped. */
  readonly onePassSeconds: number;
  /** Paged SELECTs of length(payload) instead of the payload: the scan, without any bytea. */
  readonly lengthsSeconds: number;
  /**
   * recoverPartitions (the shard's own recovery routine) over every partition on one thread,
   * from lsn 1: it reads them in one pass.
   */
  readonly recoverSeconds: number;
  /** The collections of this thread during that recovery (its helper threads' share unseen). */
  readonly recoverGc: GcTally;
}

export interface GcTally {
  /** Scavenges of the young generation. */
  readonly minor: number;
  /** Mark-compacts of the whole heap (incremental marking steps not counted apart). */
  readonly major: number;
  /** Their pauses, summed. */
  readonly pauseMs: number;
}

/** Runs `work` and tallies the collections that paused this thread meanwhile. */
async function withGcTally<T>(work: () => Promise<T>): Promise<[T, GcTally]> {
  const entries: GcEntry[] = [];
  const stop = observeGc((entry) => entries.push(entry));
  try {
    const result = await work();
    // Entries are delivered on a later turn: one is enough for those of the work.
    await new Promise((resolve) => setImmediate(resolve));
    const tally = {
      minor: entries.filter(({ kind }) => kind === perfConstants.NODE_PERFORMANCE_GC_MINOR).length,
      major: entries.filter(({ kind }) => kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR).length,
      pauseMs: entries.reduce((sum, entry) => sum + entry.ms, 0),
    };
    return [result, tally];
  } finally {
    stop();
  }
}

/** Paged SELECTs (how readTail read before binary COPY) of each payload's length, not bytes. */
async function readLengths(client: pg.Client, partitions: readonly number[]): Promise<number> {
  const startedMs = performance.now();
  for (const partition of partitions) {
    let last = 0;
    for (;;) {
      const result = await client.query<{ lsn: string }>(
        `SELECT lsn, length(payload) AS bytes FROM ledger_wal WHERE partition = $1 AND lsn > $2
         ORDER BY lsn LIMIT ${recoveryPageRows}`,
        [partition, last],
      );
      last = Number(result.rows.at(-1)?.lsn ?? last);
      if (result.rows.length < recoveryPageRows) break;
    }
  }
  return (performance.now() - startedMs) / 1000;
}

/** A shard's recovery without the ledger: read alone, then read + decode + check + replay. */
export async function readBack(
  databaseUrl: string,
  partitions: number,
  retention: RetentionPolicy,
): Promise<ReadBack> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const store = new JournalStore(client);
    const all = Array.from({ length: partitions }, (_, partition) => partition);
    let rows = 0;
    const readStartedMs = performance.now();
    for (const partition of all) {
      await store.readTail(partition, 0, () => {
        rows += 1;
      });
    }
    const readSeconds = (performance.now() - readStartedMs) / 1000;
    const onePassStartedMs = performance.now();
    const onePassRows = await store.readAll(all, () => undefined);
    const onePassSeconds = (performance.now() - onePassStartedMs) / 1000;
    if (onePassRows !== rows) throw new Error(`one pass read ${onePassRows} of ${rows} rows`);
    const lengthsSeconds = await readLengths(client, all);
    const recoverStartedMs = performance.now();
    const [recovered, recoverGc] = await withGcTally(() =>
      recoverPartitions(store, all, { retention, fromSnapshots: false }),
    );
    const recoverSeconds = (performance.now() - recoverStartedMs) / 1000;
    let replayed = 0;
    for (const partition of recovered.values()) replayed += partition.records;
    if (replayed !== rows) throw new Error(`recovery replayed ${replayed} of ${rows} rows`);
    return { rows, readSeconds, onePassSeconds, lengthsSeconds, recoverSeconds, recoverGc };
  } finally {
    await client.end();
  }
}
