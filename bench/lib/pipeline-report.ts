// pipeline-alone's summary: per setting, the median and the range of every figure over its runs,
// and what each part costs per reserve and per group commit (cores ÷ rate), the units a
// projection to a machine with more cores is made of.
import type { RunFigures } from './pipeline-window.js';
import { median } from './report.js';

/** µs of one core per unit of work: `cores` busy while `perSecond` units were done. */
export function microsecondsPer(cores: number | null, perSecond: number): number | null {
  return cores === null || perSecond <= 0 ? null : (cores / perSecond) * 1e6;
}

/** The figures of one run that the summary shows, by name, in order. */
export function summaryFigures(run: RunFigures): [string, number | null][] {
  const rate = run.reservesPerSecond;
  const hotShard = Math.max(0, ...run.cores.shardBusiest);
  return [
    ['durable reserves/s', rate],
    ['p50 ms', run.latency.p50Ms],
    ['p99 ms', run.latency.p99Ms],
    ['p99.9 ms', run.latency.p999Ms],
    ['max ms', run.latency.maxMs],
    ['group commits/s', run.commitsPerSecond],
    ['records per commit', run.recordsPerCommit],
    ['flush ms', run.flushMeanMs],
    // With one commit in flight, a commit cycle: the flush and the turn around it.
    [
      'ms per commit (1 s ÷ commits/s)',
      run.commitsPerSecond > 0 ? 1000 / run.commitsPerSecond : null,
    ],
    ['journal busy', run.journalBusy],
    ['main thread cores', run.cores.main],
    ['hot shard thread cores', hotShard],
    ['all shard threads cores', run.cores.shards.reduce((sum, value) => sum + value, 0)],
    ['other threads cores', run.cores.otherThreads],
    ['this process cores', run.cores.process],
    ['postgres (this db) cores', run.cores.postgresDatabase],
    ['postgres (all) cores', run.cores.postgresAll],
    ['machine busy cores', run.cores.machine],
    ['other work cores', run.cores.otherWork],
    ['busy cores before the run', run.busyCoresBefore ?? null],
    ['main thread µs per reserve', microsecondsPer(run.cores.main, rate)],
    ['hot shard thread µs per reserve', microsecondsPer(hotShard, rate)],
    ['this process µs per reserve', microsecondsPer(run.cores.process, rate)],
    [
      'postgres (this db) µs per commit',
      microsecondsPer(run.cores.postgresDatabase, run.commitsPerSecond),
    ],
    ['postgres (all) µs per commit', microsecondsPer(run.cores.postgresAll, run.commitsPerSecond)],
  ];
}

/** "median [min–max]" of one figure over runs; "-" when no run has it. */
export function medianAndRange(values: readonly (number | null)[]): string {
  const known = values.filter((value): value is number => value !== null && Number.isFinite(value));
  const middle = median(known);
  if (middle === null) return '-';
  const digits = Math.abs(middle) >= 100 ? 0 : Math.abs(middle) >= 10 ? 1 : 2;
  const show = (value: number) => value.toFixed(digits);
  if (known.length === 1) return show(middle);
  return `${show(middle)} [${show(Math.min(...known))}–${show(Math.max(...known))}]`;
}

const settingName = (run: RunFigures): string =>
  `${run.setting.clients} clients, ${run.setting.shards} shards, ` +
  `${run.setting.commitsInFlight} in flight`;

/** Per setting (in the order first run): each figure's median [range] over its runs. */
export function summaryLines(runs: readonly RunFigures[]): string[] {
  const bySetting = new Map<string, RunFigures[]>();
  for (const run of runs) {
    const name = settingName(run);
    bySetting.set(name, [...(bySetting.get(name) ?? []), run]);
  }
  const lines: string[] = [];
  for (const [name, group] of bySetting) {
    const checks = group.every((run) => run.checkOk) ? 'OK' : 'FAILED';
    lines.push(`\n${name}: ${group.length} run(s), median [min–max]; end-state check ${checks}`);
    const columns = group.map(summaryFigures);
    (columns[0] ?? []).forEach(([label], index) => {
      const values = columns.map((figures) => figures[index]?.[1] ?? null);
      lines.push(`  ${label.padEnd(34)} ${medianAndRange(values)}`);
    });
    const refused = group.map((run) => JSON.stringify(run.refused)).join(' ');
    lines.push(`  ${'refused in the window'.padEnd(34)} ${refused}`);
  }
  return lines;
}
