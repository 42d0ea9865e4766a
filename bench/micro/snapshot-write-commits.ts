// What writing a hot partition's snapshot does to the group commits written meanwhile. One
// connection commits closed loop, as a shard's journal does (one commit in flight, `--rows` WAL
// rows of 90 bytes each, synchronous_commit=on); another writes the snapshot of a partition whose
// one hot key holds `--holds` pending holds (its real encoded bytes), four ways, alternated round
// by round: in one INSERT statement (how JournalStore wrote every snapshot before); as
// JournalStore.writeSnapshot writes it now (in parts of snapshotPartBytes, one statement each,
// which Postgres compresses); in smaller parts; and in parts the column stores uncompressed
// (storage EXTERNAL, set before that way's round; the compressed ways set the default back).
// Reported per way: the write's time, and the commits that overlapped it (p50, p99, longest)
// beside those of the second before it, on a scratch database (dropped afterwards, also on
// Ctrl-C). Every commit's whole round trip counts, as a shard's reply waits for it.
//
//   npx tsx bench/micro/snapshot-write-commits.ts [--holds 380000] [--rounds 3] [--rows 30]
//     [--database-url postgres://postgres@127.0.0.1:5432/postgres]
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { captureSnapshot } from '../../src/actors/index.js';
import { snapshotPartBytes } from '../../src/limits.js';
import { JournalStore, type WalRow } from '../../src/persistence/index.js';
import { migrate } from '../../src/persistence/migrations.js';
import { encodeSnapshot } from '../../src/persistence/snapshot-codec.js';
import { databaseUrlOf, integerFlag } from '../lib/args.js';
import { hotPartition, hotPartitionNumber } from '../lib/hot-partition.js';
import { machineInfo } from '../lib/machine.js';
import { median, percentile } from '../lib/report.js';
import { withScratchDatabase } from '../lib/scratch-database.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
/** Commits timed before the write starts, and after it ends before the round stops. */
const quietMs = 1000;

const { values } = parseArgs({
  options: {
    holds: { type: 'string' },
    rounds: { type: 'string' },
    rows: { type: 'string' },
    'database-url': { type: 'string' },
  },
});
const holds = integerFlag(
  'holds',
  { defaultValue: 380_000, min: 1, max: 10_000_000 },
  values.holds,
);
const rounds = integerFlag('rounds', { defaultValue: 3, min: 1, max: 100 }, values.rounds);
const rowsPerCommit = integerFlag('rows', { defaultValue: 30, min: 1, max: 10_000 }, values.rows);
const adminUrl = databaseUrlOf(values['database-url']);

type Write = (client: pg.Client, lsn: number, payload: Buffer) => Promise<void>;

/**
 * How the parts' payload column keeps its values: EXTENDED (bytea's default, as the migrations
 * leave it) has Postgres compress them (pglz, in the writing backend) before they go out of line;
 * EXTERNAL stores them out of line as they are.
 */
const partStorage = (storage: 'EXTENDED' | 'EXTERNAL') =>
  `ALTER TABLE ledger_snapshot_parts ALTER COLUMN payload SET STORAGE ${storage}`;

const smallPartBytes = 256 * 1024;

const ways: readonly {
  readonly name: string;
  /** Run before the round's commit loop starts, outside the timed window. */
  readonly prepare?: string;
  readonly write: Write;
}[] = [
  {
    name: 'one statement (before)',
    write: async (client, lsn, payload) => {
      await client.query(
        `INSERT INTO ledger_snapshots (partition, lsn, payload) VALUES ($1, $2, $3)
         ON CONFLICT (partition, lsn) DO NOTHING`,
        [hotPartitionNumber, lsn, payload],
      );
    },
  },
  {
    name: `in parts of ${snapshotPartBytes / (1 << 20)} MiB, compressed`,
    prepare: partStorage('EXTENDED'),
    write: (client, lsn, payload) =>
      new JournalStore(client).writeSnapshot({
        partition: hotPartitionNumber,
        lsn,
        blocks: [payload],
      }),
  },
  {
    name: `in parts of ${smallPartBytes / 1024} KiB, compressed`,
    prepare: partStorage('EXTENDED'),
    write: (client, lsn, payload) =>
      new JournalStore(client).writeSnapshot(
        { partition: hotPartitionNumber, lsn, blocks: [payload] },
        smallPartBytes,
      ),
  },
  {
    name: `in parts of ${snapshotPartBytes / (1 << 20)} MiB, uncompressed`,
    prepare: partStorage('EXTERNAL'),
    write: (client, lsn, payload) =>
      new JournalStore(client).writeSnapshot({
        partition: hotPartitionNumber,
        lsn,
        blocks: [payload],
      }),
  },
];

