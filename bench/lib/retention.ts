// The retention the in-process micro-benches give their partitions: the ledger's defaults of a
// day of finished holds and a million finished entries, and a bound on_hand never reaches.
import type { RetentionPolicy } from '../../src/actors/index.js';

export const aDayRetained: RetentionPolicy = {
  retainFinishedMs: 86_400_000,
  retainFinishedMax: 1_000_000,
  onHandMax: 1e12,
};
