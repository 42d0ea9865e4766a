// Where a thread's time went, from the .cpuprofile files `npm run bench -- --cpu-prof-dir DIR`
// writes (one per ledger thread): how busy each thread was, and the functions with the most self
// time. The profiles also open as flame graphs in Chrome DevTools or speedscope.
//
//   npx tsx bench/cpu-profile-summary.ts DIR/*.cpuprofile [--top 15] [--results RUN.json]
//
// With --results (the bench's bench/results/flash-sale-*.json of the same one-run command), each
// thread's busy time is also divided by the answers of that run (warm-up and measured): µs of
// the thread per request. The profile spans the thread's whole life (start-up, stocking, the
// load, the stop), so this is an upper bound of what the load alone cost.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  /** µs, on the profile's own clock: the thread's profiled span. */
  readonly startTime: number;
  readonly endTime: number;
}

function summarize(path: string, top: number, answers: number | undefined): void {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  for (const id of profile.samples) {
    const frame = byId.get(id)?.callFrame;
    const where = frame?.url.split('/').slice(-2).join('/') ?? '';
    const name = `${frame?.functionName || '(anonymous)'} ${where}:${frame?.lineNumber ?? -1}`;
    self.set(name, (self.get(name) ?? 0) + 1);
  }
  const total = profile.samples.length;
  const idle = [...self].filter(([name]) => name.startsWith('(idle)'));
  const idleSamples = idle.reduce((sum, [, count]) => sum + count, 0);
  const percent = (count: number): string => `${((count / total) * 100).toFixed(1)}%`;
  // Busy seconds = the busy share of the thread's span: the CPU time a rate can be divided into.
  const spanSeconds = (profile.endTime - profile.startTime) / 1e6;
  const busySeconds = total === 0 ? 0 : ((total - idleSamples) / total) * spanSeconds;
  process.stdout.write(
    `== ${basename(path)}: ${total} samples, busy ${percent(total - idleSamples)} of ` +
      `${spanSeconds.toFixed(1)} s (${busySeconds.toFixed(2)} s busy)` +
      (answers === undefined
        ? ''
        : `; ${((busySeconds / answers) * 1e6).toFixed(1)} µs per answer of ${answers}`) +
      '\n',
  );
  const ranked = [...self].filter(([name]) => !name.startsWith('(idle)'));
  ranked.sort((a, b) => b[1] - a[1]);
  for (const [name, count] of ranked.slice(0, top)) {
    process.stdout.write(`${percent(count).padStart(6)}  ${name}\n`);
  }
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '15' }, results: { type: 'string' } },
});

/** Every answer of the run in a bench results file (warm-up and measured); it must hold one. */
function answersOf(path: string): number {
  const results = JSON.parse(readFileSync(path, 'utf8')) as {
    runs: { statusCounts: Record<string, number>; warmupStatusCounts: Record<string, number> }[];
  };
  if (results.runs.length !== 1)
    throw new Error(`${path}: one run wanted, not ${results.runs.length}`);
  const [run] = results.runs as [(typeof results.runs)[number]];
  const sum = (counts: Record<string, number>) =>
    Object.values(counts).reduce((total, count) => total + count, 0);
  return sum(run.statusCounts) + sum(run.warmupStatusCounts);
}
const answers = values.results === undefined ? undefined : answersOf(values.results);
if (positionals.length === 0) {
  process.stderr.write(
    'usage: npx tsx bench/cpu-profile-summary.ts FILE.cpuprofile... [--top N]\n',
  );
  process.exitCode = 2;
}
for (const path of positionals) summarize(path, Number(values.top), answers);
