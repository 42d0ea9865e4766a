// What one snapshot of a hot partition costs: capturing it and encoding it (on the shard thread)
// and writing the row (on the snapshot connection), for a partition whose one hot key holds N
// pending reservations, as after a flash sale's first minutes. The write goes through the real
// JournalStore into a scratch database (dropped afterwards, also on Ctrl-C).
//
// Two ways: in one go (`captureSnapshot` + `encodeSnapshot`, as shards did before snapshots were
// sliced), and as a shard takes it now, a slice at a time between turns (SnapshotSlicer, its
// default budget): its longest slice, the slices and their total; then written as a shard writes
// it now (handed over to a thread of its own). With --traffic, a reserve and
// a confirm on the hot key run between slices (their copy on write included), and the longest
// of those commands is reported beside the same commands without a snapshot under way. "Longest
// turn" is the longest the thread went without running a setImmediate task meanwhile.
//
// Memory: the process's resident peak while the sliced snapshot is taken and written by the
// snapshot thread, above its resident set just before (after a full collection), as a container's
// memory limit sees it (every thread of the process counts).
//
// With --batch N as well, N reserves and their confirms run between slices, as a hot shard
// applies a batch of requests in one turn, and the longest batch is reported: the first batches
// after a snapshot begins copy the parts of the hot key's tables they write to.
//
//   npx tsx bench/micro/snapshot-cost.ts [--holds 150000] [--rounds 3] [--traffic] [--batch 1]
//     [--database-url postgres://postgres@127.0.0.1:5432/postgres]
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PartitionState, captureSnapshot } from '../../src/actors/index.js';
import { systemClock, type Clock } from '../../src/clock.js';
import { snapshotSliceMs, snapshotSliceUnitsMax } from '../../src/limits.js';
import { snapshotBytes } from '../../src/persistence/journal-connection.js';
import { JournalStore } from '../../src/persistence/journal-store.js';
import { SnapshotThread } from '../../src/persistence/snapshot-thread.js';
import { migrate } from '../../src/persistence/migrations.js';
import { encodeSnapshot } from '../../src/persistence/snapshot-codec.js';
import { mintReservationId } from '../../src/router/reservation-id.js';
import { SnapshotSlicer, type SnapshotStats } from '../../src/shards/snapshot-slicer.js';
import { fullCollection } from '../lib/full-collection.js';
import { hotPartition, hotPartitionNumber } from '../lib/hot-partition.js';
import { processPeakRssBytes, resetPeakRss } from '../lib/machine.js';
import { median } from '../lib/report.js';
import { withScratchDatabase } from '../lib/scratch-database.js';
import { longestTurn } from '../lib/turn-probe.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const partition = hotPartitionNumber;

