// How long this machine's disk takes to make a small write durable, with nothing else asked of
// it: the floor under every durable answer here (Postgres's commit is such a write to its WAL,
// and the ledger answers only after it). Writes `--bytes` at a time to a scratch file in `--dir`
// (default: Postgres's data directory's disk, /var/lib/postgresql, else the system's temporary
// directory), each followed by fdatasync, for `--seconds`; prints the latency percentiles, the
// longest, and how many took over 20, 50 and 100 ms, so that a tail the ledger shows can be set
// beside what the disk alone does. The file is removed after.
//
//   npx tsx bench/micro/fsync-latency.ts [--seconds 30] [--bytes 8192] [--dir PATH]
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
  },
});
const seconds = Number(values.seconds);
const bytes = Number(values.bytes);
const postgresDisk = '/var/lib/postgresql';
const parent = values.dir ?? (existsSync(postgresDisk) ? postgresDisk : os.tmpdir());

function run(directory: string): { histogram: hdr.Histogram; over: Record<string, number> } {
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
  const over: Record<string, number> = { '20 ms': 0, '50 ms': 0, '100 ms': 0 };
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
      for (const limit of [20, 50, 100])
        if (ms > limit) over[`${limit} ms`] = (over[`${limit} ms`] ?? 0) + 1;
      // Appends, as a WAL does; back to the start every 16 MiB so the file stays small.
      offset = (offset + bytes) % (16 * 2 ** 20);
    }
  } finally {
    closeSync(fd);
  }
  return { histogram, over };
}

async function main(): Promise<void> {
  const busy = await backgroundBusyCores(1000);
  const directory = mkdtempSync(join(parent, 'fsync-latency-'));
  try {
    const { histogram, over } = run(directory);
    const ms = (percentile: number): string =>
      (histogram.getValueAtPercentile(percentile) / 1000).toFixed(2);
    const machine = machineInfo();
    process.stdout.write(
      `${machine.cpuCount} × ${machine.cpuModel}, Node ${machine.nodeVersion}; ` +
        `busy cores before: ${busy?.toFixed(2) ?? 'n/a'}; directory ${directory}\n` +
        `${histogram.totalCount} writes of ${bytes} bytes + fdatasync in ${seconds} s: ` +
        `p50 ${ms(50)} ms, p99 ${ms(99)} ms, p99.9 ${ms(99.9)} ms, ` +
        `max ${(histogram.maxValue / 1000).toFixed(2)} ms; ` +
        `over 20 / 50 / 100 ms: ${over['20 ms']} / ${over['50 ms']} / ${over['100 ms']}\n`,
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`fsync-latency failed: ${String(error)}\n`);
  process.exitCode = 1;
});
