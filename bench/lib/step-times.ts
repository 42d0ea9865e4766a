// The growth micro-benches (pending-growth.ts, retained-growth.ts): `--holds` steps, each timed
// alone, and the ones over `--over-ms` kept with how many holds there were before them, so that
// one step that stops the shard (a table doubling, a heap rebuilt) shows and says when it came.
import { parseArgs } from 'node:util';

export interface GrowthOptions {
  readonly holds: number;
  readonly overMs: number;
}

export function growthOptions(): GrowthOptions {
  const { values } = parseArgs({
    options: {
      holds: { type: 'string', default: '1100000' },
      'over-ms': { type: 'string', default: '2' },
    },
  });
  return { holds: Number(values.holds), overMs: Number(values['over-ms']) };
}

export class StepTimes {
  longestMs = 0;
  totalMs = 0;
  /** Steps over `overMs`: [holds before it, ms]. */
  readonly slow: [number, number][] = [];
  /** ms of the steps in each tenth of the run, in the order they ran. */
  private readonly tenths = new Float64Array(10);
  private steps = 0;

  /** `total`: how many steps the run will time (for the tenths). */
  constructor(
    readonly overMs: number,
    readonly total: number,
  ) {}

  /** Runs one step, `at` holds before it. */
  time(at: number, step: () => void): void {
    const started = performance.now();
    step();
    const ms = performance.now() - started;
    this.totalMs += ms;
    const tenth = Math.min(9, Math.floor((this.steps * 10) / this.total));
    this.tenths[tenth] = (this.tenths[tenth] as number) + ms;
    this.steps += 1;
    this.longestMs = Math.max(this.longestMs, ms);
    if (ms > this.overMs) this.slow.push([at, ms]);
  }

  /** µs a step in each tenth of the run, first to last: does a step cost more as holds pile up? */
  perTenth(): string {
    const stepsPerTenth = this.total / 10;
    return [...this.tenths].map((ms) => ((ms * 1000) / stepsPerTenth).toFixed(2)).join(' ');
  }

  /** The `count` slowest steps, slowest first, as "ms<unit> at holds". */
  slowest(count: number, unit = ''): string {
    return [...this.slow]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([at, ms]) => `${ms.toFixed(1)}${unit} at ${at.toLocaleString('en-US')}`)
      .join(', ');
  }
}
