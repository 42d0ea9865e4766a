// What `bench/pairs.ts` makes of each flash-sale run and of the pairs: the figures a before/after
// claim rests on, taken from a run's JSON record, and per figure the ratio of this checkout (A)
// to the other (B) pair by pair, with the median of the ratios. Pure, so its test needs no run.
import { median } from './report.js';
import { scenario, scenarioNames, type ScenarioName } from './scenarios.js';

/** The part of a flash-sale JSON record read here (bench/lib/report.ts writes it). */
export interface RunRecord {
  readonly parameters: { readonly durationSeconds: number };
  readonly runs: readonly {
    readonly system: string;
    readonly scenario: string;
    readonly requestsPerSecond: number | null;
    readonly latency: {
      readonly p99Ms: number;
      readonly p999Ms: number;
      readonly maxMs: number;
    } | null;
    readonly cpu: {
      readonly ledgerCores: number | null;
      readonly ledgerMainThreadCores: number | null;
      readonly postgresCores: number | null;
      readonly otherCores: number | null;
    } | null;
    readonly ledger?: {
      readonly groupCommits: number;
      readonly flushMeanMs: number;
    } | null;
    /** --speed-probe: the CPU µs of its fixed unit in each second of the window. */
    readonly speedPerSecond?: readonly (number | null)[];
    /** --ledger-memory-mb: what the ledger's cgroup saw, its stop included. */
    readonly stop?: {
      readonly memoryCgroup?: { readonly mostMb: number | null; readonly oomKills: number | null };
    };
  }[];
}

/** One run's figures (null: the record did not have it). */
export interface RunFigures {
  readonly requestsPerSecond: number | null;
  readonly p99Ms: number | null;
  readonly p999Ms: number | null;
  readonly maxMs: number | null;
  readonly serverMicrosecondsPerAnswer: number | null;
  readonly mainThreadMicrosecondsPerAnswer: number | null;
  readonly postgresMicrosecondsPerAnswer: number | null;
  /**
   * The measured window over its group commits, less a commit's mean flush: the journal idle.
   * Only where one shard does all the committing (a one-key scenario): the record counts the
   * commits of all shards together, and shards commit side by side.
   */
  readonly commitIdleMs: number | null;
  readonly otherCores: number | null;
  /**
   * --speed-probe: the median of its CPU µs a unit of fixed work over the window's seconds; how
   * fast the machine itself ran (higher is slower), whatever the ledger did.
   */
  readonly speedProbeMicroseconds: number | null;
  /** --ledger-memory-mb: the most the ledger's cgroup used, its start, run and stop included. */
  readonly cgroupMostMb: number | null;
  /** --ledger-memory-mb: processes the kernel killed in the ledger's cgroup for memory. */
  readonly oomKills: number | null;
}

/** Whether a scenario's load goes to one stock key, so to one shard's journal. */
function oneKey(name: string): boolean {
  if (!(scenarioNames as readonly string[]).includes(name)) return false;
  return scenario(name as ScenarioName, { soldOutStock: 1 }).keyCount === 1;
}

/** The figures compared pair by pair (a count of kills is told, not divided). */
export type Figure = Exclude<keyof RunFigures, 'oomKills'>;

export const figureNames: Record<Figure, string> = {
  requestsPerSecond: 'req/s',
  p99Ms: 'p99 ms',
  p999Ms: 'p99.9 ms',
  maxMs: 'max ms',
  serverMicrosecondsPerAnswer: 'server µs/answer',
  mainThreadMicrosecondsPerAnswer: 'HTTP thread µs/answer',
  postgresMicrosecondsPerAnswer: 'postgres µs/answer',
  commitIdleMs: 'journal idle ms/commit',
  otherCores: 'other cores',
  speedProbeMicroseconds: 'speed probe µs/unit',
  cgroupMostMb: "cgroup's most MB",
};

const perAnswer = (cores: number | null | undefined, rate: number | null): number | null =>
  cores === null || cores === undefined || rate === null || rate <= 0 ? null : (cores / rate) * 1e6;

/** The ledger's run of a record: its figures. Throws if the record holds no ledger run. */
export function ledgerFigures(record: RunRecord): RunFigures {
  const run = record.runs.find((candidate) => candidate.system === 'ledger');
  if (run === undefined) throw new Error('the record holds no run of the ledger');
  const rate = run.requestsPerSecond;
  const commits = run.ledger?.groupCommits ?? 0;
  const commitIdleMs =
    run.ledger === undefined || run.ledger === null || commits <= 0 || !oneKey(run.scenario)
      ? null
      : (record.parameters.durationSeconds * 1000) / commits - run.ledger.flushMeanMs;
  return {
    requestsPerSecond: rate,
    p99Ms: run.latency?.p99Ms ?? null,
    p999Ms: run.latency?.p999Ms ?? null,
    maxMs: run.latency?.maxMs ?? null,
    serverMicrosecondsPerAnswer: perAnswer(run.cpu?.ledgerCores, rate),
    mainThreadMicrosecondsPerAnswer: perAnswer(run.cpu?.ledgerMainThreadCores, rate),
    postgresMicrosecondsPerAnswer: perAnswer(run.cpu?.postgresCores, rate),
    commitIdleMs,
    otherCores: run.cpu?.otherCores ?? null,
    speedProbeMicroseconds: median(run.speedPerSecond ?? []),
    cgroupMostMb: run.stop?.memoryCgroup?.mostMb ?? null,
    oomKills: run.stop?.memoryCgroup?.oomKills ?? null,
  };
}

/** Which checkout runs first in pair `pair` (1-based): A in odd pairs, B in even ones. */
export function pairOrder(pair: number): readonly ['A', 'B'] | readonly ['B', 'A'] {
  return pair % 2 === 1 ? ['A', 'B'] : ['B', 'A'];
}

export interface Pair {
  readonly a: RunFigures;
  readonly b: RunFigures;
}

export interface FigureSummary {
  readonly figure: Figure;
  /** A / B, pair by pair (null where either lacks the figure or B's is 0). */
  readonly ratios: readonly (number | null)[];
  readonly medianRatio: number | null;
  /** Pairs in which A's figure is below B's. */
  readonly aLower: number;
  readonly comparable: number;
}

export function summarise(pairs: readonly Pair[]): FigureSummary[] {
  return (Object.keys(figureNames) as Figure[]).map((figure) => {
    const ratios = pairs.map(({ a, b }) => {
      const [x, y] = [a[figure], b[figure]];
      return x === null || y === null || y === 0 ? null : x / y;
    });
    const known = ratios.filter((ratio): ratio is number => ratio !== null);
    return {
      figure,
      ratios,
      medianRatio: median(known),
      aLower: known.filter((ratio) => ratio < 1).length,
      comparable: known.length,
    };
  });
}
