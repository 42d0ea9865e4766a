// The restart bench: how long a ledger takes to answer again after a start or a crash, as an
// operator sees it (process started or killed → first GET /health/ready 200). For each journal
// size N, on a scratch database (bench_<random>, dropped afterwards, also on failure):
// 1. a realistic journal of N records (bench/lib/journal-generator.ts) COPYed into ledger_wal;
// 2. a cold start with no snapshot: `node dist/src/main.js` → ready, and what the ledger logs;
//    then the journal read back without the ledger (tail reads alone, then the shards' own
//    recovery routine on one thread), to show where the time goes;
// 3. POST /v1/admin/snapshot, a tail of adjusts through the HTTP API, kill -9 → ready (node),
//    and once more kill -9 → ready with `npm start` (its prestart build included).
// After every start, every key's stock is read back and must equal what the generator's live
// states (plus the acknowledged tail) say; every due hold must have expired. See bench/README.md.
// --hot-holds H adds, after the N records, one more key stocked with H units and H reserves of
// one, made at the bench's start with an hour's TTL: a flash sale's hot key, whose H holds stay
// pending through every start (its snapshot is most of what a restart reads).
//
//   npm run build && npx tsx bench/restart.ts --records 100000,1000000 [--keys 10000]
//     [--hot-holds 0] [--tail 10000] [--shards N] [--no-npm-start]
//     [--node-flag=--single-threaded-gc ...]
//     [--vs-root ../other-checkout [--pairs 5]] [--postgres-delay-ms N] [--cpu-prof-dir DIR]
//     [--database-url postgres://...]
// --node-flag (repeatable) goes to the ledger's node in the node starts (not npm start's).
// --vs-root names another checkout of the ledger, built (say a worktree of the commit before a
// change): before step 2, --pairs cold starts of this checkout and of that one, in turn on the
// same journal, each killed (-9) at ready, and the ratio of each pair; and before the kill -9 of
// step 3, as many pairs of starts from the snapshots and the tail. The box's speed drifts over
// minutes; a pair's two starts are seconds apart, so their ratio is what a change did.
// --cpu-prof-dir DIR: at the end, one more kill -9 → start from the snapshots and the tail, under
// node --cpu-prof, stopped by SIGTERM once checked: one .cpuprofile per ledger thread in DIR, from
// its birth to its exit, for bench/cpu-profile-summary.ts (where a restart's time goes). A
// profile runs on past ready: the checks' reads, then the stop, which snapshots every partition
// (`--stretches` shows each stretch with its time from the thread's start).
// --postgres-delay-ms N puts a proxy between the ledger and Postgres that holds every chunk N ms
// each way (bench/lib/delay-proxy.ts): a Postgres on another host, as far as round trips go. The
// bench's own connections (writing the journal, reading it back) go straight to Postgres.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { retentionOf } from '../src/config.js';
import { statField } from '../src/observability/thread-cpu.js';
import { call } from './lib/ledger-api.js';
import {
  childEnvironment,
  ensureBuilt,
  mainScriptPath,
  staleSources,
  startLedger,
  startServerChild,
  type LedgerChild,
  type SpawnedLedger,
} from './lib/ledger-child.js';
import { readBack, writeJournal, type JournalWritten, type ReadBack } from './lib/journal-copy.js';
import { JournalGenerator, hotProductId } from './lib/journal-generator.js';
import { startDelayProxy, throughProxy } from './lib/delay-proxy.js';
import {
  backgroundBusyCores,
  cpuSnapshot,
  cpuUse,
  machineInfo,
  processFaults,
  type CpuUse,
} from './lib/machine.js';
import { gitState, median, redactUrl } from './lib/report.js';
import { withScratchDatabase } from './lib/scratch-database.js';
import { pairOrder } from './lib/pairs-report.js';
import { writeRunFiles } from './lib/results-files.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = (line: string): boolean => process.stdout.write(`${line}\n`);
/** The ledger's default LEDGER_PARTITIONS: the journal is made for it. */
const partitions = 256;
/** The ledger's default retention (LEDGER_RETAIN_FINISHED_*), so live states match its own. */
const retention = retentionOf({ retainFinishedSeconds: 86_400, retainFinishedMax: 1_000_000 }, 256);
/** The resolution of every start's measurement. */
const readyPollMs = 10;
/** A 10M-record cold start on 2 busy cores may take minutes; a stuck one must still end. */
const startTimeoutMs = 900_000;
/** Other work above this many busy cores, before or during a start, makes the figures suspect. */
const busyCoresWarning = 0.25;
/** How long the expiry sweep may take to expire every hold that is due after a start. */
const settleTimeoutMs = 300_000;
/** Concurrent HTTP adjusts while writing the tail. */
const tailConcurrency = 16;

