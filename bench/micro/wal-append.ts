// How a group commit should write its rows: the journal's own append (one named INSERT ... SELECT
// FROM unnest of three arrays) against a multi-row INSERT ... VALUES and a COPY FROM STDIN, for
// the batch sizes the hot-SKU bench sees (about 25 rows per commit at 64 connections). Each
// variant runs closed loop on one connection, as a shard does: one commit in flight, the next
// sent when the previous returns, synchronous_commit=on, into a fresh table in a scratch database
// (dropped afterwards, also on failure and on Ctrl-C). Real record payloads (90 bytes).
//
// With the movement history, the journal's append also writes one ledger_movements row per WAL
// row that changed a stock key, in the same statement: the variants "WAL only" (the append as it
// was before) and "every row a movement" measure what that costs a group commit.
//
// The journal sends its arrays as binary parameters (src/persistence/binary-arrays.ts); "WAL only"
// runs both ways, its arrays as pg's text and in binary. Beside each variant's commit times: the
// CPU per commit of this process (what a shard spends encoding) and of its Postgres backend, and
// Postgres's WAL bytes per commit.
//
// Three "WAL packed" sketches write each partition's rows of a commit as one row of a scratch
// table instead (not the journal's format; nothing reads them), unfenced and behind two fences:
// what that lever would cost and save before anyone builds it (bench/README.md, "The next WAL
// lever"). At the end, each named statement's generic and custom plans: a statement Postgres
// plans afresh at every commit pays the planning in the backend's CPU.
//
//   npx tsx bench/micro/wal-append.ts [--commits 2000] [--batches 1,8,25,100] [--rounds 3]
//     [--only 'WAL only,every row'] [--database-url postgres://postgres@127.0.0.1:5432/postgres]
//     [--keep-heap]
//
// With --keep-heap the connection first asks its backend to keep its heap between statements,
// as the journal's connections do (src/persistence/backend-heap.ts); without, the backend gives
// the top of its heap back after each commit, as any other connection's does.
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import {
  byteaArray,
  int4Array,
  int8Array,
  JournalStore,
  keepBackendHeap,
  maintainHistory,
  type WalRow,
} from '../../src/persistence/index.js';
import { migrate } from '../../src/persistence/migrations.js';
import { processTicks } from '../lib/machine.js';
import { reserveMovement, reservePayload } from '../lib/reserve-rows.js';
import { median, percentile } from '../lib/report.js';
import { withScratchDatabase } from '../lib/scratch-database.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);

type Append = (client: pg.Client, rows: readonly WalRow[]) => Promise<void>;

/** Every row a change of a stock key: its movement goes in the same statement. */
const withMovements = (rows: readonly WalRow[]): WalRow[] =>
  rows.map((row) => ({ ...row, movement: reserveMovement(row.lsn, Date.now()) }));

/** The journal's append before the movement history: the WAL rows alone, one named statement. */
const appendWalOnly = (client: pg.Client, values: unknown[]): Promise<void> =>
  client
    .query({
      name: 'ledger-wal-append-alone',
      text: `INSERT INTO ledger_wal (partition, lsn, payload)
             SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bytea[])`,
      values,
    })
    .then(() => undefined);

