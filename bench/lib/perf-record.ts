// --perf-dir: Linux perf records the ledger's threads over the measured window, with their call
// stacks (frame pointers; the ledger runs with node's --perf-basic-prof, so JavaScript frames are
// named from the /tmp/perf-PID.map it writes, which stays there for perf script to read). Read
// with bench/perf-breakdown.ts. Sampling with stacks
// costs the ledger throughput: a run recorded so is for where the time goes, not for its rate.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Samples per second and thread: a prime, so the sampling does not beat with a periodic task. */
export const perfFrequency = 997;

/**
 * The node flags that name JavaScript frames for perf (/tmp/perf-PID.map). They also start V8's
 * own log, which would write an isolate-*.log per thread into the ledger's working directory:
 * it goes to one file beside the recording instead.
 */
export function perfNodeFlags(directory: string, name: string): string[] {
  mkdirSync(directory, { recursive: true });
  const log = resolve(join(directory, `${name}.v8.log`));
  return ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${log}`];
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

/** Starts recording every thread of `pid` into DIR/NAME.perf.data. */
export function recordPerf(directory: string, name: string, pid: number): PerfRecording {
  mkdirSync(directory, { recursive: true });
  const file = resolve(join(directory, `${name}.perf.data`));
  const args = ['record', '-F', String(perfFrequency), '-g', '-p', String(pid), '-o', file, '-q'];
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
