// When each thread of the ledger had its code optimized, from V8's own log: the ledger run with
// `--node-flag=--log-code --node-flag=--log-deopt --node-flag=--logfile=DIR/v8.log` writes one
// file per isolate (thread) into DIR, a line for every piece of code V8 made and every
// deoptimization, each stamped in µs since that isolate's log began (bench/v8-code-summary.ts).
//
// A `code-creation,JS,...` line ends with the code's tier: `*` TurboFan (optimized), `^` Sparkplug
// (baseline), `~` the interpreter. A function optimized, then deoptimized (its assumptions broken
// by a new shape or path) and optimized again is made twice: each making is a job for V8's
// compiler threads, the CPU a warming-up thread costs beside its own.

/** What one isolate's log says, second by second of its life. */
export interface IsolateCode {
  /** The thread's part, from the ledger's scripts its code came from (`roleOf`). */
  readonly role: string;
  /** TurboFan code made in each second (index = whole seconds since the log began). */
  readonly optimizedBySecond: readonly number[];
  readonly deoptsBySecond: readonly number[];
  /** Every TurboFan making: when (s) and the function, as V8 names it (name and script:line). */
  readonly optimized: readonly { readonly atSeconds: number; readonly name: string }[];
  /** The last line's time: how long the log ran. */
  readonly spanSeconds: number;
}

/** The ledger's worker scripts, and the part of a thread whose code came from one. */
const roles: readonly (readonly [script: string, role: string])[] = [
  ['snapshot-thread-worker.js', 'snapshot thread'],
  ['shard-worker.js', 'shard'],
  ['events-worker.js', 'events publisher'],
];

/** A thread's part: a worker's by its script, else the main (HTTP) thread's if main.js ran. */
export function roleOf(log: string): string {
  for (const [script, role] of roles) if (log.includes(script)) return role;
  return log.includes('main.js') ? 'main (HTTP)' : 'other';
}

function countAt(counts: number[], second: number): void {
  while (counts.length <= second) counts.push(0);
  counts[second] = (counts[second] as number) + 1;
}

/**
 * One isolate's log read. A JS code line's fields: code-creation, JS, kind, time, address, size,
 * name (which may hold commas: a script path can), sfi address, tier; a deopt line's time is its
 * second field.
 */
export function readIsolateLog(log: string): IsolateCode {
  const optimizedBySecond: number[] = [];
  const deoptsBySecond: number[] = [];
  const optimized: { atSeconds: number; name: string }[] = [];
  let spanSeconds = 0;
  for (const line of log.split('\n')) {
    if (line.startsWith('code-creation,JS,')) {
      const fields = line.split(',');
      const atSeconds = Number(fields[3]) / 1e6;
      if (!Number.isFinite(atSeconds)) continue;
      spanSeconds = Math.max(spanSeconds, atSeconds);
      if (fields[fields.length - 1] !== '*') continue;
      countAt(optimizedBySecond, Math.floor(atSeconds));
      optimized.push({ atSeconds, name: fields.slice(6, -2).join(',').trim() });
    } else if (line.startsWith('code-deopt,')) {
      const atSeconds = Number(line.split(',')[1]) / 1e6;
      if (!Number.isFinite(atSeconds)) continue;
      spanSeconds = Math.max(spanSeconds, atSeconds);
      countAt(deoptsBySecond, Math.floor(atSeconds));
    }
  }
  return { role: roleOf(log), optimizedBySecond, deoptsBySecond, optimized, spanSeconds };
}

/** The second by which `share` of all the TurboFan code had been made (0 if none was). */
export function secondWhenMade(code: IsolateCode, share: number): number {
  const total = code.optimized.length;
  let made = 0;
  for (const [second, count] of code.optimizedBySecond.entries()) {
    made += count;
    if (made >= total * share) return second + 1;
  }
  return 0;
}
