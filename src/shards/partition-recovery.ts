// Partition recovery, the one routine that turns a journal into state: the latest snapshot, then
// every WAL record after it, each decoded, checked and replayed by the actors' own code. The
// shard recovers with it, the CLI's verify and migrate-partitions rebuild with it, and the tests
// compare the running ledger with what it gives.
import {
  PartitionState,
  assert,
  checkRecord,
  restoreSnapshot,
  type JournalRecord,
  type RetentionPolicy,
} from '../actors/index.js';
import {
  decodeRecord,
  decodeSnapshot,
  type JournalReader,
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
  const lastLsn = await reader.readTail(partition, snapshotLsn, (lsn, payload) => {
    assert(
      lsn === expectedLsn,
      () => `partition ${partition}: journal gap, lsn ${lsn} after ${expectedLsn - 1}`,
    );
    const record = decodeRecord(payload);
    checkRecord(record);
    state.replay(record);
    options.onRecord?.(partition, lsn, record);
    expectedLsn += 1;
  });
  return { state, snapshotLsn, lastLsn, records: lastLsn - snapshotLsn };
}
