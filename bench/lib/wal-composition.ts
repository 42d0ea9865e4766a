// --wal-stats: what Postgres's WAL over the measured window was made of, by relation and record
// type, read back with pg_waldump between the window's two insert positions. The WAL bytes per
// answer (pg_stat_wal) say how much; this says whose: the journal's rows and their index, the
// movement history, snapshots, the publisher's cursors, the trim's deletes, vacuum, commits.
//
// It reads the server's own pg_wal, so it needs a local Postgres whose data directory this user
// can read (the bench's default; root here), and its pg_waldump (the server's BINDIR, from the
// pg_config view: a superuser's). Relations of the run's scratch database (bench_<random>) are
// named as they are; another database's are prefixed with its name: nothing else should write
// meanwhile.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { databaseUrl, withAdmin } from './scratch-database.js';

/** One relation's records of one kind over the window ('' relation: records of no relation). */
export interface WalPart {
  readonly relation: string;
  /** Resource manager and record, as pg_waldump names them: `Heap/INSERT`, `Btree/INSERT_LEAF`. */
  readonly record: string;
  readonly records: number;
  /** Whole records, full-page images included. */
  readonly bytes: number;
}

export interface WalComposition {
  readonly parts: readonly WalPart[];
  readonly records: number;
  readonly bytes: number;
}

// rmgr: Heap        len (rec/tot):     59/   208, tx:   12345, lsn: 3/F08DD638, prev 3/F08DD5F0,
//   desc: INSERT off 3 flags 0x00, blkref #0: rel 1663/16384/16390 blk 1234
const recordLine = new RegExp(
  String.raw`^rmgr: (\S+)\s+len \(rec\/tot\):\s*\d+\/\s*(\d+),.*? desc: ([A-Z0-9_+]+)` +
    String.raw`(?:.*?blkref #0: rel \d+\/(\d+)\/(\d+))?`,
);

interface Tally {
  records: number;
  bytes: number;
}

/** Tallies pg_waldump's record lines by `${database}/${filenode}` and record kind. */
export function tallyWalLines(lines: Iterable<string>): Map<string, Map<string, Tally>> {
  const tallies = new Map<string, Map<string, Tally>>();
  for (const line of lines) addLine(tallies, line);
  return tallies;
}

function addLine(tallies: Map<string, Map<string, Tally>>, line: string): void {
  const match = recordLine.exec(line);
  if (match === null) return;
  const [, rmgr, total, kind, database, node] = match;
  const relation = database === undefined ? '' : `${database}/${node}`;
  let byKind = tallies.get(relation);
  if (byKind === undefined) tallies.set(relation, (byKind = new Map()));
  const record = `${rmgr}/${kind}`;
  const tally = byKind.get(record);
  if (tally === undefined) byKind.set(record, { records: 1, bytes: Number(total) });
  else {
    tally.records += 1;
    tally.bytes += Number(total);
  }
}

/** The window's WAL by relation and record, largest first. */
export async function walComposition(
  adminUrl: string,
  fromLsn: string,
  toLsn: string,
): Promise<WalComposition> {
  if (fromLsn === toLsn) return { parts: [], records: 0, bytes: 0 };
  return withAdmin(adminUrl, async (admin) => {
    const where = await admin.query<{ data: string; bindir: string }>(
      `SELECT current_setting('data_directory') AS data,
              (SELECT setting FROM pg_config WHERE name = 'BINDIR') AS bindir`,
    );
    const { data, bindir } = where.rows[0] ?? { data: '', bindir: '' };
    await flushedTo(admin, toLsn);
    const tallies = await dumpWal(join(bindir, 'pg_waldump'), join(data, 'pg_wal'), fromLsn, toLsn);
    const names = await relationNames(admin, adminUrl, tallies.keys());
    const parts: WalPart[] = [];
    for (const [relation, byKind] of tallies) {
      for (const [record, tally] of byKind) {
        parts.push({ relation: names.get(relation) ?? relation, record, ...tally });
      }
    }
    parts.sort((a, b) => b.bytes - a.bytes);
    return {
      parts,
      records: parts.reduce((sum, part) => sum + part.records, 0),
      bytes: parts.reduce((sum, part) => sum + part.bytes, 0),
    };
  });
}

/** How long to wait for the WAL to be on disk up to the window's end (the WAL writer's rounds). */
const flushWaitMs = 5_000;

/**
 * Waits until the WAL is flushed up to `lsn`: records inserted but not yet written (another
 * session's, not committed) are not in the files pg_waldump reads, which would end its read in
 * an invalid record.
 */
async function flushedTo(admin: pg.Client, lsn: string): Promise<void> {
  const until = Date.now() + flushWaitMs;
  for (;;) {
    const result = await admin.query<{ flushed: boolean }>(
      'SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS flushed',
      [lsn],
    );
    if (result.rows[0]?.flushed === true) return;
    if (Date.now() > until)
      throw new Error(`the WAL was not flushed to ${lsn} within ${flushWaitMs} ms`);
    await sleep(50);
  }
}

/** pg_waldump from one lsn to the other, its record lines tallied as they come. */
async function dumpWal(
  waldump: string,
  walDirectory: string,
  fromLsn: string,
  toLsn: string,
): Promise<Map<string, Map<string, Tally>>> {
  const child = spawn(waldump, ['-p', walDirectory, '-s', fromLsn, '-e', toLsn], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const tallies = new Map<string, Map<string, Tally>>();
  for await (const line of createInterface({ input: child.stdout })) addLine(tallies, line);
  const code = await exited;
  if (code !== 0) throw new Error(`pg_waldump exited ${String(code)}: ${stderr.trim()}`);
  return tallies;
}

/**
 * `${database}/${filenode}` keys to table and index names, asked of each database they name; a
 * TOAST table or its index is named by the table it belongs to.
 */
async function relationNames(
  admin: pg.Client,
  adminUrl: string,
  keys: Iterable<string>,
): Promise<Map<string, string>> {
  const databases = new Set<string>();
  for (const key of keys) if (key !== '') databases.add(key.split('/')[0] as string);
  const names = new Map<string, string>([['', '(no relation)']]);
  for (const oid of databases) {
    const found = await admin.query<{ datname: string }>(
      'SELECT datname FROM pg_database WHERE oid = $1',
      [oid],
    );
    // Shared catalogs (database 0) have no database to ask.
    const datname = found.rows[0]?.datname;
    if (datname === undefined) continue;
    const relations = await withAdmin(databaseUrl(adminUrl, datname), (client) =>
      client.query<{ node: string; name: string; owner: string | null }>(
        `SELECT pg_relation_filenode(c.oid)::text AS node, c.relname AS name,
                coalesce(t.relname, ti.relname) AS owner
         FROM pg_class c
         LEFT JOIN pg_class t ON t.reltoastrelid = c.oid
         LEFT JOIN pg_index i ON i.indexrelid = c.oid
         LEFT JOIN pg_class ti ON ti.reltoastrelid = i.indrelid
         WHERE pg_relation_filenode(c.oid) IS NOT NULL`,
      ),
    );
    // The run's own scratch database (bench_<random>, one at a time) goes unnamed.
    const label = datname.startsWith('bench_') ? '' : `${datname}: `;
    for (const relation of relations.rows) {
      const name =
        relation.owner === null ? relation.name : `${relation.name} (of ${relation.owner})`;
      names.set(`${oid}/${relation.node}`, `${label}${name}`);
    }
  }
  return names;
}
