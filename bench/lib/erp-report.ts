// The erp-sync bench's record and its summary: every load (the hot-SKU load alone, or with
// imports), every import, the medians of each mode and the per-pair p99 ratios, the end-state
// check; printed as markdown and written to bench/results/erp-sync-<timestamp>.{json,md}.
import type { LatencySummary } from './load-driver.js';
import type { CpuUse, MachineInfo } from './machine.js';
import { fixed, tableRow } from './markdown.js';
import { median } from './report.js';
import type { StateCheck } from './state-check.js';
import { writeRunFiles } from './results-files.js';

export type LoadMode = 'alone' | 'with imports';

/** Alone first in odd pairs, with imports first in even ones, so drift does not favour one. */
export function pairOrder(pair: number): LoadMode[] {
  return pair % 2 === 1 ? ['alone', 'with imports'] : ['with imports', 'alone'];
}

export interface ErpImportRun {
  readonly pair: number;
  /** The import's number in the feed (the initial import is 0). */
  readonly import: number;
  readonly lines: number;
  /** When it was sent, from the start of the measured window. */
  readonly startOffsetMs: number;
  /** From sending the file to reading the whole answer. */
  readonly wallMs: number;
  readonly linesPerSecond: number;
  readonly status: number | null;
  readonly applied: number | null;
  readonly failed: number | null;
  /** Lines whose result showed the on_hand and version the feed expects after it. */
  readonly linesMatching: number;
  /** Whether it ran from start to end inside the measured window, all of it under the load. */
  readonly insideWindow: boolean;
  readonly mismatches: readonly string[];
  readonly error: string | null;
  readonly ok: boolean;
}

export interface JournalFigures {
  readonly groupCommits: number;
  readonly batchSizeMean: number | null;
  readonly flushMeanMs: number | null;
}

export interface ErpLoadRun {
  readonly pair: number;
  readonly mode: LoadMode;
  /** Its place in the sitting, from 1. */
  readonly order: number;
  readonly requestsPerSecond: number;
  readonly latency: LatencySummary;
  readonly statusCounts: Record<string, number>;
  readonly errors: Record<string, number>;
  readonly perSecond: readonly number[];
  readonly imports: readonly ErpImportRun[];
  /** Share of the measured window with an import running (null when alone). */
  readonly importCoverage: number | null;
  readonly cpu: CpuUse | null;
  readonly journal: JournalFigures | null;
  readonly problems: readonly string[];
}

export interface KeysCheck {
  readonly keysRead: number;
  readonly keysMatching: number;
  readonly mismatches: readonly string[];
  readonly ok: boolean;
}

export interface ModeMedians {
  readonly mode: LoadMode;
  readonly runs: number;
  readonly requestsPerSecond: number | null;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
  readonly p999Ms: number | null;
  readonly maxMs: number | null;
}

export interface ErpSummary {
  readonly medians: readonly ModeMedians[];
  /** Per pair: p99 with imports over p99 alone; and their median. */
  readonly p99RatioPerPair: readonly (number | null)[];
  readonly p99RatioMedian: number | null;
  readonly requestsPerSecondRatioPerPair: readonly (number | null)[];
  readonly requestsPerSecondRatioMedian: number | null;
  /** Lines/s of the imports that ran entirely inside a measured window. */
  readonly importsInsideWindow: number;
  readonly importsSent: number;
  readonly linesPerSecondMedian: number | null;
  readonly linesPerSecondMin: number | null;
  readonly linesPerSecondMax: number | null;
  readonly linesApplied: number;
  readonly linesFailed: number;
}

export interface ErpRecord {
  readonly bench: 'erp-sync';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly git: { readonly commit: string | null; readonly dirty: boolean | null };
  readonly build: { readonly builtAt: string; readonly distDigest: string };
  readonly machine: MachineInfo;
  readonly parameters: Record<string, unknown>;
  readonly backgroundBusyCores: number | null;
  readonly initialImport: ErpImportRun;
  readonly loads: readonly ErpLoadRun[];
  readonly summary: ErpSummary;
  readonly endState: { readonly hotSku: StateCheck; readonly importedKeys: KeysCheck } | null;
  readonly problems: readonly string[];
  readonly warnings: readonly string[];
}

function modeMedians(loads: readonly ErpLoadRun[], mode: LoadMode): ModeMedians {
  const group = loads.filter((load) => load.mode === mode);
  const pick = (read: (load: ErpLoadRun) => number) => median(group.map(read));
  return {
    mode,
    runs: group.length,
    requestsPerSecond: pick((load) => load.requestsPerSecond),
    p50Ms: pick((load) => load.latency.p50Ms),
    p99Ms: pick((load) => load.latency.p99Ms),
    p999Ms: pick((load) => load.latency.p999Ms),
    maxMs: pick((load) => load.latency.maxMs),
  };
}