function options() {
  const { values } = parseArgs({
    options: {
      holds: { type: 'string', default: '150000' },
      rounds: { type: 'string', default: '3' },
      traffic: { type: 'boolean', default: false },
      batch: { type: 'string', default: '1' },
      'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    },
  });
  const holds = Number(values.holds);
  const rounds = Number(values.rounds);
  const batch = Number(values.batch);
  if (![holds, rounds, batch].every((value) => Number.isInteger(value) && value >= 1)) {
    throw new Error('--holds, --rounds and --batch want positive integers');
  }
  return { holds, rounds, traffic: values.traffic, batch, databaseUrl: values['database-url'] };
}

let serial = 0;

/**
 * A reserve then a confirm of it on the hot key: how long each took, in ms; with `batch` over 1,
 * that many of them, and how long they took together.
 */
function traffic(state: PartitionState, nowMs: number, batch: number): number[] {
  if (batch === 1) return pair(state, nowMs);
  const started = performance.now();
  for (let index = 0; index < batch; index += 1) pair(state, nowMs);
  return [performance.now() - started];
}

function pair(state: PartitionState, nowMs: number): number[] {
  serial += 1;
  const reservationId = mintReservationId(partition);
  const started = performance.now();
  state.apply(
    {
      kind: 'reserve',
      productId: 'hot-sku',
      warehouseId: 'bench-wh',
      quantity: 1,
      ttlSeconds: 3600,
      idempotencyKey: `traffic-abcdef12-0-${serial.toString(36).padStart(6, '0')}`,
      reservationId,
      requesterId: 'bench',
      traceId: 'bench',
    },
    nowMs,
  );
  const reserved = performance.now();
  state.apply({ kind: 'confirm', reservationId, traceId: 'bench' }, nowMs);
  return [reserved - started, performance.now() - reserved];
}

/** One snapshot as a shard takes it now, in slices (commands between them with --traffic). */
async function sliced(state: PartitionState, withTraffic: boolean, batch: number) {
  const commandMs: number[] = [];
  // Each slice's wall time and CPU time (the process's: on a machine shared with other work, a
  // slice's wall time also counts the time the thread waited for a core).
  const sliceWallMs: number[] = [];
  const sliceCpuMs: number[] = [];
  const clock: Clock = {
    ...systemClock,
    defer: (task) =>
      systemClock.defer(() => {
        const cpu = process.cpuUsage();
        const started = performance.now();
        task();
        sliceWallMs.push(performance.now() - started);
        const used = process.cpuUsage(cpu);
        sliceCpuMs.push((used.user + used.system) / 1000);
      }),
  };
  let trafficTimer: NodeJS.Immediate | undefined;
  const { value, turnMs } = await longestTurn(
    () =>
      new Promise<{ stats: SnapshotStats; bytes: number; blocks: readonly Uint8Array[] }>(
        (resolve) => {
          const slicer = new SnapshotSlicer(
            clock,
            { sliceMs: snapshotSliceMs, unitsPerSliceMax: snapshotSliceUnitsMax },
            {
              begin: () => ({ state, lsn: 1 }),
              complete: (_state, row, stats) => {
                resolve({ stats, bytes: snapshotBytes(row), blocks: row.blocks });
                return true;
              },
              dropped: (_partition, _state, error) => {
                throw new Error(`snapshot dropped: ${String(error)}`);
              },
            },
          );
          const between = (): void => {
            commandMs.push(...traffic(state, 1_790_000_000_000 + 10_000_000, batch));
            trafficTimer = setImmediate(between);
          };
          if (withTraffic) trafficTimer = setImmediate(between);
          void slicer.request(partition);
        },
      ),
  );
  if (trafficTimer !== undefined) clearImmediate(trafficTimer);
  return { ...value, turnMs, commandMs, sliceWallMs, sliceCpuMs };
}

async function main(): Promise<void> {
  const chosen = options();
  const state = hotPartition(chosen.holds);
  await withScratchDatabase(chosen.databaseUrl, async (url) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await migrate(client);
      const store = new JournalStore(client);
      const capture: number[] = [];
      const encode: number[] = [];
      const write: number[] = [];
      const writeTurn: number[] = [];
      const longestSlice: number[] = [];
      const threadWrite: number[] = [];
      const threadTurn: number[] = [];
      const longestCpu: number[] = [];
      const p99Slice: number[] = [];
      const medianSlice: number[] = [];
      const firstSlice: number[] = [];
      const overOneMs: number[] = [];
      const slices: number[] = [];
      const total: number[] = [];
      const turn: number[] = [];
      const residentPeakMb: number[] = [];
      const during: number[] = [];
      const without: number[] = [];
      let bytes = 0;
      for (let round = 0; round < chosen.rounds; round += 1) {
        const started = performance.now();
        const snapshot = captureSnapshot(state);
        const captured = performance.now();
        const payload = encodeSnapshot(snapshot);
        const encoded = performance.now();
        const written = await longestTurn(() =>
          store.writeSnapshot({ partition, lsn: round + 1, blocks: [payload] }),
        );
        capture.push(captured - started);
        encode.push(encoded - captured);
        write.push(performance.now() - encoded);
        writeTurn.push(written.turnMs);
        bytes = payload.length;
        // The resident set a snapshot starts from holds no garbage of the one taken in one go.
        fullCollection();
        const residentBefore = process.memoryUsage().rss;
        const peakReset = resetPeakRss(process.pid);
        const after = await sliced(state, chosen.traffic, chosen.batch);
        // Written as a shard writes it now: handed to the snapshot thread.
        const thread = new SnapshotThread(url);
        const threadStarted = performance.now();
        const threaded = await longestTurn(() =>
          thread.writeSnapshot({ partition, lsn: 100 + round, blocks: after.blocks }),
        );
        threadWrite.push(performance.now() - threadStarted);
        threadTurn.push(threaded.turnMs);
        const peak = processPeakRssBytes(process.pid);
        if (peakReset && peak !== undefined) residentPeakMb.push((peak - residentBefore) / 1e6);
        await thread.close();
        if (!chosen.traffic && after.bytes !== payload.length)
          throw new Error('the sliced snapshot differs in size');
        longestSlice.push(after.stats.longestSliceMs);
        longestCpu.push(Math.max(...after.sliceCpuMs));
        const walls = [...after.sliceWallMs].sort((a, b) => a - b);
        p99Slice.push(walls[Math.floor(walls.length * 0.99)] ?? 0);
        medianSlice.push(median(walls) ?? 0);
        firstSlice.push(after.sliceWallMs[0] ?? 0);
        overOneMs.push(walls.filter((ms) => ms > 1).length);
        slices.push(after.stats.slices);
        total.push(after.stats.totalMs);
        turn.push(after.turnMs);
        if (chosen.traffic) {
          during.push(Math.max(...after.commandMs));
          const alone: number[] = [];
          const runs = chosen.batch === 1 ? after.commandMs.length / 2 : after.commandMs.length;
          for (let index = 0; index < runs; index += 1)
            alone.push(...traffic(state, 1_790_000_000_000 + 10_000_000, chosen.batch));
          without.push(Math.max(...alone));
        }
      }
      const medianOf = (values: number[], unit: string): string =>
        `${(median(values) ?? 0).toFixed(2)} ${unit} (rounds ${values.map((v) => v.toFixed(2)).join(', ')})`;
      const ms = (values: number[]): string => medianOf(values, 'ms');
      out(`one partition, one hot key with ${chosen.holds} pending holds; ${bytes} bytes encoded`);
      out('in one go (before):');
      out(`  capture (shard thread): ${ms(capture)}`);
      out(`  encode (shard thread):  ${ms(encode)}`);
      out(`  write (snapshot connection, JournalStore.writeSnapshot): ${ms(write)}`);
      out(`    longest turn of the shard thread during the write: ${ms(writeTurn)}`);
      out(`in slices (now; slice budget ${snapshotSliceMs} ms):`);
      out(`  longest slice: ${ms(longestSlice)}`);
      out(`    its CPU time (the longest of any slice): ${ms(longestCpu)}`);
      out(`  median slice: ${ms(medianSlice)}; p99 slice: ${ms(p99Slice)}`);
      out(
        `  slices over 1 ms: ${overOneMs.join(', ')}; the first (its key list noted): ${ms(firstSlice)}`,
      );
      out(`  slices: ${slices.join(', ')}; all slices together: ${ms(total)}`);
      out(`  longest turn of the shard thread meanwhile: ${ms(turn)}`);
      out(`  write (handed to the snapshot thread, SnapshotThread): ${ms(threadWrite)}`);
      out(`    longest turn of the shard thread during the write: ${ms(threadTurn)}`);
      out(
        residentPeakMb.length === 0
          ? '  resident peak: not told here (no /proc/self/clear_refs)'
          : `  resident peak while taken and written, above the resident set before: ${medianOf(residentPeakMb, 'MB')}`,
      );
      if (chosen.traffic) {
        const what =
          chosen.batch === 1
            ? 'reserve or confirm'
            : `batch of ${chosen.batch} reserves and their confirms`;
        out(`  longest ${what} on the hot key between slices: ${ms(during)}`);
        out(`  the same with no snapshot under way: ${ms(without)}`);
      }
    } finally {
      await client.end();
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`snapshot-cost bench failed: ${String(error)}\n`);
  process.exitCode = 1;
});
