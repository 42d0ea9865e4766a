// The cluster through the package: initdb on first use, then starting the server on a port
// (picking another free one if it was taken meanwhile) until it accepts connections.
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { host, superuser } from './connection.js';
import { errorCode } from './error-code.js';
import type { EmbeddedPostgresClass } from './load-package.js';
import type { Owner } from './os-user.js';
import { OutputTail } from './output-tail.js';
import { readPostmasterPid, stopPostmaster } from './postmaster.js';
import { pickFreePort } from './ports.js';

// Start-up includes crash recovery (WAL replay) after an unclean stop, which can be slow.
const startTimeoutMs = 120_000;
// A picked port can be taken by someone else before Postgres binds it; then we pick again.
const portAttemptsMax = 3;

export interface ClusterSettings {
  /** The package's class, loaded (and its exit hooks removed) by loadEmbeddedPostgres. */
  EmbeddedPostgres: EmbeddedPostgresClass;
  pgDir: string;
  password: string;
  owner: Owner | undefined;
  output: OutputTail;
  port: number;
}

function cluster(settings: ClusterSettings) {
  return new settings.EmbeddedPostgres({
    databaseDir: settings.pgDir,
    port: settings.port,
    user: superuser,
    password: settings.password,
    authMethod: 'scram-sha-256',
    // persistent: stop() must never delete the journal (the package rm -rf's it otherwise).
    persistent: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    // TCP on 127.0.0.1 only, and no Unix socket (it would go to /tmp, shared with everyone).
    postgresFlags: ['-c', `listen_addresses=${host}`, '-c', 'unix_socket_directories='],
    createPostgresUser: settings.owner !== undefined,
    onLog: settings.output.append,
    onError: (error: unknown) => settings.output.append(`${String(error)}\n`),
  });
}

/** Whether initdb has already run in pgDir (it writes PG_VERSION). */
export async function isInitialised(pgDir: string): Promise<boolean> {
  const file = path.join(pgDir, 'PG_VERSION');
  try {
    await stat(file);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
}

export async function initialiseCluster(settings: ClusterSettings, log: (m: string) => void) {
  const startedMs = Date.now();
  try {
    await cluster(settings).initialise();
  } catch (error) {
    throw new Error(`embedded postgres: initdb failed in ${settings.pgDir}`, { cause: error });
  }
  log(`embedded postgres: initialised ${settings.pgDir} in ${Date.now() - startedMs} ms`);
}

/** Starts postgres on settings.port; resolves with its pid once it accepts connections. */
async function startOnce(settings: ClusterSettings, pgDirReal: string, log: (m: string) => void) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), startTimeoutMs);
  });
  // The package rejects with `undefined` when postgres exits during start; the output says why.
  const started = cluster(settings)
    .start()
    .then(() => 'started' as const)
    .catch(() => 'exited' as const);
  const outcome = await Promise.race([started, timeout]);
  clearTimeout(timer);
  const pid = await readPostmasterPid(settings.pgDir);
  if (outcome === 'started' && pid !== undefined) return pid;
  if (pid !== undefined) await stopPostmaster(pid, pgDirReal, log);
  const reasons = {
    timeout: `not ready after ${startTimeoutMs} ms`,
    exited: 'postgres exited',
    started: 'ready, but no postmaster.pid',
  } as const;
  const reason = reasons[outcome];
  throw new Error(
    `embedded postgres: failed to start on port ${settings.port} (${reason}): ${settings.output}`,
  );
}

export async function startServer(
  settings: Omit<ClusterSettings, 'port' | 'output'>,
  pgDirReal: string,
  requestedPort: number | undefined,
  log: (m: string) => void,
): Promise<{ port: number; pid: number }> {
  const attempts = requestedPort === undefined ? portAttemptsMax : 1;
  for (let attempt = 1; ; attempt++) {
    const port = requestedPort ?? (await pickFreePort());
    const output = new OutputTail(log);
    try {
      return { port, pid: await startOnce({ ...settings, port, output }, pgDirReal, log) };
    } catch (error) {
      const portTaken = output.toString().includes('Address already in use');
      if (!portTaken || attempt >= attempts) throw error;
      log(`embedded postgres: port ${port} was taken before postgres bound it; picking another`);
    }
  }
}
