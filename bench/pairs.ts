// Before/after on a noisy machine: runs the flash-sale bench in this checkout (A) and in another
// built checkout (B, say a worktree of the commit before a change) in turn, A then B in odd pairs
// and B then A in even ones, so that each pair shares the machine's moment; then per figure the
// ratio A/B pair by pair and the median of the ratios (bench/lib/pairs-report.ts). Each side runs
// its own checkout's bench and ledger build. Only the ledger is measured (no --compare).
//
//   npx tsx bench/pairs.ts --vs-root ../other-checkout [--pairs 5] \
//     -- --scenario hot-sku --duration 15   (the flash-sale bench's own flags, as `npm run bench`)
//
// Or one checkout against itself with a flag more on side A (--a-flag, repeatable; without
// --vs-root B is this checkout too): a setting or an experiment against the run without it,
//
//   npx tsx bench/pairs.ts --a-flag=--unlogged-journal --pairs 3 -- --scenario hot-sku
//
// Writes bench/results/pairs-<timestamp>.json with both sides' result files and figures.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { integerFlag } from './lib/args.js';
import { ensureBuilt } from './lib/ledger-child.js';
import {
  figureNames,
  ledgerFigures,
  pairOrder,
  summarise,
  type Pair,
  type RunFigures,
  type RunRecord,
} from './lib/pairs-report.js';
import { writeRunFiles } from './lib/results-files.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = (line: string): boolean => process.stdout.write(`${line}\n`);

/** Bench flags that would make a run something else than one run of the ledger. */
const refusedBenchFlags = ['--compare', '--systems', '--runs'];

interface SideRun {
  readonly results: string;
  readonly figures: RunFigures;
}

function options(argv: readonly string[]) {
  const split = argv.indexOf('--');
  const own = split < 0 ? argv : argv.slice(0, split);
  const benchArgs = split < 0 ? [] : argv.slice(split + 1);
  const { values } = parseArgs({
    args: [...own],
    options: {
      'vs-root': { type: 'string' },
      pairs: { type: 'string' },
      'a-flag': { type: 'string', multiple: true },
    },
  });
  const aFlags = values['a-flag'] ?? [];
  const vsRoot = values['vs-root'];
  if (vsRoot === undefined && aFlags.length === 0) {
    throw new Error('--vs-root DIR (another built checkout) or --a-flag FLAG is needed');
  }
  const refused = [...benchArgs, ...aFlags].filter((arg) =>
    refusedBenchFlags.includes(arg.split('=')[0] ?? ''),
  );
  if (refused.length > 0) {
    throw new Error(`${refused.join(', ')}: pairs run the ledger alone, one run a side`);
  }
  const pairs = integerFlag('pairs', { defaultValue: 5, min: 1, max: 50 }, values.pairs);
  return { vsRoot: resolvePath(vsRoot ?? root), pairs, benchArgs, aFlags };
}

/** One run of the bench in `checkout`; its JSON record's path and the ledger's figures. */
function runSide(checkout: string, benchArgs: readonly string[]): SideRun {
  const run = spawnSync('npm', ['run', '--silent', 'bench', '--', ...benchArgs, '--runs', '1'], {
    cwd: checkout,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const written = /results written to (\S+\.json)/.exec(run.stdout ?? '');
  if (run.status !== 0 || written?.[1] === undefined) {
    throw new Error(`the bench in ${checkout} failed (status ${String(run.status)})`);
  }
  const results = written[1];
  return {
    results,
    figures: ledgerFigures(JSON.parse(readFileSync(results, 'utf8')) as RunRecord),
  };
}

const shown = (value: number | null, digits: number): string =>
  value === null ? 'n/a' : value.toFixed(digits);

function line(label: string, figures: RunFigures): string {
  return (
    `  ${label}: ${shown(figures.requestsPerSecond, 0)} req/s, p99 ${shown(figures.p99Ms, 2)}` +
    ` p99.9 ${shown(figures.p999Ms, 2)} max ${shown(figures.maxMs, 1)} ms, server ` +
    `${shown(figures.serverMicrosecondsPerAnswer, 1)} µs/answer (HTTP thread ` +
    `${shown(figures.mainThreadMicrosecondsPerAnswer, 1)}), journal idle ` +
    `${shown(figures.commitIdleMs, 2)} ms/commit, other cores ${shown(figures.otherCores, 2)}` +
    (figures.speedProbeMicroseconds === null
      ? ''
      : `, speed probe ${shown(figures.speedProbeMicroseconds, 1)} µs/unit`) +
    (figures.cgroupMostMb === null && figures.oomKills === null
      ? ''
      : `, cgroup's most ${shown(figures.cgroupMostMb, 0)} MB, OOM kills ${shown(figures.oomKills, 0)}`)
  );
}

function main(): void {
  const { vsRoot, pairs: count, benchArgs, aFlags } = options(process.argv.slice(2));
  const checkouts: Record<'A' | 'B', string> = { A: resolvePath(root), B: vsRoot };
  const sideArgs: Record<'A' | 'B', readonly string[]> = {
    A: [...benchArgs, ...aFlags],
    B: benchArgs,
  };
  ensureBuilt(root);
  ensureBuilt(vsRoot);
  const startedAt = new Date().toISOString();
  const more = aFlags.length === 0 ? '' : ` (A adds ${aFlags.join(' ')})`;
  out(
    `${count} pairs, A = ${checkouts.A}, B = ${vsRoot}; bench: ${benchArgs.join(' ') || '(defaults)'}${more}`,
  );
  const pairs: Pair[] = [];
  const files: { a: string; b: string }[] = [];
  for (let pair = 1; pair <= count; pair += 1) {
    const runs: Partial<Record<'A' | 'B', SideRun>> = {};
    for (const label of pairOrder(pair)) {
      runs[label] = runSide(checkouts[label], sideArgs[label]);
      out(line(`pair ${pair} ${label}`, (runs[label] as SideRun).figures));
    }
    const [a, b] = [runs.A as SideRun, runs.B as SideRun];
    pairs.push({ a: a.figures, b: b.figures });
    files.push({ a: a.results, b: b.results });
  }
  const summary = summarise(pairs);
  out('\nA / B, pair by pair (median; pairs where A is lower):');
  for (const entry of summary) {
    const ratios = entry.ratios.map((ratio) => shown(ratio, 3)).join(' ');
    out(
      `  ${figureNames[entry.figure].padEnd(24)} ${shown(entry.medianRatio, 3)}   ` +
        `(${ratios}; A lower in ${entry.aLower} of ${entry.comparable})`,
    );
  }
  const killed = (side: 'a' | 'b'): number[] =>
    pairs.map((pair) => pair[side].oomKills).filter((kills): kills is number => kills !== null);
  if (killed('a').length + killed('b').length > 0) {
    const told = (side: 'a' | 'b'): string =>
      `${killed(side).reduce((sum, kills) => sum + kills, 0)} in ${killed(side).length} runs`;
    out(`  OOM kills in the ledger's cgroup: A ${told('a')}, B ${told('b')}`);
  }
  const record = {
    bench: 'pairs',
    startedAt,
    a: checkouts.A,
    b: vsRoot,
    benchArgs,
    aFlags,
    files,
    pairs,
    summary,
  };
  out(`written: ${writeRunFiles(root, 'pairs', startedAt, record).json}`);
}

try {
  main();
} catch (error) {
  process.stderr.write(`pairs: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
