// What the run ran on, and where the CPU went during the measured window: the load generator
// (this process, and wrk where it drives the load), the ledger (its PID, all threads), Postgres
// (every process named postgres) and the machine as a whole, from /proc. Figures are in cores
// (1.0 = one core fully busy). Beside them, how long each part's threads waited for a core (their
// run-queue waits, /proc/<pid>/task/<tid>/schedstat), and the machine's steal time.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import {
  clockTicksPerSecond,
  statField,
  ticksOfStatLine,
} from '../../src/observability/thread-cpu.js';

export interface MachineInfo {
  readonly cpuCount: number;
  readonly cpuModel: string;
  readonly totalMemoryBytes: number;
  readonly nodeVersion: string;
  readonly platform: string;
  readonly release: string;
  readonly hostname: string;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuCount: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemoryBytes: os.totalmem(),
    nodeVersion: process.version,
    platform: os.platform(),
    release: os.release(),
    hostname: os.hostname(),
  };
}

export interface CpuSnapshot {
  readonly atMs: number;
  readonly benchMicroseconds: number;
  /** undefined where /proc is not available (not Linux). */
  readonly machineBusyTicks: number | undefined;
  readonly ledgerTicks: number | undefined;
  /** The server's main thread alone (the ledger's HTTP thread): /proc/<pid>/task/<pid>. */
  readonly ledgerMainThreadTicks: number | undefined;
  /** By PID, so a process that ends between two snapshots does not count negative. */
  readonly postgresTicks: ReadonlyMap<number, number> | undefined;
  readonly redisTicks: ReadonlyMap<number, number> | undefined;
  /** Nanoseconds spent runnable without a core (schedstat), the ledger's threads together. */
  readonly ledgerWaitNs: number | undefined;
  readonly ledgerMainThreadWaitNs: number | undefined;
  /** By PID, as postgresTicks. */
  readonly postgresWaitNs: ReadonlyMap<number, number> | undefined;
  /** This process's threads (the bench's own load generator; not wrk). */
  readonly benchWaitNs: number | undefined;
  /** The machine's steal ticks: time its virtual CPUs were runnable and the host ran others. */
  readonly stealTicks: number | undefined;
}

export interface CpuUse {
  readonly seconds: number;
  readonly benchCores: number;
  readonly ledgerCores: number | null;
  /** The server's main thread: for the ledger, the HTTP thread (uWS, routing, the channels). */
  readonly ledgerMainThreadCores: number | null;
  readonly postgresCores: number | null;
  /** Every redis-server process: the redis-lua baseline's database. */
  readonly redisCores: number | null;
  readonly machineBusyCores: number | null;
  /** Busy cores not accounted for by the four above: other work on the machine, the kernel. */
  readonly otherCores: number | null;
  /**
   * Run-queue waits, in cores: on average how many of the part's threads were ready to run and
   * had no core (1.0 = one thread waiting all the window). Where this is high, the part was held
   * back by the others on the machine, not by its own work.
   */
  readonly waiting: {
    readonly ledger: number | null;
    readonly ledgerMainThread: number | null;
    readonly postgres: number | null;
    readonly bench: number | null;
  };
  /** Cores the hypervisor took from this VM while it had work (steal). */
  readonly stealCores: number | null;
}

export function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    // Not Linux, or the process is gone: the figure is reported as unknown, not as zero.
    void error;
    return undefined;
  }
}

/**
 * The most memory a process has had resident since it started (VmHWM of /proc/<pid>/status, its
 * high-water mark), in bytes; undefined where /proc does not say.
 */
