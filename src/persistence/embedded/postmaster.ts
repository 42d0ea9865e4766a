// Our postmaster as a process: recognising it in /proc, signalling it, waiting for it to exit,
// and stopping it, or the orphan a SIGKILLed ledger left behind.
import { readFileSync, readlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorCode } from './error-code.js';

// A fast shutdown checkpoints first; on a large, busy cluster that can take several seconds.
const fastShutdownWaitMs = 15_000;
// After SIGKILL the kernel only has to tear the process down.
const killWaitMs = 5_000;
const exitPollMs = 50;

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
 * The fields of /proc/<pid>/stat after the command name (the state first, then the parent's pid),
 * or undefined once the process is gone.
 */
function statFields(pid: number): string[] | undefined {
  const stat = readProcFile(`/proc/${pid}/stat`, (file) => readFileSync(file, 'utf8'));
  // The command name is in parentheses and may itself contain ')'.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * True while the process exists and is not a zombie. A zombie has exited and only waits to be
 * reaped, which may never happen: an orphan's new parent (PID 1 here) need not reap it.
 */
function isRunning(pid: number): boolean {
  const state = statFields(pid)?.[0];
  return state !== undefined && state !== 'Z' && state !== 'X';
}

/**
 * Whether `pid` is a postmaster serving our data directory. A pid from postmaster.pid may have been
 * reused by any process since, so it is only signalled if its command line names postgres and its
 * working directory is our data directory (the postmaster chdirs into it), which also tells our
 * postmaster apart from the system Postgres. The server this process started is also recognised
 * as its own child: a child's pid goes to no other process until its parent has reaped it, and
 * its working directory no longer matches once the data directory was moved or deleted under it
 * (which would otherwise leave it running, holding its port, after the ledger stopped).
 * Synchronous: it only reads /proc, which never blocks.
 */
export function isOurPostmaster(pid: number, pgDirReal: string): boolean {
  const cmdline = readProcFile(`/proc/${pid}/cmdline`, (file) => readFileSync(file, 'utf8'));
  if (cmdline === undefined || !cmdline.includes('postgres')) return false;
  const cwd = readProcFile(`/proc/${pid}/cwd`, (link) => readlinkSync(link));
  return cwd === pgDirReal || statFields(pid)?.[1] === String(process.pid);
}

/** Sends a signal; false if the process was already gone. */
export function signal(pid: number, name: NodeJS.Signals): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch (error) {
    if (errorCode(error) === 'ESRCH') return false;
    throw error;
  }
}

/** Whether the process exited (or became a zombie) within `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
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
export async function stopPostmaster(pid: number, pgDirReal: string, log: (m: string) => void) {
  if (!isOurPostmaster(pid, pgDirReal) || !signal(pid, 'SIGINT')) return;
  if (await waitForExit(pid, fastShutdownWaitMs)) return;
  log(`embedded postgres: pid ${pid} still running ${fastShutdownWaitMs} ms after SIGINT; SIGKILL`);
  if (isOurPostmaster(pid, pgDirReal)) signal(pid, 'SIGKILL');
  if (!(await waitForExit(pid, killWaitMs))) {
    throw new Error(`embedded postgres: postmaster pid ${pid} did not exit after SIGKILL`);
  }
}

/** The pid on the first line of postmaster.pid; undefined if there is no such file or pid. */
export async function readPostmasterPid(pgDir: string): Promise<number | undefined> {
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
export async function stopOrphan(pgDir: string, pgDirReal: string, log: (m: string) => void) {
  const pid = await readPostmasterPid(pgDir);
  if (pid === undefined || !isOurPostmaster(pid, pgDirReal)) return;
  log(`embedded postgres: stopping orphaned postmaster pid ${pid} left by a previous run`);
  await stopPostmaster(pid, pgDirReal, log);
  log(`embedded postgres: orphaned postmaster pid ${pid} stopped`);
}