interface Options {
  readonly records: number[];
  readonly keys: number;
  /** A hot key's pending holds after the journal's records (0: none). */
  readonly hotHolds: number;
  readonly tail: number;
  readonly shards: number;
  readonly npmStart: boolean;
  readonly databaseUrl: string;
  readonly nodeFlags: readonly string[];
  /** Another built checkout to compare cold starts with (--vs-root), and how many pairs. */
  readonly vsRoot: string | undefined;
  readonly pairs: number;
  /** The ledger reaches Postgres through a proxy holding each chunk this long each way (0: not). */
  readonly postgresDelayMs: number;
  /** Where a last start from the snapshots, profiled, writes its .cpuprofile files. */
  readonly cpuProfileDirectory: string | undefined;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      records: { type: 'string', default: '100000,1000000' },
      keys: { type: 'string', default: '10000' },
      'hot-holds': { type: 'string', default: '0' },
      tail: { type: 'string', default: '10000' },
      shards: { type: 'string', default: String(availableParallelism()) },
      'no-npm-start': { type: 'boolean', default: false },
      'node-flag': { type: 'string', multiple: true, default: [] },
      'vs-root': { type: 'string' },
      pairs: { type: 'string', default: '5' },
      'postgres-delay-ms': { type: 'string', default: '0' },
      'cpu-prof-dir': { type: 'string' },
      'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    },
  });
  const positive = (name: string, raw: string): number => {
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${name}: ${raw}`);
    return value;
  };
  return {
    records: values.records.split(',').map((raw) => positive('records', raw)),
    keys: positive('keys', values.keys),
    hotHolds: values['hot-holds'] === '0' ? 0 : positive('hot-holds', values['hot-holds']),
    tail: positive('tail', values.tail),
    shards: positive('shards', values.shards),
    npmStart: !values['no-npm-start'],
    databaseUrl: values['database-url'],
    nodeFlags: values['node-flag'],
    vsRoot: values['vs-root'] === undefined ? undefined : resolvePath(values['vs-root']),
    pairs: positive('pairs', values.pairs),
    postgresDelayMs:
      values['postgres-delay-ms'] === '0'
        ? 0
        : positive('postgres-delay-ms', values['postgres-delay-ms']),
    cpuProfileDirectory: values['cpu-prof-dir'],
  };
}

// ---- What the ledger logs about a start. ----

interface ShardReady {
  readonly shard: number;
  readonly partitions: number;
  readonly snapshots: number;
  readonly records: number;
  readonly durationMs: number;
  /** The shard thread's own CPU from its birth to ready (null where the ledger did not say). */
  readonly cpuMs: number | null;
  /** pino's `time`: when the main thread logged it (epoch ms). */
  readonly timeMs: number;
}

interface StartLog {
  /** From the start (spawn, or kill -9) to the listening line, in ms. */
  readonly listeningAfterMs: number | null;
  /** From the start to the last shard's "shard ready" line, in ms. */
  readonly lastShardReadyAfterMs: number | null;
  readonly shards: ShardReady[];
}

function logEntries(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch (error) {
        void error; // Not a log line after all (npm's own output); ignored.
        return [];
      }
    });
}

function startLog(output: string, startedAtMs: number): StartLog {
  const entries = logEntries(output);
  const timeOf = (entry: Record<string, unknown> | undefined): number | null =>
    typeof entry?.time === 'number' ? entry.time - startedAtMs : null;
  const shards = entries
    .filter((entry) => entry.msg === 'shard ready')
    .map((entry) => ({
      shard: Number(entry.shard),
      partitions: Number(entry.partitions),
      snapshots: Number(entry.snapshots),
      records: Number(entry.records),
      durationMs: Number(entry.durationMs),
      cpuMs: typeof entry.cpuMs === 'number' ? entry.cpuMs : null,
      timeMs: Number(entry.time),
    }));
  return {
    listeningAfterMs: timeOf(entries.find((entry) => entry.msg === 'listening')),
    lastShardReadyAfterMs: timeOf(
      shards.at(-1) === undefined ? undefined : { time: Math.max(...shards.map((s) => s.timeMs)) },
    ),
    shards,
  };
}

// ---- Expected stock, and the check of every key against it. ----

interface Expected {
  /** product id → on_hand the ledger must show. */
  readonly onHand: Map<string, number>;
  /** product id → units its holds must still reserve at rest: the hot key's (--hot-holds). */
  readonly held: Map<string, number>;
}

function expectedOf(generator: JournalGenerator): Expected {
  const onHand = new Map<string, number>();
  const held = new Map<string, number>();
  for (const state of generator.live) {
    for (const actor of state.actors.values()) {
      onHand.set(actor.productId, actor.onHand);
      if (actor.productId === hotProductId) held.set(actor.productId, actor.reserved);
    }
  }
  return { onHand, held };
}

interface StockItem {
  readonly product_id: string;
  readonly on_hand: number;
  readonly reserved: number;
}

async function listStock(baseUrl: string): Promise<StockItem[]> {
  const items: StockItem[] = [];
  let after: string | null = null;
  do {
    const query: string = after === null ? '' : `&after=${encodeURIComponent(after)}`;
    const answer = await call(baseUrl, `/v1/stock?limit=1000${query}`);
    if (answer.status !== 200) throw new Error(`GET /v1/stock answered ${answer.status}`);
    items.push(...(answer.body.items as StockItem[]));
    after = answer.body.next as string | null;
  } while (after !== null);
  return items;
}

/**
 * Every key's on_hand must be exact; returns how many keys' reserved is not yet what it is at
 * rest (none, but the hot key's holds, which are not due).
 */
async function checkOnHand(baseUrl: string, expected: Expected): Promise<number> {
  const items = await listStock(baseUrl);
  if (items.length !== expected.onHand.size) {
    throw new Error(
      `the ledger lists ${items.length} keys, the journal made ${expected.onHand.size}`,
    );
  }
  let holding = 0;
  for (const item of items) {
    const want = expected.onHand.get(item.product_id);
    if (item.on_hand !== want) {
      throw new Error(
        `${item.product_id}: on_hand ${item.on_hand}, expected ${want}: BROKEN RECOVERY`,
      );
    }
    if (item.reserved < 0) throw new Error(`${item.product_id}: reserved ${item.reserved}`);
    if (item.reserved !== (expected.held.get(item.product_id) ?? 0)) holding += 1;
  }
  return holding;
}

/**
 * The journal's record times are long past, so every hold in it is due: after the first start
 * the expiry sweep expires them all (journaling each). Waits for that; returns how long it took.
 */
async function waitSettled(baseUrl: string, expected: Expected): Promise<number> {
  const startedMs = performance.now();
  for (;;) {
    const holding = await checkOnHand(baseUrl, expected);
    if (holding === 0) return (performance.now() - startedMs) / 1000;
    if (performance.now() - startedMs > settleTimeoutMs) {
      throw new Error(`${holding} keys still hold units ${settleTimeoutMs / 1000} s after ready`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** After a restart nothing may be held: every hold expired, durably, before the kill. */
async function checkRestarted(baseUrl: string, expected: Expected): Promise<void> {
  const holding = await checkOnHand(baseUrl, expected);
  if (holding !== 0)
    throw new Error(
      `${holding} keys reserve other than at rest after the restart: BROKEN RECOVERY`,
    );
}

// ---- Snapshot and tail through the HTTP API. ----

async function snapshotAll(baseUrl: string): Promise<number> {
  const startedMs = performance.now();
  const answer = await call(baseUrl, '/v1/admin/snapshot', '{}');
  if (answer.status !== 200)
    throw new Error(`POST /v1/admin/snapshot: ${answer.status} ${answer.text}`);
  return (performance.now() - startedMs) / 1000;
}

/** `count` adjusts of +1 spread over the keys; each acknowledged one raises the expectation. */
async function writeTail(baseUrl: string, expected: Expected, count: number): Promise<number> {
  const productIds = [...expected.onHand.keys()];
  const startedMs = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const productId = productIds[next % productIds.length] as string;
      next += 1;
      const body = JSON.stringify({
        product_id: productId,
        warehouse_id: 'wh-1',
        delta: 1,
        reason: 'tail',
      });
      const answer = await call(baseUrl, '/v1/stock/adjust', body);
      if (answer.status !== 200) throw new Error(`tail adjust: ${answer.status} ${answer.text}`);
      expected.onHand.set(productId, (expected.onHand.get(productId) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: tailConcurrency }, worker));
  return (performance.now() - startedMs) / 1000;
}

// ---- Starts, timed from the moment the operator acts. ----

interface StartRun {
  /** Start (spawn, or the kill -9 before it) → first GET /health/ready 200. */
  readonly seconds: number;
  readonly log: StartLog;
  /** CPU over the start, from the spawn; null for npm start (its ledger is a grandchild). */
  readonly cpu: CpuUse | null;
  /** The ledger's first touches of memory from its spawn to ready; null with `cpu` null. */
  readonly faults: { minorFaults: number; systemSeconds: number } | null;
}

interface Children {
  readonly spawned: SpawnedLedger[];
  /** Ledger PIDs under `npm start`, stopped by their own PID at the end. */
  readonly grandchildren: number[];
  /** The listening and shard ready lines of the start under way (emptied at each start). */
  readonly lines: string[];
}

/** The lines a start's figures come from; the ledger may print many others (503s) meanwhile. */
function keepLine(children: Children): (line: string) => void {
  return (line) => {
    if (line.includes('"msg":"listening"') || line.includes('"msg":"shard ready"')) {
      children.lines.push(line);
    }
  };
}

/** `node dist/src/main.js` of this checkout, or of another one (`--vs-root`). */
function nodeStart(
  opts: Options,
  databaseUrl: string,
  children: Children,
  from = root,
  ledgerEnvironment: Readonly<Record<string, string>> = {},
  cpuProfileDirectory: string | undefined = undefined,
) {
  return (onSpawned: (child: SpawnedLedger) => void): Promise<LedgerChild> =>
    startLedger({
      root: from,
      databaseUrl,
      shards: opts.shards,
      cpuProfileDirectory,
      nodeFlags: opts.nodeFlags,
      ledgerEnvironment,
      onSpawned: (child) => {
        children.spawned.push(child);
        onSpawned(child);
      },
      readyPollMs,
      startTimeoutMs,
      onLine: keepLine(children),
    });
}

function npmStart(databaseUrl: string, shards: number, children: Children) {
  const env = {
    ...childEnvironment({ ledgerEnvironment: {}, shards, databaseUrl }),
    HOME: process.env.HOME ?? '/tmp',
  };
  return (onSpawned: (child: SpawnedLedger) => void): Promise<LedgerChild> =>
    startServerChild({
      name: 'npm start',
      root,
      command: 'npm',
      args: ['start'],
      env,
      execArgv: [],
      onSpawned: (child) => {
        children.spawned.push(child);
        onSpawned(child);
      },
      readyPollMs,
      startTimeoutMs,
      onLine: keepLine(children),
    });
}

async function timedStart(
  start: (onSpawned: (child: SpawnedLedger) => void) => Promise<LedgerChild>,
  startedAtMs: number,
  startedMs: number,
  children: Children,
  withCpu: boolean,
): Promise<{ ledger: LedgerChild; run: StartRun }> {
  children.lines.length = 0;
  let before: ReturnType<typeof cpuSnapshot> | undefined;
  const ledger = await start((child) => {
    if (withCpu) before = cpuSnapshot(child.pid);
  });
  const seconds = (performance.now() - startedMs) / 1000;
  const cpu = before === undefined ? null : cpuUse(before, cpuSnapshot(ledger.pid));
  const faults = before === undefined ? null : (processFaults(ledger.pid) ?? null);
  const log = startLog(children.lines.join('\n'), startedAtMs);
  return { ledger, run: { seconds, log, cpu, faults } };
}

/** The PID of the ledger (node dist/src/main.js) somewhere under `pid`, from /proc. */
function ledgerPidUnder(pid: number): number {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = statField(stat, 4);
      if (parent !== undefined) parents.set(Number(entry), parent);
    } catch (error) {
      void error; // The process ended while we looked: not ours to find.
    }
  }
  for (const [candidate] of parents) {
    let ancestor = parents.get(candidate);
    while (ancestor !== undefined && ancestor !== pid) ancestor = parents.get(ancestor);
    if (ancestor !== pid) continue;
    // node itself, not the `sh -c "node dist/src/main.js"` npm runs it with (dash forks).
    const name = readFileSync(`/proc/${candidate}/comm`, 'utf8').trim();
    const command = readFileSync(`/proc/${candidate}/cmdline`, 'utf8');
    if (name === 'node' && command.includes(mainScriptPath(''))) return candidate;
  }
  throw new Error(`no ledger process under npm (PID ${pid})`);
}

function signal(pid: number, name: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, name);
    return true;
  } catch (error) {
    void error; // Already gone (killed by the bench, or ended with npm).
    return false;
  }
}

/** SIGTERM to a ledger under npm, its exit awaited (SIGKILL after 30 s), before npm is stopped. */
async function stopGrandchild(pid: number): Promise<void> {
  const deadlineMs = performance.now() + 30_000;
  if (!signal(pid, 'SIGTERM')) return;
  while (signal(pid, 0)) {
    if (performance.now() > deadlineMs) {
      signal(pid, 'SIGKILL');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stopAll(children: Children): Promise<void> {
  for (const pid of children.grandchildren) await stopGrandchild(pid);
  for (const child of children.spawned) await child.stop();
}

// ---- One journal size. ----

interface SizeResult {
  readonly records: number;
  readonly mix: string;
  readonly written: JournalWritten;
  /** With --vs-root: the cold starts compared, before `cold`. */
  readonly pairs: StartPair[];
  /** With --vs-root: the starts from snapshots and tail compared, before `restart`. */
  readonly restartPairs: StartPair[];
  readonly cold: StartRun;
  readonly settleSeconds: number;
  readonly readBack: ReadBack;
  readonly snapshotSeconds: number;
  readonly tailRecords: number;
  readonly tailSeconds: number;
  readonly restart: StartRun;
  readonly npmRestart: StartRun | null;
}

async function makeJournal(databaseUrl: string, records: number, opts: Options) {
  const generator = new JournalGenerator({
    partitions,
    recordCount: records,
    keyCount: opts.keys,
    retention,
    hotHolds: opts.hotHolds,
    hotAtMs: Date.now(),
  });
  let shown = 0;
  const written = await writeJournal(databaseUrl, generator, (made) => {
    if (made - shown < 1_000_000) return;
    shown = made;
    out(`  ${made.toLocaleString('en-US')} records written`);
  });
  const mix = [...generator.types].map(([type, count]) => `${type} ${count}`).join(', ');
  return { written, mix, expected: expectedOf(generator) };
}

function describeStart(what: string, run: StartRun): void {
  const shards = run.log.shards
    .map(
      (s) =>
        `shard ${s.shard}: ${s.records} records, ${s.snapshots} snapshots, ` +
        `${Math.round(s.durationMs)} ms${s.cpuMs === null ? '' : ` (its thread's CPU ${s.cpuMs} ms)`}`,
    )
    .join('; ');
  const other = run.cpu?.otherCores;
  out(
    `  ${what}: ready after ${run.seconds.toFixed(2)} s (listening at ` +
      `${run.log.listeningAfterMs} ms, last shard ready at ${run.log.lastShardReadyAfterMs} ms; ` +
      `${shards}${other === null || other === undefined ? '' : `; other load ${other.toFixed(2)} cores`})`,
  );
  const cpu = run.cpu;
  if (cpu !== null && cpu.ledgerCores !== null) {
    // Where the two cores went during the start: the ledger (its shard threads, its main
    // thread, and the rest: V8's compiler and collector threads, the snapshot and events
    // threads), Postgres, this bench (which polls /health/ready) and anything else.
    const shardCpuS = run.log.shards.reduce((sum, s) => sum + (s.cpuMs ?? 0), 0) / 1000;
    const ledgerCpuS = ledgerSeconds(run);
    const mainCpuS = (cpu.ledgerMainThreadCores ?? 0) * cpu.seconds;
    const restCpuS = ledgerCpuS - shardCpuS - mainCpuS;
    out(
      `    CPU over the start: ledger ${ledgerCpuS.toFixed(2)} s (shard threads ` +
        `${shardCpuS.toFixed(2)} s, main thread ${mainCpuS.toFixed(2)} s, its other threads ` +
        `${restCpuS.toFixed(2)} s: V8's compiler and collector helpers, events, snapshots), ` +
        `Postgres ` +
        `${((cpu.postgresCores ?? 0) * cpu.seconds).toFixed(2)} s, this bench ` +
        `${(cpu.benchCores * cpu.seconds).toFixed(2)} s; machine busy ` +
        `${(cpu.machineBusyCores ?? 0).toFixed(2)} of ${machineInfo().cpuCount} cores`,
    );
  }
  if (run.faults !== null) {
    out(
      `    memory first touched: the ledger's minor page faults ${run.faults.minorFaults} ` +
        `(${((run.faults.minorFaults * 4096) / 2 ** 20).toFixed(0)} MiB of 4 KiB pages), its ` +
        `system time ${run.faults.systemSeconds.toFixed(2)} s`,
    );
  }
}

