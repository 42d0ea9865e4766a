// The measured window by ten seconds: the rate, and what each part spent an answer, in each
// stretch. A rate that falls over a run can be the system getting slower as its state grows, or
// the machine: the load generator does the same work for every answer whatever the system's
// state, so where the server's CPU an answer grows by the same factor as the generator's, the
// machine slowed (or the parts waited on each other alike); where the server's grows alone, the
// server did. With --speed-probe, the probe's fixed unit says how fast the machine itself ran.
import type { CpuUse } from './machine.js';
import { fixed, tableRow } from './markdown.js';

export interface WindowRun {
  readonly system: string;
  readonly run: number;
  readonly perSecond: readonly number[];
  readonly cpuPerSecond: readonly CpuUse[];
  readonly speedPerSecond?: readonly (number | null)[];
}

export const windowTableNote =
  "Each stretch's answers a second and what each part spent an answer in it. The load generator " +
  "does the same work for every answer whatever the system's state: where the server's CPU an " +
  "answer grows with the generator's (server ÷ load-gen steady), the machine slowed; where it " +
  'grows alone, the server did. With --speed-probe, the CPU µs of a unit of fixed work timed ' +
  'every 100 ms beside the run (bench/lib/speed-probe.ts): higher is a slower machine.';

/** Runs of this many seconds or more get the table. */
export const windowTableMinSeconds = 20;
const stretchSeconds = 10;

const mean = (values: readonly number[]): number =>
  values.reduce((sum, value) => sum + value, 0) / values.length;

/** Pearson's r of two series of the same length (null if either does not vary). */
export function correlation(xs: readonly number[], ys: readonly number[]): number | null {
  if (xs.length !== ys.length || xs.length < 3) return null;
  const [mx, my] = [mean(xs), mean(ys)];
  let [sxy, sxx, syy] = [0, 0, 0];
  xs.forEach((x, index) => {
    const y = ys[index] as number;
    sxy += (x - mx) * (y - my);
    sxx += (x - mx) ** 2;
    syy += (y - my) ** 2;
  });
  return sxx === 0 || syy === 0 ? null : sxy / Math.sqrt(sxx * syy);
}

interface Stretch {
  readonly from: number;
  readonly to: number;
  readonly rate: number;
  /** µs an answer of each part; null where /proc did not say. */
  readonly server: number | null;
  readonly mainThread: number | null;
  readonly postgres: number | null;
  readonly generator: number | null;
  readonly probe: number | null;
}

/**
 * µs of a part an answer over the seconds [from, to) that have a CPU reading, each second's CPU
 * with that second's answers: the sampler takes its readings a second apart from the window's
 * start, so a window of N seconds may have N - 1, and the answers of a second without one are
 * left out with it.
 */
function microsecondsPerAnswer(
  run: WindowRun,
  from: number,
  to: number,
  cores: (use: CpuUse) => number | null,
): number | null {
  let busy = 0;
  let answers = 0;
  for (let second = from; second < Math.min(to, run.cpuPerSecond.length); second += 1) {
    const use = run.cpuPerSecond[second] as CpuUse;
    const value = cores(use);
    if (value === null) return null;
    busy += value * use.seconds;
    answers += run.perSecond[second] as number;
  }
  return answers > 0 ? (busy * 1e6) / answers : null;
}

function stretches(run: WindowRun): Stretch[] {
  const result: Stretch[] = [];
  for (let from = 0; from < run.perSecond.length; from += stretchSeconds) {
    const to = Math.min(from + stretchSeconds, run.perSecond.length);
    const answers = run.perSecond.slice(from, to);
    const total = answers.reduce((sum, value) => sum + value, 0);
    const probe = (run.speedPerSecond ?? [])
      .slice(from, to)
      .filter((value): value is number => value !== null);
    const per = (cores: (use: CpuUse) => number | null): number | null =>
      microsecondsPerAnswer(run, from, to, cores);
    result.push({
      from,
      to,
      rate: total / answers.length,
      server: per((use) => use.ledgerCores),
      mainThread: per((use) => use.ledgerMainThreadCores),
      postgres: per((use) => use.postgresCores),
      generator: per((use) => use.benchCores),
      probe: probe.length === 0 ? null : mean(probe),
    });
  }
  return result;
}

/** A figure of the table: one decimal unless said, `-` where there is none. */
const cell = (value: number | null, digits = 1): string => fixed(value, digits, '-');

/** The per-second answers against the probe's unit, over the seconds that have both. */
export function rateAgainstProbe(run: WindowRun): number | null {
  const pairs = run.perSecond.flatMap((answers, second) => {
    const probe = run.speedPerSecond?.[second];
    return probe === null || probe === undefined ? [] : [[answers, probe] as const];
  });
  return correlation(
    pairs.map(([answers]) => answers),
    pairs.map(([, probe]) => probe),
  );
}

export function windowTable(runs: readonly WindowRun[]): string {
  const probed = runs.some((run) => run.speedPerSecond !== undefined);
  const header = [
    'system',
    'run',
    'seconds',
    'answers/s',
    'server µs/answer',
    'HTTP thread µs/answer',
    'postgres µs/answer',
    'load-gen µs/answer',
    'server ÷ load-gen',
    ...(probed ? ['probe µs a unit'] : []),
  ];
  const lines = [
    tableRow(header),
    tableRow(header.map((_, column) => (column === 0 || column === 2 ? '---' : '---:'))),
  ];
  for (const run of runs) {
    for (const stretch of stretches(run)) {
      const ratio =
        stretch.server === null || stretch.generator === null || stretch.generator === 0
          ? null
          : stretch.server / stretch.generator;
      lines.push(
        tableRow([
          run.system,
          String(run.run),
          `${stretch.from}–${stretch.to}`,
          String(Math.round(stretch.rate)),
          cell(stretch.server),
          cell(stretch.mainThread),
          cell(stretch.postgres),
          cell(stretch.generator),
          cell(ratio, 2),
          ...(probed ? [cell(stretch.probe, 0)] : []),
        ]),
      );
    }
  }
  const notes = runs.flatMap((run) => {
    const r = rateAgainstProbe(run);
    return r === null
      ? []
      : [
          `${run.system} run ${run.run}: answers a second against the probe's unit, r = ${r.toFixed(2)}`,
        ];
  });
  return [...lines, ...(notes.length === 0 ? [] : ['', ...notes.map((note) => `- ${note}`)])].join(
    '\n',
  );
}
