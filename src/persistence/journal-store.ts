// The journal's SQL on one Postgres connection: append rows in one statement, write snapshots,
// read a partition back. It implements JournalConnection; a shard holds two (group commits on
// one, snapshots on the other).
import pg from 'pg';
import { assert, fail } from '../actors/index.js';
import {
  ArrayScratch,
  byteaArray,
  int4Array,
  int8Array,
  textArray,
  type ArrayRoom,
} from './binary-arrays.js';
import { recoveryPageBlocks, recoveryPageRows, snapshotPartBytes } from '../limits.js';
import {
  snapshotBytes,
  type JournalConnection,
  type MovementKey,
  type SnapshotRow,
  type SnapshotWrite,
  type WalPageRow,
  type WalRow,
} from './journal-connection.js';
import { copyOut } from './copy-out.js';
import { MovementRows, packLater, type MovementRow } from './movement-rows.js';
import { keepBackendHeap } from './backend-heap.js';
import { commitDurably } from './durability.js';
import { WalCopyFormatError, WalCopyRows } from './wal-copy-reader.js';

/**
 * int8 columns (lsn) come back as text: pg's default, left alone on purpose (changing pg's global
 * parser would change it for every client of the process). lsns stay far below 2^53.
 */
const lsnOf = (value: string | number): number => Number(value);

export interface JournalStoreOptions {
  /** Told of errors of an idle connection (pg emits them on the client, not on a query). */
  readonly onError: (error: Error) => void;
  /** In a cluster: every append is fenced by the leases it writes under. */
  readonly fence?: LeaseFence;
}

/** A node in a cluster: each row is written only under the lease epoch it carries. */
export interface LeaseFence {
  readonly node: string;
}

/** SQLSTATE raised by ledger_fence (migrations.ts): the write lost a lease, nothing was written. */
export const leaseLostCode = 'LDG01';

/** The partitions a write was refused for, when it failed for lost leases; else undefined. */
export function leasesLostBy(error: unknown): number[] | undefined {
  const failed = error as { code?: unknown; detail?: unknown } | null;
  if (failed?.code !== leaseLostCode || typeof failed.detail !== 'string') return undefined;
  return failed.detail === '' ? [] : failed.detail.split(',').map(Number);
}

/** A ledger_snapshots row as selected: `lsn, parts, payload`. */
export interface StoredSnapshot {
  readonly lsn: string;
  readonly parts: number;
  readonly payload: Buffer;
}

/**
 * A snapshot's bytes: the row's own payload, or its parts (JournalStore.writeSnapshot) put back
 * together. A row names a whole snapshot; a part missing under it is an error, not a snapshot.
 * The parts come through binary COPY, as the WAL's rows do: a hot partition's hundred-odd MB of
 * parts selected as `bytea` came as twice as many bytes of hex for Postgres to write and pg to
 * parse back.
 */
export async function snapshotPayload(
  client: pg.ClientBase,
  partition: number,
  row: StoredSnapshot,
): Promise<Buffer> {
  const parts = Number(row.parts);
  if (parts === 0) return row.payload;
  const lsn = lsnOf(row.lsn);
  assert([partition, lsn, parts].every(Number.isSafeInteger), 'bad snapshot bounds');
  // Each part as a range of the chunk it came in (copy-out.ts): joined once, below.
  const pieces: Uint8Array[] = [];
  let inTurn = true;
  const reader = new WalCopyRows((_partition, part, bytes, start, end) => {
    inTurn &&= part === pieces.length;
    pieces.push(bytes.subarray(start, end));
  });
  await copyOut(
    client,
    `COPY (SELECT part::bigint, payload FROM ledger_snapshot_parts
           WHERE partition = ${partition} AND lsn = ${lsn} AND part < ${parts} ORDER BY part)
     TO STDOUT (FORMAT binary)`,
    (bytes, start, end) => reader.push(bytes, start, end),
  );
  if (!reader.complete) throw new WalCopyFormatError('the COPY stream ended before its end');
  if (pieces.length !== parts || !inTurn) {
    throw new Error(
      `snapshot of partition ${partition} at ${lsn}: ${pieces.length} of ${parts} parts`,
    );
  }
  return Buffer.concat(pieces);
}