/** Within each pair, the with-imports figure over the alone one. */
function pairRatios(loads: readonly ErpLoadRun[], read: (load: ErpLoadRun) => number) {
  const pairs = [...new Set(loads.map((load) => load.pair))].sort((a, b) => a - b);
  return pairs.map((pair) => {
    const of = (mode: LoadMode) => loads.find((load) => load.pair === pair && load.mode === mode);
    const alone = of('alone');
    const withImports = of('with imports');
    if (alone === undefined || withImports === undefined || read(alone) === 0) return null;
    return read(withImports) / read(alone);
  });
}

export function summarizeErp(loads: readonly ErpLoadRun[]): ErpSummary {
  const imports = loads.flatMap((load) => load.imports);
  const inside = imports.filter((entry) => entry.insideWindow && entry.ok);
  const rates = inside.map((entry) => entry.linesPerSecond);
  const p99RatioPerPair = pairRatios(loads, (load) => load.latency.p99Ms);
  const requestsPerSecondRatioPerPair = pairRatios(loads, (load) => load.requestsPerSecond);
  return {
    medians: [modeMedians(loads, 'alone'), modeMedians(loads, 'with imports')],
    p99RatioPerPair,
    p99RatioMedian: median(p99RatioPerPair),
    requestsPerSecondRatioPerPair,
    requestsPerSecondRatioMedian: median(requestsPerSecondRatioPerPair),
    importsInsideWindow: inside.length,
    importsSent: imports.length,
    linesPerSecondMedian: median(rates),
    linesPerSecondMin: rates.length === 0 ? null : Math.min(...rates),
    linesPerSecondMax: rates.length === 0 ? null : Math.max(...rates),
    linesApplied: imports.reduce((sum, entry) => sum + (entry.applied ?? 0), 0),
    linesFailed: imports.reduce((sum, entry) => sum + (entry.failed ?? 0), 0),
  };
}

