// CPU time of the calling thread, where Linux tells it (/proc/thread-self/stat: utime + stime,
// in clock ticks of 10 ms), for a thread to report what its own work cost, apart from the
// process's other threads (the other shards, V8's collector threads): Node 20 has no
// process.threadCpuUsage. A synchronous read runs on the calling thread, so it names that thread.
import { readFileSync } from 'node:fs';

/** Kernel clock ticks per second for /proc times; 100 on every mainstream Linux build. */
const ticksPerSecond = 100;

/** Milliseconds of CPU the calling thread has used; undefined where /proc does not say. */
export function threadCpuMs(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/thread-self/stat', 'utf8');
  } catch (error) {
    void error; // Not Linux: the figure is unknown, not zero.
    return undefined;
  }
  // Fields after the ")" start at field 3 (state); utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? (ticks * 1000) / ticksPerSecond : undefined;
}