export function processPeakRssBytes(pid: number): number | undefined {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(readOrUndefined(`/proc/${pid}/status`) ?? '');
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

/**
 * Sets a process's resident high-water mark (VmHWM) back to its resident set now, so that a
 * later `processPeakRssBytes` tells the most it held since (Linux's /proc/<pid>/clear_refs, 5).
 * False where that cannot be done (not Linux, or not allowed).
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** utime + stime of a process (all its threads), from /proc/<pid>/stat. */
export function processTicks(pid: number | string): { name: string; ticks: number } | undefined {
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const ticks = ticksOfStatLine(stat);
  return ticks === undefined ? undefined : { name, ticks };
}

/**
 * A process's minor page faults (field 10: first touches of memory, each one a trap into the
 * kernel) and its system time in seconds (field 15), all threads, from its start.
 */
export function processFaults(
  pid: number,
): { minorFaults: number; systemSeconds: number } | undefined {
  const stat = readOrUndefined(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  const minorFaults = statField(stat, 10);
  const systemTicks = statField(stat, 15);
  if (minorFaults === undefined || systemTicks === undefined) return undefined;
  return { minorFaults, systemSeconds: systemTicks / clockTicksPerSecond };
}

/** Ticks of every process with one of these names (all of Postgres's backends, say). */
export function ticksOfProcessesNamed(names: readonly string[]): number | undefined {
  const byPid = ticksByPidOfProcessesNamed(names);
  if (byPid === undefined) return undefined;
  let total = 0;
  for (const ticks of byPid.values()) total += ticks;
  return total;
}

/**
 * Ticks of each process with one of these names, by PID: two readings can then be compared
 * process by process (`ticksGrown`), so one that ends between them does not count negative.
 */
export function ticksByPidOfProcessesNamed(
  names: readonly string[],
): Map<number, number> | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch (error) {
    void error;
    return undefined;
  }
  const ticks = new Map<number, number>();
  for (const entry of entries) {
    if (!/^[0-9]+$/.test(entry)) continue;
    const stat = processTicks(entry);
    if (stat !== undefined && names.includes(stat.name)) ticks.set(Number(entry), stat.ticks);
  }
  return ticks;
}

/**
 * Ticks used between two per-PID readings: each process's growth, a new one's all; one gone by
 * the second reading is left out (what it used after the first is not known).
 */
export function ticksGrown(
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
): number {
  let total = 0;
  for (const [pid, ticks] of after) total += ticks - (before.get(pid) ?? 0);
  return total;
}

/** The second field of a schedstat line: ns spent waiting on a run queue. */
export function runQueueWaitOfSchedstat(line: string): number | undefined {
  const wait = Number(line.trim().split(/\s+/)[1]);
  return Number.isFinite(wait) ? wait : undefined;
}

/** Run-queue waits of one task (`<pid>` or `<pid>/task/<tid>`), ns. */
function taskWaitNs(task: number | string): number | undefined {
  const line = readOrUndefined(`/proc/${task}/schedstat`);
  return line === undefined ? undefined : runQueueWaitOfSchedstat(line);
}

/** Run-queue waits of every thread of a process together, ns. */
export function processWaitNs(pid: number | 'self'): number | undefined {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch (error) {
    void error; // not Linux, or the process is gone
    return undefined;
  }
  let total = 0;
  for (const task of tasks) total += taskWaitNs(`${pid}/task/${task}`) ?? 0;
  return total;
}

function waitByPid(pids: Iterable<number> | undefined): Map<number, number> | undefined {
  if (pids === undefined) return undefined;
  const waits = new Map<number, number>();
  for (const pid of pids) {
    const wait = taskWaitNs(pid);
    if (wait !== undefined) waits.set(pid, wait);
  }
  return waits;
}

/**
 * The machine's CPU ticks from /proc/stat's first line, all cores together: user nice system
 * idle iowait irq softirq steal.
 */
function machineCpuTicks(): number[] | undefined {
  const line = readOrUndefined('/proc/stat')?.split('\n')[0];
  if (line === undefined || !line.startsWith('cpu ')) return undefined;
  return line.trim().split(/\s+/).slice(1, 9).map(Number);
}

/** The steal ticks: time the virtual CPUs were runnable and the host ran others. */
function machineStealTicks(): number | undefined {
  const steal = machineCpuTicks()?.[7];
  return steal !== undefined && Number.isFinite(steal) ? steal : undefined;
}

export function machineBusyTicks(): number | undefined {
  const ticks = machineCpuTicks();
  if (ticks === undefined) return undefined;
  // Busy is everything but idle and iowait.
  const all = ticks.reduce((sum, value) => sum + value, 0);
  return all - (ticks[3] ?? 0) - (ticks[4] ?? 0);
}

/**
 * utime + stime of this process's children that exited and were waited for (fields 16 and 17 of
 * /proc/self/stat): a wrk run, once it ended. With the wrk processes still running, the
 * load generator's CPU when it is wrk (`--generator wrk`); constant while no child ends.
 */
function generatorChildTicks(): number {
  const stat = readOrUndefined('/proc/self/stat');
  const live = ticksOfProcessesNamed(['wrk']) ?? 0;
  if (stat === undefined) return live;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return live + Number(fields[13]) + Number(fields[14]);
}

/** `wrkLoad`: the load generator is wrk, run as a child of this process (counted as the bench). */
export function cpuSnapshot(ledgerPid: number, wrkLoad = false): CpuSnapshot {
  const usage = process.cpuUsage();
  const children = wrkLoad ? (generatorChildTicks() * 1e6) / clockTicksPerSecond : 0;
  const postgresTicks = ticksByPidOfProcessesNamed(['postgres']);
  return {
    atMs: performance.now(),
    benchMicroseconds: usage.user + usage.system + children,
    machineBusyTicks: machineBusyTicks(),
    ledgerTicks: processTicks(ledgerPid)?.ticks,
    ledgerMainThreadTicks: processTicks(`${ledgerPid}/task/${ledgerPid}`)?.ticks,
    postgresTicks,
    redisTicks: ticksByPidOfProcessesNamed(['redis-server']),
    ledgerWaitNs: processWaitNs(ledgerPid),
    ledgerMainThreadWaitNs: taskWaitNs(`${ledgerPid}/task/${ledgerPid}`),
    postgresWaitNs: waitByPid(postgresTicks?.keys()),
    // wrk's threads are other processes: its waits are not counted.
    benchWaitNs: wrkLoad ? undefined : processWaitNs('self'),
    stealTicks: machineStealTicks(),
  };
}

export function cpuUse(before: CpuSnapshot, after: CpuSnapshot): CpuUse {
  const seconds = (after.atMs - before.atMs) / 1000;
  // A counter's growth per second of the window, in units of `perSecond` (ticks or ns): cores
  // used, or threads waiting; per PID for processes that come and go (`ticksGrown`).
  const rate =
    (perSecond: number) =>
    (a: number | undefined, b: number | undefined): number | null =>
      a === undefined || b === undefined ? null : (b - a) / perSecond / seconds;
  const rateByPid =
    (perSecond: number) =>
    (a: ReadonlyMap<number, number> | undefined, b: typeof a): number | null =>
      a === undefined || b === undefined ? null : ticksGrown(a, b) / perSecond / seconds;
  const cores = rate(clockTicksPerSecond);
  const grown = rateByPid(clockTicksPerSecond);
  const waited = rate(1e9);
  const benchCores = (after.benchMicroseconds - before.benchMicroseconds) / 1e6 / seconds;
  const ledgerCores = cores(before.ledgerTicks, after.ledgerTicks);
  const ledgerMainThreadCores = cores(before.ledgerMainThreadTicks, after.ledgerMainThreadTicks);
  const postgresCores = grown(before.postgresTicks, after.postgresTicks);
  const redisCores = grown(before.redisTicks, after.redisTicks);
  const machineBusyCores = cores(before.machineBusyTicks, after.machineBusyTicks);
  const otherCores =
    machineBusyCores === null || ledgerCores === null || postgresCores === null
      ? null
      : Math.max(
          0,
          machineBusyCores - ledgerCores - postgresCores - (redisCores ?? 0) - benchCores,
        );
  return {
    seconds,
    benchCores,
    ledgerCores,
    ledgerMainThreadCores,
    postgresCores,
    redisCores,
    machineBusyCores,
    otherCores,
    waiting: {
      ledger: waited(before.ledgerWaitNs, after.ledgerWaitNs),
      ledgerMainThread: waited(before.ledgerMainThreadWaitNs, after.ledgerMainThreadWaitNs),
      postgres: rateByPid(1e9)(before.postgresWaitNs, after.postgresWaitNs),
      bench: waited(before.benchWaitNs, after.benchWaitNs),
    },
    stealCores: cores(before.stealTicks, after.stealTicks),
  };
}

/** Busy cores on the whole machine over a short window: other work that would skew a run. */
export async function backgroundBusyCores(windowMs: number): Promise<number | null> {
  const before = machineBusyTicks();
  const startedMs = performance.now();
  await new Promise((resolve) => setTimeout(resolve, windowMs));
  const after = machineBusyTicks();
  if (before === undefined || after === undefined) return null;
  return (after - before) / clockTicksPerSecond / ((performance.now() - startedMs) / 1000);
}

/** Samples cpuUse every second until stopped: shows whether a dip in throughput had company. */
export function sampleCpuEverySecond(ledgerPid: number, wrkLoad = false): () => CpuUse[] {
  const samples: CpuUse[] = [];
  let last = cpuSnapshot(ledgerPid, wrkLoad);
  const timer = setInterval(() => {
    const next = cpuSnapshot(ledgerPid, wrkLoad);
    samples.push(cpuUse(last, next));
    last = next;
  }, 1000);
  return () => {
    clearInterval(timer);
    return samples;
  };
}
