// `--timeline`: Postgres's own background work on the run's clock (`<prefix>.postgres.jsonl`):
// checkpoints, autovacuum, and the WAL written and the WAL files it made.
//
// A checkpoint flushes dirty pages and fsyncs them, and a group commit's own fsync waits behind
// it: on a shared machine other work's CREATE or DROP DATABASE forces one ("immediate force
// wait"). An autovacuum worker (VACUUM or ANALYZE of a table the run grows: its WAL, its
// movements) takes a core of the two for as long as it runs. A new WAL file is filled with zeros
// and fsynced before the commit that needs it, and every commit queued behind that one, goes on
// (wal_init_zero); a recycled one (an old file a checkpoint renamed ahead) costs nothing.
//
// Everything is read four times a second. A checkpoint shows up when pg_stat_bgwriter's counters
// move, as an event ending at that read and lasting its write and sync time. An autovacuum, from
// pg_stat_activity, shows up as an event from its transaction's start to the last read that saw
// it (so it may end up to a read's interval late, and one shorter than that may be missed). The
// WAL: pg_stat_wal's bytes since the read before ('wal'), and the files of pg_wal: when more
// names came than went since the read before, a 'wal-file' event spans the two reads, with how
// many were made (newWalFiles). Buffers: pg_stat_bgwriter's pages written out of shared_buffers
// since the read before ('buffers'), by backends themselves (a backend that needs a buffer and
// finds only dirty ones writes one out first: shared_buffers full of the run's new pages) and by
// the background writer; the whole server's, other databases' work included.
//
// What each client backend of the server (the ledger's journal connections, and any other but the
// sampler's own) is doing while active is read far more often, every 10 ms from a connection of
// its own: its wait event (`IO:WALSync`, `LWLock:WALWrite`, `IO:DataFileExtend`, ...) or
// `running` when it waits on nothing (on a core, or ready for one). A state seen at two reads or
// more in a row is recorded as a 'pg-wait' event from the first read that saw it to the last plus
// the interval, so a group commit held 20-90 ms in Postgres shows what its backend was waiting on.
//
// The kernel's page cache, from /proc/meminfo at each 250 ms read (Linux; left out elsewhere):
// the bytes dirty (written by a process, not yet on the disk) and under write-back ('pagecache').
// A flush of the WAL shares the disk with that write-back.
//
// What the tables of the system under test grew by (`<prefix>.tables.jsonl`,
// sampleRelationGrowth): the size of every relation of its database (the ledger's, or the row
// lock's), once a second, and a 'relation' event for each that grew since the read before (its
// name and bytes). A table or an index grows a page at a time as rows fill it, and Postgres 15
// writes each new page into the page cache as zeros at once, to be written back by the kernel:
// set against the 'pagecache' reads, the growth says how much of a run's dirty page cache its
// tables' new pages are.
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { Timeline, timelineNow, timelinePath } from '../../src/observability/timeline.js';
import { newWalFiles } from './scratch-database.js';

const pollMs = 250;
const waitPollMs = 10;
const relationPollMs = 1_000;

const waitQuery = `select pid, coalesce(wait_event_type || ':' || wait_event, 'running') as what
  from pg_stat_activity
  where backend_type = 'client backend' and state = 'active' and pid <> pg_backend_pid()`;

/** A backend's state while it lasts: what, the first and last read that saw it, and how many. */
interface WaitSpan {
  readonly what: string;
  readonly fromMs: number;
  seenMs: number;
  reads: number;
}

const checkpointQuery =
  'select checkpoints_timed + checkpoints_req as count, ' +
  'checkpoint_write_time + checkpoint_sync_time as ms, ' +
  'buffers_backend as backend, buffers_clean as clean from pg_stat_bgwriter';

const autovacuumQuery = `select pid, query, extract(epoch from xact_start) * 1000 as started_ms
  from pg_stat_activity where backend_type = 'autovacuum worker' and xact_start is not null`;

interface Counters {
  readonly count: number;
  readonly ms: number;
  /** Buffers written out by backends, and by the background writer, since the server began. */
  readonly backend: number;
  readonly clean: number;
}

/** An autovacuum seen running: what it works on, when it began and when it was last seen. */
interface Running {
  readonly what: string;
  readonly startedMs: number;
  seenMs: number;
}

const walQuery = `select (select wal_bytes from pg_stat_wal) as bytes,
  array(select name from pg_ls_waldir() where name ~ '^[0-9A-F]{24}$') as files`;

