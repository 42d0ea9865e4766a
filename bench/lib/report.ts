// The bench's record and its human summaries: markdown tables (per scenario: each system's
// medians; the ledger's ratios to each baseline against issue 4's targets), the JSON record with
// every run, and the latency plot. Written to bench/results/flash-sale-<timestamp>.{json,md,svg}.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchOptions } from './args.js';
import type { MachineInfo } from './machine.js';
import type { LatencySummary } from './load-driver.js';
import { fixed, tableRow } from './markdown.js';
import type { SystemRun } from './run-system.js';
import { rateUnit, type ScenarioName } from './scenarios.js';
import { durableFloorNames, statelessSystemNames, type SystemName } from './system-names.js';
import { timelineMarkdown } from './timeline-report.js';
import { writeRunFiles } from './results-files.js';
import { windowTable, windowTableMinSeconds, windowTableNote } from './window-report.js';

export interface BenchRecord {
  readonly bench: 'flash-sale';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly git: { readonly commit: string | null; readonly dirty: boolean | null };
  /** Which ledger build ran: dist/src/main.js's time and a digest of every file under dist/src. */
  readonly build: { readonly builtAt: string; readonly distDigest: string };
  readonly machine: MachineInfo;
  readonly parameters: Record<string, unknown>;
  readonly backgroundBusyCores: number | null;
  readonly runs: readonly SystemRun[];
  readonly medians: readonly Median[];
  readonly ratios: readonly Ratio[];
  readonly targets: readonly Target[];
  /**
   * The same targets for each durable floor in the run (bare-uws-commit-hop, bare-uws-commit),
   * as if it were the ledger: a target the hop's floor misses, this design misses on the box.
   */
  readonly floorTargets?: readonly FloorTargets[];
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
}

export interface Median {
  readonly scenario: ScenarioName;
  readonly system: SystemName;
  readonly durable: boolean;
  readonly runs: number;
  readonly requestsPerSecondPerRun: readonly (number | null)[];
  readonly requestsPerSecond: number | null;
  readonly p50Ms: number | null;
  readonly p90Ms: number | null;
  readonly p99Ms: number | null;
  readonly p999Ms: number | null;
  readonly maxMs: number | null;
  /** The latencies corrected for coordinated omission, as wrk prints them (medians of runs). */
  readonly corrected: {
    readonly p50Ms: number | null;
    readonly p99Ms: number | null;
    readonly p999Ms: number | null;
    readonly maxMs: number | null;
  };
  readonly serverCores: number | null;
  readonly postgresCores: number | null;
  readonly redisCores: number | null;
  readonly loadGeneratorCores: number | null;
  readonly otherCores: number | null;
  readonly checksPassed: number;
  readonly checksRun: number;
  readonly oversellUnits: number;
  /** sold-out: units acknowledged (median over runs), and seconds until the first refusal. */
  readonly soldUnits: number | null;
  readonly soldOutAfterSeconds: number | null;
  readonly problems: number;
}

export interface Ratio {
  readonly scenario: ScenarioName;
  readonly baseline: SystemName;
  readonly perRun: readonly (number | null)[];
  readonly median: number | null;
  /** issue 4's target for the hot-SKU scenario; null elsewhere. */
  readonly target: number | null;
}

export interface Target {
  /** What is measured: the ratio to this baseline's rate, or 'p99'. */
  readonly kind: SystemName | 'p99';
  readonly name: string;
  readonly measured: number | null;
  readonly target: string;
  readonly met: boolean | null;
}

/** issue 4: hot-SKU durable reserve throughput as a multiple of each baseline's. */
const ratioTargets: Readonly<Partial<Record<SystemName, number>>> = {
  'bare-uws': 0.4,
  'redis-lua': 1.5,
  'postgres-row-lock': 15,
};
const p99TargetMs = 10;
const p99TargetConnections = 64;

export function gitState(root: string): BenchRecord['git'] {
  const git = (...args: string[]): string | null => {
    const result = spawnSync('git', args, { cwd: root, encoding: 'utf8' });
    return result.status === 0 ? result.stdout.trim() : null;
  };
  const status = git('status', '--porcelain', '--', 'src');
  return { commit: git('rev-parse', 'HEAD'), dirty: status === null ? null : status !== '' };
}

export function buildState(root: string): BenchRecord['build'] {
  const directory = join(root, 'dist', 'src');
  const digest = createHash('sha256');
  const files = readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.js'))
    .sort();
  for (const file of files) digest.update(file).update(readFileSync(join(directory, file)));
  return {
    builtAt: statSync(join(directory, 'main.js')).mtime.toISOString(),
    distDigest: digest.digest('hex').slice(0, 16),
  };
}

