// What a new WAL file costs the group commits, apart from the ledger: one connection commits
// closed loop, as a shard's journal does (one commit in flight, `--rows` reserve records per
// commit, each with its movement row, through JournalStore.append, synchronous_commit=on), for
// `--seconds` with Postgres's WAL files in each state of bench/lib/wal-files.ts, alternated round
// by round:
//
// - fresh: no file ahead, so every 16 MB of WAL the loop fills is a new file, zero-filled and
//   fsynced while the commit that needs it waits (wal_init_zero, on by default);
// - recycled: files ahead, renamed there by a checkpoint, as in a cluster's steady state.
//
// With --init-zero-off, a third state: fresh, with wal_init_zero off (Postgres then makes a new
// file by writing its last byte only, and the file system allocates its blocks as the WAL is
// written). That is a server setting: ALTER SYSTEM for those rounds, reset after them (also on
// failure; a kill -9 in between leaves it off: `ALTER SYSTEM RESET wal_init_zero`).
//
// Reported per state and round: commits, WAL MB written, new WAL files, commit p50 / p99 / p99.9
// / longest, and the commits over 20 ms. On a scratch database (dropped afterwards, also on
// Ctrl-C); the WAL positions it moves are the whole cluster's (nothing else should run).
//
//   npx tsx bench/micro/wal-file-commits.ts [--seconds 10] [--rounds 3] [--rows 64]
//     [--init-zero-off] [--database-url postgres://postgres@127.0.0.1:5432/postgres]
import { parseArgs } from 'node:util';
import pg from 'pg';
import { JournalStore, maintainHistory, type WalRow } from '../../src/persistence/index.js';
import { migrate } from '../../src/persistence/migrations.js';
import { reserveMovement, reservePayload } from '../lib/reserve-rows.js';
import { databaseUrlOf, integerFlag } from '../lib/args.js';
import { backgroundBusyCores, machineInfo } from '../lib/machine.js';
import { median, percentile } from '../lib/report.js';
import { readWalCounters, walDelta, withScratchDatabase } from '../lib/scratch-database.js';
import {
  prepareWalFiles,
  walFilesModes,
  withServerSetting,
  type WalFilesMode,
} from '../lib/wal-files.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    rounds: { type: 'string' },
    rows: { type: 'string' },
    'init-zero-off': { type: 'boolean', default: false },
    'database-url': { type: 'string' },
  },
});
const seconds = integerFlag('seconds', { defaultValue: 10, min: 1, max: 600 }, values.seconds);
const rounds = integerFlag('rounds', { defaultValue: 3, min: 1, max: 100 }, values.rounds);
const rowsPerCommit = integerFlag('rows', { defaultValue: 64, min: 1, max: 10_000 }, values.rows);
const adminUrl = databaseUrlOf(values['database-url']);

/** A state of the WAL files, and for the third one, wal_init_zero off while it runs. */
interface State {
  readonly name: string;
  readonly files: WalFilesMode;
  readonly initZeroOff: boolean;
}

const states: readonly State[] = [
  ...walFilesModes.map((files) => ({ name: files, files, initZeroOff: false })),
  ...(values['init-zero-off'] === true
    ? [{ name: 'fresh, wal_init_zero off', files: 'fresh' as const, initZeroOff: true }]
    : []),
];

/** The WAL files in the state's shape, then its commits (wal_init_zero reset after, always). */
async function measureState(state: State, store: JournalStore, lsn: number) {
  const prepared = await prepareWalFiles(adminUrl, state.files);
  if (!state.initZeroOff) return { prepared, measured: await commitFor(store, lsn) };
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const off = { name: 'wal_init_zero', value: 'off' };
    return { prepared, measured: await withServerSetting(admin, off, () => commitFor(store, lsn)) };
  } finally {
    await admin.end();
  }
}

