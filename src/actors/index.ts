// The domain's public surface: pure, synchronous, no imports from other src/ folders.
export { AssertionError, assert } from './assert.js';
export { PartitionState, stockKey, type ApplyResult } from './partition-state.js';
export { captureSnapshot, restoreSnapshot, type PartitionSnapshot } from './snapshot.js';
export { StockActor, type Reservation } from './stock-actor.js';
export type * from './types.js';
