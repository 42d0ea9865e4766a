// Starting the embedded Postgres, step by step: the package, the OS user and directories, an
// orphan from a previous run, the password, initdb, the server, the `ledger` database.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { initialiseCluster, isInitialised, startServer } from './cluster.js';
import { host } from './connection.js';
import { ensureDatabase } from './database.js';
import { handleFor, type EmbeddedPostgresHandle } from './handle.js';
import { loadEmbeddedPostgres } from './load-package.js';
import { postgresOwner, prepareDirectories } from './os-user.js';
import { OutputTail } from './output-tail.js';
import { readOrCreatePassword } from './password-file.js';
import { stopOrphan } from './postmaster.js';

export interface EmbeddedPostgresOptions {
  dataDir: string; // the LEDGER_DATA_DIR; Postgres data goes in `${dataDir}/pg`
  log: (message: string) => void; // one line per notable event
  port?: number; // default: a free port on 127.0.0.1 picked at start (never 5432)
}

/** Starts (initialising on first use) the ledger's Postgres under `${dataDir}/pg`. */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgresHandle> {
  const { log } = options;
  const startedMs = Date.now();
  // First, so that the package's exit hooks are gone before anything else can go wrong.
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const dataDir = path.resolve(options.dataDir);
  const pgDir = path.join(dataDir, 'pg');
  const owner = await postgresOwner(log);
  await prepareDirectories(dataDir, pgDir, owner, log);
  const pgDirReal = await realpath(pgDir);
  await stopOrphan(pgDir, pgDirReal, log);
  const initialised = await isInitialised(pgDir);
  const password = await readOrCreatePassword(dataDir, initialised);
  const settings = { EmbeddedPostgres, pgDir, password, owner };
  if (!initialised) {
    await initialiseCluster({ ...settings, output: new OutputTail(log), port: 0 }, log);
  }
  const { port, pid } = await startServer(settings, pgDirReal, options.port, log);
  const handle = handleFor(port, pid, password, pgDirReal, log);
  try {
    await ensureDatabase(port, password, log);
  } catch (error) {
    await handle.stop();
    throw error;
  }
  log(`embedded postgres: started on ${host}:${port} (pid ${pid}) in ${Date.now() - startedMs} ms`);
  return handle;
}
