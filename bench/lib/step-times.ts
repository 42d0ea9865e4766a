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

  constructor(readonly overMs: number) {}

  /** Runs one step, `at` holds before it. */
  time(at: number, step: () => void): void {
    const started = performance.now();
    step();
    const ms = performance.now() - started;
    this.totalMs += ms;
    this.longestMs = Math.max(this.longestMs, ms);
    if (ms > this.overMs) this.slow.push([at, ms]);
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
