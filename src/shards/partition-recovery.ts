// Partition recovery, the one routine that turns a journal into state: the latest snapshot, then
// every WAL record after it, each decoded, checked and replayed by the actors' own code. The
// shard recovers with it, the CLI's verify and migrate-partitions rebuild with it, and the tests
// compare the running ledger with what it gives.
//
// The first gap in a partition's lsns ends what can have been acknowledged: with several group
// commits in flight, a later write may commit while an earlier one fails, and nothing after the
// failed one was ever told durable. Rows past the gap are not replayed; they are told back
// (`pastGap`) so the shard removes them before it writes the partition again.
//
// Partitions with a snapshot read their tails together, by index, in one statement (the tails
// are short, and a statement each was a round trip each: with Postgres 1 ms away, a restart
// from snapshots took 0.83x the time at 100k records, bench/README.md). Many partitions without
// one, a large share of the journal's (a first start on an old journal, a verify from lsn 1),
// are read in one pass over the WAL table in its physical order, several times faster than an
// index scan each: rows then come in commit order, not lsn order (with several commits in
// flight a later lsn can land first). Either way a row that comes before its predecessor waits
// until the predecessor comes; whatever still waits at the end lies past a gap. Each page of the
// one pass is replayed partition by partition: replaying the rows as they came, one partition
// after another, took 8.0-8.8 s on one thread against 4.8-5.0 s for the per-partition read
// (bench/restart.ts at a6fe354; every row lands on a state cold in the CPU's caches).
import {
  PartitionState,
  checkRecord,
  fail,
  isMovement,
  merged,
  restoreSnapshot,
  type JournalRecord,
  type RetentionPolicy,
} from '../actors/index.js';
import {
  decodeRecordAt,
  decodeSnapshotForRestore,
  type JournalReader,
  type MovementKey,
  type SnapshotRow,
  type WalPageRow,
} from '../persistence/index.js';

export interface RecoveryOptions {
  readonly retention: RetentionPolicy;
  /** Start from the latest snapshot (default), or replay the whole WAL from lsn 1. */
  readonly fromSnapshots?: boolean;
  /** Told of each replayed record, after it is applied. */
  readonly onRecord?: (partition: number, lsn: number, record: JournalRecord) => void;
  /**
   * The journal's partitions, all of them (default: the ones recovered). One pass reads the
   * whole table, so it pays only for a large enough share of it: `onePassShareMin`.
   */
  readonly partitionCount?: number;
}

/**
 * The least share of the journal's partitions recovered in one pass. Reading the table in its
 * physical order cost about a seventh of an index scan per partition (1,071,230 rows: 0.48-0.50 s
 * against 3.5-4.2 s, `bench/restart.ts`), so from about a seventh on; a quarter leaves a margin
 * for partitions holding fewer rows than others. A cluster node adopting a few partitions of a
 * large journal reads them by their index.
 */
const onePassShareMin = 1 / 4;

export interface RecoveredPartition {
  readonly state: PartitionState;
  /** The lsn of the snapshot recovery started from (0 if none). */
  readonly snapshotLsn: number;
  /** The partition's last durable lsn: the next record gets the one after it. */
  readonly lastLsn: number;
  /** WAL records replayed after the snapshot. */
  readonly records: number;
  /** Rows past the first gap (never acknowledged), if any: see the top of this file. */
  readonly pastGap?: PastGap;
}

/** The rows of a partition that lie past its first gap. */
export interface PastGap {
  readonly rows: number;
  /** The movement rows written with them (same statement), by key and version. */
  readonly movements: MovementKey[];
}

export async function recoverPartitions(
  reader: JournalReader,
  partitions: readonly number[],
  options: RecoveryOptions,
): Promise<Map<number, RecoveredPartition>> {
  const snapshots =
    options.fromSnapshots === false
      ? new Map<number, SnapshotRow>()
      : await reader.latestSnapshots(partitions);
  const share = partitions.length / (options.partitionCount ?? partitions.length);
  if (snapshots.size === 0 && partitions.length > 1 && share >= onePassShareMin) {
    return recoverInOnePass(reader, partitions, options);
  }
  const replays = new Map<number, PartitionReplay>();
  const tails = new Map<number, number>();
  for (const partition of partitions) {
    const replay = new PartitionReplay(partition, snapshots.get(partition), options);
    replays.set(partition, replay);
    tails.set(partition, replay.snapshotLsn);
  }
  await reader.readTails(tails, (partition, lsn, bytes, start, end) => {
    const replay = replays.get(partition);
    if (replay === undefined) fail(`a row of partition ${partition}, not asked for`);
    replay.offer(lsn, bytes, start, end);
  });
  const recovered = new Map<number, RecoveredPartition>();
  for (const [partition, replay] of replays) recovered.set(partition, replay.finish());
  return recovered;
}