/** The URL without its password, fit for a results file. */
export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}

/** The load's parameters, as every result file records them. */
export function loadParameters(options: BenchOptions) {
  return {
    scenarios: options.scenarios,
    systems: options.systems,
    runs: options.runs,
    connections: options.connections,
    loadThreads: options.threads,
    durationSeconds: options.durationSeconds,
    warmupSeconds: options.warmupSeconds,
    shards: options.shards,
    soldOutStock: options.soldOutStock,
    flashCrowdStock: options.flashCrowdStock,
    bareUwsThreads: options.bareUwsThreads,
    ledgerEnvironment: Object.fromEntries(
      Object.entries(options.ledgerEnvironment).map(([name, value]) => [
        name,
        name === 'LEDGER_JWT_SECRET' ? '(redacted)' : value,
      ]),
    ),
    ledgerNodeFlags: options.nodeFlags,
    timeline: options.timeline,
    gcTrace: options.gcTrace,
    pipelining: 1,
    quantity: 1,
    generator: options.generator,
    walFiles: options.walFiles ?? 'as found',
    unloggedJournal: options.unloggedJournal,
    ledgerNice: options.ledgerNice ?? null,
    ledgerMemoryMb: options.ledgerMemoryMb ?? null,
    postgresNice: options.postgresNice ?? null,
    client:
      options.generator === 'wrk'
        ? 'wrk (bench/lib/wrk-reserve.lua), keep-alive, closed loop; a warm-up run, then the measured run'
        : options.client === 'raw'
          ? "the bench's own client (bench/lib/raw-http-client.ts) per connection, keep-alive, closed loop"
          : 'undici Client per connection, keep-alive, closed loop',
    databaseUrl: redactUrl(options.databaseUrl),
  };
}

/** The value at `p` percent of an ascending list (its last beyond), 0 for an empty one. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export function median(values: readonly (number | null | undefined)[]): number | null {
  const known = values.filter((value): value is number => typeof value === 'number');
  known.sort((a, b) => a - b);
  if (known.length === 0) return null;
  const middle = Math.floor(known.length / 2);
  return known.length % 2 === 1
    ? (known[middle] ?? null)
    : ((known[middle - 1] ?? 0) + (known[middle] ?? 0)) / 2;
}

export function mediansOf(runs: readonly SystemRun[]): Median[] {
  const groups = new Map<string, SystemRun[]>();
  for (const run of runs) {
    const key = `${run.scenario}\0${run.system}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((group) => {
    const first = group[0] as SystemRun;
    const pick = (read: (run: SystemRun) => number | null | undefined) => median(group.map(read));
    const checked = group.filter((run) => run.check !== null);
    return {
      scenario: first.scenario,
      system: first.system,
      durable: first.durable,
      runs: group.length,
      requestsPerSecondPerRun: group.map((run) => run.requestsPerSecond),
      requestsPerSecond: pick((run) => run.requestsPerSecond),
      p50Ms: pick((run) => run.latency?.p50Ms),
      p90Ms: pick((run) => run.latency?.p90Ms),
      p99Ms: pick((run) => run.latency?.p99Ms),
      p999Ms: pick((run) => run.latency?.p999Ms),
      maxMs: pick((run) => run.latency?.maxMs),
      corrected: {
        p50Ms: pick((run) => run.latencyCorrected?.p50Ms),
        p99Ms: pick((run) => run.latencyCorrected?.p99Ms),
        p999Ms: pick((run) => run.latencyCorrected?.p999Ms),
        maxMs: pick((run) => run.latencyCorrected?.maxMs),
      },
      serverCores: pick((run) => run.cpu?.ledgerCores),
      postgresCores: pick((run) => run.cpu?.postgresCores),
      redisCores: pick((run) => run.cpu?.redisCores),
      loadGeneratorCores: pick((run) => run.cpu?.benchCores),
      otherCores: pick((run) => run.cpu?.otherCores),
      checksPassed: checked.filter((run) => run.check?.ok === true).length,
      checksRun: checked.length,
      oversellUnits: group.reduce((sum, run) => sum + (run.check?.oversellUnits ?? 0), 0),
      soldUnits: pick((run) => run.check?.acknowledged.reserved),
      soldOutAfterSeconds: pick((run) => run.soldOutAfterSeconds),
      problems: group.reduce((sum, run) => sum + run.problems.length, 0),
    };
  });
}

/** Each system's rate over each other's, run by run: the ledger's by default, or `subject`'s. */
export function ratiosOf(runs: readonly SystemRun[], subject: SystemName = 'ledger'): Ratio[] {
  const ratios: Ratio[] = [];
  const scenarios = [...new Set(runs.map((run) => run.scenario))];
  for (const scenario of scenarios) {
    const rate = (system: SystemName, run: number): number | null =>
      runs.find((r) => r.scenario === scenario && r.system === system && r.run === run)
        ?.requestsPerSecond ?? null;
    const runNumbers = [...new Set(runs.map((run) => run.run))].sort((a, b) => a - b);
    const baselines = [...new Set(runs.map((run) => run.system))].filter((s) => s !== subject);
    for (const baseline of baselines) {
      const perRun = runNumbers.map((run) => {
        const own = rate(subject, run);
        const other = rate(baseline, run);
        return own === null || other === null || other === 0 ? null : own / other;
      });
      if (perRun.every((value) => value === null)) continue;
      const target = scenario === 'hot-sku' ? (ratioTargets[baseline] ?? null) : null;
      ratios.push({ scenario, baseline, perRun, median: median(perRun), target });
    }
  }
  return ratios;
}

