// Where the ledger's threads (or a baseline's) spent their time on a core, from the perf.data files
// `npm run bench -- --perf-dir DIR` writes (bench/lib/perf-record.ts): each thread's CPU, then,
// for the HTTP thread, the shard threads and V8's helpers, that CPU by activity
// (bench/lib/perf-stacks.ts, `ledgerActivities`) and by the JavaScript function it is owed to.
// The Postgres backends of the ledger's database, recorded over the same window
// (`DIR/<run>.postgres.perf.data`), are read the same way by their own activities
// (`postgresActivities`), their time owed to the leaf.
//
//   npx tsx bench/perf-breakdown.ts DIR/*.perf.data [--top 12] [--results RUN.json]
//     [--within ACTIVITY]
//
// With --results (the bench's results JSON of the same command), each part's CPU is also divided
// by the answers of the measured window of the run the recording was made in (found by the
// recording's name, `<system>-<scenario>-<run>`): µs of that thread per answer, on a core. With
// --within, the functions are those of that one activity's samples (e.g. 'shard: group commit
// written').
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { isPostgresRecording, perfFrequency } from './lib/perf-record.js';
import {
  activityTotals,
  breakdown,
  ownerTotals,
  parsePerfScript,
  type ThreadBreakdown,
} from './lib/perf-stacks.js';
import { recordedRunAnswers } from './lib/results-files.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '12' },
    results: { type: 'string' },
    within: { type: 'string' },
  },
});
const top = Number(values.top);
if (positionals.length === 0 || !(top >= 0)) {
  process.stderr.write(
    'usage: npx tsx bench/perf-breakdown.ts FILE.perf.data... [--top N] [--results RUN.json]' +
      ' [--within ACTIVITY]\n',
  );
  process.exit(2);
}

const percent = (part: number, whole: number) => `${((100 * part) / whole).toFixed(1)}%`;
const seconds = (samples: number) => samples / perfFrequency;

/** The µs-an-answer column of a file's tables: its heading, its rule and its cells. */
interface PerAnswer {
  readonly head: string;
  readonly rule: string;
  cell(samples: number): string;
}

/**
 * With --results, the column for `file`'s recording: perf recorded the measured window only, so
 * its CPU is divided by the answers of that window of the run the recording was made in.
 */
function perAnswerOf(file: string): PerAnswer {
  if (values.results === undefined) return { head: '', rule: '', cell: () => '' };
  const answers = recordedRunAnswers(values.results, file).measured;
  return {
    head: ' | µs/answer',
    rule: ' | ---:',
    cell: (samples) => ` | ${((seconds(samples) * 1e6) / answers).toFixed(1)}`,
  };
}

/** The V8 helpers, and the Postgres backends, are many threads doing one thing: shown together. */
const togetherAs: Partial<Record<ThreadBreakdown['role'], string>> = {
  'V8 helper': 'V8 helpers',
  'Postgres backend': 'Postgres backends',
};

function grouped(
  threads: readonly ThreadBreakdown[],
): { label: string; parts: ThreadBreakdown[] }[] {
  const groups: { label: string; parts: ThreadBreakdown[] }[] = [];
  for (const thread of threads) {
    if (thread.role === 'other thread') continue;
    const label = togetherAs[thread.role] ?? `${thread.role} ${thread.tid}`;
    const group = groups.find((each) => each.label === label);
    if (group === undefined) groups.push({ label, parts: [thread] });
    else group.parts.push(thread);
  }
  return groups;
}

for (const file of positionals) {
  const text = file.endsWith('.txt')
    ? readFileSync(file, 'utf8')
    : execFileSync('perf', ['script', '-i', file, '-F', 'pid,tid,ip,sym'], {
        encoding: 'utf8',
        maxBuffer: 1 << 30,
        stdio: ['ignore', 'pipe', 'ignore'],
      });
  const perAnswer = perAnswerOf(file);
  const recorded = isPostgresRecording(file) ? 'postgres' : 'ledger';
  const threads = breakdown(parsePerfScript(text), recorded);
  const all = threads.reduce((total, thread) => total + thread.samples, 0);
  out(
    `\n== ${basename(file)}: ${all} samples at ${perfFrequency} Hz, ${seconds(all).toFixed(2)} CPU s`,
  );
  out(
    `\n| thread | role | CPU s | share${perAnswer.head} |\n| --- | --- | ---: | ---:${perAnswer.rule} |`,
  );
  for (const thread of threads) {
    const row = `| ${thread.tid} | ${thread.role} | ${seconds(thread.samples).toFixed(2)} | ${percent(thread.samples, all)}`;
    out(`${row}${perAnswer.cell(thread.samples)} |`);
  }
  for (const { label, parts } of grouped(threads)) {
    const samples = parts.reduce((total, part) => total + part.samples, 0);
    out(`\n${label}: ${seconds(samples).toFixed(2)} CPU s`);
    out(`\n| activity | share${perAnswer.head} |\n| --- | ---:${perAnswer.rule} |`);
    for (const [name, n] of activityTotals(parts)) {
      out(`| ${name} | ${percent(n, samples)}${perAnswer.cell(n)} |`);
    }
    const within = values.within;
    const scope = within === undefined ? '' : ` in ${within}`;
    out(`\n| owed to (nearest JavaScript frame, else the leaf)${scope} | share${perAnswer.head} |`);
    out(`| --- | ---:${perAnswer.rule} |`);
    for (const [name, n] of ownerTotals(parts, within).slice(0, top)) {
      out(`| \`${name.replaceAll('|', '\\|')}\` | ${percent(n, samples)}${perAnswer.cell(n)} |`);
    }
  }
}
