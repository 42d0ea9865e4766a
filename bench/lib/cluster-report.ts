// What the cluster bench keeps (the JSON record) and prints (markdown tables).
import type { ClusterCpu } from './cluster-nodes.js';
import type { FailoverResult, HopResult } from './cluster-probes.js';
import type { LatencySummary } from './load-driver.js';
import type { MachineInfo } from './machine.js';
import { tableRow } from './markdown.js';
import type { BenchRecord } from './report.js';
import type { ReplayFigures } from './state-check.js';

export interface MachineLoad {
  /** Busy cores over one second just before (other work: nothing of the bench runs then). */
  readonly busyCores: number | null;
  /** `uptime`'s 1, 5 and 15 minute load averages. */
  readonly loadAverage: number[];
}

/** One node's journal over a measured window (ledger_journal_* from its /metrics). */
export interface JournalWindow {
  readonly commitsPerSecond: number;
  readonly recordsPerCommit: number | null;
  readonly flushMeanMs: number | null;
  /** Share of the window a commit was being flushed. */
  readonly busyFraction: number;
}

export interface ThroughputRun {
  readonly nodes: number;
  readonly run: number;
  readonly division: Record<string, number>;
  readonly requestsPerSecond: number;
  readonly latency: LatencySummary;
  readonly statusCounts: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly unexpected: number;
  readonly cpu: ClusterCpu | null;
  readonly journal: readonly JournalWindow[];
  readonly checkOk: boolean;
  readonly mismatchedKeys: number;
  readonly replay: ReplayFigures;
  readonly before: MachineLoad;
}

export interface ClusterRecord {
  readonly bench: 'cluster';
  readonly startedAt: string;
  finishedAt: string;
  readonly command: string;
  readonly git: BenchRecord['git'];
  readonly build: BenchRecord['build'];
  readonly machine: MachineInfo;
  readonly before: MachineLoad;
  readonly options: Record<string, unknown>;
  readonly throughput: ThroughputRun[];
  readonly hop: (HopResult & { before: MachineLoad })[];
  readonly failover: (FailoverResult & { run: number; before: MachineLoad })[];
  readonly problems: string[];
  readonly warnings: string[];
}

const ms = (value: number): string => (Number.isFinite(value) ? value.toFixed(2) : 'n/a');
const cores = (value: number | null | undefined): string =>
  value === null || value === undefined ? 'n/a' : value.toFixed(2);
const counts = (record: Record<string, number>): string =>
  Object.entries(record)
    .sort(([, a], [, b]) => b - a)
    .map(([label, count]) => `${label}: ${count}`)
    .join(', ') || 'none';
const loadOf = (load: MachineLoad): string =>
  `${cores(load.busyCores)} / ${load.loadAverage[0]?.toFixed(1) ?? 'n/a'}`;

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  return [tableRow(header), tableRow(header.map(() => '---')), ...rows.map(tableRow)].join('\n');
}

function throughputTable(runs: readonly ThroughputRun[]): string {
  return table(
    [
      'nodes',
      'run',
      'req/s',
      'p50 ms',
      'p99 ms',
      'p99.9 ms',
      'node cores (each)',
      'postgres',
      'nats',
      'generator',
      'other',
      'commits/s × records (flush ms), each node',
      'busy before / load avg',
      'check',
    ],
    runs.map((run) => [
      String(run.nodes),
      String(run.run),
      run.requestsPerSecond.toFixed(0),
      ms(run.latency.p50Ms),
      ms(run.latency.p99Ms),
      ms(run.latency.p999Ms),
      run.cpu?.nodes.map(cores).join(' + ') ?? 'n/a',
      cores(run.cpu?.postgres),
      cores(run.cpu?.nats),
      cores(run.cpu?.generator),
      cores(run.cpu?.other),
      run.journal
        .map(
          (j) =>
            `${j.commitsPerSecond.toFixed(0)} × ${j.recordsPerCommit?.toFixed(1) ?? 'n/a'} ` +
            `(${j.flushMeanMs?.toFixed(2) ?? 'n/a'})`,
        )
        .join(' + '),
      loadOf(run.before),
      run.checkOk ? 'OK' : `FAILED (${run.mismatchedKeys} keys)`,
    ]),
  );
}