/** The hot-SKU targets, met or not by the ledger, or by `subject` (`ratios` its own). */
export function targetsOf(
  options: Pick<BenchOptions, 'connections'>,
  medians: readonly Median[],
  ratios: readonly Ratio[],
  subject: SystemName = 'ledger',
): Target[] {
  const targets: Target[] = ratios
    .filter((ratio) => ratio.target !== null)
    .map((ratio) => ({
      kind: ratio.baseline,
      name: `hot-sku: ${subject} / ${ratio.baseline} req/s`,
      measured: ratio.median,
      target: `≥ ${ratio.target}`,
      met: ratio.median === null ? null : ratio.median >= (ratio.target ?? 0),
    }));
  const hot = medians.find((m) => m.scenario === 'hot-sku' && m.system === subject);
  if (hot !== undefined && options.connections === p99TargetConnections) {
    targets.push({
      kind: 'p99',
      name: `hot-sku: ${subject} p99 at ${p99TargetConnections} connections (ms)`,
      measured: hot.p99Ms,
      target: `≤ ${p99TargetMs}`,
      met: hot.p99Ms === null ? null : hot.p99Ms <= p99TargetMs,
    });
  }
  return targets;
}

export interface FloorTargets {
  readonly system: SystemName;
  readonly targets: readonly Target[];
}

/** The hot-SKU targets of every durable floor that ran, each taken as if it were the ledger. */
export function floorTargetsOf(
  options: Pick<BenchOptions, 'connections'>,
  runs: readonly SystemRun[],
  medians: readonly Median[],
): FloorTargets[] {
  return durableFloorNames
    .filter((system) => runs.some((run) => run.scenario === 'hot-sku' && run.system === system))
    .map((system) => ({
      system,
      targets: targetsOf(options, medians, ratiosOf(runs, system), system),
    }));
}

const floorTargetsNote =
  'Each durable floor taken as if it were the ledger, against the same baselines in the same ' +
  'runs. bare-uws-commit-hop is the floor of this design (an HTTP thread, the hop to a worker ' +
  'thread and back, a group commit to Postgres, nothing else): a target it misses here, no ' +
  'build of the design meets on this machine in this sitting. bare-uws-commit leaves the hop ' +
  'out too: the floor of any server that answers after a Postgres commit. ' +
  "bare-uws-commit-wal is the design's floor committing with the ledger's own journal " +
  'statement and tables, bare-uws-commit-journal the same with each row a movement in the ' +
  'history as well: what the journal and the history in the commit leave.';

/** The targets side by side: the ledger's, then each floor's (measured, met or not). */
function floorTargetsTable(ledger: readonly Target[], floors: readonly FloorTargets[]): string {
  const subjects: readonly FloorTargets[] = [{ system: 'ledger', targets: ledger }, ...floors];
  const kinds = [...new Set(subjects.flatMap((subject) => subject.targets.map((t) => t.kind)))];
  const lines = [
    tableRow(['target', ...subjects.map((subject) => subject.system), 'wanted']),
    tableRow(['---', ...subjects.map(() => '---:'), '---:']),
  ];
  for (const kind of kinds) {
    const wanted = subjects.flatMap((subject) => subject.targets).find((t) => t.kind === kind);
    const cells = subjects.map((subject) => {
      const target = subject.targets.find((t) => t.kind === kind);
      if (target === undefined || target.met === null) return 'n/a';
      return `${fixed(target.measured, 2)} ${target.met ? '(met)' : '(**not met**)'}`;
    });
    const label =
      kind === 'p99' ? `p99 at ${p99TargetConnections} connections (ms)` : `req/s over ${kind}`;
    lines.push(tableRow([label, ...cells, wanted?.target ?? '']));
  }
  return lines.join('\n');
}