const variants: Record<string, Append> = {
  'WAL only (INSERT ... unnest, before history)': (client, rows) =>
    appendWalOnly(client, [
      rows.map((r) => r.partition),
      rows.map((r) => r.lsn),
      rows.map((r) => r.payload),
    ]),
  'WAL only, binary arrays': (client, rows) =>
    appendWalOnly(client, [
      int4Array(rows.map((r) => r.partition)),
      int8Array(rows.map((r) => r.lsn)),
      byteaArray(rows.map((r) => r.payload)),
    ]),
  // Not the journal's format: what the WAL rows would cost if a commit wrote one row per partition
  // (its records length-prefixed back to back, keyed by its first lsn), as the movement history
  // now writes one row per stock key. Measures that lever before anyone builds it.
  'WAL packed, one row per partition and commit (sketch)': (client, rows) =>
    client
      .query({
        name: 'ledger-wal-packed-append',
        text: `INSERT INTO wal_packed_sketch (partition, lsn, last_lsn, payloads)
               SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bigint[], $4::bytea[])`,
        values: packedValues(rows),
      })
      .then(() => undefined),
  // The same, fenced by a compare-and-set of each partition's head (its last lsn written): a
  // run is written only where the head is the lsn just before it, so two writers of a
  // partition cannot both write, and no run follows a gap. What such a fence costs a commit.
  'WAL packed, fenced by a head row per partition (sketch)': async (client, rows) => {
    const values = packedValues(rows);
    for (const partition of new Set(rows.map((row) => row.partition))) {
      if (headsMade.has(partition)) continue;
      await client.query('INSERT INTO wal_head_sketch (partition, lsn) VALUES ($1, 0)', [
        partition,
      ]);
      headsMade.add(partition);
    }
    const result = await client.query<{ written: boolean }>({
      name: 'ledger-wal-packed-fenced-append',
      text: `WITH run AS (SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bigint[], $4::bytea[])
                           AS r(partition, lsn, last_lsn, payloads)),
                  moved AS (UPDATE wal_head_sketch h SET lsn = run.last_lsn FROM run
                            WHERE h.partition = run.partition AND h.lsn = run.lsn - 1
                            RETURNING h.partition),
                  written AS (INSERT INTO wal_packed_sketch (partition, lsn, last_lsn, payloads)
                              SELECT * FROM run
                              WHERE (SELECT count(*) FROM moved) = cardinality($1::integer[])
                              RETURNING 1)
             SELECT (SELECT count(*) FROM written) = cardinality($1::integer[]) AS written`,
      values,
    });
    if (result.rows[0]?.written !== true) throw new Error('a fenced run found another head');
  },
  // The same, fenced by reading each run's predecessor: a run is written only if the partition's
  // last run before it ends at the lsn just before it (or it is the partition's first), so runs
  // never overlap and none follows a gap. It writes nothing more; it cannot wait for a
  // predecessor still being committed on another connection (pipelined commits fail instead).
  'WAL packed, fenced by reading the run before (sketch)': async (client, rows) => {
    const result = await client.query<{ written: boolean }>({
      name: 'ledger-wal-packed-follows-append',
      text: `WITH run AS (SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bigint[], $4::bytea[])
                           AS r(partition, lsn, last_lsn, payloads)),
                  written AS (
                    INSERT INTO wal_packed_sketch (partition, lsn, last_lsn, payloads)
                    SELECT run.* FROM run
                    WHERE coalesce((SELECT w.last_lsn FROM wal_packed_sketch w
                                    WHERE w.partition = run.partition AND w.lsn < run.lsn
                                    ORDER BY w.lsn DESC LIMIT 1), 0) = run.lsn - 1
                    RETURNING 1)
             SELECT count(*) = cardinality($1::integer[]) AS written FROM written`,
      values: packedValues(rows),
    });
    if (result.rows[0]?.written !== true) {
      throw new Error('a fenced run does not follow the run before it');
    }
  },
  'journal append, every row a movement (WAL + history)': (client, rows) =>
    new JournalStore(client).append(withMovements(rows)),
  'journal append, no movement rows': (client, rows) => new JournalStore(client).append(rows),
  'INSERT ... VALUES (multi-row)': async (client, rows) => {
    const values: unknown[] = [];
    const tuples = rows.map((row, index) => {
      values.push(row.partition, row.lsn, row.payload);
      return `($${index * 3 + 1}, $${index * 3 + 2}, $${index * 3 + 3})`;
    });
    await client.query(
      `INSERT INTO ledger_wal (partition, lsn, payload) VALUES ${tuples.join(', ')}`,
      values,
    );
  },
  'COPY FROM STDIN (text, bytea as hex)': async (client, rows) => {
    const lines = rows.map(
      (row) => `${row.partition}\t${row.lsn}\t\\\\x${Buffer.from(row.payload).toString('hex')}\n`,
    );
    await pipeline(
      Readable.from([lines.join('')]),
      client.query(copyFrom('COPY ledger_wal (partition, lsn, payload) FROM STDIN')),
    );
  },
};

/** A partition's rows of one commit as one row: each payload after its length (4 bytes). */
function packRun(run: readonly WalRow[]): {
  partition: number;
  lsn: number;
  lastLsn: number;
  payloads: Uint8Array;
} {
  const first = run[0] as WalRow;
  const size = run.reduce((sum, row) => sum + 4 + row.payload.length, 0);
  const payloads = Buffer.allocUnsafe(size);
  let at = 0;
  for (const row of run) {
    at = payloads.writeUInt32BE(row.payload.length, at);
    payloads.set(row.payload, at);
    at += row.payload.length;
  }
  const lastLsn = (run[run.length - 1] as WalRow).lsn;
  return { partition: first.partition, lsn: first.lsn, lastLsn, payloads };
}

