// CPU time from Linux's /proc stat lines (utime + stime, in clock ticks). A thread reads its own
// (/proc/thread-self/stat) to report what its work cost apart from the process's other threads
// (the other shards, V8's compiler and collector threads): Node 20 has no
// process.threadCpuUsage. A synchronous read runs on the calling thread, so it names that thread.
// The benches read other processes' and threads' lines with the same parser.
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second for /proc times; 100 on every mainstream Linux build. */
export const clockTicksPerSecond = 100;

/**
 * The fields of a /proc stat line from field 3 (state) on, split once; undefined if the line is
 * malformed. The name (field 2) may hold spaces and parentheses: fields are counted from the last
 * ")".
 */
function fieldsFromState(stat: string): string[] | undefined {
  const close = stat.lastIndexOf(')');
  return close < 0 ? undefined : stat.slice(close + 2).split(' ');
}

/**
 * Field `number` (1-based, as proc(5) numbers them) of a /proc stat line, as a number; undefined
 * if the line is malformed.
 */
export function statField(stat: string, number: number): number | undefined {
  if (number < 3) return undefined;
  const value = Number(fieldsFromState(stat)?.[number - 3]);
  return Number.isFinite(value) ? value : undefined;
}

/** utime + stime (fields 14 and 15) of one /proc stat line; undefined if malformed. */
export function ticksOfStatLine(stat: string): number | undefined {
  const fields = fieldsFromState(stat);
  const ticks = Number(fields?.[14 - 3]) + Number(fields?.[15 - 3]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

/** Milliseconds of CPU the calling thread has used; undefined where /proc does not say. */
export function threadCpuMs(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/thread-self/stat', 'utf8');
  } catch (error) {
    void error; // Not Linux: the figure is unknown, not zero.
    return undefined;
  }
  const ticks = ticksOfStatLine(stat);
  return ticks === undefined ? undefined : (ticks * 1000) / clockTicksPerSecond;
}
