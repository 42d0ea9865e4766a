// CPU of each thread of this process, from /proc/self/task/<tid>/stat, so that a bench running
// the ledger's shard threads in-process can say which thread used how much: the main thread, each
// shard's threads, and the rest (V8's GC and compiler helpers, libuv's pool). Node names every
// thread "node", so a thread is known by when it appeared: the bench lists the threads before and
// after it starts each shard and labels the new ones.
import { readdirSync, readFileSync } from 'node:fs';
import { clockTicksPerSecond, ticksOfStatLine } from '../../src/observability/thread-cpu.js';

/** Ticks of every live thread of this process, by thread id; empty where /proc is missing. */
export function threadTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  let tasks: string[];
  try {
    tasks = readdirSync('/proc/self/task');
  } catch (error) {
    void error; // not Linux: no per-thread figures
    return ticks;
  }
  for (const task of tasks) {
    try {
      const value = ticksOfStatLine(readFileSync(`/proc/self/task/${task}/stat`, 'utf8'));
      if (value !== undefined) ticks.set(Number(task), value);
    } catch (error) {
      void error; // the thread ended between the listing and the read
    }
  }
  return ticks;
}

export interface ThreadGroupCores {
  readonly label: string;
  readonly threads: number;
  /** All the group's threads together, in cores (1.0 = one core busy all the window). */
  readonly cores: number;
  /** The busiest one thread of the group, in cores. */
  readonly busiestCores: number;
}

/**
 * Cores used by each labelled group of threads between two readings, in the order of `groups`,
 * then one group `other` for threads in no group. A thread missing from either reading (started
 * or ended in the window) counts from 0 or is left out: its figure would be a guess.
 */
export function threadGroupCores(
  before: ReadonlyMap<number, number>,
  after: ReadonlyMap<number, number>,
  seconds: number,
  groups: readonly { readonly label: string; readonly threadIds: ReadonlySet<number> }[],
  other = 'other threads',
): ThreadGroupCores[] {
  const labelOf = new Map<number, number>();
  groups.forEach((group, index) => {
    for (const id of group.threadIds) labelOf.set(id, index);
  });
  const sums = groups.map(() => ({ cores: 0, busiest: 0, threads: 0 }));
  const rest = { cores: 0, busiest: 0, threads: 0 };
  for (const [id, ticksAfter] of after) {
    const cores = (ticksAfter - (before.get(id) ?? 0)) / clockTicksPerSecond / seconds;
    const index = labelOf.get(id);
    const sum = index === undefined ? rest : (sums[index] ?? rest);
    sum.cores += cores;
    sum.threads += 1;
    sum.busiest = Math.max(sum.busiest, cores);
  }
  const figures = (label: string, sum: typeof rest): ThreadGroupCores => ({
    label,
    threads: sum.threads,
    cores: sum.cores,
    busiestCores: sum.busiest,
  });
  return [
    ...groups.map((group, index) => figures(group.label, sums[index] ?? rest)),
    figures(other, rest),
  ];
}