function checkCell(m: Median): string {
  if (m.checksRun === 0) return statelessSystemNames.has(m.system) ? 'n/a (no stock)' : 'not run';
  return m.checksPassed === m.checksRun
    ? `OK ×${m.checksRun}`
    : `**FAILED** ${m.checksPassed}/${m.checksRun}`;
}

/** For sold-out: how much was sold of the stock, and when it ran out. */
export function soldOutTable(medians: readonly Median[], stock: number): string {
  const lines = [
    tableRow(['system', 'units acknowledged', 'stock', 'oversell (units)', 'sold out after s']),
    tableRow(['---', '---:', '---:', '---:', '---:']),
  ];
  for (const m of medians.filter((entry) => entry.scenario === 'sold-out')) {
    if (statelessSystemNames.has(m.system)) continue;
    lines.push(
      tableRow([
        m.system,
        fixed(m.soldUnits, 0),
        String(stock),
        String(m.oversellUnits),
        fixed(m.soldOutAfterSeconds, 2),
      ]),
    );
  }
  return lines.join('\n');
}

const count = (counts: Record<string, number>, label: string): number => counts[label] ?? 0;

/** Bucket bounds of the ledger's own histogram: "≤ 120 / ≤ 250". */
function serverMs(p50: number | null | undefined, p99: number | null | undefined): string {
  const bound = (seconds: number | null | undefined): string =>
    seconds === null || seconds === undefined
      ? 'n/a'
      : Number.isFinite(seconds)
        ? `≤ ${seconds * 1000}`
        : '> 2500';
  return `${bound(p50)} / ${bound(p99)}`;
}

/**
 * For flash-crowd, one row per run: every answer by status and code (anything but a 200, a
 * 409 insufficient_stock or a 503 overloaded with retry-after is unexpected), connection errors,
 * latency of the admitted reserves (200) and of all answers, units sold per the server's stock.
 */
export function flashCrowdTable(runs: readonly SystemRun[], connections: number): string {
  const lines = [
    tableRow([
      'system',
      'connections',
      '200',
      '409 sold out',
      '503 overloaded',
      '503 without retry-after',
      'other answers',
      'connection errors',
      'admitted p50 / p99 / max ms',
      'admitted in the ledger p50 / p99 ms',
      'admitted sent in the first second: n, p99 / max ms',
      "the wave (each connection's first request, any answer): n, p50 / p99 / max ms",
      'all p50 / p99 / max ms',
      'retry-after s seen (answers)',
      'sold out after s',
      'units sold',
      'oversell',
      'server cores',
      'postgres cores',
      'load-gen cores',
      'other cores',
    ]),
    tableRow(['---', ...new Array<string>(20).fill('---:')]),
  ];
  for (const run of runs.filter((entry) => entry.scenario === 'flash-crowd')) {
    const firstWave = run.latencyByStatus['reserve 200 sent in the first second'];
    const wave = run.latencyByStatus['reserve first of each connection'];
    const retryAfters = Object.entries(run.retryAfterCounts)
      .sort(([a], [b]) => Number(a) - Number(b))
      .map(([seconds, answers]) => `${seconds}: ${answers}`)
      .join(', ');
    // No warm-up here: answers to requests sent at the very start instant may fall on the
    // warm-up side of the clock's millisecond; they belong to the crowd all the same.
    const counts = { ...run.warmupStatusCounts };
    for (const [label, value] of Object.entries(run.statusCounts)) {
      counts[label] = (counts[label] ?? 0) + value;
    }
    const total = Object.values(counts).reduce((sum, value) => sum + value, 0);
    const admitted = count(counts, 'reserve 200');
    const soldOut = count(counts, 'reserve 409 insufficient_stock');
    const shed = count(counts, 'reserve 503 overloaded');
    const bare = Object.entries(counts)
      .filter(([label]) => label.endsWith('no retry-after'))
      .reduce((sum, [, value]) => sum + value, 0);
    const errors = Object.values(run.errors).reduce((sum, value) => sum + value, 0);
    const ms = (summary: LatencySummary | undefined): string =>
      summary === undefined
        ? 'n/a'
        : `${fixed(summary.p50Ms, 1)} / ${fixed(summary.p99Ms, 1)} / ${fixed(summary.maxMs, 1)}`;
    lines.push(
      tableRow([
        run.system,
        String(connections),
        String(admitted),
        String(soldOut),
        String(shed),
        String(bare),
        String(total - admitted - soldOut - shed),
        String(errors),
        ms(run.latencyByStatus['reserve 200']),
        serverMs(run.ledger?.admittedServerP50Seconds, run.ledger?.admittedServerP99Seconds),
        firstWave === undefined
          ? '0'
          : `${firstWave.count}, ${fixed(firstWave.p99Ms, 1)} / ${fixed(firstWave.maxMs, 1)}`,
        wave === undefined ? '0' : `${wave.count}, ${ms(wave)}`,
        ms(run.latency ?? undefined),
        retryAfters === '' ? 'none' : retryAfters,
        fixed(run.soldOutAfterSeconds, 2),
        fixed(run.check?.soldAtEnd ?? null, 0),
        String(run.check?.oversellUnits ?? 'n/a'),
        fixed(run.cpu?.ledgerCores ?? null, 2),
        fixed(run.cpu?.postgresCores ?? null, 2),
        fixed(run.cpu?.benchCores ?? null, 2),
        fixed(run.cpu?.otherCores ?? null, 2),
      ]),
    );
  }
  return lines.join('\n');
}