/**
 * The compared starts' first expiry sweep comes a minute after their start, not at ready: each
 * is killed at ready, before it writes the due holds' expiries, so every start replays the same
 * journal.
 */
const noSweepSoon = { LEDGER_EXPIRY_SWEEP_MS: '60000' };

/** Two starts on one journal: this checkout's and `--vs-root`'s, one after the other. */
interface StartPair {
  readonly here: StartRun;
  readonly there: StartRun;
}

/** A start's own CPU (all the ledger's threads), in seconds; NaN when it was not measured. */
const ledgerSeconds = (run: StartRun): number =>
  run.cpu?.ledgerCores === null || run.cpu === null
    ? Number.NaN
    : run.cpu.ledgerCores * run.cpu.seconds;

/** `what` names the starts: "cold starts", or starts from the snapshots and a tail. */
async function comparedStarts(
  opts: Options,
  databaseUrl: string,
  children: Children,
  vsRoot: string,
  what: string,
): Promise<StartPair[]> {
  out(
    `  ${opts.pairs} pairs of ${what}, this checkout (A) and ${vsRoot} (B), each killed at ready:`,
  );
  const pairs: StartPair[] = [];
  const roots = { A: root, B: vsRoot };
  for (let pair = 0; pair < opts.pairs; pair += 1) {
    // A B, then B A: neither checkout always starts right after the other.
    const runs: Partial<Record<'A' | 'B', StartRun>> = {};
    for (const label of pairOrder(pair + 1)) {
      const node = nodeStart(opts, databaseUrl, children, roots[label], noSweepSoon);
      const started = await timedStart(node, Date.now(), performance.now(), children, true);
      await started.ledger.kill();
      runs[label] = started.run;
    }
    const [here, there] = [runs.A as StartRun, runs.B as StartRun];
    pairs.push({ here, there });
    const shardCpu = (run: StartRun) =>
      run.log.shards.map((s) => (s.cpuMs === null ? '?' : (s.cpuMs / 1000).toFixed(2))).join('+');
    const faults = (run: StartRun) => run.faults?.minorFaults ?? '?';
    out(
      `    pair ${pair + 1}: ready A ${here.seconds.toFixed(2)} s, B ${there.seconds.toFixed(2)} s ` +
        `(A/B ${(here.seconds / there.seconds).toFixed(3)}); ledger CPU A ` +
        `${ledgerSeconds(here).toFixed(2)} s, B ${ledgerSeconds(there).toFixed(2)} s (A/B ` +
        `${(ledgerSeconds(here) / ledgerSeconds(there)).toFixed(3)}); shard threads A ` +
        `${shardCpu(here)} s, B ${shardCpu(there)} s; minor faults A ${faults(here)}, B ${faults(there)}`,
    );
  }
  const ratio = (of: (run: StartRun) => number): string =>
    (median(pairs.map(({ here, there }) => of(here) / of(there))) ?? Number.NaN).toFixed(3);
  out(
    `    median of the pairs' ratios A/B: ready ${ratio((run) => run.seconds)}, ledger CPU ` +
      `${ratio(ledgerSeconds)}, minor faults ${ratio((run) => run.faults?.minorFaults ?? Number.NaN)}`,
  );
  return pairs;
}

