// Partition recovery, the one routine that turns a journal into state: the latest snapshot, then
// every WAL record after it, each decoded, checked and replayed by the actors' own code. The
// shard recovers with it, the CLI's verify and migrate-partitions rebuild with it, and the tests
// compare the running ledger with what it gives.
//
// The first gap in a partition's lsns ends what can have been acknowledged: with several group
// commits in flight, a later write may commit while an earlier one fails, and nothing after the
// failed one was ever told durable. Rows past the gap are not replayed; they are told back
// (`pastGap`) so the shard removes them before it writes the partition again.
import {
  PartitionState,
  assert,
  checkRecord,
  isMovement,
  restoreSnapshot,
  type JournalRecord,
  type RetentionPolicy,
} from '../actors/index.js';
import {
  decodeRecord,
  decodeSnapshot,
  type JournalReader,
  type MovementKey,
  type SnapshotRow,
} from '../persistence/index.js';

export interface RecoveryOptions {
  readonly retention: RetentionPolicy;
  /** Start from the latest snapshot (default), or replay the whole WAL from lsn 1. */
  readonly fromSnapshots?: boolean;
  /** Told of each replayed record, after it is applied. */
  readonly onRecord?: (partition: number, lsn: number, record: JournalRecord) => void;
}

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
  const recovered = new Map<number, RecoveredPartition>();
  for (const partition of partitions) {
    recovered.set(
      partition,
      await recoverPartition(reader, partition, snapshots.get(partition), options),
    );
  }
  return recovered;
}

async function recoverPartition(
  reader: JournalReader,
  partition: number,
  snapshot: SnapshotRow | undefined,
  options: RecoveryOptions,
): Promise<RecoveredPartition> {
  const state =
    snapshot === undefined
      ? new PartitionState(partition, options.retention)
      : restoreSnapshot(decodeSnapshot(snapshot.payload), options.retention);
  assert(state.partition === partition, () => `snapshot of ${state.partition} under ${partition}`);
  const snapshotLsn = snapshot?.lsn ?? 0;
  let expectedLsn = snapshotLsn + 1;
  let pastGap: { rows: number; movements: MovementKey[] } | undefined;
  await reader.readTail(partition, snapshotLsn, (lsn, payload) => {
    const record = decodeRecord(payload);
    if (pastGap === undefined && lsn !== expectedLsn) {
      assert(lsn > expectedLsn, () => `partition ${partition}: lsn ${lsn} read out of order`);
      pastGap = { rows: 0, movements: [] };
    }
    if (pastGap !== undefined) {
      pastGap.rows += 1;
      if (isMovement(record)) {
        const { productId, warehouseId, version } = record;
        pastGap.movements.push({ productId, warehouseId, version });
      }
      return;
    }
    checkRecord(record);
    state.replay(record);
    options.onRecord?.(partition, lsn, record);
    expectedLsn += 1;
  });
  const lastLsn = expectedLsn - 1;
  const recovered = { state, snapshotLsn, lastLsn, records: lastLsn - snapshotLsn };
  return pastGap === undefined ? recovered : { ...recovered, pastGap };
}