/** Said under the cart table: what its rate and percentiles count. */
export const cartTableNote =
  'A cart is one request (POST /v1/carts, 3-5 lines of 1 unit, all or nothing): carts/s is ' +
  'carts acknowledged or refused per second, and the percentiles are per cart, from sending ' +
  'it to reading its answer.';

export function scenarioTable(medians: readonly Median[], scenario: ScenarioName): string {
  const unit = rateUnit(scenario);
  const lines = [
    tableRow([
      'system',
      'durable',
      `${unit} per run`,
      `median ${unit}`,
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p99.9 ms',
      'max ms',
      'server cores',
      'postgres cores',
      'redis cores',
      'load-gen cores',
      'other cores',
      'oversell',
      'check',
    ]),
    tableRow(['---', '---', '---', ...new Array<string>(12).fill('---:'), '---']),
  ];
  for (const m of medians.filter((entry) => entry.scenario === scenario)) {
    lines.push(
      tableRow([
        m.system,
        m.durable ? 'yes' : statelessSystemNames.has(m.system) ? 'no (no state)' : '**no**',
        m.requestsPerSecondPerRun.map((value) => fixed(value, 0)).join(', '),
        `**${fixed(m.requestsPerSecond, 0)}**`,
        fixed(m.p50Ms, 2),
        fixed(m.p90Ms, 2),
        fixed(m.p99Ms, 2),
        fixed(m.p999Ms, 2),
        fixed(m.maxMs, 1),
        fixed(m.serverCores, 2),
        fixed(m.postgresCores, 2),
        fixed(m.redisCores, 2),
        fixed(m.loadGeneratorCores, 2),
        fixed(m.otherCores, 2),
        statelessSystemNames.has(m.system) ? 'n/a' : String(m.oversellUnits),
        checkCell(m),
      ]),
    );
  }
  return lines.join('\n');
}

/** Said over the corrected table: why its figures are not the ones above. */
export const correctedTableNote =
  'The same answers corrected for coordinated omission, as wrk prints its latencies: every ' +
  "answer slower than twice the mean interval between one connection's requests adds the " +
  'samples a steady sender would have timed meanwhile (bench/lib/coordinated-omission.ts).';