function hopTable(hops: ClusterRecord['hop']): string {
  return table(
    [
      'nodes',
      'each kind',
      'to the owner p50 / p90 / p99 ms',
      'forwarded p50 / p90 / p99 ms',
      'added p50 / p99 ms',
      'busy before / load avg',
      'unexpected',
    ],
    hops.map((hop) => [
      String(hop.nodes),
      String(hop.direct.count),
      `${ms(hop.direct.p50Ms)} / ${ms(hop.direct.p90Ms)} / ${ms(hop.direct.p99Ms)}`,
      `${ms(hop.forwarded.p50Ms)} / ${ms(hop.forwarded.p90Ms)} / ${ms(hop.forwarded.p99Ms)}`,
      `${ms(hop.forwarded.p50Ms - hop.direct.p50Ms)} / ${ms(hop.forwarded.p99Ms - hop.direct.p99Ms)}`,
      loadOf(hop.before),
      counts(hop.unexpected),
    ]),
  );
}

function failoverTable(runs: ClusterRecord['failover']): string {
  const spread = (value: { min: number; p50: number; max: number }): string =>
    `${value.min.toFixed(0)} / ${value.p50.toFixed(0)} / ${value.max.toFixed(0)}`;
  return table(
    [
      'run',
      'killed node: partitions (back)',
      'last 200 → first 200 ms min / median / max',
      'kill → first 200 ms',
      'grain ms',
      'other partitions: longest gap before / during ms',
      'acknowledged (by the killed node)',
      'lost',
      'check',
      'busy before / load avg',
    ],
    runs.map((run) => [
      String(run.run),
      `${run.victimPartitions} (${run.recovered})`,
      spread(run.failoverMs),
      spread(run.sinceKillMs),
      run.grainMs.toFixed(0),
      `${run.othersLongestGapBeforeMs.toFixed(0)} / ${run.othersLongestGapDuringMs.toFixed(0)}`,
      `${run.acknowledged} (${run.acknowledgedByVictim})`,
      String(run.lost),
      run.stateCheck.ok ? 'OK' : `FAILED (${run.stateCheck.mismatchedKeys} keys)`,
      loadOf(run.before),
    ]),
  );
}

export function markdownReport(record: ClusterRecord): string {
  const { machine, build, git } = record;
  const lines = [
    `# cluster bench, ${record.startedAt}`,
    '',
    `\`${record.command}\` at ${git.commit ?? 'unknown'}${git.dirty === true ? ' (src/ dirty)' : ''}, ` +
      `dist ${build.distDigest}; ${machine.cpuCount} × ${machine.cpuModel}, node ` +
      `${machine.nodeVersion}; busy before: ${cores(record.before.busyCores)} cores, load ` +
      `average ${record.before.loadAverage.map((v) => v.toFixed(2)).join(' ')}`,
    '',
  ];
  if (record.throughput.length > 0) {
    lines.push('## Many-SKU reserves, connections round-robin over the nodes', '');
    lines.push(throughputTable(record.throughput), '');
  }
  if (record.hop.length > 0) {
    lines.push('## The added hop: to the owner vs forwarded', '', hopTable(record.hop), '');
  }
  if (record.failover.length > 0) {
    lines.push('## Failover: kill -9 of one node of three', '', failoverTable(record.failover), '');
    for (const run of record.failover) {
      lines.push(
        `run ${run.run}: answers before the kill: ${counts(run.answersBefore)}; during the ` +
          `failover, on the killed node's partitions: ${counts(run.answersDuring)}, on the ` +
          `survivors': ${counts(run.othersAnswersDuring)}, on partitions without a 200 before ` +
          `the kill: ${counts(run.unknownOwnerAnswersDuring)}; after: ${counts(run.answersAfter)}; ` +
          `200s per second (kill in second ${run.killSecond}): ${run.acksPerSecond.join(' ')}`,
        '',
      );
      lines.push(
        `run ${run.run}, requests without a 200, replayed: ${JSON.stringify(run.replays)}`,
        '',
      );
      if (run.refusedAfter.length > 0) {
        lines.push(`run ${run.run}, not 200 after: ${JSON.stringify(run.refusedAfter)}`, '');
      }
      lines.push(`run ${run.run}, cluster log: ${run.clusterLog.join('; ')}`, '');
      if (run.othersRefused.length > 0) {
        lines.push(
          `run ${run.run}, refused on the survivors' partitions: ` +
            JSON.stringify(run.othersRefused),
          '',
        );
      }
      for (const [label, example] of Object.entries(run.examples)) {
        lines.push(`run ${run.run}, first "${label}": ${example}`, '');
      }
      if (run.lost > 0) lines.push(`LOST: ${JSON.stringify(run.lostListed)}`, '');
    }
  }
  for (const warning of record.warnings) lines.push(`warning: ${warning}`, '');
  for (const problem of record.problems) lines.push(`PROBLEM: ${problem}`, '');
  return lines.join('\n');
}
