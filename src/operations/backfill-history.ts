// `ledger history-backfill`: writes the movements of changes journaled before the ledger wrote
// movements (a journal from an older version), offline and all-or-nothing. Under the journal's
// ownership lock and in one transaction: replay each partition from its first WAL row (or, where
// the WAL was trimmed, from the oldest snapshot it continues), and for every change of a key older
// than that key's first movement, and within the history's retention, write its movement with the
// key's counts right after it, as a group commit would have. Run again, it finds nothing to do.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  PartitionState,
  isMovement,
  restoreSnapshot,
  stockKey,
  subjectOf,
  type MovementRecord,
} from '../actors/index.js';
import { retentionOf, type Config } from '../config.js';
import { onOfflineJournal } from './offline-journal.js';
import {
  JournalStore,
  decodeRecord,
  decodeSnapshotForRestore,
  readLayout,
  snapshotPayload,
  type StoredSnapshot,
} from '../persistence/index.js';

export interface BackfillOptions {
  readonly databaseUrl: string;
  /** The ledger's own settings: recovery must keep what the ledger kept, history how long. */
  readonly config: Pick<
    Config,
    'retainFinishedSeconds' | 'retainFinishedMax' | 'ttlSecondsMax' | 'historyRetainDays'
  >;
  /** The backfill's clock (movements older than the retention at `nowMs` are not written). */
  readonly nowMs: number;
  readonly log: (message: string) => void;
}

export interface BackfillSummary {
  readonly movements_written: number;
  readonly keys: number;
  /** Changes older than the history's retention, not written (retention would drop them). */
  readonly older_than_retention: number;
  /** Partitions whose WAL begins after a trim: replayed from their oldest usable snapshot. */
  readonly partitions_from_snapshot: number;
  /** Partitions whose WAL neither begins at the first record nor continues a snapshot. */
  readonly partitions_skipped: number;
  readonly duration_ms: number;
}

export type BackfillResult =
  | { readonly kind: 'done'; readonly summary: BackfillSummary }
  | { readonly kind: 'refused'; readonly message: string };

const dayMs = 86_400_000;

/** One movement row to write: the record's key, counts after it and the WAL row's payload. */
interface MovementRow {
  readonly record: MovementRecord;
  readonly onHand: number;
  readonly reserved: number;
  readonly incoming: number;
  /** A copy: readTail's payload is a view of a whole chunk of the COPY stream. */
  readonly payload: Buffer;
}