const movementsInsert = `INSERT INTO ledger_movements (product_id, warehouse_id, version, at, on_hand,
                                           reserved, incoming, subject, payload, later,
                                           later_count)
             SELECT m.product_id, m.warehouse_id, m.version, to_timestamp(m.at_ms / 1000.0),
                    m.on_hand, m.reserved, m.incoming, NULLIF(m.subject, ''),
                    ($3::bytea[])[m.row_number], NULLIF(m.later, ''::bytea), m.later_count`;
const movementsFrom = `unnest($4::integer[], $5::text[], $6::text[], $7::bigint[], $8::bigint[],
                         $9::bigint[], $10::bigint[], $11::bigint[], $12::text[], $13::bytea[],
                         $14::integer[])
               AS m(row_number, product_id, warehouse_id, version, at_ms, on_hand, reserved,
                    incoming, subject, later, later_count)`;

/** A node alone: the WAL rows and their movements, one statement. */
const appendText = `WITH wal AS (
               INSERT INTO ledger_wal (partition, lsn, payload)
               SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bytea[]))
             ${movementsInsert}
             FROM ${movementsFrom}`;

/**
 * A node in a cluster: the same, joined to the fence's one row, so the statement writes nothing
 * unless every lease it relies on is still this node's at the epoch it was taken at (and holds
 * them share-locked until it commits). Any failure fails the whole statement.
 */
const fencedAppendText = `WITH fence AS (SELECT ledger_fence($15::text, $16::integer[], $17::bigint[])),
             wal AS (
               INSERT INTO ledger_wal (partition, lsn, payload)
               SELECT u.* FROM fence, unnest($1::integer[], $2::bigint[], $3::bytea[]) AS u)
             ${movementsInsert}
             FROM fence, ${movementsFrom}`;

/** How `readAll` reads: pages of heap blocks (TID ranges), or each partition by its index. */
export interface ReadAllOptions {
  readonly pageBlocks?: number;
  /** Each partition by its index, in lsn order: before PG 14 (no TID range scans) always. */
  readonly byIndex?: boolean;
}

/**
 * Rows of each partition one `readTails` statement reads at most, when `open` partitions are
 * read: `recoveryPageRows` shared out, but never fewer than a thousand each.
 */
function tailPageRows(open: number): number {
  return Math.max(1_000, Math.floor(recoveryPageRows / Math.max(1, open)));
}

/**
 * A snapshot's blocks cut in parts of `partBytes` (the last may be shorter): a part that lies
 * within one block is a view of it, one that spans blocks is copied together. The encoder's blocks
 * are `snapshotPartBytes` long, so a shard's snapshot is written as its blocks, with no copy.
 */
export function* cutInParts(blocks: readonly Uint8Array[], partBytes: number): Generator<Buffer> {
  assert(Number.isSafeInteger(partBytes) && partBytes > 0, 'bad part size');
  let pieces: Uint8Array[] = [];
  let held = 0;
  for (const block of blocks) {
    let offset = 0;
    while (offset < block.length) {
      const length = Math.min(partBytes - held, block.length - offset);
      pieces.push(block.subarray(offset, offset + length));
      held += length;
      offset += length;
      if (held === partBytes) {
        yield wholePart(pieces, held);
        pieces = [];
        held = 0;
      }
    }
  }
  if (held > 0) yield wholePart(pieces, held);
}

/** The text whose hash (`hashtextextended(key, 0)`) keys the lock a writer of parts holds. */
export function snapshotPartsLockKey(partition: number, lsn: number): string {
  return `ledger snapshot parts ${partition} ${lsn}`;
}

function wholePart(pieces: readonly Uint8Array[], bytes: number): Buffer {
  const only = pieces[0] as Uint8Array;
  return pieces.length === 1
    ? Buffer.from(only.buffer, only.byteOffset, only.byteLength)
    : Buffer.concat(pieces, bytes);
}

