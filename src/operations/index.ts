// Operations on a whole journal, run by the operator CLI while no ledger runs on it. This is the
// top floor with the CLI: it uses router, shards, actors and persistence, and nothing uses it.
export {
  MigrationCheckError,
  migratePartitions,
  type MigrationOptions,
  type MigrationResult,
  type MigrationSummary,
} from './migrate-partitions.js';
export { backfillHistory, type BackfillResult, type BackfillSummary } from './backfill-history.js';
export { RegroupError, regroupByProduct, type Regrouped } from './regroup-by-product.js';
export { RegroupCheck, compareRegrouped } from './state-comparison.js';
