// The movement history of one hot key with 1,000,000 movements, in a scratch database (dropped
// afterwards, also on failure): the history query's latency for the first page and for deep
// pages (a random cursor), and the bytes on disk a million changes cost (the movement rows with
// their index, and the WAL rows written beside them). The rows are written by the journal's own
// append (WAL + movements in one statement, --per-append rows per statement: 25 by default, a hot
// SKU's group commit at 64 connections, whose movements share a row), as real records (holds
// made, confirmed and released, adjusts), spread over the retention's 90 day tables so the query
// merges every day's index as it would at the end of a retention period. Read with the
// ledger's own HistoryStore (pool of one) after VACUUM ANALYZE.
//
//   npx tsx bench/micro/history-query.ts [--movements 1000000] [--queries 1000] [--limit 100]
//     [--days 90] [--per-append 25] [--database-url postgres://postgres@127.0.0.1:5432/postgres]
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { JournalRecord } from '../../src/actors/index.js';
import {
  HistoryStore,
  JournalStore,
  encodeRecord,
  maintainHistory,
  type WalRow,
} from '../../src/persistence/index.js';
import { migrate } from '../../src/persistence/migrations.js';
import { percentile } from '../lib/report.js';
import { withScratchDatabase } from '../lib/scratch-database.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);
const dayMs = 86_400_000;
const key = { productId: 'hot-sku-0001', warehouseId: 'bench-wh' };
const holdId = (serial: number) =>
  `0001e1f0-5c3b-8d2e-9f00-${serial.toString(16).padStart(12, '0')}`;

/** Change `version`: a hold made, then confirmed or released; an adjust now and then. */
function recordOf(version: number, atMs: number): JournalRecord {
  const common = { ...key, version, atMs, traceId: `a1b2c3d4e5f6${version.toString(16)}` };
  if (version % 50 === 1) {
    return {
      ...common,
      type: 'adjusted',
      delta: 100,
      onHand: 1000,
      reserved: 0,
      reason: 'receipt',
      idempotencyKey: '',
      actorId: 'erp-feed',
      reference: `PO-${version}`,
    };
  }
  const hold = { ...common, reservationId: holdId(version >> 1), quantity: 1, requesterId: 'web' };
  if (version % 2 === 0) {
    return {
      ...hold,
      type: 'reserved',
      expiresAtMs: atMs + 600_000,
      idempotencyKey: `bench-key-${version.toString(36).padStart(10, '0')}`,
    };
  }
  return { ...hold, type: version % 3 === 0 ? 'released' : 'confirmed' };
}

async function fill(client: pg.Client, options: Options, nowMs: number): Promise<void> {
  const store = new JournalStore(client);
  const spanMs = (options.days - 1) * dayMs;
  const started = performance.now();
  const perAppend = options.perAppend;
  for (let first = 1; first <= options.movements; first += perAppend) {
    const rows: WalRow[] = [];
    const end = Math.min(first + perAppend - 1, options.movements);
    for (let version = first; version <= end; version += 1) {
      const atMs = nowMs - spanMs + Math.floor((spanMs * version) / options.movements);
      const movement = { ...key, version, atMs, onHand: 1000, reserved: 3, incoming: 0 };
      rows.push({
        partition: 0,
        lsn: version,
        payload: encodeRecord(recordOf(version, atMs)),
        movement: { ...movement, subject: 'web' },
      });
    }
    await store.append(rows);
  }
  const seconds = (performance.now() - started) / 1000;
  out(
    `wrote ${options.movements} movements in ${seconds.toFixed(1)} s (${perAppend} per statement)`,
  );
}

async function sizes(client: pg.Client): Promise<{ movements: number; wal: number }> {
  const result = await client.query<{ movements: string; wal: string }>(
    `SELECT (SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits
              WHERE inhparent = 'ledger_movements'::regclass) AS movements,
            pg_total_relation_size('ledger_wal') AS wal`,
  );
  const row = result.rows[0] as { movements: string; wal: string };
  return { movements: Number(row.movements), wal: Number(row.wal) };
}

