// How long this machine's disk takes to make a small write durable, with nothing else asked of
// it: the floor under every durable answer here (Postgres's commit is such a write to its WAL,
// and the ledger answers only after it). Writes `--bytes` at a time to a scratch file in `--dir`
// (default: Postgres's data directory's disk, /var/lib/postgresql, else the system's temporary
// directory), each followed by fdatasync, for `--seconds`; prints the latency percentiles, the
// longest, and how many took over 20, 50 and 100 ms, so that a tail the ledger shows can be set
// beside what the disk alone does. The file is removed after.
//
// --every-ms N paces it (one write + fdatasync every N ms instead of back to back), so that it can
// run beside another load, such as the hot-SKU bench, and tell whether the disk's own flushes
// stall then: each one over 20 ms is also listed with its time on the clock `--timeline` uses
// (ms since the epoch: performance.timeOrigin + performance.now()).
//
//   npx tsx bench/micro/fsync-latency.ts [--seconds 30] [--bytes 8192] [--dir PATH] [--every-ms 0]
import {
  closeSync,
  existsSync,
  fdatasyncSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';
import { backgroundBusyCores, machineInfo } from '../lib/machine.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    bytes: { type: 'string', default: '8192' },
    dir: { type: 'string' },
    'every-ms': { type: 'string', default: '0' },
  },
});
const everyMs = Number(values['every-ms']);
if (!(everyMs >= 0)) throw new Error(`--every-ms ${values['every-ms']}: a number of ms, 0 or more`);
const seconds = Number(values.seconds);
const bytes = Number(values.bytes);
const postgresDisk = '/var/lib/postgresql';
const parent = values.dir ?? (existsSync(postgresDisk) ? postgresDisk : os.tmpdir());

/** A flush over 20 ms: when it began (the timeline's clock) and how long it took. */
interface SlowSync {
  readonly atMs: number;
  readonly ms: number;
}

/** Nothing ever wakes it: waiting on it for `ms` blocks this thread that long. */
const neverSet = new Int32Array(new SharedArrayBuffer(4));
/** Blocks this thread for `ms` (the probe is synchronous on purpose: nothing else runs here). */
const sleep = (ms: number): void => {
  if (ms > 0) Atomics.wait(neverSet, 0, 0, ms);
};

function run(directory: string): { histogram: hdr.Histogram; slow: SlowSync[] } {
  const slow: SlowSync[] = [];
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
  const file = join(directory, 'fsync-probe');
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(bytes, 7);
  try {
    const endMs = performance.now() + seconds * 1000;
    let offset = 0;
    while (performance.now() < endMs) {
      const startedMs = performance.now();
      writeSync(fd, block, 0, bytes, offset);
      fdatasyncSync(fd);
      const ms = performance.now() - startedMs;
      histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
      if (ms > 20) slow.push({ atMs: performance.timeOrigin + startedMs, ms });
      // Appends, as a WAL does; back to the start every 16 MiB so the file stays small.
      offset = (offset + bytes) % (16 * 2 ** 20);
      sleep(startedMs + everyMs - performance.now());
    }
  } finally {
    closeSync(fd);
  }
  return { histogram, slow };
}

async function main(): Promise<void> {
  const busy = await backgroundBusyCores(1000);
  const directory = mkdtempSync(join(parent, 'fsync-latency-'));
  try {
    const { histogram, slow } = run(directory);
    const over = (limitMs: number): number => slow.filter(({ ms }) => ms > limitMs).length;
    const ms = (percentile: number): string =>
      (histogram.getValueAtPercentile(percentile) / 1000).toFixed(2);
    const machine = machineInfo();
    process.stdout.write(
      `${machine.cpuCount} × ${machine.cpuModel}, Node ${machine.nodeVersion}; ` +
        `busy cores before: ${busy?.toFixed(2) ?? 'n/a'}; directory ${directory}\n` +
        `${histogram.totalCount} writes of ${bytes} bytes + fdatasync in ${seconds} s: ` +
        `p50 ${ms(50)} ms, p99 ${ms(99)} ms, p99.9 ${ms(99.9)} ms, ` +
        `max ${(histogram.maxValue / 1000).toFixed(2)} ms; ` +
        `over 20 / 50 / 100 ms: ${over(20)} / ${over(50)} / ${over(100)}` +
        (everyMs > 0 ? ` (one every ${everyMs} ms)` : '') +
        '\n',
    );
    for (const { atMs, ms } of slow) {
      process.stdout.write(`  over 20 ms: ${ms.toFixed(1)} ms at ${atMs.toFixed(0)}\n`);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`fsync-latency failed: ${String(error)}\n`);
  process.exitCode = 1;
});
