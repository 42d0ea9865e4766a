// The ledger under test, as a child process running the compiled dist/src/main.js: started on a
// free port, awaited until ready, and stopped by its PID (SIGTERM, then its exit is awaited).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { createInterface } from 'node:readline';
import { RawHttpClient } from './raw-http-client.js';

/** How long the ledger may take to print its listening line and then to become ready. */
const startTimeoutMsDefault = 60_000;
/** How long a SIGTERM'd ledger may take to drain, flush and (with --cpu-prof) write profiles. */
const stopTimeoutMs = 30_000;
/** Lines of the child's output kept to explain a failure. */
const outputLinesMax = 200;
const readyPollMsDefault = 50;
/** One readiness request that gets no answer this long fails, and the next one reconnects. */
const readyRequestTimeoutMs = 5_000;

export interface LedgerStartOptions {
  readonly root: string;
  readonly databaseUrl: string;
  readonly shards: number;
  readonly cpuProfileDirectory: string | undefined;
  /** Extra node flags for the ledger child (--node-flag), e.g. V8 heap settings to compare. */
  readonly nodeFlags: readonly string[];
  readonly ledgerEnvironment: Readonly<Record<string, string>>;
  /** Gets the stop function as soon as the child exists, so an interrupt during start stops it. */
  readonly onSpawned: (child: SpawnedLedger) => void;
  /** GET /health/ready every this many ms until 200 (default 50); see ServerChildOptions. */
  readonly readyPollMs?: number;
  readonly startTimeoutMs?: number;
  /** Sees every line the child prints (the output tail keeps only the last ones). */
  readonly onLine?: (line: string) => void;
  /** Where the child runs (default: the root). */
  readonly workingDirectory?: string | undefined;
  /** A command the ledger runs under, which execs node with the ledger's arguments. */
  readonly launcher?: readonly string[] | undefined;
}

export interface LedgerExit {
  readonly code: number | null;
  readonly signal: string | null;
  /** True when SIGTERM was not enough within stopTimeoutMs and SIGKILL was sent. */
  readonly killed: boolean;
}

export interface SpawnedLedger {
  readonly pid: number;
  /** The last lines the child printed (stdout and stderr), for error messages. */
  outputTail(): string;
  /** SIGTERM to the PID, then waits for the exit (SIGKILL after stopTimeoutMs). */
  stop(): Promise<LedgerExit>;
  /** SIGKILL to the PID (a crash, `kill -9`), then waits for the exit. */
  kill(): Promise<LedgerExit>;
}

export interface LedgerChild extends SpawnedLedger {
  readonly baseUrl: string;
  readonly env: Readonly<Record<string, string>>;
  readonly execArgv: readonly string[];
}

export function mainScriptPath(root: string): string {
  return join(root, 'dist', 'src', 'main.js');
}

/** Builds dist/ (`npm run build`: tsc, then the live page's files) when main.js is missing. */
export function ensureBuilt(root: string): void {
  if (existsSync(mainScriptPath(root))) return;
  process.stdout.write('dist/src/main.js is missing: building it (npm run build)\n');
  const result = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0 || !existsSync(mainScriptPath(root))) {
    throw new Error(
      'the build failed; run `npm run build` and fix its errors, then rerun the bench',
    );
  }
}

/**
 * Sources changed after the last build: the bench would measure older code than is checked out.
 * Each source is compared with its own compiled file (the page's files with their copies), not
 * with main.js: an incremental build rewrites only what changed, so main.js may rightly be older.
 */
export function staleSources(root: string): string[] {
  const sources = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' });
  return sources.filter((file) => {
    const compiled = file.endsWith('.ts')
      ? file.endsWith('.d.ts')
        ? undefined
        : file.replace(/\.ts$/, '.js')
      : file.startsWith(join('http', 'ui'))
        ? file
        : undefined;
    if (compiled === undefined) return false;
    const source = statSync(join(root, 'src', file));
    if (!source.isFile()) return false;
    const output = join(root, 'dist', 'src', compiled);
    return !existsSync(output) || source.mtimeMs > statSync(output).mtimeMs;
  });
}

export function childEnvironment(
  options: Pick<LedgerStartOptions, 'ledgerEnvironment' | 'shards' | 'databaseUrl'>,
): Record<string, string> {
  // A clean environment: an inherited LEDGER_JWT_SECRET or NATS_URL would change what is measured.
  const env: Record<string, string> = {
    ...options.ledgerEnvironment,
    PATH: process.env.PATH ?? '',
    HOST: '127.0.0.1',
    PORT: '0',
    // info, not warn: the port chosen for PORT=0 is only in the "listening" line.
    LOG_LEVEL: 'info',
    SHARDS: String(options.shards),
    DATABASE_URL: options.databaseUrl,
  };
  return env;
}