async function kill9(
  ledger: LedgerChild,
  start: Parameters<typeof timedStart>[0],
  children: Children,
  cpu: boolean,
) {
  const startedAtMs = Date.now();
  const startedMs = performance.now();
  await ledger.kill();
  return timedStart(start, startedAtMs, startedMs, children, cpu);
}

/** `ledgerUrl`: the same database, as the ledger reaches it (through the delay proxy, if any). */
async function measureSize(
  databaseUrl: string,
  ledgerUrl: string,
  opts: Options,
  records: number,
): Promise<SizeResult> {
  const hot = opts.hotHolds === 0 ? '' : ` and a hot key's ${opts.hotHolds} pending holds`;
  out(`N = ${records.toLocaleString('en-US')}${hot}: generating and writing the journal`);
  const { written, mix, expected } = await makeJournal(databaseUrl, records, opts);
  out(
    `  ${written.records} records (${mix}), ${(written.bytes / 2 ** 20).toFixed(0)} MiB COPYed in ${written.seconds.toFixed(1)} s`,
  );
  const children: Children = { spawned: [], grandchildren: [], lines: [] };
  try {
    const vsRoot = opts.vsRoot;
    const compared = (what: string) =>
      vsRoot === undefined
        ? Promise.resolve([])
        : comparedStarts(opts, ledgerUrl, children, vsRoot, what);
    const pairs = await compared('cold starts');
    const node = nodeStart(opts, ledgerUrl, children);
    const coldStart = await timedStart(node, Date.now(), performance.now(), children, true);
    describeStart('cold start, no snapshot', coldStart.run);
    const settleSeconds = await waitSettled(coldStart.ledger.baseUrl, expected);
    out(`  every key checked; due holds expired ${settleSeconds.toFixed(1)} s after ready`);
    const back = await readBack(databaseUrl, partitions, retention);
    out(
      `  without the ledger, one thread: ${back.rows} rows read in ${back.readSeconds.toFixed(2)} s ` +
        `(the same pages without payloads: ${back.lengthsSeconds.toFixed(2)} s; ` +
        `in one pass over the table: ${back.onePassSeconds.toFixed(2)} s), ` +
        `read + decode + replay (recoverPartitions) in ${back.recoverSeconds.toFixed(2)} s ` +
        `(${back.recoverGc.minor} scavenges and ${back.recoverGc.major} mark-compacts of that ` +
        `thread, ${back.recoverGc.pauseMs.toFixed(0)} ms paused)`,
    );
    const snapshotSeconds = await snapshotAll(coldStart.ledger.baseUrl);
    const tailSeconds = await writeTail(coldStart.ledger.baseUrl, expected, opts.tail);
    out(
      `  snapshot of every partition ${snapshotSeconds.toFixed(2)} s; ${opts.tail} adjusts in ${tailSeconds.toFixed(1)} s`,
    );
    // With --vs-root, the ledger is killed first, then the pairs start from what it left.
    let restartPairs: StartPair[] = [];
    let restarted;
    if (vsRoot === undefined) restarted = await kill9(coldStart.ledger, node, children, true);
    else {
      await coldStart.ledger.kill();
      restartPairs = await compared('starts from the snapshots and the tail');
      restarted = await timedStart(node, Date.now(), performance.now(), children, true);
    }
    describeStart('kill -9 → ready (node dist/src/main.js)', restarted.run);
    await checkRestarted(restarted.ledger.baseUrl, expected);
    let npmRestart: StartRun | null = null;
    let running = restarted.ledger;
    if (opts.npmStart) {
      const viaNpm = await kill9(
        running,
        npmStart(ledgerUrl, opts.shards, children),
        children,
        false,
      );
      children.grandchildren.push(ledgerPidUnder(viaNpm.ledger.pid));
      describeStart('kill -9 → ready (npm start)', viaNpm.run);
      await checkRestarted(viaNpm.ledger.baseUrl, expected);
      npmRestart = viaNpm.run;
      running = viaNpm.ledger;
    }
    const profileDirectory = opts.cpuProfileDirectory;
    if (profileDirectory !== undefined) {
      const profiledNode = nodeStart(opts, ledgerUrl, children, root, {}, profileDirectory);
      const profiled = await kill9(running, profiledNode, children, true);
      describeStart(`kill -9 → ready under --cpu-prof (${profileDirectory})`, profiled.run);
      await checkRestarted(profiled.ledger.baseUrl, expected);
      const exit = await profiled.ledger.stop();
      if (exit.killed) throw new Error('the profiled ledger did not stop on SIGTERM: no profiles');
      out(`  profiled start stopped by SIGTERM: its profiles are in ${profileDirectory}`);
    }
    const rest = opts.hotHolds === 0 ? 'nothing held' : `nothing held but the hot key's holds`;
    out(`  every key checked after each restart: on_hand exact, ${rest}`);
    return {
      records,
      mix,
      written,
      pairs,
      restartPairs,
      cold: coldStart.run,
      settleSeconds,
      readBack: back,
      snapshotSeconds,
      tailRecords: opts.tail,
      tailSeconds,
      restart: restarted.run,
      npmRestart,
    };
  } finally {
    await stopAll(children);
  }
}

