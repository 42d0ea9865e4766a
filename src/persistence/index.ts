// The journal: schema, layout check, ownership lease, SQL, group commit, record codec, embedded
// Postgres.
export { migrate } from './migrations.js';
export { openLayout, JournalLayoutError, type JournalLayout } from './journal-meta.js';
export {
  JournalOwner,
  ownerLockId,
  reclaimDelayMs,
  reclaimVerdict,
  type JournalOwnerOptions,
  type JournalOwnerState,
  type ReclaimSight,
  type ReclaimVerdict,
} from './journal-owner.js';
export { JournalStore, type WalRow, type SnapshotRow } from './journal-store.js';
export { GroupCommit, type GroupCommitListener, type JournalSink } from './group-commit.js';
export { SnapshotWriter, type SnapshotConnection } from './snapshot-writer.js';
export { encodeRecord, decodeRecord, RecordDecodeError } from './record-codec.js';
export { encodeSnapshot, decodeSnapshot } from './snapshot-codec.js';
