// Runs the real ledger (compiled dist/src/main.js) as a child process on a free port and talks
// to it over HTTP; tests can stop it with SIGTERM or kill it with SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
export const mainScript = `${root}dist/src/main.js`;

export interface LedgerProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly baseUrl: string;
  /** Everything the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL, no chance to flush or clean up. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

export interface StartOptions {
  readonly env: Record<string, string>;
  /** Wait for /health/ready (default) or only for the listening line. */
  readonly waitReady?: boolean;
  readonly timeoutMs?: number;
  /** A command the ledger runs under (it execs node with the ledger's arguments). */
  readonly launcher?: readonly string[];
}

/** A ledger process as spawned, before it listens (it may block on the journal lock first). */
export interface SpawnedLedger {
  readonly child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** The port of its `listening` line, once printed. */
  port(): number | undefined;
}

export function spawnLedger(
  env: Record<string, string>,
  launcher: readonly string[] = [],
): SpawnedLedger {
  const [command, ...args] = [...launcher, process.execPath, mainScript];
  const child = spawn(command ?? process.execPath, args, {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', PORT: '0', LOG_LEVEL: 'info', SHARDS: '2', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, output: () => output, exited, port: () => listeningPort(output) };
}

function listeningPort(output: string): number | undefined {
  const match = /"port":(\d+)[^\n]*"msg":"listening"/.exec(output);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export async function startLedger(options: StartOptions): Promise<LedgerProcess> {
  const { child, output, exited } = spawnLedger(options.env, options.launcher);
  const port = await waitForPort(output, exited, options.timeoutMs ?? 60_000);
  const baseUrl = `http://127.0.0.1:${port}`;
  if (options.waitReady !== false) await waitReady(baseUrl, options.timeoutMs ?? 60_000, output);
  return {
    child,
    port,
    baseUrl,
    output,
    exited,
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

async function waitForPort(
  output: () => string,
  exited: Promise<number | null>,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let done = false;
  void exited.then(() => (done = true));
  while (Date.now() < deadline) {
    const port = listeningPort(output());
    if (port !== undefined) return port;
    if (done) throw new Error(`ledger exited before listening:\n${output()}`);
    await sleep(20);
  }
  throw new Error(`ledger did not listen within ${timeoutMs} ms:\n${output()}`);
}

export async function waitReady(
  baseUrl: string,
  timeoutMs: number,
  output = () => '',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ready = await fetch(`${baseUrl}/health/ready`).then(
      (response) => response.status === 200,
      () => false,
    );
    if (ready) return;
    await sleep(25);
  }
  throw new Error(`ledger not ready within ${timeoutMs} ms:\n${output()}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * The first line of a ledger's output that matches `pattern`, waited for: its log reaches the test
 * through a pipe, and a line may come a little after the answer that made it. Fails after
 * `timeoutMs` without one.
 */
export function loggedLine(
  output: () => string,
  pattern: RegExp,
  timeoutMs = 5_000,
): Promise<string> {
  return eventually(timeoutMs, async () => {
    const line = output()
      .split('\n')
      .find((candidate) => pattern.test(candidate));
    if (line === undefined) throw new Error(`no line of the ledger's output matches ${pattern}`);
    return line;
  });
}

/** Polls `check` until it passes or `timeoutMs` ends (then its last failure is thrown). */
export async function eventually<T>(timeoutMs: number, check: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}