// ---- The report. ----

const seconds = (value: number): string => value.toFixed(2);
const rate = (records: number, secs: number): string =>
  Math.round(records / secs).toLocaleString('en-US');

function recoveryRate(run: StartRun): string {
  const records = run.log.shards.reduce((sum, shard) => sum + shard.records, 0);
  const slowestMs = Math.max(...run.log.shards.map((shard) => shard.durationMs));
  return rate(records, slowestMs / 1000);
}

function otherLoad(run: StartRun | null): string {
  const other = run?.cpu?.otherCores;
  return other === null || other === undefined ? 'n/a' : other.toFixed(2);
}

function markdownTable(results: readonly SizeResult[]): string {
  const lines = [
    "| N | journal COPY s | cold ready s | records/s (N / cold ready) | records/s (shards' recovery) | read alone, 1 thread, s | read in one pass, 1 thread, s | read without payloads, 1 thread, s | read + decode + replay, 1 thread, s | kill -9 → ready s (snapshot + tail) | kill -9 → ready s (npm start) | npm start overhead s | other load cold / restart (cores) |",
    '| -: | -: | -: | -: | -: | -: | -: | -: | -: | -: | -: | -: | -: |',
  ];
  for (const r of results) {
    const npm = r.npmRestart;
    lines.push(
      `| ${r.records.toLocaleString('en-US')} | ${r.written.seconds.toFixed(1)} | ${seconds(r.cold.seconds)} | ` +
        `${rate(r.records, r.cold.seconds)} | ${recoveryRate(r.cold)} | ${seconds(r.readBack.readSeconds)} | ` +
        `${seconds(r.readBack.onePassSeconds)} | ${seconds(r.readBack.lengthsSeconds)} | ` +
        `${seconds(r.readBack.recoverSeconds)} | ${seconds(r.restart.seconds)} | ` +
        `${npm === null ? 'n/a' : seconds(npm.seconds)} | ` +
        `${npm === null ? 'n/a' : seconds(npm.seconds - r.restart.seconds)} | ` +
        `${otherLoad(r.cold)} / ${otherLoad(r.restart)} |`,
    );
  }
  return lines.join('\n');
}