interface Wal {
  readonly bytes: number;
  readonly files: ReadonlySet<string>;
}

/**
 * undefined where it cannot be read (pg_ls_waldir wants a superuser or pg_monitor): said once,
 * and the rest of the sampling goes on without it.
 */
async function readWal(client: pg.Client, said: { failed: boolean }): Promise<Wal | undefined> {
  try {
    const { rows } = await client.query<{ bytes: string; files: string[] }>(walQuery);
    return { bytes: Number(rows[0]?.bytes ?? 0), files: new Set(rows[0]?.files ?? []) };
  } catch (error) {
    if (!said.failed) process.stderr.write(`postgres sampling: no WAL figures: ${String(error)}\n`);
    said.failed = true;
    return undefined;
  }
}

async function read(client: pg.Client): Promise<Counters> {
  const { rows } = await client.query<{
    count: string;
    ms: number;
    backend: string;
    clean: string;
  }>(checkpointQuery);
  const row = rows[0];
  return {
    count: Number(row?.count ?? 0),
    ms: Number(row?.ms ?? 0),
    backend: Number(row?.backend ?? 0),
    clean: Number(row?.clean ?? 0),
  };
}

async function readAutovacuums(client: pg.Client): Promise<Map<string, Running>> {
  const { rows } = await client.query<{ pid: number; query: string; started_ms: string }>(
    autovacuumQuery,
  );
  const seenMs = timelineNow();
  return new Map(
    rows.map((row) => {
      const what = row.query.replace(/^autovacuum:\s*/, '');
      const startedMs = Number(row.started_ms);
      return [`${row.pid} ${startedMs}`, { what, startedMs, seenMs }];
    }),
  );
}

/** Dirty and Writeback of /proc/meminfo, in kB; undefined where there is none (not Linux). */
async function readPageCache(): Promise<{ dirtyKb: number; writebackKb: number } | undefined> {
  const text = await readFile('/proc/meminfo', 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const kb = (name: string): number =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { dirtyKb: kb('Dirty'), writebackKb: kb('Writeback') };
}

/**
 * Runs `once` every `everyMs`, never two at a time; the returned function stops it once the read
 * in flight, if any, is done (so the connection is not closed under it).
 */
function every(everyMs: number, label: string, once: () => Promise<void>): () => Promise<void> {
  let reading: Promise<void> | undefined = undefined;
  const timer = setInterval(() => {
    if (reading !== undefined) return;
    reading = once()
      .catch((error: unknown) => {
        process.stderr.write(`${label}: ${String(error)}\n`);
      })
      .finally(() => (reading = undefined));
  }, everyMs);
  return async () => {
    clearInterval(timer);
    await reading;
  };
}

/** Samples the backends' waits into `timeline`; the returned function stops it. */
async function sampleWaits(databaseUrl: string, timeline: Timeline): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let spans = new Map<number, WaitSpan>();
  const ended = (pid: number, span: WaitSpan): void => {
    if (span.reads < 2) return;
    const ms = span.seenMs - span.fromMs + waitPollMs;
    timeline.record('pg-wait', span.fromMs, { ms, what: span.what, pid });
  };
  const stop = every(waitPollMs, 'postgres waits', () =>
    client.query<{ pid: number; what: string }>(waitQuery).then(({ rows }) => {
      const seenMs = timelineNow();
      const now = new Map<number, WaitSpan>();
      for (const { pid, what } of rows) {
        const span = spans.get(pid);
        if (span?.what === what) {
          span.seenMs = seenMs;
          span.reads += 1;
          now.set(pid, span);
        } else {
          now.set(pid, { what, fromMs: seenMs, seenMs, reads: 1 });
        }
      }
      for (const [pid, span] of spans) if (now.get(pid) !== span) ended(pid, span);
      spans = now;
    }),
  );
  return async () => {
    await stop();
    for (const [pid, span] of spans) ended(pid, span);
    await client.end();
  };
}

