// The journal: schema, layout check, SQL, group commit, record codec. (Embedded Postgres has its
// own surface in ./embedded/.)
export { migrate } from './migrations.js';
export {
  claimJournal,
  openLayout,
  JournalLayoutError,
  type JournalLayout,
} from './journal-meta.js';
export { JournalStore, type WalRow, type SnapshotRow } from './journal-store.js';
export { GroupCommit, type GroupCommitListener, type JournalSink } from './group-commit.js';
export { SnapshotWriter, type SnapshotConnection } from './snapshot-writer.js';
export { encodeRecord, decodeRecord, RecordDecodeError } from './record-codec.js';
export { encodeSnapshot, decodeSnapshot } from './snapshot-codec.js';