export async function backfillHistory(options: BackfillOptions): Promise<BackfillResult> {
  const startedMs = performance.now();
  const opened = await onOfflineJournal(options.databaseUrl, options.log, async (client) => {
    await client.query('BEGIN');
    try {
      const summary = await backfill(client, options);
      await client.query('COMMIT');
      return { ...summary, duration_ms: performance.now() - startedMs };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  });
  return opened.kind === 'refused'
    ? refused(opened.message)
    : { kind: 'done', summary: opened.result };
}

const refused = (message: string): BackfillResult => ({
  kind: 'refused',
  message: `${message}; nothing was changed`,
});

async function backfill(
  client: pg.Client,
  options: BackfillOptions,
): Promise<Omit<BackfillSummary, 'duration_ms'>> {
  const layout = await readLayout(client);
  if (layout === undefined) throw new Error('the journal has no layout row');
  const firstVersions = await firstMovementVersions(client);
  const oldestMs = options.nowMs - options.config.historyRetainDays * dayMs;
  const retention = retentionOf(options.config, layout.partitions);
  const keys = new Set<string>();
  let written = 0;
  let older = 0;
  let fromSnapshot = 0;
  let skipped = 0;
  for (let partition = 0; partition < layout.partitions; partition += 1) {
    const start = await replayStart(client, partition, retention);
    if (start === 'empty') continue;
    if (start === 'gap') {
      skipped += 1;
      options.log(`partition ${partition}: its WAL was trimmed past every snapshot; skipped`);
      continue;
    }
    if (start.fromSnapshot) fromSnapshot += 1;
    const rows: MovementRow[] = [];
    // Rows past the first gap in the lsns were never acknowledged (partition-recovery.ts): the
    // ledger removes them, with their movements, when it next recovers the partition.
    let expectedLsn = start.afterLsn + 1;
    await new JournalStore(client).readTail(partition, start.afterLsn, (lsn, payload) => {
      if (lsn !== expectedLsn) return;
      expectedLsn += 1;
      const record = decodeRecord(payload);
      start.state.replay(record);
      if (!isMovement(record)) return;
      const key = stockKey(record.productId, record.warehouseId);
      if (record.version >= (firstVersions.get(key) ?? Number.POSITIVE_INFINITY)) return;
      if (record.atMs < oldestMs) {
        older += 1;
        return;
      }
      const actor = start.state.actors.get(key);
      if (actor === undefined) throw new Error(`a movement of ${key} that replay did not make`);
      const { onHand, reserved, incoming } = actor;
      rows.push({ record, onHand, reserved, incoming, payload: Buffer.from(payload) });
      keys.add(key);
    });
    await insertMovements(client, rows);
    written += rows.length;
  }
  return {
    movements_written: written,
    keys: keys.size,
    older_than_retention: older,
    partitions_from_snapshot: fromSnapshot,
    partitions_skipped: skipped,
  };
}

/** Per stock key, the version of its oldest movement: only changes before it are missing. */
async function firstMovementVersions(client: pg.Client): Promise<Map<string, number>> {
  const result = await client.query<{ product_id: string; warehouse_id: string; first: string }>(
    `SELECT product_id, warehouse_id, min(version) AS first FROM ledger_movements
     GROUP BY product_id, warehouse_id`,
  );
  return new Map(
    result.rows.map((row) => [stockKey(row.product_id, row.warehouse_id), Number(row.first)]),
  );
}

type ReplayStart =
  | { readonly state: PartitionState; readonly afterLsn: number; readonly fromSnapshot: boolean }
  | 'empty'
  | 'gap';

/** Where a replay of the partition begins: its first record, or a snapshot its WAL follows. */
async function replayStart(
  client: pg.Client,
  partition: number,
  retention: ReturnType<typeof retentionOf>,
): Promise<ReplayStart> {
  const first = await client.query<{ lsn: string | null }>(
    'SELECT min(lsn) AS lsn FROM ledger_wal WHERE partition = $1',
    [partition],
  );
  const firstLsn = first.rows[0]?.lsn;
  if (firstLsn === null || firstLsn === undefined) return 'empty';
  if (Number(firstLsn) === 1) {
    return { state: new PartitionState(partition, retention), afterLsn: 0, fromSnapshot: false };
  }
  const snapshot = await client.query<StoredSnapshot>(
    `SELECT lsn, parts, payload FROM ledger_snapshots WHERE partition = $1 AND lsn >= $2
     ORDER BY lsn LIMIT 1`,
    [partition, Number(firstLsn) - 1],
  );
  const row = snapshot.rows[0];
  if (row === undefined) return 'gap';
  const payload = await snapshotPayload(client, partition, row);
  const state = restoreSnapshot(decodeSnapshotForRestore(payload), retention);
  return { state, afterLsn: Number(row.lsn), fromSnapshot: true };
}

async function insertMovements(client: pg.Client, rows: readonly MovementRow[]): Promise<void> {
  const chunkRows = 10_000;
  for (let start = 0; start < rows.length; start += chunkRows) {
    const chunk = rows.slice(start, start + chunkRows);
    await client.query(
      `INSERT INTO ledger_movements (product_id, warehouse_id, version, at, on_hand, reserved,
                                     incoming, subject, payload)
       SELECT m.product_id, m.warehouse_id, m.version, to_timestamp(m.at_ms / 1000.0),
              m.on_hand, m.reserved, m.incoming, NULLIF(m.subject, ''), m.payload
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
                   $6::bigint[], $7::bigint[], $8::text[], $9::bytea[])
         AS m(product_id, warehouse_id, version, at_ms, on_hand, reserved, incoming, subject,
              payload)`,
      [
        chunk.map((row) => row.record.productId),
        chunk.map((row) => row.record.warehouseId),
        chunk.map((row) => row.record.version),
        chunk.map((row) => row.record.atMs),
        chunk.map((row) => row.onHand),
        chunk.map((row) => row.reserved),
        chunk.map((row) => row.incoming),
        chunk.map((row) => subjectOf(row.record)),
        chunk.map((row) => row.payload),
      ],
    );
  }
}