interface Commit {
  readonly startedMs: number;
  readonly ms: number;
}

/** Commits closed loop until `stop` says so; every commit's start and round trip. */
async function commitLoop(store: JournalStore, firstLsn: number, stop: () => boolean) {
  const commits: Commit[] = [];
  const payload = Buffer.alloc(90, 7);
  let lsn = firstLsn;
  while (!stop()) {
    const rows: WalRow[] = [];
    for (let index = 0; index < rowsPerCommit; index += 1) {
      lsn += 1;
      rows.push({ partition: 0, lsn, payload });
    }
    const startedMs = performance.now();
    await store.append(rows);
    commits.push({ startedMs, ms: performance.now() - startedMs });
  }
  return { commits, lastLsn: lsn };
}

interface Measured {
  readonly writeMs: number;
  /** Round trips of the commits that overlapped the write, and of those before it: ascending. */
  readonly during: readonly number[];
  readonly before: readonly number[];
}

function describe(label: string, sorted: readonly number[]): string {
  const f = (value: number) => value.toFixed(1);
  return (
    `${label} ${sorted.length} commits, p50 ${f(percentile(sorted, 50))} ms, ` +
    `p99 ${f(percentile(sorted, 99))} ms, longest ${f(sorted.at(-1) ?? 0)} ms`
  );
}

async function main(): Promise<void> {
  const machine = machineInfo();
  out(`${machine.cpuCount} × ${machine.cpuModel}, Node ${machine.nodeVersion}`);
  const state = hotPartition(holds);
  const payload = encodeSnapshot(captureSnapshot(state));
  out(
    `a hot key with ${holds} pending holds: a ${(payload.length / 1e6).toFixed(1)} MB snapshot; ` +
      `commits of ${rowsPerCommit} rows, closed loop on their own connection`,
  );
  await withScratchDatabase(adminUrl, async (databaseUrl) => {
    const connect = async () => {
      const client = new pg.Client({ connectionString: databaseUrl });
      await client.connect();
      return client;
    };
    const committer = await connect();
    const writer = await connect();
    try {
      await migrate(committer);
      const store = new JournalStore(committer);
      const results = new Map<string, Measured[]>(ways.map((way) => [way.name, []]));
      let lsn = 0;
      let snapshotLsn = 0;
      for (let round = 0; round < rounds; round += 1) {
        // Alternated: each way goes first in every other round.
        const order = round % 2 === 0 ? ways : [...ways].reverse();
        for (const way of order) {
          if (way.prepare !== undefined) await writer.query(way.prepare);
          let stopping = false;
          const loop = commitLoop(store, lsn, () => stopping);
          await sleep(quietMs);
          snapshotLsn += 1;
          const writeStartedMs = performance.now();
          await way.write(writer, snapshotLsn, payload);
          const writeEndedMs = performance.now();
          await sleep(quietMs);
          stopping = true;
          const { commits, lastLsn } = await loop;
          lsn = lastLsn;
          const overlaps = (commit: Commit) =>
            commit.startedMs < writeEndedMs && commit.startedMs + commit.ms > writeStartedMs;
          const ascending = (list: readonly Commit[]) =>
            list.map((commit) => commit.ms).sort((a, b) => a - b);
          const measured = {
            writeMs: writeEndedMs - writeStartedMs,
            during: ascending(commits.filter(overlaps)),
            before: ascending(
              commits.filter((commit) => commit.startedMs + commit.ms <= writeStartedMs),
            ),
          };
          results.get(way.name)?.push(measured);
          out(
            `  round ${round + 1}, ${way.name}: written in ${measured.writeMs.toFixed(0)} ms; ` +
              `${describe('during it', measured.during)}; ${describe('the second before', measured.before)}`,
          );
        }
      }
      out(`medians over ${rounds} rounds:`);
      for (const [name, measured] of results) {
        const longest = measured.map((each) => each.during.at(-1) ?? 0);
        const p99 = measured.map((each) => percentile(each.during, 99));
        out(
          `  ${name}: written in ${(median(measured.map((each) => each.writeMs)) ?? 0).toFixed(0)} ms; ` +
            `commits during it: p99 ${(median(p99) ?? 0).toFixed(1)} ms, longest ` +
            `${(median(longest) ?? 0).toFixed(1)} ms (every round: ${longest.map((ms) => ms.toFixed(1)).join(', ')})`,
        );
      }
    } finally {
      await committer.end();
      await writer.end();
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`snapshot-write-commits bench failed: ${String(error)}\n`);
  process.exitCode = 1;
});