function warningsOf(
  background: number | null,
  results: readonly SizeResult[],
  vsRoot: string | undefined,
): string[] {
  const warnings: string[] = [];
  for (const checkout of vsRoot === undefined ? [root] : [root, vsRoot]) {
    const stale = staleSources(checkout);
    if (stale.length > 0) {
      warnings.push(
        `${stale.length} file(s) in ${join(checkout, 'src')} are newer than its dist/: ` +
          'this measured its last build',
      );
    }
  }
  if ((background ?? 0) > busyCoresWarning) {
    warnings.push(
      `the machine was busy before the run (${background?.toFixed(2)} cores): figures are suspect`,
    );
  }
  for (const r of results) {
    for (const [what, run] of [
      ['cold start', r.cold],
      ['restart', r.restart],
    ] as const) {
      const other = run.cpu?.otherCores ?? 0;
      if (other > busyCoresWarning) {
        warnings.push(
          `N=${r.records}, ${what}: other work took ${other.toFixed(2)} cores meanwhile`,
        );
      }
    }
  }
  return warnings;
}

async function main(): Promise<void> {
  const opts = options();
  ensureBuilt(root);
  if (opts.vsRoot !== undefined) ensureBuilt(opts.vsRoot);
  const background = await backgroundBusyCores(1000);
  const machine = machineInfo();
  out(
    `${machine.cpuCount} × ${machine.cpuModel}, node ${machine.nodeVersion}; busy before: ${background?.toFixed(2)} cores`,
  );
  const startedAt = new Date().toISOString();
  const results: SizeResult[] = [];
  const target = new URL(opts.databaseUrl);
  const proxy =
    opts.postgresDelayMs === 0
      ? undefined
      : await startDelayProxy(
          { host: target.hostname, port: Number(target.port || 5432) },
          opts.postgresDelayMs,
        );
  if (proxy !== undefined) {
    out(
      `the ledger's Postgres: through a proxy holding each chunk ${opts.postgresDelayMs} ms each way`,
    );
  }
  try {
    for (const records of opts.records) {
      const measured = await withScratchDatabase(opts.databaseUrl, (url) =>
        measureSize(url, proxy === undefined ? url : throughProxy(url, proxy), opts, records),
      );
      results.push(measured);
    }
  } finally {
    await proxy?.close();
  }
  const warnings = warningsOf(background, results, opts.vsRoot);
  const table = markdownTable(results);
  const command = `npx tsx bench/restart.ts ${process.argv.slice(2).join(' ')}`.trim();
  const report = [
    `# restart bench, ${startedAt}`,
    '',
    `\`${command}\` at ${gitState(root).commit}; ${machine.cpuCount} × ${machine.cpuModel}, node ${machine.nodeVersion}, SHARDS=${opts.shards}, ${opts.keys} keys, ${opts.hotHolds} hot holds, tail ${opts.tail} adjusts; busy before the run: ${background?.toFixed(2)} cores`,
    '',
    table,
    ...warnings.map((warning) => `\nwarning: ${warning}`),
  ].join('\n');
  out(`\n${report}`);
  const record = {
    startedAt,
    command,
    git: gitState(root),
    machine,
    background,
    warnings,
    results,
  };
  const database = redactUrl(opts.databaseUrl);
  const written = writeRunFiles(root, 'restart', startedAt, { ...record, database }, report);
  out(`\nwritten: ${written.md}, ${written.json}`);
}

await main();