/** Every listed partition from lsn 1, in one pass over the WAL in any order of rows. */
async function recoverInOnePass(
  reader: JournalReader,
  partitions: readonly number[],
  options: RecoveryOptions,
): Promise<Map<number, RecoveredPartition>> {
  const replays = new Map(
    partitions.map((partition) => [partition, new PartitionReplay(partition, undefined, options)]),
  );
  // The page's rows by partition, in the order read, each partition's payloads copied back to
  // back as they arrive (while their bytes are in the CPU's caches): replayed later from the
  // page's chunks, each row would be a read from memory, in no order.
  const page = new Map<number, PageRows>();
  const replayPage = () => {
    for (const [partition, rows] of page) {
      const replay = replays.get(partition) as PartitionReplay;
      let start = 0;
      for (let index = 0; index < rows.count; index += 1) {
        const end = rows.ends[index] as number;
        replay.offer(rows.lsns[index] as number, rows.bytes, start, end);
        start = end;
      }
      rows.count = 0;
    }
  };
  const onRow: WalPageRow = (partition, lsn, bytes, start, end) => {
    let rows = page.get(partition);
    if (rows === undefined) {
      // Checked once a partition, not for every row.
      if (!replays.has(partition)) fail(`a row of partition ${partition}, not asked for`);
      page.set(partition, (rows = new PageRows()));
    }
    rows.add(lsn, bytes, start, end);
  };
  await reader.readAll(partitions, onRow, replayPage);
  replayPage();
  const recovered = new Map<number, RecoveredPartition>();
  for (const [partition, replay] of replays) recovered.set(partition, replay.finish());
  return recovered;
}

/**
 * One partition's rows of a page: their lsns, and their payloads back to back (row i ends at
 * `ends[i]`). The arrays are reused from page to page: only the first `count` rows are this page's.
 * Reusing the bytes is safe because nothing decoded keeps them: a record's fields are strings and
 * numbers of their own, and the codec copies any binary value it meets (msgpackr's copyBuffers).
 */
class PageRows {
  readonly lsns: number[] = [];
  readonly ends: number[] = [];
  bytes = new Uint8Array(4096);
  count = 0;

  /** Copies in the row in `from[start, end)`. */
  add(lsn: number, from: Uint8Array, start: number, end: number): void {
    const at = this.count === 0 ? 0 : (this.ends[this.count - 1] as number);
    const length = end - start;
    if (at + length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(at + length, this.bytes.length * 2));
      grown.set(this.bytes.subarray(0, at));
      this.bytes = grown;
    }
    // A row is about 90 bytes: copied by a loop, with no view made of it for a native copy.
    const bytes = this.bytes;
    for (let index = 0; index < length; index += 1) {
      bytes[at + index] = from[start + index] as number;
    }
    this.lsns[this.count] = lsn;
    this.ends[this.count] = at + length;
    this.count += 1;
  }
}

/** One partition's recovery: its snapshot, then its rows replayed in lsn order to the first gap. */
class PartitionReplay {
  readonly state: PartitionState;
  /** The lsn of the snapshot recovery started from (0 if none). */
  readonly snapshotLsn: number;
  private expectedLsn: number;
  private pastGap: { rows: number; movements: MovementKey[] } | undefined = undefined;
  /** Rows read before their predecessor (`offer` only), copied, by lsn. */
  private readonly early = new Map<number, Uint8Array>();

  constructor(
    private readonly partition: number,
    snapshot: SnapshotRow | undefined,
    private readonly options: RecoveryOptions,
  ) {
    this.state =
      snapshot === undefined
        ? new PartitionState(partition, options.retention)
        : restoreSnapshot(decodeSnapshotForRestore(snapshot.payload), options.retention);
    if (this.state.partition !== partition) {
      fail(`snapshot of ${this.state.partition} under ${partition}`);
    }
    this.snapshotLsn = snapshot?.lsn ?? 0;
    this.expectedLsn = this.snapshotLsn + 1;
  }

  /** The partition's next row in lsn order: `bytes[start, end)`. */
  private next(lsn: number, bytes: Uint8Array, start: number, end: number): void {
    const { partition } = this;
    const record = decodeRecordAt(bytes, start, end);
    if (this.pastGap === undefined && lsn !== this.expectedLsn) {
      if (lsn <= this.expectedLsn) fail(`partition ${partition}: lsn ${lsn} read out of order`);
      this.pastGap = { rows: 0, movements: [] };
    }
    if (this.pastGap !== undefined) {
      this.pastGap.rows += 1;
      if (isMovement(record)) {
        const { productId, warehouseId, version } = record;
        this.pastGap.movements.push({ productId, warehouseId, version });
      }
      return;
    }
    checkRecord(record);
    this.state.replay(record);
    this.options.onRecord?.(partition, lsn, record);
    this.expectedLsn += 1;
  }

  /** A row in any order: replayed once every row before it was, else kept until then. */
  offer(lsn: number, bytes: Uint8Array, start: number, end: number): void {
    if (lsn !== this.expectedLsn) {
      const { partition } = this;
      if (!(lsn > this.expectedLsn && !this.early.has(lsn))) {
        fail(`partition ${partition}: lsn ${lsn} read twice`);
      }
      // The row lies in the reader's bytes, which it writes over (the next page of the one pass;
      // a tail's next chunk): kept, it must be a copy (Uint8Array's slice copies; a Buffer's
      // would be a view).
      this.early.set(lsn, Uint8Array.prototype.slice.call(bytes, start, end));
      return;
    }
    this.next(lsn, bytes, start, end);
    if (this.early.size === 0) return;
    let held = this.early.get(this.expectedLsn);
    while (held !== undefined) {
      this.early.delete(this.expectedLsn);
      this.next(this.expectedLsn, held, 0, held.length);
      held = this.early.get(this.expectedLsn);
    }
  }

  /** After the last `offer`: the rows still held lie past a gap, in lsn order. */
  finish(): RecoveredPartition {
    const held = [...this.early].sort(([a], [b]) => a - b);
    this.early.clear();
    for (const [lsn, payload] of held) this.next(lsn, payload, 0, payload.length);
    const { state, snapshotLsn, pastGap } = this;
    const lastLsn = this.expectedLsn - 1;
    const recovered = { state, snapshotLsn, lastLsn, records: lastLsn - snapshotLsn };
    return pastGap === undefined ? recovered : merged(recovered, { pastGap });
  }
}
