// --gc-trace: the ledger runs with V8's `--trace-gc-nvp`, which prints a line of name=value pairs
// for every collection of every thread (isolate), and the bench keeps the lines that arrived
// within the measured window. What the report gives per thread: scavenges and full collections
// (count, pause total, median, longest) and the bytes allocated, kept alive in the young
// generation, and promoted to the old one, as the collections counted them. That is what a
// timeline's GC pauses do not say: what each scavenge had to copy. The lines come through a pipe
// (V8 buffers them), so a collection near either end of the window may be counted on the other
// side of it.
//
// Threads are named by the order their first line came: the main (HTTP) thread starts first, then
// the shard threads and any helper threads in the order they started; which one is the hot shard
// shows in its volume.

import { createWriteStream } from 'node:fs';

/** One collection, as V8 printed it. */
export interface GcTraceEvent {
  /** The isolate's address: one per thread. */
  readonly isolate: string;
  /** `s` scavenge, `mc` mark-compact (the full collection's final pause), or V8's other codes. */
  readonly kind: string;
  readonly pauseMs: number;
  /** Bytes allocated since the previous collection, kept in the young generation, promoted. */
  readonly allocated: number;
  readonly survived: number;
  readonly promoted: number;
  /** When the bench read the line (ms since the epoch). */
  readonly atMs: number;
}

export interface GcKindSummary {
  readonly count: number;
  readonly pauseTotalMs: number;
  readonly pauseMedianMs: number;
  readonly pauseMaxMs: number;
}

export interface GcThreadSummary {
  /** `thread 1` (the first to print: the main thread), `thread 2`, ... */
  readonly thread: string;
  readonly scavenges: GcKindSummary;
  readonly fullCollections: GcKindSummary;
  readonly allocatedMb: number;
  readonly survivedMb: number;
  readonly promotedMb: number;
}

/**
 * A line V8 printed for an isolate (`[pid:0x...]  N ms: ...`): the collections' lines, and those of
 * any other V8 trace flag given with `--node-flag` (e.g. `--trace-incremental-marking`, which says
 * what started each full collection).
 */
export function isV8TraceLine(text: string): boolean {
  return v8LinePattern.test(text);
}

const v8LinePattern = /^\[\d+:0x[0-9a-f]+\]\s+[\d.]+ ms: /;

/** V8's lines as they came, one a line, to `<prefix>.gc.log`; `close` when the run ends. */
export function gcLogFile(prefix: string): { write(line: string): void; close(): Promise<void> } {
  const stream = createWriteStream(`${prefix}.gc.log`);
  return {
    write: (line) => void stream.write(`${line}\n`),
    close: () => new Promise<void>((resolve) => stream.end(resolve)),
  };
}

/** The node flag that makes V8 print the lines. */
export const gcTraceFlag = '--trace-gc-nvp';

const wrapped = 2 ** 63;

const linePattern = /^\[\d+:(0x[0-9a-f]+)\]\s+[\d.]+ ms: (.*)$/;

/** A `--trace-gc-nvp` line, or undefined for any other line. */
export function parseGcTraceLine(line: string, atMs: number): GcTraceEvent | undefined {
  const match = linePattern.exec(line);
  if (match === null) return undefined;
  const [, isolate, pairs] = match as unknown as [string, string, string];
  const fields = new Map<string, string>();
  for (const pair of pairs.split(' ')) {
    const equals = pair.indexOf('=');
    if (equals > 0) fields.set(pair.slice(0, equals), pair.slice(equals + 1));
  }
  const kind = fields.get('gc');
  const pause = Number(fields.get('pause'));
  if (kind === undefined || !Number.isFinite(pause)) return undefined;
  // V8 prints a byte count as an unsigned 64-bit number: after a collection that shrank the
  // heap, "allocated since the last one" can come out as a negative wrapped around (2^64 - n).
  const bytes = (name: string): number => {
    const value = Number(fields.get(name) ?? 0);
    return Number.isFinite(value) && value < wrapped ? value : 0;
  };
  return {
    isolate,
    kind,
    pauseMs: pause,
    allocated: bytes('allocated'),
    survived: bytes('new_space_survived'),
    promoted: bytes('promoted'),
    atMs,
  };
}

function kindSummary(events: readonly GcTraceEvent[]): GcKindSummary {
  const pauses = events.map((event) => event.pauseMs).sort((a, b) => a - b);
  return {
    count: pauses.length,
    pauseTotalMs: pauses.reduce((sum, ms) => sum + ms, 0),
    pauseMedianMs: pauses[Math.floor((pauses.length - 1) / 2)] ?? 0,
    pauseMaxMs: pauses.at(-1) ?? 0,
  };
}

const megabyte = 1e6;

export class GcTrace {
  private readonly events: GcTraceEvent[] = [];
  /** Isolates in the order their first line came. */
  private readonly isolates: string[] = [];

  /** A line the ledger printed (any line: the others are ignored); true if it was V8's. */
  line(text: string, atMs = Date.now()): boolean {
    const event = parseGcTraceLine(text, atMs);
    if (event === undefined) return false;
    if (!this.isolates.includes(event.isolate)) this.isolates.push(event.isolate);
    this.events.push(event);
    return true;
  }

  /** Each thread's collections whose lines came within [fromMs, toMs]. */
  summary(fromMs: number, toMs: number): GcThreadSummary[] {
    const inWindow = this.events.filter((event) => event.atMs >= fromMs && event.atMs <= toMs);
    return this.isolates.flatMap((isolate, index) => {
      const mine = inWindow.filter((event) => event.isolate === isolate);
      if (mine.length === 0) return [];
      const scavenges = mine.filter((event) => event.kind === 's');
      // A full collection also empties the young generation: its bytes count too.
      const sum = (field: 'allocated' | 'survived' | 'promoted'): number =>
        mine.reduce((total, event) => total + event[field], 0) / megabyte;
      return [
        {
          thread: `thread ${index + 1}`,
          scavenges: kindSummary(scavenges),
          fullCollections: kindSummary(mine.filter((event) => event.kind === 'mc')),
          allocatedMb: sum('allocated'),
          survivedMb: sum('survived'),
          promotedMb: sum('promoted'),
        },
      ];
    });
  }
}
