// --perf-dir: Linux perf records the ledger's threads over the measured window, with their call
// stacks (frame pointers), and in a second file the Postgres backends of its database. Read with
// bench/perf-breakdown.ts. Sampling with stacks costs the ledger throughput: a run recorded so
// is for where the time goes, not for its rate. A baseline's node process is recorded the same
// way (what the ledger is said of here is said of it too).
//
// JavaScript frames are named from V8's JIT dump (node --perf-prof), not from the address map
// --perf-basic-prof writes (/tmp/perf-PID.map). That map has no time in it: when V8 frees code
// and later puts new code at the same address, both entries stay, and perf names the address by
// one of them. It did so in a hot-SKU recording: the shard's `handle`, optimized again during
// the run, was read as the journal's `append`, whose earlier code had been there, and the work
// of applying requests went to "group commit written". The dump has each piece of code's load
// time; perf inject --jit (after the ledger has stopped, so the dump is complete) names every
// sample by the code that was at its address then, writing one small ELF file per piece of code.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Samples per second and thread: a prime, so the sampling does not beat with a periodic task. */
export const perfFrequency = 997;

/**
 * Where the ledger runs while recorded: V8 writes its JIT dump (jit-PID.dump) into the working
 * directory, and perf inject its jitted-PID-N.so files beside it, so neither lands in the repo.
 */
export function perfWorkingDirectory(directory: string, name: string): string {
  const path = resolve(join(directory, `${name}.jit`));
  mkdirSync(path, { recursive: true });
  return path;
}

/**
 * The node flags that write the JIT dump. They also start V8's own log, which would write an
 * isolate-*.log per thread into the working directory: it goes to one file beside the recording.
 */
export function perfNodeFlags(directory: string, name: string): string[] {
  mkdirSync(directory, { recursive: true });
  const log = resolve(join(directory, `${name}.v8.log`));
  return ['--perf-prof', '--no-logfile-per-isolate', `--logfile=${log}`];
}

/** Fails at once, before anything starts, where perf is missing or may not record. */
export function checkPerf(): void {
  const probe = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  if (probe.error !== undefined || probe.status !== 0) {
    throw new Error('--perf-dir needs Linux perf on the PATH (Debian: apt-get install linux-perf)');
  }
}

export interface PerfRecording {
  readonly file: string;
  /** Stops the recording and resolves once perf has written its file. */
  stop(): Promise<void>;
}

/** The ledger's recording as perf wrote it, its JavaScript frames not named yet (nameJitCode). */
export function rawRecording(directory: string, name: string): string {
  mkdirSync(directory, { recursive: true });
  return resolve(join(directory, `${name}.raw.perf.data`));
}

/**
 * The recording of the Postgres backends serving the system's database over the same window
 * (native code: named as recorded). perf-breakdown knows it by its name (`isPostgresRecording`).
 */
export function postgresRecording(directory: string, name: string): string {
  mkdirSync(directory, { recursive: true });
  return resolve(join(directory, `${name}.postgres.perf.data`));
}

/** Whether a file is such a recording, or its `perf script` kept as `<name>.postgres.txt`. */
export function isPostgresRecording(file: string): boolean {
  return /\.postgres\.(perf\.data|txt)$/.test(file);
}

/**
 * Starts recording every thread of the processes `pids` into `file`, on the monotonic clock the
 * JIT dump's times are on.
 */
export function recordPerf(file: string, pids: readonly number[]): PerfRecording {
  const args = ['record', '-k', 'mono', '-F', String(perfFrequency), '-g', '-q'];
  args.push('-p', pids.join(','), '-o', file);
  const child: ChildProcess = spawn('perf', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let stopping = false;
  const exited = new Promise<void>((done, failed) => {
    child.once('error', failed);
    child.once('exit', (code, signal) => {
      // Stopped by its SIGINT, perf writes its file and then ends by that signal (or with 0);
      // any other end, or one before it was asked to stop, lost the recording.
      if (stopping && (code === 0 || signal === 'SIGINT')) done();
      else failed(new Error(`perf record ended with ${code ?? signal}: ${stderr.trim()}`));
    });
  });
  // A perf that fails before it is stopped (perf_event_paranoid, a vanished pid) is reported by
  // `stop`, not as an unhandled rejection meanwhile.
  exited.catch(() => undefined);
  return {
    file,
    stop: () => {
      if (!stopping) {
        stopping = true;
        child.kill('SIGINT');
      }
      return exited;
    },
  };
}

/**
 * Once the ledger has stopped: names the recording's JavaScript frames from the JIT dump into
 * DIR/NAME.perf.data (what perf-breakdown reads), then removes the raw recording and the dump
 * (the jitted-*.so files stay: perf script reads the names from them). Says what it did; a
 * recording that never started (the run failed before its window) is left alone.
 */
export async function nameJitCode(directory: string, name: string): Promise<string> {
  const raw = rawRecording(directory, name);
  if (!existsSync(raw)) return `no perf recording of ${name} to name`;
  const file = resolve(join(directory, `${name}.perf.data`));
  const workingDirectory = perfWorkingDirectory(directory, name);
  const dumps = readdirSync(workingDirectory).filter((entry) => /^jit-\d+\.dump$/.test(entry));
  if (dumps.length === 0)
    throw new Error(`no JIT dump in ${workingDirectory}: was node given --perf-prof?`);
  const injected = await runPerf(['inject', '--jit', '-i', raw, '-o', file]);
  if (injected !== '') throw new Error(`perf inject --jit: ${injected}`);
  rmSync(raw);
  for (const dump of dumps) rmSync(join(workingDirectory, dump));
  return `perf recording with named JavaScript frames: ${file}`;
}

/** Runs perf to its end: '' when it succeeded, else what it said. */
function runPerf(args: readonly string[]): Promise<string> {
  return new Promise((done) => {
    const child = spawn('perf', [...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', (error) => done(error.message));
    child.once('exit', (code, signal) =>
      done(code === 0 ? '' : `ended with ${code ?? signal}: ${stderr.trim()}`),
    );
  });
}
