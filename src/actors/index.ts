// The domain's public surface: pure, synchronous, no imports from other src/ folders.
export { AssertionError, InvariantError, assert, fail } from './assert.js';
export { cartClaimsMax, cartHoldId } from './cart-work.js';
export { defaultSettings, limitWindowSecondsDefault } from './product-book.js';
export type { ApplyResult, Write } from './apply-result.js';
export { merged } from './merged.js';
export { PartitionState, homePartitionOf, stockKey } from './partition-state.js';
export { checkRecord } from './record-check.js';
export { OldestFirst } from './oldest-first.js';
export {
  captureSnapshot,
  finishedEntriesOf,
  restoreSnapshot,
  type PartitionSnapshot,
  type RestorableActor,
  type RestorableSnapshot,
  type Tuples,
} from './snapshot.js';
export { SnapshotCapture, type SnapshotSink } from './snapshot-capture.js';
export { StockActor, extrasOf, type Reservation } from './stock-actor.js';
export { stockSignal } from './types.js';
export type * from './types.js';
export {
  countsBefore,
  isMovement,
  movementOf,
  subjectOf,
  type Movement,
  type MovementCounts,
  type MovementRecord,
  type MovementType,
} from './movement.js';