/** A hold's record and its movement, as the hot SKU's journal writes them. */
function reserveRow(lsn: number): WalRow {
  const atMs = Date.now();
  return {
    partition: 0,
    lsn,
    payload: reservePayload(lsn, atMs),
    movement: reserveMovement(lsn, atMs),
  };
}

interface Round {
  readonly commits: number;
  /** Ascending. */
  readonly ms: readonly number[];
  readonly walMegabytes: number;
  readonly newFiles: number;
}

async function commitFor(store: JournalStore, firstLsn: number): Promise<[Round, number]> {
  const before = await readWalCounters(adminUrl);
  const ms: number[] = [];
  let lsn = firstLsn;
  const endMs = performance.now() + seconds * 1000;
  while (performance.now() < endMs) {
    const rows: WalRow[] = [];
    for (let index = 0; index < rowsPerCommit; index += 1) rows.push(reserveRow((lsn += 1)));
    const startedMs = performance.now();
    await store.append(rows);
    ms.push(performance.now() - startedMs);
  }
  const after = await readWalCounters(adminUrl);
  const wal = before && after ? walDelta(before, after) : undefined;
  ms.sort((a, b) => a - b);
  const round = {
    commits: ms.length,
    ms,
    walMegabytes: (wal?.bytes ?? Number.NaN) / 1e6,
    newFiles: wal?.newFiles ?? Number.NaN,
  };
  return [round, lsn];
}

const f = (value: number): string => value.toFixed(1);

function describe(round: Round): string {
  const over20 = round.ms.filter((ms) => ms > 20).length;
  return (
    `${round.commits} commits, ${f(round.walMegabytes)} MB of WAL, ${round.newFiles} new WAL ` +
    `files; p50 ${f(percentile(round.ms, 50))}, p99 ${f(percentile(round.ms, 99))}, p99.9 ` +
    `${f(percentile(round.ms, 99.9))}, longest ${f(round.ms.at(-1) ?? 0)} ms; ${over20} over 20 ms`
  );
}

async function main(): Promise<void> {
  const machine = machineInfo();
  out(
    `${machine.cpuCount} × ${machine.cpuModel}, Node ${machine.nodeVersion}; busy cores before: ` +
      `${(await backgroundBusyCores(1000))?.toFixed(2) ?? 'n/a'}; ${rowsPerCommit} reserves (record + movement) per ` +
      `commit, closed loop, ${seconds} s per state and round`,
  );
  await withScratchDatabase(adminUrl, async (databaseUrl) => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      await migrate(client);
      await maintainHistory(client, Date.now(), {
        retainDays: 90,
        daysAhead: 2,
        lockTimeoutMs: 1000,
      });
      await client.query('SET synchronous_commit = on');
      const store = new JournalStore(client);
      const results = new Map<string, Round[]>(states.map((state) => [state.name, []]));
      let lsn = 0;
      for (let round = 0; round < rounds; round += 1) {
        const order = round % 2 === 0 ? states : [...states].reverse();
        for (const state of order) {
          const { prepared, measured } = await measureState(state, store, lsn);
          const [timed, lastLsn] = measured;
          lsn = lastLsn;
          results.get(state.name)?.push(timed);
          out(`  round ${round + 1}, ${state.name} (${prepared}): ${describe(timed)}`);
        }
      }
      out(`medians over ${rounds} rounds:`);
      for (const [name, measured] of results) {
        const figure = (of: (round: Round) => number) => f(median(measured.map(of)) ?? 0);
        out(
          `  ${name}: ${figure((round) => round.newFiles)} new WAL files, commits p50 ` +
            `${figure((round) => percentile(round.ms, 50))}, p99.9 ` +
            `${figure((round) => percentile(round.ms, 99.9))}, longest ` +
            `${figure((round) => round.ms.at(-1) ?? 0)} ms (every round: ` +
            `${measured.map((round) => f(round.ms.at(-1) ?? 0)).join(', ')})`,
        );
      }
    } finally {
      await client.end();
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`wal-file-commits bench failed: ${String(error)}\n`);
  process.exitCode = 1;
});
