// --speed-probe: how fast the machine ran fixed work over the window. A small process of its own
// (speed-probe-child.mjs) times one unit of the same instructions every 100 ms in CPU time; the
// bench averages its units per second of the window. On a VM the same work can take a tenth
// longer from one minute to the next (a busy host, shared caches), and every process on the
// machine slows with it: a rate that falls while the probe's unit grows is the machine's, one
// that falls while the unit stays is the system's.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const childScript = fileURLToPath(new URL('./speed-probe-child.mjs', import.meta.url));

export interface SpeedProbe {
  /** Settles once the probe has timed its first unit (or has ended without one). */
  readonly started: Promise<void>;
  /**
   * Ends the probe; the mean CPU µs of its units in each second of [fromMs, fromMs + seconds
   * s), null for a second with no unit in it.
   */
  stop(fromMs: number, seconds: number): (number | null)[];
}

/** Starts the probe, bounded: it ends by itself after `maxSeconds` if never stopped. */
export function startSpeedProbe(maxSeconds: number): SpeedProbe {
  const child: ChildProcess = spawn(process.execPath, [childScript, String(maxSeconds)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const units: [atMs: number, cpuMicroseconds: number][] = [];
  let markStarted = (): void => undefined;
  const started = new Promise<void>((resolve) => {
    markStarted = resolve;
  });
  child.once('exit', () => markStarted());
  child.once('error', () => markStarted());
  if (child.stdout !== null) {
    createInterface({ input: child.stdout }).on('line', (line) => {
      const [atMs, cpu] = line.split(' ').map(Number);
      if (!Number.isFinite(atMs) || !Number.isFinite(cpu)) return;
      units.push([atMs as number, cpu as number]);
      markStarted();
    });
  }
  return {
    started,
    stop(fromMs, seconds) {
      child.kill();
      return perSecond(units, fromMs, seconds);
    },
  };
}

/** The mean of the units ending in each second of the window. */
export function perSecond(
  units: readonly (readonly [number, number])[],
  fromMs: number,
  seconds: number,
): (number | null)[] {
  const sums = new Array<number>(seconds).fill(0);
  const counts = new Array<number>(seconds).fill(0);
  for (const [atMs, cpu] of units) {
    const second = Math.floor((atMs - fromMs) / 1000);
    if (second < 0 || second >= seconds) continue;
    sums[second] = (sums[second] as number) + cpu;
    counts[second] = (counts[second] as number) + 1;
  }
  return sums.map((sum, second) => {
    const count = counts[second] as number;
    return count === 0 ? null : sum / count;
  });
}