/** Each partition's rows as one packed run: the packed variants' four binary arrays. */
function packedValues(rows: readonly WalRow[]): unknown[] {
  const runs = new Map<number, WalRow[]>();
  for (const row of rows) {
    const run = runs.get(row.partition);
    if (run === undefined) runs.set(row.partition, [row]);
    else run.push(row);
  }
  const packed = [...runs.values()].map(packRun);
  return [
    int4Array(packed.map((p) => p.partition)),
    int8Array(packed.map((p) => p.lsn)),
    int8Array(packed.map((p) => p.lastLsn)),
    byteaArray(packed.map((p) => p.payloads)),
  ];
}

/** Partitions whose head row the fenced variant has made (each round appends to a new one). */
const headsMade = new Set<number>();

/** Real record payloads (90 bytes), at a fixed instant per lsn. */
const payload = (lsn: number): Uint8Array => reservePayload(lsn, 1_790_000_000_000 + lsn);

interface Timing {
  readonly commitsPerSecond: number;
  readonly rowsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** CPU per commit: this process (the rows, their encoding, pg) and its Postgres backend. */
  readonly clientUs: number;
  readonly backendUs: number | undefined;
  /** Postgres's own WAL written per commit (all of the server's, on a quiet one this variant's). */
  readonly walBytes: number;
}