/** TID range scans (`ctid >= ... AND ctid < ...` read by block) came with PostgreSQL 14. */
const tidRangeScansFrom = 140_000;

export class JournalStore implements JournalConnection {
  /** `server_version_num`, asked once. */
  private serverVersion: number | undefined = undefined;
  /**
   * The `synchronous_commit` this connection commits with, for one `connect` opened (never
   * `off`: durability.ts); undefined for a client handed in, whose settings are its owner's.
   */
  synchronousCommit: string | undefined = undefined;
  /** The group commits' arrays, written over by each (binary-arrays.ts). */
  private readonly scratch = new ArrayScratch();

  constructor(
    private readonly client: pg.ClientBase & { end(): Promise<void> },
    private readonly fence?: LeaseFence,
  ) {}

  /** Opens a connection of its own, with the timeouts a shard's journal needs. */
  static async connect(databaseUrl: string, options: JournalStoreOptions): Promise<JournalStore> {
    const client = new pg.Client({
      connectionString: databaseUrl,
      // A stalled Postgres must fail the write (and trigger a reload), not hold replies forever.
      statement_timeout: 10_000,
      query_timeout: 15_000,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
    });
    client.on('error', options.onError);
    await client.connect();
    try {
      const store = new JournalStore(client, options.fence);
      // An acknowledgement waits for this connection's commit: never one that skips the flush.
      store.synchronousCommit = await commitDurably(client);
      // Its backend keeps its heap between group commits (backend-heap.ts).
      await keepBackendHeap(client);
      return store;
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
  }

  /**
   * One statement for the whole group commit: the WAL rows, and the movement rows of those that
   * changed a stock key (a data-modifying CTE), so autocommit makes both one transaction and the
   * history never lacks, nor holds more than, what the journal holds. A key's movements share a
   * row (movement-rows.ts); the row's first names its record's bytes by position in the WAL array.
   */
  async append(rows: readonly WalRow[]): Promise<void> {
    if (rows.length === 0) return;
    const partitions = new Array<number>(rows.length);
    const lsns = new Array<number>(rows.length);
    const payloads = new Array<Uint8Array>(rows.length);
    const movements = new MovementRows();
    for (let index = 0; index < rows.length; index += 1) {
      const row = rows[index] as WalRow;
      partitions[index] = row.partition;
      lsns[index] = row.lsn;
      payloads[index] = row.payload;
      if (row.movement !== undefined) movements.add(index + 1, row.movement, row.payload);
    }
    const room = this.scratch.take();
    try {
      // Binary arrays, and in a cluster the node's id as text (see `fencedAppendText`).
      const values: (Buffer | string)[] = [
        int4Array(partitions, room),
        int8Array(lsns, room),
        byteaArray(payloads, room),
        ...movementArrays(movements.rows, room),
      ];
      await this.write(rows, values, room);
    } finally {
      this.scratch.release(room);
    }
  }

  /** Sends a group commit's statement, its arrays written in `room` (fenced in a cluster). */
  private async write(
    rows: readonly WalRow[],
    values: (Buffer | string)[],
    room: ArrayRoom,
  ): Promise<void> {
    if (this.fence === undefined) {
      // A named statement: Postgres parses and plans it once per connection, not per commit.
      await this.client.query({ name: 'ledger-wal-append', text: appendText, values });
      return;
    }
    // Each (partition, epoch) once; a partition under two epochs in one write fails the fence.
    // A batch's rows of one partition come together and almost always share their epoch, so
    // a pair is compared with the one before it rather than keyed in a map.
    const fencedPartitions: number[] = [];
    const fencedEpochs: number[] = [];
    for (const row of rows) {
      if (row.epoch === undefined) fail(`partition ${row.partition} written without a lease`);
      const last = fencedPartitions.length - 1;
      if (fencedPartitions[last] === row.partition && fencedEpochs[last] === row.epoch) continue;
      fencedPartitions.push(row.partition);
      fencedEpochs.push(row.epoch);
    }
    values.push(this.fence.node, int4Array(fencedPartitions, room), int8Array(fencedEpochs, room));
    await this.client.query({ name: 'ledger-wal-append-fenced', text: fencedAppendText, values });
  }

  /**
   * Writes a snapshot, then forgets all but the partition's two latest (recovery starts at the
   * newest; the other is spare). One larger than `snapshotPartBytes` goes in parts, each its own
   * statement and commit, and its row last, only once every part is there: a row therefore
   * always names a whole snapshot, and a crash part way leaves parts without a row, forgotten
   * with the older snapshots. Written in one statement, a hot partition's tens of megabytes went
   * into Postgres's WAL at once, and each group commit behind them waited for all of them. No
   * transaction around the parts: were this client ever shared with appends, they would run
   * inside it and be answered before their commit. `partBytes` is for the bench's comparisons.
   *
   * The parts of one (partition, lsn) are written by one writer at a time (a session advisory
   * lock on the pair, let go at the end or with the connection), and only while no row names
   * them: an earlier attempt's parts at that lsn (a write killed part way, and the same lsn
   * snapshotted again after a restart) are removed first. The same state need not encode to the
   * same bytes (laid out otherwise in memory after a recovery), so keeping them would have made
   * one snapshot of two.
   */
  async writeSnapshot(row: SnapshotWrite, partBytes = snapshotPartBytes): Promise<void> {
    const { partition, lsn, blocks } = row;
    const bytes = snapshotBytes(row);
    if (bytes <= partBytes) {
      await this.client.query(
        // The same (partition, lsn) always has the same content, whoever wrote it first.
        `INSERT INTO ledger_snapshots (partition, lsn, payload) VALUES ($1, $2, $3)
         ON CONFLICT (partition, lsn) DO NOTHING`,
        [partition, lsn, blocks.length === 1 ? blocks[0] : Buffer.concat(blocks)],
      );
    } else {
      const lockKey = snapshotPartsLockKey(partition, lsn);
      await this.client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [lockKey]);
      try {
        await this.writeParts(partition, lsn, blocks, bytes, partBytes);
      } finally {
        await this.client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockKey]);
      }
    }
    await this.client.query(
      `WITH kept AS (SELECT min(lsn) AS lsn FROM (SELECT lsn FROM ledger_snapshots
                                                  WHERE partition = $1
                                                  ORDER BY lsn DESC LIMIT 2) AS latest),
            forgotten AS (DELETE FROM ledger_snapshot_parts
                          WHERE partition = $1 AND lsn < (SELECT lsn FROM kept))
       DELETE FROM ledger_snapshots WHERE partition = $1 AND lsn < (SELECT lsn FROM kept)`,
      [partition],
    );
  }

  /** Whether a `ledger_snapshots` row names the partition's snapshot at `lsn`. */
  private async snapshotNamed(partition: number, lsn: number): Promise<boolean> {
    const found = await this.client.query(
      'SELECT 1 FROM ledger_snapshots WHERE partition = $1 AND lsn = $2',
      [partition, lsn],
    );
    return found.rowCount !== 0;
  }

  /** The parts of a large snapshot, then its row once they are all there (see writeSnapshot). */
  private async writeParts(
    partition: number,
    lsn: number,
    blocks: readonly Uint8Array[],
    bytes: number,
    partBytes: number,
  ): Promise<void> {
    // Written whole already: its parts are named by its row, and left alone.
    if (await this.snapshotNamed(partition, lsn)) return;
    // An earlier attempt's, which no row names.
    await this.client.query('DELETE FROM ledger_snapshot_parts WHERE partition = $1 AND lsn = $2', [
      partition,
      lsn,
    ]);
    const parts = Math.ceil(bytes / partBytes);
    let part = 0;
    for (const payload of cutInParts(blocks, partBytes)) {
      await this.client.query(
        'INSERT INTO ledger_snapshot_parts (partition, lsn, part, payload) VALUES ($1, $2, $3, $4)',
        [partition, lsn, part, payload],
      );
      part += 1;
    }
    assert(part === parts, 'a snapshot cut in the wrong number of parts');
    const written = await this.client.query(
      `INSERT INTO ledger_snapshots (partition, lsn, payload, parts)
       SELECT $1, $2, '', $3
       WHERE (SELECT count(*) FROM ledger_snapshot_parts
              WHERE partition = $1 AND lsn = $2 AND part < $3) = $3
       ON CONFLICT (partition, lsn) DO NOTHING`,
      [partition, lsn, parts],
    );
    if (written.rowCount === 0) {
      // Not written: the row was there already (fine), or a part went meanwhile (not fine).
      if (!(await this.snapshotNamed(partition, lsn))) {
        throw new Error(`snapshot of partition ${partition} at ${lsn}: a part is missing`);
      }
    }
  }

  async latestSnapshots(partitions: readonly number[]): Promise<Map<number, SnapshotRow>> {
    const result = await this.client.query<StoredSnapshot & { partition: number }>(
      `SELECT DISTINCT ON (partition) partition, lsn, parts, payload FROM ledger_snapshots
       WHERE partition = ANY($1::integer[]) ORDER BY partition, lsn DESC`,
      [partitions],
    );
    const latest = new Map<number, SnapshotRow>();
    for (const row of result.rows) {
      const payload = await snapshotPayload(this.client, row.partition, row);
      latest.set(row.partition, { partition: row.partition, lsn: lsnOf(row.lsn), payload });
    }
    return latest;
  }

  /**
   * Every WAL row of the partition after `afterLsn`, in lsn order, through binary COPY (raw
   * payload bytes, no hex to parse), in statements of `recoveryPageRows` rows so each stays far
   * within the statement timeout. A row's payload is a view of the stream's chunk. If `onRow`
   * throws, the rest of the statement is drained (the connection stays usable) and it rethrows.
   */
  async readTail(
    partition: number,
    afterLsn: number,
    onRow: (lsn: number, payload: Uint8Array) => void,
  ): Promise<number> {
    assert(Number.isSafeInteger(partition) && Number.isSafeInteger(afterLsn), 'bad tail bounds');
    let last = afterLsn;
    for (;;) {
      const rows = await this.copyRows(
        `COPY (SELECT lsn, payload FROM ledger_wal WHERE partition = ${partition}
               AND lsn > ${last} ORDER BY lsn LIMIT ${recoveryPageRows})
         TO STDOUT (FORMAT binary)`,
        false,
        (_partition, lsn, bytes, start, end) => {
          onRow(lsn, bytes.subarray(start, end));
          last = lsn;
        },
      );
      if (rows < recoveryPageRows) return last;
    }
  }

  /**
   * Every WAL row of each partition in `tails` after the lsn it maps to: all the partitions in
   * one binary COPY (an index scan each, side by side) rather than a statement each, since a
   * shard restarting from snapshots reads a short tail in each of its hundred-odd partitions and
   * every statement costs a round trip to Postgres. Rows come in no set order. A statement reads
   * at most `tailPageRows(open)` rows of each partition still open (`recoveryPageRows` shared
   * out, a thousand at least each), far within the statement timeout; a partition that filled
   * its page is read on from its last lsn by the next statement (`pageRows` fixes the page, for
   * tests). A row's payload is valid only during `onRow`. Resolves to the rows read.
   */
  async readTails(
    tails: ReadonlyMap<number, number>,
    onRow: WalPageRow,
    options: { readonly pageRows?: number } = {},
  ): Promise<number> {
    for (const [partition, afterLsn] of tails) {
      assert(Number.isSafeInteger(partition) && Number.isSafeInteger(afterLsn), 'bad tail bounds');
    }
    assert(options.pageRows === undefined || options.pageRows > 0, 'bad page size');
    let open = new Map(tails);
    let rows = 0;
    while (open.size > 0) {
      const pageRows = options.pageRows ?? tailPageRows(open.size);
      // Per partition of this statement: the rows it sent and the last lsn among them.
      const sent = new Map<number, { rows: number; lastLsn: number }>();
      rows += await this.copyRows(
        `COPY (SELECT w.partition, w.lsn, w.payload
               FROM unnest('{${[...open.keys()].join(',')}}'::integer[],
                           '{${[...open.values()].join(',')}}'::bigint[]) AS t(partition, after_lsn)
               CROSS JOIN LATERAL (
                 SELECT partition, lsn, payload FROM ledger_wal
                 WHERE partition = t.partition AND lsn > t.after_lsn
                 ORDER BY lsn LIMIT ${pageRows}) AS w)
         TO STDOUT (FORMAT binary)`,
        true,
        (partition, lsn, bytes, start, end) => {
          onRow(partition, lsn, bytes, start, end);
          const of = sent.get(partition);
          if (of === undefined) sent.set(partition, { rows: 1, lastLsn: lsn });
          else {
            of.rows += 1;
            if (lsn > of.lastLsn) of.lastLsn = lsn;
          }
        },
      );
      open = new Map();
      for (const [partition, of] of sent) {
        if (of.rows >= pageRows) open.set(partition, of.lastLsn);
      }
    }
    return rows;
  }

  /**
   * Every WAL row of the listed partitions, in the table's physical order, through binary COPY
   * in statements of `pageBlocks` heap blocks each (a TID range scan). The blocks are counted
   * once, at the start: rows written later belong to partitions someone else writes, never to
   * ones being recovered. A row's payload is a view of the stream's chunk (a chunk is not
   * reused, so the view stays valid as long as it is held). Before PostgreSQL 14, which reads a
   * TID range by scanning the whole table, each partition is read by its index instead.
   */
  async readAll(
    partitions: readonly number[],
    onRow: WalPageRow,
    onPageEnd: () => void = () => undefined,
    options: ReadAllOptions = {},
  ): Promise<number> {
    const { pageBlocks = recoveryPageBlocks } = options;
    assert(
      partitions.every((partition) => Number.isSafeInteger(partition)) &&
        Number.isSafeInteger(pageBlocks) &&
        pageBlocks > 0,
      'bad partitions or page size',
    );
    if (partitions.length === 0) return 0;
    if (options.byIndex === true || (await this.version()) < tidRangeScansFrom) {
      return this.readAllByIndex(partitions, onRow, onPageEnd);
    }
    const sized = await this.client.query<{ blocks: string }>(
      `SELECT pg_relation_size('ledger_wal') / current_setting('block_size')::bigint AS blocks`,
    );
    const blocks = Number(sized.rows[0]?.blocks ?? 0);
    const listed = `'{${partitions.join(',')}}'::integer[]`;
    let rows = 0;
    for (let first = 0; first < blocks; first += pageBlocks) {
      rows += await this.copyRows(
        `COPY (SELECT partition, lsn, payload FROM ledger_wal
               WHERE ctid >= '(${first},0)'::tid AND ctid < '(${first + pageBlocks},0)'::tid
                 AND partition = ANY(${listed}))
         TO STDOUT (FORMAT binary)`,
        true,
        onRow,
      );
      onPageEnd();
    }
    return rows;
  }

  /**
   * Runs one binary `COPY ... TO STDOUT` of WAL rows (with a leading partition column if
   * `withPartition`) and hands each row to `onRow`; resolves to the rows the statement sent. If
   * `onRow` throws, the rest of the statement is drained (the connection stays usable) and it
   * rethrows (copy-out.ts).
   */
  private async copyRows(sql: string, withPartition: boolean, onRow: WalPageRow): Promise<number> {
    const reader = new WalCopyRows(onRow, withPartition);
    await copyOut(this.client, sql, (bytes, start, end) => reader.push(bytes, start, end));
    if (!reader.complete) throw new WalCopyFormatError('the COPY stream ended before its end');
    return reader.rows;
  }

  /** `readAll` partition by partition, in lsn order: a page ends every `recoveryPageRows` rows. */
  private async readAllByIndex(
    partitions: readonly number[],
    onRow: WalPageRow,
    onPageEnd: () => void,
  ): Promise<number> {
    let rows = 0;
    for (const partition of partitions) {
      await this.readTail(partition, 0, (lsn, payload) => {
        onRow(partition, lsn, payload, 0, payload.length);
        rows += 1;
        if (rows % recoveryPageRows === 0) onPageEnd();
      });
      onPageEnd();
    }
    return rows;
  }

  private async version(): Promise<number> {
    if (this.serverVersion === undefined) {
      const result = await this.client.query<{ server_version_num: string }>(
        'SHOW server_version_num',
      );
      this.serverVersion = Number(result.rows[0]?.server_version_num ?? 0);
    }
    return this.serverVersion;
  }

  /**
   * One statement (a data-modifying CTE), so the WAL rows and their movements go together, as
   * they came. A movement is named by key and version: past a gap, those versions were never
   * acknowledged, so no other row of the history can hold them.
   */
  async cutTail(
    partition: number,
    lastLsn: number,
    movements: readonly MovementKey[],
    epoch?: number,
  ): Promise<number> {
    const values: unknown[] = [
      partition,
      lastLsn,
      movements.map((movement) => movement.productId),
      movements.map((movement) => movement.warehouseId),
      movements.map((movement) => movement.version),
    ];
    // In a cluster the cut is fenced like a write: a node that lost the partition's lease may
    // have read the journal before the new owner cut the same gap and wrote past it; its cut
    // would remove the new owner's acknowledged rows.
    let fenced = 'TRUE';
    if (this.fence !== undefined) {
      if (epoch === undefined) fail(`partition ${partition} cut without a lease`);
      values.push(this.fence.node, epoch);
      // A scalar subquery, so the function runs (an EXISTS would never call it).
      fenced = `(SELECT ledger_fence($6::text, ARRAY[$1::integer], ARRAY[$7::bigint])) > 0`;
    }
    const result = await this.client.query<{ rows: string }>(
      `WITH wal AS (DELETE FROM ledger_wal WHERE partition = $1 AND lsn > $2 AND ${fenced}
                    RETURNING 1),
            history AS (
              DELETE FROM ledger_movements
              WHERE (product_id, warehouse_id, version) IN (
                SELECT * FROM unnest($3::text[], $4::text[], $5::bigint[])) AND ${fenced}
              RETURNING 1)
       SELECT (SELECT count(*) FROM wal) AS rows, (SELECT count(*) FROM history) AS movements`,
      values,
    );
    return Number(result.rows[0]?.rows ?? 0);
  }

  async ping(): Promise<void> {
    await this.client.query('SELECT 1');
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

/** A group commit's movement rows as column arrays (the statement's unnest parameters). */
function movementArrays(rows: readonly MovementRow[], room: ArrayRoom): Buffer[] {
  const count = rows.length;
  const rowNumbers = new Array<number>(count);
  const productIds = new Array<string>(count);
  const warehouseIds = new Array<string>(count);
  const versions = new Array<number>(count);
  const atMs = new Array<number>(count);
  const onHands = new Array<number>(count);
  const reserveds = new Array<number>(count);
  const incomings = new Array<number>(count);
  const subjects = new Array<string>(count);
  const later = new Array<Uint8Array>(count);
  const laterCounts = new Array<number>(count);
  for (let index = 0; index < count; index += 1) {
    const row = rows[index] as MovementRow;
    const first = row.first;
    rowNumbers[index] = row.rowNumber;
    productIds[index] = first.productId;
    warehouseIds[index] = first.warehouseId;
    versions[index] = first.version;
    atMs[index] = first.atMs;
    onHands[index] = first.onHand;
    reserveds[index] = first.reserved;
    incomings[index] = first.incoming;
    subjects[index] = first.subject;
    // Empty for a row of one movement: NULL in the table.
    later[index] = row.later.length === 0 ? noLater : packLater(row.later);
    laterCounts[index] = row.later.length;
  }
  // In Postgres's binary array format (binary-arrays.ts): no text for Postgres to parse.
  return [
    int4Array(rowNumbers, room),
    textArray(productIds, room),
    textArray(warehouseIds, room),
    int8Array(versions, room),
    int8Array(atMs, room),
    int8Array(onHands, room),
    int8Array(reserveds, room),
    int8Array(incomings, room),
    textArray(subjects, room),
    byteaArray(later, room),
    int4Array(laterCounts, room),
  ];
}

const noLater = new Uint8Array(0);