export function correctedTable(medians: readonly Median[], scenario: ScenarioName): string {
  const lines = [
    tableRow(['system', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms']),
    tableRow(['---', '---:', '---:', '---:', '---:']),
  ];
  for (const m of medians.filter((entry) => entry.scenario === scenario)) {
    const c = m.corrected;
    lines.push(
      tableRow([
        m.system,
        fixed(c.p50Ms, 2),
        fixed(c.p99Ms, 2),
        fixed(c.p999Ms, 2),
        fixed(c.maxMs, 1),
      ]),
    );
  }
  return lines.join('\n');
}

export function ratioTable(ratios: readonly Ratio[], scenario: ScenarioName): string {
  const lines = [
    tableRow([`ratio (${rateUnit(scenario)})`, 'per run', 'median', 'target', 'met']),
    tableRow(['---', '---', '---:', '---:', '---']),
  ];
  for (const ratio of ratios.filter((entry) => entry.scenario === scenario)) {
    const met =
      ratio.target === null || ratio.median === null
        ? 'n/a'
        : ratio.median >= ratio.target
          ? 'yes'
          : '**no**';
    lines.push(
      tableRow([
        `ledger / ${ratio.baseline}`,
        ratio.perRun.map((value) => fixed(value, 2)).join(', '),
        fixed(ratio.median, 2),
        ratio.target === null ? '' : `≥ ${ratio.target}`,
        met,
      ]),
    );
  }
  return lines.join('\n');
}

/** µs of a core per answer: the CPU cost of each part, the unit a projection is made of. */
function perAnswer(cores: number | null | undefined, perSecond: number): string {
  return cores === null || cores === undefined || perSecond <= 0
    ? '-'
    : ((cores / perSecond) * 1e6).toFixed(1);
}

/**
 * Each run's CPU per answer: server (and its main thread), database, load generator; and the
 * Postgres WAL it wrote per answer, and the WAL files Postgres made for it (not recycled ones).
 */
export function cpuPerAnswerTable(runs: readonly SystemRun[]): string {
  const lines = [
    tableRow([
      'system',
      'run',
      'req/s',
      'server µs/answer',
      'server main thread µs/answer',
      'postgres µs/answer',
      'redis µs/answer',
      'load-gen µs/answer',
      'other cores',
      'WAL bytes/answer',
      'new WAL files',
      'server peak MB',
    ]),
    // The system's name, then eleven figures.
    tableRow(['---', ...new Array<string>(11).fill('---:')]),
  ];
  for (const run of runs) {
    const rate = run.requestsPerSecond ?? 0;
    const cpu = run.cpu;
    lines.push(
      tableRow([
        run.system,
        String(run.run),
        rate.toFixed(0),
        perAnswer(cpu?.ledgerCores, rate),
        perAnswer(cpu?.ledgerMainThreadCores, rate),
        perAnswer(cpu?.postgresCores, rate),
        perAnswer(cpu?.redisCores, rate),
        perAnswer(cpu?.benchCores, rate),
        fixed(cpu?.otherCores ?? null, 2),
        fixed(run.wal?.bytesPerAnswer ?? null, 0),
        fixed(run.wal?.newFiles ?? null, 0),
        fixed(run.serverPeakRssMb, 0),
      ]),
    );
  }
  return lines.join('\n');
}

export const waitingTableNote =
  'How many threads of each part were, on average over the window, ready to run with no core ' +
  "free (the run-queue waits of each thread's /proc schedstat; 1.00 = one thread waiting all " +
  'the time), beside the cores each part used; and the cores the hypervisor took (steal). A ' +
  "part that waits about as much as it runs is held back by the machine's other work, not by " +
  'its own.';

/** Each run's run-queue waits by part, beside the cores the part used (machine.ts, `waiting`). */
export function waitingTable(runs: readonly SystemRun[]): string {
  const lines = [
    tableRow([
      'system',
      'run',
      'server cores / waiting',
      'server main thread cores / waiting',
      'postgres cores / waiting',
      'load-gen cores / waiting',
      'steal cores',
    ]),
    tableRow(['---', '---:', '---:', '---:', '---:', '---:', '---:']),
  ];
  const pair = (cores: number | null | undefined, waiting: number | null | undefined): string =>
    `${fixed(cores ?? null, 2)} / ${fixed(waiting ?? null, 2)}`;
  for (const run of runs) {
    const cpu = run.cpu;
    lines.push(
      tableRow([
        run.system,
        String(run.run),
        pair(cpu?.ledgerCores, cpu?.waiting.ledger),
        pair(cpu?.ledgerMainThreadCores, cpu?.waiting.ledgerMainThread),
        pair(cpu?.postgresCores, cpu?.waiting.postgres),
        pair(cpu?.benchCores, cpu?.waiting.bench),
        fixed(cpu?.stealCores ?? null, 2),
      ]),
    );
  }
  return lines.join('\n');
}

/** The kinds of WAL record that make up all but this share of the window's bytes go in one row. */
const walStatsRestShare = 0.005;

/** A run's WAL by relation and record kind (pg_waldump over the window), per answer. */
export function walStatsTable(run: SystemRun, durationSeconds: number): string {
  const stats = run.walStats;
  if (stats === undefined) return '';
  if ('error' in stats) return `Not read: ${stats.error}`;
  const rate = run.requestsPerSecond ?? 0;
  const answers = rate * durationSeconds;
  const perAnswer = (value: number): string => (answers > 0 ? (value / answers).toFixed(2) : 'n/a');
  const lines = [
    `${stats.records} records, ${stats.bytes} bytes between the window's two insert positions ` +
      '(pg_waldump; full-page images in the bytes).',
    '',
    tableRow(['relation', 'record', 'records/answer', 'bytes/answer', 'bytes/record', 'share']),
    tableRow(['---', '---', '---:', '---:', '---:', '---:']),
  ];
  const partRow = (relation: string, record: string, records: number, bytes: number): string =>
    tableRow([
      relation,
      record,
      perAnswer(records),
      perAnswer(bytes),
      (bytes / records).toFixed(0),
      `${((100 * bytes) / stats.bytes).toFixed(1)}%`,
    ]);
  let rest = { records: 0, bytes: 0 };
  for (const part of stats.parts) {
    if (part.bytes < stats.bytes * walStatsRestShare) {
      rest = { records: rest.records + part.records, bytes: rest.bytes + part.bytes };
    } else {
      lines.push(partRow(part.relation, part.record, part.records, part.bytes));
    }
  }
  if (rest.records > 0) lines.push(partRow('(the rest)', '', rest.records, rest.bytes));
  return lines.join('\n');
}

/**
 * Each thread's collections (V8's --trace-gc-nvp lines read within the window; the lines come
 * through a pipe, so a collection near either end may fall on the other side of it).
 */
export function gcTraceTable(runs: readonly SystemRun[], durationSeconds: number): string {
  const lines = [
    'Thread 1 is the main (HTTP) thread; the others in the order they started (the hot shard does',
    "the most). Scavenges copy what survives the young generation; a full collection's pause is",
    'its last step (its marking runs mostly beside the thread).',
    '',
    tableRow([
      'system',
      'run',
      'thread',
      'scavenges',
      'scavenge ms total / median / max',
      'full GCs',
      'full GC ms total / max',
      'MB allocated',
      'MB kept young',
      'MB promoted',
      'bytes allocated/answer',
    ]),
    // The system, its run, the thread, then eight figures.
    tableRow(['---', '---:', '---', ...new Array<string>(8).fill('---:')]),
  ];
  for (const run of runs) {
    const answers = (run.requestsPerSecond ?? 0) * durationSeconds;
    for (const thread of run.gc ?? []) {
      const { scavenges, fullCollections } = thread;
      lines.push(
        tableRow([
          run.system,
          String(run.run),
          thread.thread,
          String(scavenges.count),
          `${fixed(scavenges.pauseTotalMs, 0)} / ${fixed(scavenges.pauseMedianMs, 1)} / ` +
            fixed(scavenges.pauseMaxMs, 1),
          String(fullCollections.count),
          `${fixed(fullCollections.pauseTotalMs, 0)} / ${fixed(fullCollections.pauseMaxMs, 1)}`,
          fixed(thread.allocatedMb, 0),
          fixed(thread.survivedMb, 0),
          fixed(thread.promotedMb, 0),
          answers > 0 ? fixed((thread.allocatedMb * 1e6) / answers, 0) : 'n/a',
        ]),
      );
    }
  }
  return lines.join('\n');
}

export function markdownReport(record: BenchRecord): string {
  const scenarios = [...new Set(record.runs.map((run) => run.scenario))];
  const parts = [
    `# Flash-sale bench, ${record.startedAt}`,
    '',
    `Machine: ${record.machine.cpuCount} × ${record.machine.cpuModel}, ` +
      `${(record.machine.totalMemoryBytes / 2 ** 30).toFixed(0)} GiB, Node ${record.machine.nodeVersion}. ` +
      'The load generator, the servers and the databases share these cores.',
    `Commit ${record.git.commit ?? 'unknown'}${record.git.dirty === true ? ' (src/ modified)' : ''}, ` +
      `ledger build ${record.build.distDigest}. Parameters: ${JSON.stringify(record.parameters)}.`,
    `Busy cores just before the run: ${fixed(record.backgroundBusyCores, 2)}.`,
  ];
  if (record.parameters.unloggedJournal === true) {
    parts.push(
      "**NOT DURABLE: `--unlogged-journal`.** The ledger's journal table was made UNLOGGED once " +
        'stocked (an experiment: what a journal writing no WAL of its own would buy, at most).',
    );
  }
  const { ledgerNice, postgresNice } = record.parameters;
  if (ledgerNice !== null || postgresNice !== null) {
    parts.push(
      `**Priorities changed** (an experiment): the ledger's threads at nice ${ledgerNice ?? 0}, ` +
        `its Postgres backends at nice ${postgresNice ?? 0}, once stocked; everything else at ` +
        'the nice it had.',
    );
  }
  for (const scenario of scenarios) {
    parts.push('', `## ${scenario}`, '', scenarioTable(record.medians, scenario));
    parts.push('', correctedTableNote, '', correctedTable(record.medians, scenario));
    if (scenario === 'cart') parts.push('', cartTableNote);
    if (scenario === 'flash-crowd') {
      const connections = Number(record.parameters.connections);
      parts.push('', flashCrowdTable(record.runs, connections));
    }
    if (scenario === 'sold-out') {
      const stock = Number(record.parameters.soldOutStock);
      parts.push('', soldOutTable(record.medians, stock));
    }
    if (record.ratios.some((ratio) => ratio.scenario === scenario)) {
      parts.push('', ratioTable(record.ratios, scenario));
    }
  }
  if (record.targets.length > 0) {
    parts.push('', '## Targets (issue 4)', '', tableRow(['target', 'measured', 'wanted', 'met']));
    parts.push(tableRow(['---', '---:', '---:', '---']));
    for (const target of record.targets) {
      const met = target.met === null ? 'n/a' : target.met ? 'yes' : '**no**';
      parts.push(tableRow([target.name, fixed(target.measured, 2), target.target, met]));
    }
  }
  if (record.floorTargets !== undefined && record.floorTargets.length > 0) {
    parts.push('', '## The same targets for the durable floors', '', floorTargetsNote, '');
    parts.push(floorTargetsTable(record.targets, record.floorTargets));
  }
  parts.push('', '## CPU per answer, each run', '', cpuPerAnswerTable(record.runs));
  parts.push('', '## Waiting for a core, each run', '', waitingTableNote, '');
  parts.push(waitingTable(record.runs));
  parts.push(
    '',
    'redis-lua is **not durable** (Redis without persistence); bare-uws keeps no state at all.',
  );
  if (record.runs.some((run) => run.system.startsWith('bare-uws-commit'))) {
    parts.push(
      'bare-uws-commit keeps no state either: it answers as bare-uws does, once a row for the ' +
        'request has committed (one commit in flight, the rows of a turn in one INSERT); ' +
        "bare-uws-commit-hop commits on a thread of its own, behind a hop like the ledger's; " +
        "bare-uws-commit-wal does that with the ledger's journal statement and tables, and " +
        'bare-uws-commit-journal with each request a movement of its key in the history too.',
    );
  }
  for (const run of record.runs) {
    if (run.walStats === undefined) continue;
    parts.push(
      '',
      `## WAL by relation over the window: ${run.scenario} on ${run.system}, run ${run.run} (--wal-stats)`,
      '',
    );
    parts.push(walStatsTable(run, Number(record.parameters.durationSeconds)));
  }
  const long = record.runs.filter((run) => run.perSecond.length >= windowTableMinSeconds);
  if (long.length > 0) {
    parts.push('', '## The window by ten seconds', '', windowTableNote, '');
    parts.push(windowTable(long));
  }
  const traced = record.runs.filter((run) => run.gc !== undefined);
  if (traced.length > 0) {
    parts.push('', '## Collections by thread over the window (--gc-trace)', '');
    parts.push(gcTraceTable(traced, Number(record.parameters.durationSeconds)));
  }
  for (const run of record.runs) {
    if (run.timeline === undefined) continue;
    parts.push('', `## Timeline: ${run.scenario} on ${run.system}, run ${run.run}`, '');
    parts.push(timelineMarkdown(run.timeline, run.cpuPerSecond));
  }
  for (const problem of record.problems) parts.push('', `**PROBLEM**: ${problem}`);
  for (const warning of record.warnings) parts.push('', `warning: ${warning}`);
  return `${parts.join('\n')}\n`;
}

export function writeResults(
  root: string,
  record: BenchRecord,
  svg: string | undefined,
): { json: string; markdown: string; svg: string | undefined } {
  const { base, json, md } = writeRunFiles(
    root,
    'flash-sale',
    record.startedAt,
    record,
    markdownReport(record),
  );
  if (svg !== undefined) writeFileSync(`${base}.svg`, svg);
  return { json, markdown: md, svg: svg && `${base}.svg` };
}
