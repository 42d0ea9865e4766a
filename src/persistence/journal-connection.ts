// What a shard needs of its journal, declared here and implemented by JournalStore (Postgres).
// Tests and the simulator implement it in memory (test/helpers, test/sim); nothing else does.

export interface WalRow {
  readonly partition: number;
  readonly lsn: number;
  readonly payload: Uint8Array;
  /** The record is a change of a stock key: its movement goes in the same write. */
  readonly movement?: MovementColumns;
  /**
   * In a cluster: the epoch of the partition's lease the record was applied under. The write
   * is fenced by it, so a record applied under a lease since lost is never written, even after
   * the node takes the partition again.
   */
  readonly epoch?: number;
}

/** What a movement row keeps beside the record's bytes (the key's counts after the change). */
export interface MovementColumns {
  readonly productId: string;
  readonly warehouseId: string;
  readonly version: number;
  readonly atMs: number;
  readonly onHand: number;
  readonly reserved: number;
  readonly incoming: number;
  /** The caller's token subject; '' when none. */
  readonly subject: string;
}

/** Names one movement row: a stock key's change, by the version it gave the key. */
export interface MovementKey {
  readonly productId: string;
  readonly warehouseId: string;
  readonly version: number;
}

/** A snapshot as read back: its bytes in one buffer. */
export interface SnapshotRow {
  readonly partition: number;
  readonly lsn: number;
  readonly payload: Uint8Array;
}

/**
 * A snapshot to write: its bytes in blocks, in order. A shard's encoder hands over its blocks as
 * they are (SnapshotEncoder): put together in one buffer, a hot partition's snapshot (110 MB for
 * a million holds) was in memory twice until the blocks were collected.
 */
export interface SnapshotWrite {
  readonly partition: number;
  readonly lsn: number;
  readonly blocks: readonly Uint8Array[];
}

/** The bytes of a snapshot to write. */
export function snapshotBytes(write: SnapshotWrite): number {
  let bytes = 0;
  for (const block of write.blocks) bytes += block.length;
  return bytes;
}

/** Where group commits go: one call writes one batch, durably, or fails. */
export interface JournalSink {
  append(rows: readonly WalRow[]): Promise<void>;
}

/** Where snapshots go (on a connection of their own, so they never hold up group commits). */
export interface SnapshotConnection {
  writeSnapshot(row: SnapshotWrite): Promise<void>;
  close(): Promise<void>;
}

/** What recovery reads. */
export interface JournalReader {
  /** The newest snapshot of each listed partition that has one. */
  latestSnapshots(partitions: readonly number[]): Promise<Map<number, SnapshotRow>>;
  /**
   * Calls `onRow` for every WAL row of each partition in `tails` after the lsn it maps to, in no
   * set order (one partition's rows may come between another's, and out of lsn order): the
   * short tails after the partitions' snapshots, read together. A row's payload is valid only
   * during `onRow`. Resolves to the rows read.
   */
  readTails(tails: ReadonlyMap<number, number>, onRow: WalPageRow): Promise<number>;
  /**
   * Calls `onRow` for every WAL row of the listed partitions, in no set order: one pass over the
   * table in its physical order, instead of an index scan per partition whose row fetches land
   * all over it (the rows of a partition lie between every other partition's). For recovering
   * many partitions from lsn 1. Rows come in pages: `onPageEnd` is called after each page's
   * rows, and a row's payload stays valid until then. Resolves to the rows read.
   */
  readAll(
    partitions: readonly number[],
    onRow: WalPageRow,
    onPageEnd?: () => void,
  ): Promise<number>;
}

/**
 * A row of `readAll` or `readTails`: its payload is `bytes[start, end)`, a range of a chunk that
 * holds other rows too (no view is made of each row: a recovery reads millions).
 */
export type WalPageRow = (
  partition: number,
  lsn: number,
  bytes: Uint8Array,
  start: number,
  end: number,
) => void;

/** One connection to the journal: a shard writes, snapshots and recovers through these. */
export interface JournalConnection extends JournalSink, SnapshotConnection, JournalReader {
  /** A cheap round trip, to tell whether the journal answers at all. */
  ping(): Promise<void>;
  /**
   * Removes the partition's WAL rows after `lastLsn` and the `movements` written with them, in
   * one transaction: rows past a gap, which were never acknowledged (partition-recovery.ts).
   * Resolves to the WAL rows removed. In a cluster, `epoch` is the partition's lease, which the
   * cut is fenced by (as a write is).
   */
  cutTail(
    partition: number,
    lastLsn: number,
    movements: readonly MovementKey[],
    epoch?: number,
  ): Promise<number>;
}
