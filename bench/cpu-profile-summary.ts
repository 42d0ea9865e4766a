// Where a thread's time went, from the .cpuprofile files `npm run bench -- --cpu-prof-dir DIR`
// writes (one per ledger thread): how busy each thread was, and the functions with the most self
// time. The profiles also open as flame graphs in Chrome DevTools or speedscope.
//
//   npx tsx bench/cpu-profile-summary.ts DIR/*.cpuprofile [--top 15] [--results RUN.json]
//     [--stretches MS] [--under NAME[@FILE],...]
//
// With --results (the bench's bench/results/flash-sale-*.json of the same one-run command), each
// thread's busy time is also divided by the answers of that run (warm-up and measured): µs of
// the thread per request. The profile spans the thread's whole life (start-up, stocking, the
// load, the stop), so this is an upper bound of what the load alone cost. With --stretches, also
// every run of MS or more in which the thread never went idle (what the work arriving then
// queued behind), with the frames its samples were in. With --under, the share of all samples
// under each named function, everything it calls included, and under any of them
// (bench/lib/profile-under.ts; NAME@FILE: only the one in a script whose URL contains FILE).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import {
  parentsOf,
  parseFrameMatch,
  underShares,
  type CpuProfile,
  type FrameMatch,
  type ProfileNode,
} from './lib/profile-under.js';
import { oneRunAnswers } from './lib/results-files.js';

const frameName = (node: ProfileNode | undefined): string => {
  const frame = node?.callFrame;
  const where = frame?.url.split('/').slice(-2).join('/') ?? '';
  return `${frame?.functionName || '(anonymous)'} ${where}:${frame?.lineNumber ?? -1}`;
};

/** Samples where the thread ran nothing: between tasks, or in the profiler's own bookkeeping. */
const notBusy = new Set(['(idle)', '(program)', '(root)']);

/**
 * Runs of `minMs` or more in which every sample found the thread busy: it never waited for work,
 * so whatever arrived meanwhile queued behind what it did (a GC, a snapshot's slices one after
 * another, a backlog of messages). Not one stop: the event loop may have turned between its
 * tasks (the timeline's stall probe measures stops). Each run with its start (s into the
 * profile), its length, and the frames most of its samples were in (anywhere on the stack) and
 * were on top of (self).
 */
function stretches(profile: CpuProfile, byId: Map<number, ProfileNode>, minMs: number): void {
  const parent = parentsOf(profile);
  const times: number[] = [];
  let at = profile.startTime;
  profile.timeDeltas.forEach((delta) => times.push((at += delta)));
  const busy = (index: number) =>
    !notBusy.has(byId.get(profile.samples[index] as number)?.callFrame.functionName ?? '(idle)');
  const report = (from: number, to: number): void => {
    const ms = ((times[to] as number) - (times[from] as number)) / 1000;
    if (ms < minMs) return;
    const onStack = new Map<string, number>();
    const onTop = new Map<string, number>();
    for (let index = from; index < to; index += 1) {
      let id: number | undefined = profile.samples[index] as number;
      const top = frameName(byId.get(id));
      onTop.set(top, (onTop.get(top) ?? 0) + 1);
      const seen = new Set<string>();
      for (; id !== undefined; id = parent.get(id)) {
        const name = frameName(byId.get(id));
        if (seen.has(name) || name.startsWith('(root)')) continue;
        seen.add(name);
        onStack.set(name, (onStack.get(name) ?? 0) + 1);
      }
    }
    const share = (ranked: Map<string, number>, count: number) =>
      [...ranked]
        .sort((a, b) => b[1] - a[1])
        .slice(0, count)
        .map(([name, samples]) => `${name} ${Math.round((100 * samples) / (to - from))}%`)
        .join(' | ');
    const startS = ((times[from] as number) - profile.startTime) / 1e6;
    process.stdout.write(
      `  busy ${ms.toFixed(1)} ms from ${startS.toFixed(2)} s\n` +
        `    self: ${share(onTop, 4)}\n    stack: ${share(onStack, 6)}\n`,
    );
  };
  let from = -1;
  for (let index = 0; index < profile.samples.length; index += 1) {
    if (busy(index)) {
      if (from < 0) from = index;
    } else if (from >= 0) {
      report(from, index);
      from = -1;
    }
  }
  if (from >= 0) report(from, profile.samples.length - 1);
}

function summarize(
  path: string,
  top: number,
  answers: number | undefined,
  stretchMs: number | undefined,
  under: readonly FrameMatch[],
): void {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  for (const id of profile.samples) {
    const name = frameName(byId.get(id));
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
  if (stretchMs !== undefined) {
    process.stdout.write(`busy for ${stretchMs} ms or more without a break:\n`);
    stretches(profile, byId, stretchMs);
  }
  if (under.length > 0) {
    const shares = underShares(profile, under);
    process.stdout.write('under (each with all it calls, of all samples):\n');
    under.forEach((match, index) => {
      process.stdout.write(`${percent(shares.each[index] as number).padStart(6)}  ${match.text}\n`);
    });
    if (under.length > 1) process.stdout.write(`${percent(shares.any).padStart(6)}  any of them\n`);
  }
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: 'string', default: '15' },
    results: { type: 'string' },
    stretches: { type: 'string' },
    under: { type: 'string' },
  },
});

// The profile spans the thread's whole life: every answer of the run, warm-up included.
const run = values.results === undefined ? undefined : oneRunAnswers(values.results);
const answers = run === undefined ? undefined : run.measured + run.warmup;
if (positionals.length === 0) {
  process.stderr.write(
    'usage: npx tsx bench/cpu-profile-summary.ts FILE.cpuprofile... [--top N] [--stretches MS]' +
      ' [--under NAME[@FILE],...]\n',
  );
  process.exitCode = 2;
}
const stretchMs = values.stretches === undefined ? undefined : Number(values.stretches);
if (stretchMs !== undefined && !(stretchMs > 0))
  throw new Error('--stretches wants a number of ms');
const under = (values.under ?? '')
  .split(',')
  .filter((text) => text !== '')
  .map(parseFrameMatch);
for (const path of positionals) summarize(path, Number(values.top), answers, stretchMs, under);