function loadsTable(loads: readonly ErpLoadRun[]): string {
  const header = ['#', 'pair', 'hot-SKU load', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms'];
  header.push('imports (inside window)', 'window with an import');
  header.push('records per commit', 'commit ms', 'ledger cores', 'postgres cores', 'other cores');
  const lines = [
    tableRow(header),
    tableRow(['---:', '---:', '---', ...new Array<string>(12).fill('---:')]),
  ];
  for (const load of loads) {
    const inside = load.imports.filter((entry) => entry.insideWindow).length;
    lines.push(
      tableRow([
        String(load.order),
        String(load.pair),
        load.mode,
        fixed(load.requestsPerSecond, 0),
        fixed(load.latency.p50Ms, 2),
        fixed(load.latency.p99Ms, 2),
        fixed(load.latency.p999Ms, 2),
        fixed(load.latency.maxMs, 1),
        load.mode === 'alone' ? '' : `${load.imports.length} (${inside})`,
        load.importCoverage === null ? '' : `${fixed(load.importCoverage * 100, 0)}%`,
        fixed(load.journal?.batchSizeMean, 1),
        fixed(load.journal?.flushMeanMs, 2),
        fixed(load.cpu?.ledgerCores, 2),
        fixed(load.cpu?.postgresCores, 2),
        fixed(load.cpu?.otherCores, 2),
      ]),
    );
  }
  return lines.join('\n');
}

function mediansTable(summary: ErpSummary): string {
  const lines = [
    tableRow(['hot-SKU load', 'runs', 'median req/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms']),
    tableRow(['---', '---:', '---:', '---:', '---:', '---:', '---:']),
  ];
  for (const m of summary.medians) {
    lines.push(
      tableRow([
        m.mode,
        String(m.runs),
        `**${fixed(m.requestsPerSecond, 0)}**`,
        fixed(m.p50Ms, 2),
        `**${fixed(m.p99Ms, 2)}**`,
        fixed(m.p999Ms, 2),
        fixed(m.maxMs, 1),
      ]),
    );
  }
  return lines.join('\n');
}

function importsTable(initial: ErpImportRun, loads: readonly ErpLoadRun[]): string {
  const header = ['pair', 'import', 'lines', 'sent at s', 'wall s', 'lines/s', 'applied'];
  header.push('failed', 'inside window', 'lines checked');
  const lines = [
    tableRow(header),
    tableRow(['---', ...new Array<string>(7).fill('---:'), '---', '---']),
  ];
  const entries = [initial, ...loads.flatMap((load) => load.imports)];
  for (const entry of entries) {
    lines.push(
      tableRow([
        entry.import === 0 ? 'before (no load)' : String(entry.pair),
        String(entry.import),
        String(entry.lines),
        entry.import === 0 ? '' : fixed(entry.startOffsetMs / 1000, 2),
        fixed(entry.wallMs / 1000, 2),
        fixed(entry.linesPerSecond, 0),
        fixed(entry.applied, 0),
        fixed(entry.failed, 0),
        entry.import === 0 ? '' : entry.insideWindow ? 'yes' : 'no (ran past it)',
        entry.ok ? `OK ${entry.linesMatching}` : `**FAILED** ${entry.linesMatching}`,
      ]),
    );
  }
  return lines.join('\n');
}

function headline(summary: ErpSummary): string[] {
  const ratios = (values: readonly (number | null)[]) =>
    values.map((value) => fixed(value, 2)).join(', ');
  return [
    `Hot-SKU p99 with imports / alone, per pair: ${ratios(summary.p99RatioPerPair)}; ` +
      `median **${fixed(summary.p99RatioMedian, 2)}×**. ` +
      `req/s with imports / alone, per pair: ${ratios(summary.requestsPerSecondRatioPerPair)}; ` +
      `median ${fixed(summary.requestsPerSecondRatioMedian, 2)}×.`,
    `Imports: ${summary.importsSent} sent under the load, ${summary.importsInsideWindow} of ` +
      'them entirely inside a measured window; their lines/s: median ' +
      `**${fixed(summary.linesPerSecondMedian, 0)}** (min ${fixed(summary.linesPerSecondMin, 0)}, ` +
      `max ${fixed(summary.linesPerSecondMax, 0)}). Lines applied ${summary.linesApplied}, ` +
      `failed ${summary.linesFailed}.`,
  ];
}

function endStateLines(record: ErpRecord): string[] {
  if (record.endState === null) return ['End state: **not checked** (the run failed before).'];
  const { hotSku, importedKeys } = record.endState;
  return [
    `End state: hot SKU ${hotSku.ok ? 'OK' : '**FAILED**'} (reserved = ` +
      `${hotSku.acknowledged.reserved} acknowledged reserves, ${hotSku.replay.unknown} lost ` +
      `answers replayed, oversell ${hotSku.oversellUnits}); imported keys ` +
      `${importedKeys.ok ? 'OK' : '**FAILED**'} (${importedKeys.keysMatching} of ` +
      `${importedKeys.keysRead} keys read back at the on_hand and version the lines imply, ` +
      'reserved 0).',
    ...importedKeys.mismatches.map((line) => `- ${line}`),
  ];
}

export function erpMarkdownReport(record: ErpRecord): string {
  const { machine } = record;
  const parts = [
    `# erp-sync bench, ${record.startedAt}`,
    '',
    `Machine: ${machine.cpuCount} × ${machine.cpuModel}, ` +
      `${(machine.totalMemoryBytes / 2 ** 30).toFixed(0)} GiB, Node ${machine.nodeVersion}, ` +
      `${machine.platform} ${machine.release}. The load generator, the ledger and Postgres ` +
      'share these cores.',
    `Commit ${record.git.commit ?? 'unknown'}${record.git.dirty === true ? ' (src/ modified)' : ''}` +
      `, ledger build ${record.build.distDigest}. Parameters: ${JSON.stringify(record.parameters)}.`,
    `Busy cores just before the run: ${fixed(record.backgroundBusyCores, 2)}.`,
    '',
    '## Hot-SKU reserves, alone and while imports run (medians)',
    '',
    mediansTable(record.summary),
    '',
    ...headline(record.summary),
    '',
    '## Every load, in the order run',
    '',
    loadsTable(record.loads),
    '',
    '## Every import',
    '',
    importsTable(record.initialImport, record.loads),
    '',
    ...endStateLines(record),
  ];
  for (const problem of record.problems) parts.push('', `**PROBLEM**: ${problem}`);
  for (const warning of record.warnings) parts.push('', `warning: ${warning}`);
  return `${parts.join('\n')}\n`;
}

export function writeErpResults(root: string, record: ErpRecord): { json: string; md: string } {
  const { json, md } = writeRunFiles(
    root,
    'erp-sync',
    record.startedAt,
    record,
    erpMarkdownReport(record),
  );
  return { json, md };
}