/** Node flags for the child only; --cpu-prof is refused in NODE_OPTIONS, so it goes on argv. */
function nodeFlags(options: LedgerStartOptions): string[] {
  if (options.cpuProfileDirectory === undefined) return [...options.nodeFlags];
  return [
    ...options.nodeFlags,
    '--cpu-prof',
    `--cpu-prof-dir=${resolvePath(options.cpuProfileDirectory)}`,
  ];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A timer for Promise.race that does not keep the bench alive once the race is decided. */
function deadline(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/**
 * GET /health/ready every `pollMs` until a 200, through the bench's own keep-alive client: the
 * poll runs beside the start it times, on the same cores. With fetch, the restart bench's process
 * used 0.75-1.17 s of CPU over a 1M-record cold start; with this client 0.26 s (bench/README.md).
 */
async function waitReady(
  baseUrl: string,
  deadlineMs: number,
  pollMs: number,
  exited: () => boolean,
) {
  const client = new RawHttpClient(baseUrl, { timeoutMs: readyRequestTimeoutMs });
  try {
    while (Date.now() < deadlineMs && !exited()) {
      const ready = await client.request('GET', '/health/ready').then(
        (answer) => answer.status === 200,
        () => false,
      );
      if (ready) return true;
      await sleep(pollMs);
    }
    return false;
  } finally {
    await client.close();
  }
}

/** The port from pino's `{"msg":"listening","port":N}` line; undefined for any other line. */
function listeningPort(line: string): number | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const entry = JSON.parse(line) as { msg?: unknown; port?: unknown };
    return entry.msg === 'listening' && typeof entry.port === 'number' ? entry.port : undefined;
  } catch (error) {
    // Not JSON after all (a stray line); it is kept in the output tail either way.
    void error;
    return undefined;
  }
}

export async function startLedger(options: LedgerStartOptions): Promise<LedgerChild> {
  const execArgv = nodeFlags(options);
  const [launcher, ...launcherArgs] = options.launcher ?? [];
  const nodeArgs = [...execArgv, mainScriptPath(options.root)];
  return startServerChild({
    name: 'the ledger',
    root: options.root,
    command: launcher,
    args: launcher === undefined ? nodeArgs : [...launcherArgs, process.execPath, ...nodeArgs],
    env: childEnvironment(options),
    execArgv,
    onSpawned: options.onSpawned,
    readyPollMs: options.readyPollMs,
    startTimeoutMs: options.startTimeoutMs,
    onLine: options.onLine,
    workingDirectory: options.workingDirectory,
  });
}

export interface ServerChildOptions {
  /** For error messages: "the ledger", "postgres-row-lock". */
  readonly name: string;
  readonly root: string;
  /** Arguments to node (flags, then the script). */
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly execArgv: readonly string[];
  readonly onSpawned: (child: SpawnedLedger) => void;
  /** What runs `args` (default: this node); `npm` runs the ledger the way `npm start` does. */
  readonly command?: string | undefined;
  /** GET /health/ready every this many ms until 200 (default 50): the resolution of a start. */
  readonly readyPollMs?: number | undefined;
  /** How long the listening line, then readiness, may take each (default 60 s). */
  readonly startTimeoutMs?: number | undefined;
  readonly onLine?: ((line: string) => void) | undefined;
  /** Where the child runs (default: the root). */
  readonly workingDirectory?: string | undefined;
}

/**
 * Any server that prints `{"msg":"listening","port":N}` and answers GET /health/ready: the
 * ledger or a baseline (bench/baselines/). Started on PORT=0, stopped by its PID.
 */
export async function startServerChild(options: ServerChildOptions): Promise<LedgerChild> {
  const { env, execArgv, name } = options;
  const startTimeoutMs = options.startTimeoutMs ?? startTimeoutMsDefault;
  const child = spawn(options.command ?? process.execPath, [...options.args], {
    cwd: options.workingDirectory ?? options.root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${name} (no PID)`);
  const lines: string[] = [];
  const keep = (line: string): void => {
    options.onLine?.(line);
    lines.push(line);
    if (lines.length > outputLinesMax) lines.shift();
  };
  let exit: { code: number | null; signal: string | null } | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  let resolvePort: (port: number) => void = () => undefined;
  const portKnown = new Promise<number>((resolve) => (resolvePort = resolve));
  // Both pipes are read to the end, or a chatty child would block on a full pipe mid-run.
  createInterface({ input: child.stderr }).on('line', keep);
  createInterface({ input: child.stdout }).on('line', (line) => {
    keep(line);
    const port = listeningPort(line);
    if (port !== undefined) resolvePort(port);
  });
  const outputTail = (): string => lines.join('\n');
  const stop = async (): Promise<LedgerExit> => {
    if (exit !== undefined) return { ...exit, killed: false };
    process.kill(pid, 'SIGTERM');
    const timedOut = await Promise.race([
      exited.then(() => false),
      deadline(stopTimeoutMs).then(() => true),
    ]);
    if (timedOut && exit === undefined) {
      process.kill(pid, 'SIGKILL');
      await exited;
    }
    const final = exit ?? { code: null, signal: null };
    return { ...final, killed: timedOut };
  };
  const kill = async (): Promise<LedgerExit> => {
    if (exit === undefined) process.kill(pid, 'SIGKILL');
    await exited;
    return { ...(exit ?? { code: null, signal: null }), killed: true };
  };
  options.onSpawned({ pid, outputTail, stop, kill });
  const deadlineMs = Date.now() + startTimeoutMs;
  const port = await Promise.race([
    portKnown,
    exited.then(() => undefined),
    deadline(startTimeoutMs).then(() => undefined),
  ]);
  const fail = async (why: string): Promise<never> => {
    await stop();
    throw new Error(`${why}; its last output:\n${outputTail()}`);
  };
  if (port === undefined) {
    return fail(exit === undefined ? `${name} printed no listening line` : `${name} exited`);
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  const pollMs = options.readyPollMs ?? readyPollMsDefault;
  if (!(await waitReady(baseUrl, deadlineMs, pollMs, () => exit !== undefined))) {
    return fail(`${name} did not become ready (GET /health/ready 200)`);
  }
  return { pid, baseUrl, env, execArgv, outputTail, stop, kill };
}
