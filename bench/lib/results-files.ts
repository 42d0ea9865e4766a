// Where a bench run's files go: bench/results/<bench>-<start>.json (and .md, .svg beside it),
// <start> the run's start as an ISO time with ':' and '.' written '-', so that names sort by time
// and are valid file names anywhere. Every bench that keeps its results writes through here.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

/** A time as the files name it: `2026-12-05T21:23:25.280Z` → `2026-12-05T21-23-25-280Z`. */
export function fileStamp(iso: string): string {
  return iso.replace(/[:.]/g, '-');
}

/** The run's files' path without an extension, its directory made. */
export function resultsBase(root: string, bench: string, startedAt: string): string {
  const directory = join(root, 'bench', 'results');
  mkdirSync(directory, { recursive: true });
  return join(directory, `${bench}-${fileStamp(startedAt)}`);
}

export interface WrittenResults {
  /** The files' path without an extension (a bench may put more files beside them). */
  readonly base: string;
  readonly json: string;
}

/** What was written with a report: its `.md` as well. */
export interface WrittenReport extends WrittenResults {
  readonly md: string;
}

/** Writes the run's record as `<base>.json` and, if given, its report as `<base>.md`. */
export function writeRunFiles(
  root: string,
  bench: string,
  startedAt: string,
  record: unknown,
  markdown: string,
): WrittenReport;
export function writeRunFiles(
  root: string,
  bench: string,
  startedAt: string,
  record: unknown,
): WrittenResults;
export function writeRunFiles(
  root: string,
  bench: string,
  startedAt: string,
  record: unknown,
  markdown?: string,
): WrittenResults | WrittenReport {
  const base = resultsBase(root, bench, startedAt);
  writeFileSync(`${base}.json`, `${JSON.stringify(record, null, 2)}\n`);
  if (markdown === undefined) return { base, json: `${base}.json` };
  writeFileSync(`${base}.md`, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  return { base, json: `${base}.json`, md: `${base}.md` };
}

/** A run as a flash-sale results file keeps it: what the answers are read from. */
interface StoredRun {
  readonly system: string;
  readonly scenario: string;
  readonly run: number;
  readonly statusCounts: Record<string, number>;
  readonly warmupStatusCounts: Record<string, number>;
}

export interface RunAnswers {
  readonly measured: number;
  readonly warmup: number;
}

function readRuns(path: string): readonly StoredRun[] {
  return (JSON.parse(readFileSync(path, 'utf8')) as { runs: StoredRun[] }).runs;
}

function answersOf(run: StoredRun): RunAnswers {
  const sum = (counts: Record<string, number>) =>
    Object.values(counts).reduce((total, count) => total + count, 0);
  return { measured: sum(run.statusCounts), warmup: sum(run.warmupStatusCounts) };
}

/**
 * The answers of the one run in a flash-sale results file (a `--runs 1` command's JSON): in the
 * measured window, and in the warm-up before it. A file of several runs is refused.
 */
export function oneRunAnswers(path: string): RunAnswers {
  const runs = readRuns(path);
  if (runs.length !== 1) throw new Error(`${path}: one run wanted, not ${runs.length}`);
  return answersOf(runs[0] as StoredRun);
}

/**
 * The answers of the run a --perf-dir recording was made in, found by the recording's file name
 * (`<system>-<scenario>-<run>.perf.data`, or `.postgres.perf.data`): a command that ran several
 * systems keeps them all in one file. A name no run of the file has is refused.
 */
export function recordedRunAnswers(path: string, recording: string): RunAnswers {
  const name = basename(recording).replace(/(\.postgres)?\.(perf\.data|txt)$/, '');
  const run = readRuns(path).find((each) => `${each.system}-${each.scenario}-${each.run}` === name);
  if (run === undefined) throw new Error(`${path}: no run named ${name}`);
  return answersOf(run);
}