/** Starts sampling; the returned function stops it and writes the file. */
export async function samplePostgresWork(
  databaseUrl: string,
  prefix: string,
): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const timeline = new Timeline(timelinePath(prefix, 'postgres'));
  let last = await read(client);
  const walSaid = { failed: false };
  let lastWal = await readWal(client, walSaid);
  let lastReadMs = timelineNow();
  let running = new Map<string, Running>();
  const ended = (autovacuum: Running): void => {
    const ms = Math.max(0, autovacuum.seenMs - autovacuum.startedMs);
    timeline.record('autovacuum', autovacuum.startedMs, { ms, what: autovacuum.what });
  };
  const stopWaits = await sampleWaits(databaseUrl, timeline);
  // One query at a time on the one connection (pg deprecates queueing them on a client).
  const readAll = async () => {
    const now = await read(client);
    const autovacuums = await readAutovacuums(client);
    const wal = await readWal(client, walSaid);
    return [now, autovacuums, wal, await readPageCache()] as const;
  };
  const stop = every(pollMs, 'postgres sampling', () =>
    readAll().then(([now, autovacuums, wal, pageCache]) => {
      const atMs = timelineNow();
      if (pageCache !== undefined) timeline.record('pagecache', atMs, pageCache);
      const sinceMs = atMs - lastReadMs;
      const [backend, clean] = [now.backend - last.backend, now.clean - last.clean];
      if (backend > 0 || clean > 0) {
        timeline.record('buffers', lastReadMs, { ms: sinceMs, backend, clean });
      }
      if (wal !== undefined && lastWal !== undefined) {
        timeline.record('wal', lastReadMs, { ms: sinceMs, bytes: wal.bytes - lastWal.bytes });
        const made = newWalFiles(lastWal.files, wal.files);
        if (made > 0) timeline.record('wal-file', lastReadMs, { ms: sinceMs, count: made });
      }
      lastWal = wal;
      lastReadMs = atMs;
      if (now.count > last.count) {
        const ms = now.ms - last.ms;
        timeline.record('checkpoint', atMs - ms, { ms, count: now.count - last.count });
      }
      last = now;
      for (const [key, autovacuum] of running) if (!autovacuums.has(key)) ended(autovacuum);
      running = autovacuums;
    }),
  );
  return async () => {
    await stop();
    await stopWaits();
    for (const autovacuum of running.values()) ended(autovacuum);
    timeline.flushSync();
    await client.end();
  };
}

// Each relation of the public schema, with its TOAST table and the TOAST table's index named after
// the table they belong to ("ledger_snapshot_parts (TOAST)"): one row per name, its bytes.
const relationSizesQuery = `select coalesce(owner.relname || ' (TOAST)', c.relname) as name,
    sum(pg_relation_size(c.oid))::bigint as bytes
  from pg_class c
  join pg_namespace n on n.oid = c.relnamespace
  left join pg_index toast_index on n.nspname = 'pg_toast' and toast_index.indexrelid = c.oid
  left join pg_class owner on n.nspname = 'pg_toast'
    and owner.reltoastrelid = coalesce(toast_index.indrelid, c.oid)
  where c.relkind in ('r', 'i', 't')
    and (n.nspname = 'public' or owner.relnamespace = 'public'::regnamespace)
  group by 1`;

/** The bytes of every relation of the database's public schema (and their TOAST), by name. */
export async function readRelationSizes(client: pg.ClientBase): Promise<Map<string, number>> {
  const { rows } = await client.query<{ name: string; bytes: string }>(relationSizesQuery);
  return new Map(rows.map((row) => [row.name, Number(row.bytes)]));
}

/** What each relation grew by from `before` to `after` (a new one: all of it); only growth. */
export function relationsGrown(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): Record<string, number> {
  const grown: Record<string, number> = {};
  for (const [name, bytes] of after) {
    const by = bytes - (before.get(name) ?? 0);
    if (by > 0) grown[name] = by;
  }
  return grown;
}

/**
 * Samples what the relations of `databaseUrl` (the system's own database) grow by, into
 * `<prefix>.tables.jsonl`; the returned function stops it and writes the file.
 */
export async function sampleRelationGrowth(
  databaseUrl: string,
  prefix: string,
): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const timeline = new Timeline(timelinePath(prefix, 'tables'));
  let last = await readRelationSizes(client);
  let lastReadMs = timelineNow();
  const stop = every(relationPollMs, 'relation sizes', () =>
    readRelationSizes(client).then((sizes) => {
      const atMs = timelineNow();
      for (const [name, bytes] of Object.entries(relationsGrown(last, sizes))) {
        timeline.record('relation', lastReadMs, { ms: atMs - lastReadMs, name, bytes });
      }
      [last, lastReadMs] = [sizes, atMs];
    }),
  );
  return async () => {
    await stop();
    timeline.flushSync();
    await client.end();
  };
}