/** Where Postgres's WAL insertion stands, in bytes from its start. */
async function walPosition(client: pg.Client): Promise<number> {
  const result = await client.query<{ at: string }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::text AS at`,
  );
  return Number(result.rows[0]?.at ?? 0);
}

/** Linux's clock ticks per second for /proc/<pid>/stat (USER_HZ). */
const ticksPerSecond = 100;

async function timeVariant(
  client: pg.Client,
  append: Append,
  batch: number,
  commits: number,
  partition: number,
  backendPid: number,
): Promise<Timing> {
  const samples: number[] = [];
  let lsn = 0;
  const cpuBefore = process.cpuUsage();
  const backendBefore = processTicks(backendPid)?.ticks;
  const walBefore = await walPosition(client);
  const started = performance.now();
  for (let commit = 0; commit < commits; commit += 1) {
    const rows: WalRow[] = [];
    for (let index = 0; index < batch; index += 1) {
      lsn += 1;
      rows.push({ partition, lsn, payload: payload(lsn) });
    }
    const before = performance.now();
    await append(client, rows);
    samples.push(performance.now() - before);
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const backendAfter = processTicks(backendPid)?.ticks;
  const walBytes = ((await walPosition(client)) - walBefore) / commits;
  const backendTicks =
    backendBefore === undefined || backendAfter === undefined
      ? undefined
      : backendAfter - backendBefore;
  samples.sort((a, b) => a - b);
  return {
    clientUs: (cpu.user + cpu.system) / commits,
    backendUs:
      backendTicks === undefined ? undefined : (backendTicks * 1e6) / ticksPerSecond / commits,
    commitsPerSecond: commits / seconds,
    rowsPerSecond: (commits * batch) / seconds,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    walBytes,
  };
}

/** The variants' rounds at one batch size, taken in turn (A B A B ...): pairs share a moment. */
async function roundsAt(
  client: pg.Client,
  options: Options,
  batch: number,
  next: () => number,
  backendPid: number,
): Promise<Map<string, Timing[]>> {
  const chosen = Object.entries(variants).filter(([name]) =>
    options.only.some((part) => name.includes(part)),
  );
  const rounds = new Map<string, Timing[]>(chosen.map(([name]) => [name, []]));
  for (let round = 0; round < options.rounds; round += 1) {
    for (const [name, append] of chosen) {
      // A fresh partition per round: every variant appends to an index of the same shape.
      const timing = await timeVariant(client, append, batch, options.commits, next(), backendPid);
      rounds.get(name)?.push(timing);
    }
  }
  return rounds;
}

const withHistory = 'journal append, every row a movement (WAL + history)';
const walOnly = 'WAL only (INSERT ... unnest, before history)';

async function run(client: pg.Client, options: Options): Promise<void> {
  await migrate(client);
  // Today's day table of the movement history (and its neighbours), as a running ledger has.
  await maintainHistory(client, Date.now(), { retainDays: 90, daysAhead: 2, lockTimeoutMs: 1000 });
  await client.query(`CREATE TABLE wal_packed_sketch (
                        partition integer NOT NULL, lsn bigint NOT NULL, last_lsn bigint NOT NULL,
                        payloads bytea NOT NULL, PRIMARY KEY (partition, lsn))`);
  await client.query(`CREATE TABLE wal_head_sketch (
                        partition integer PRIMARY KEY, lsn bigint NOT NULL)`);
  await client.query('SET synchronous_commit = on');
  // As the journal's own connections do (src/persistence/backend-heap.ts); without, its backend
  // gives its heap back after each commit, as any other connection's does.
  if (options.keepHeap) await keepBackendHeap(client);
  const backend = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const backendPid = backend.rows[0]?.pid ?? 0;
  out(`one connection, closed loop, ${options.commits} commits per variant and batch size`);
  out(
    '| rows per commit | variant | commits/s | rows/s | p50 ms | p99 ms | ' +
      'client CPU µs/commit | backend CPU µs/commit | WAL bytes/commit | rounds (commits/s) |',
  );
  out('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  let partition = 0;
  const ratios: string[] = [];
  for (const batch of options.batches) {
    const rounds = await roundsAt(client, options, batch, () => (partition += 1), backendPid);
    for (const [name, timings] of rounds) {
      const pick = (read: (timing: Timing) => number): number => median(timings.map(read)) ?? 0;
      const cells = [
        String(batch),
        name,
        pick((t) => t.commitsPerSecond).toFixed(0),
        pick((t) => t.rowsPerSecond).toFixed(0),
        pick((t) => t.p50Ms).toFixed(2),
        pick((t) => t.p99Ms).toFixed(2),
        pick((t) => t.clientUs).toFixed(0),
        timings.some((t) => t.backendUs === undefined)
          ? 'n/a'
          : pick((t) => t.backendUs ?? 0).toFixed(0),
        pick((t) => t.walBytes).toFixed(0),
        timings.map((t) => t.commitsPerSecond.toFixed(0)).join(', '),
      ];
      out(`| ${cells.join(' | ')} |`);
    }
    const a = rounds.get(withHistory);
    const b = rounds.get(walOnly);
    if (a !== undefined && b !== undefined) {
      const paired = a.map((t, index) => t.commitsPerSecond / (b[index]?.commitsPerSecond ?? 1));
      const line = paired.map((ratio) => ratio.toFixed(2)).join(', ');
      ratios.push(`${batch} rows: median ${(median(paired) ?? 0).toFixed(2)} (${line})`);
    }
  }
  if (ratios.length > 0) {
    out('commits/s with history / WAL only, round by round (taken in turn):');
    for (const line of ratios) out(`  ${line}`);
  }
  // A statement planned afresh at every commit (custom plans) pays its planning in the backend.
  const plans = await client.query<{ name: string; generic: string; custom: string }>(
    `SELECT name, generic_plans AS generic, custom_plans AS custom
     FROM pg_prepared_statements ORDER BY name`,
  );
  out(
    'named statements, plans: ' +
      plans.rows.map((r) => `${r.name} generic ${r.generic} custom ${r.custom}`).join('; '),
  );
}

interface Options {
  readonly commits: number;
  readonly batches: readonly number[];
  readonly rounds: number;
  readonly only: readonly string[];
  readonly databaseUrl: string;
  /** --keep-heap: the connection's backend keeps its heap between commits, as the journal's. */
  readonly keepHeap: boolean;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      commits: { type: 'string', default: '2000' },
      batches: { type: 'string', default: '1,8,25,100' },
      rounds: { type: 'string', default: '3' },
      // Comma-separated parts of variant names: only those run (default: all).
      only: { type: 'string', default: '' },
      'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      'keep-heap': { type: 'boolean', default: false },
    },
  });
  const batches = values.batches.split(',').map(Number);
  const commits = Number(values.commits);
  const rounds = Number(values.rounds);
  if (!batches.every((b) => Number.isInteger(b) && b >= 1 && b <= 10_000)) {
    throw new Error(`--batches wants integers from 1 to 10000, got ${values.batches}`);
  }
  if (!(Number.isInteger(commits) && commits >= 1 && Number.isInteger(rounds) && rounds >= 1)) {
    throw new Error('--commits and --rounds want positive integers');
  }
  const only = values.only.split(',');
  return {
    commits,
    batches,
    rounds,
    only,
    databaseUrl: values['database-url'],
    keepHeap: values['keep-heap'],
  };
}

async function main(): Promise<void> {
  const chosen = options();
  await withScratchDatabase(chosen.databaseUrl, async (url) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await run(client, chosen);
    } finally {
      await client.end();
    }
  });
}

main().catch((error: unknown) => {
  process.stderr.write(`wal-append bench failed: ${String(error)}\n`);
  process.exitCode = 1;
});
