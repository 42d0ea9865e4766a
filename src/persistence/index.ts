// The journal: schema, layout check, ownership lease, SQL, group commit, record codec.
// Embedded Postgres has a room of its own (./embedded/) that only the composition root imports.
export { migrate } from './migrations.js';
export { byteaArray, int4Array, int8Array, textArray } from './binary-arrays.js';
export { backendHeapKeptBytes, keepBackendHeap } from './backend-heap.js';
export {
  commitDurably,
  durabilityProblems,
  durabilitySettings,
  type DurabilityProblem,
  type DurabilitySettings,
} from './durability.js';
export { openLayout, JournalLayoutError, type JournalLayout } from './journal-meta.js';
export {
  JournalOwner,
  claimJournal,
  ownerLockId,
  reclaimDelayMs,
  reclaimVerdict,
  type JournalOwnerOptions,
  type JournalOwnerState,
  type ReclaimSight,
  type ReclaimVerdict,
} from './journal-owner.js';
export type {
  JournalConnection,
  JournalReader,
  JournalSink,
  MovementColumns,
  MovementKey,
  SnapshotConnection,
  SnapshotRow,
  SnapshotWrite,
  WalPageRow,
  WalRow,
} from './journal-connection.js';
export { snapshotBytes } from './journal-connection.js';
export {
  JournalStore,
  leaseLostCode,
  leasesLostBy,
  snapshotPayload,
  type JournalStoreOptions,
  type LeaseFence,
  type StoredSnapshot,
} from './journal-store.js';
export {
  ClusterLeases,
  ReopeningConnection,
  type ClusterSight,
  type LeaseConnection,
  type LeaseRow,
  type NodeRow,
  type TakenLease,
} from './cluster-leases.js';
export {
  eventBacklog,
  highestLsn,
  journalExists,
  lockJournalTables,
  readLayout,
  replaceJournal,
  type EventBacklog,
  type JournalReplacement,
} from './journal-rewrite.js';
export {
  loadReservationRoutes,
  replaceReservationRoutes,
  type ReservationRoute,
} from './reservation-routes.js';
export { GroupCommit, type GroupCommitListener, type SnapshotHandoff } from './group-commit.js';
export { SnapshotWriter } from './snapshot-writer.js';
export { SnapshotThread } from './snapshot-thread.js';
export { encodeRecord, decodeRecord, decodeRecordAt, RecordDecodeError } from './record-codec.js';
export {
  SnapshotEncoder,
  decodeSnapshot,
  decodeSnapshotForRestore,
  encodeSnapshot,
} from './snapshot-codec.js';
export { HistoryStore, movementOfRow, type HistoryStoreOptions } from './history-store.js';
export {
  HistoryMaintenance,
  claimTask,
  dayOf,
  historyTask,
  maintainHistory,
  movementPartitions,
  partitionName,
  type HistoryMaintenanceOptions,
  type HistoryRetentionOptions,
  type RetentionRun,
} from './history-retention.js';
export { trimWal, type WalTrimOptions } from './wal-trim.js';