async function timeQueries(
  history: HistoryStore,
  options: Options,
  before: () => number | undefined,
): Promise<string> {
  const samples: number[] = [];
  for (let query = 0; query < options.queries; query += 1) {
    const cursor = before();
    const started = performance.now();
    const page = await history.page(key.productId, key.warehouseId, cursor, options.limit);
    samples.push(performance.now() - started);
    if (page.movements.length === 0) throw new Error('an empty page: the fill went wrong');
  }
  samples.sort((a, b) => a - b);
  return `p50 ${percentile(samples, 50).toFixed(2)} ms, p99 ${percentile(samples, 99).toFixed(2)} ms`;
}

async function run(url: string, options: Options): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const history = HistoryStore.open(url, {
    connectionsMax: 1,
    statementTimeoutMs: 60_000,
    onError: (error) => process.stderr.write(`pool: ${String(error)}\n`),
  });
  try {
    await migrate(client);
    const nowMs = Date.now();
    const retention = { retainDays: options.days, daysAhead: 1, lockTimeoutMs: 1000 };
    // Each run creates the day before its time to a day ahead: walk back over the span.
    for (let at = nowMs - options.days * dayMs; at <= nowMs; at += dayMs) {
      await maintainHistory(client, at, { ...retention, retainDays: options.days + 2 });
    }
    await fill(client, options, nowMs);
    await client.query('VACUUM ANALYZE ledger_movements');
    await client.query('VACUUM ANALYZE ledger_wal');
    const { movements, wal } = await sizes(client);
    const perMillion = (bytes: number) => (bytes * 1_000_000) / options.movements / 1_048_576;
    out(`on disk per 1,000,000 changes (table + indexes, after VACUUM):`);
    out(
      `  ledger_movements ${perMillion(movements).toFixed(1)} MiB over ${options.days} day tables`,
    );
    out(`  ledger_wal       ${perMillion(wal).toFixed(1)} MiB`);
    out(`  together         ${perMillion(movements + wal).toFixed(1)} MiB`);
    // Warm the pool's connection and its named statement first.
    await history.page(key.productId, key.warehouseId, undefined, options.limit);
    const first = await timeQueries(history, options, () => undefined);
    out(`first page (limit ${options.limit}), ${options.queries} queries: ${first}`);
    let seed = 12345;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      return seed / 2_147_483_648;
    };
    const deepest = options.movements - options.limit;
    const deep = await timeQueries(history, options, () => 1 + Math.floor(random() * deepest));
    out(`deep pages (random cursor), ${options.queries} queries: ${deep}`);
  } finally {
    await history.close();
    await client.end();
  }
}

interface Options {
  readonly movements: number;
  readonly queries: number;
  readonly limit: number;
  readonly days: number;
  readonly perAppend: number;
  readonly databaseUrl: string;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      movements: { type: 'string', default: '1000000' },
      queries: { type: 'string', default: '1000' },
      limit: { type: 'string', default: '100' },
      days: { type: 'string', default: '90' },
      'per-append': { type: 'string', default: '25' },
      'database-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    },
  });
  const parsed = {
    movements: Number(values.movements),
    queries: Number(values.queries),
    limit: Number(values.limit),
    days: Number(values.days),
    perAppend: Number(values['per-append']),
  };
  for (const [name, value] of Object.entries(parsed)) {
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`--${name} wants a positive integer`);
  }
  if (parsed.limit > 1000) throw new Error('--limit is 1..1000');
  return { ...parsed, databaseUrl: values['database-url'] };
}

async function main(): Promise<void> {
  const chosen = options();
  out(`history query bench: ${chosen.movements} movements of one key over ${chosen.days} days`);
  await withScratchDatabase(chosen.databaseUrl, (url) => run(url, chosen));
}

main().catch((error: unknown) => {
  process.stderr.write(`history-query bench failed: ${String(error)}\n`);
  process.exitCode = 1;
});
