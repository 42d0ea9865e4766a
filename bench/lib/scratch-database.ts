// A throwaway database on the local Postgres, so that each run starts from an empty journal and
// leaves nothing behind; also reads the cluster's WAL counters around the measured window.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

const connectTimeoutMs = 10_000;

export interface ScratchDatabase {
  readonly name: string;
  /** The admin URL with the database name swapped in: what the ledger gets as DATABASE_URL. */
  readonly url: string;
  drop(): Promise<void>;
}

/** Cluster-wide WAL counters (pg_stat_wal, Postgres 14+); anyone else's writes count too. */
export interface WalCounters {
  readonly records: number;
  readonly bytes: number;
  readonly writes: number;
  readonly syncs: number;
  /** The segment files in pg_wal (in walDelta's answer, empty: see `newFiles`). */
  readonly files: ReadonlySet<string>;
  /** In walDelta's answer: files made meanwhile, not recycled (`newWalFiles`); else 0. */
  readonly newFiles: number;
  /** Where WAL insertion stood (`pg_current_wal_insert_lsn`); in walDelta's answer, the end. */
  readonly insertLsn: string;
}

/**
 * How many WAL files were made between two listings of pg_wal: names that came, less names
 * that went. A recycled file is an old one renamed ahead (one name goes as one comes); a new one
 * is zero-filled and fsynced first (wal_init_zero), and the commits that need it wait for that.
 * A checkpoint that removes files meanwhile makes this count low.
 */
export function newWalFiles(before: ReadonlySet<string>, now: ReadonlySet<string>): number {
  let came = 0;
  let gone = 0;
  for (const name of now) if (!before.has(name)) came += 1;
  for (const name of before) if (!now.has(name)) gone += 1;
  return Math.max(0, came - gone);
}

/** One connection to `url` (the admin's, or a database's) for `use`, closed after it. */
export async function withAdmin<T>(
  url: string,
  use: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: connectTimeoutMs,
  });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** The admin URL with another database's name swapped in. */
export function databaseUrl(adminUrl: string, name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function createScratchDatabase(adminUrl: string): Promise<ScratchDatabase> {
  // Only [a-z0-9_], so the name needs no quoting.
  const name = `bench_${randomBytes(6).toString('hex')}`;
  await withAdmin(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  let dropped = false;
  return {
    name,
    url: databaseUrl(adminUrl, name),
    async drop(): Promise<void> {
      if (dropped) return;
      // FORCE (Postgres 13+) ends the ledger's connections if it did not get to close them.
      await withAdmin(adminUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      );
      dropped = true;
    },
  };
}

/**
 * undefined when the server has no pg_stat_wal (before Postgres 14) or refuses to show it or
 * pg_wal (pg_ls_waldir wants a superuser or pg_monitor).
 */
export async function readWalCounters(adminUrl: string): Promise<WalCounters | undefined> {
  try {
    return await withAdmin(adminUrl, async (client) => {
      const result = await client.query<Record<string, string> & { files: string[] }>(
        `SELECT wal_records, wal_bytes, wal_write, wal_sync,
           array(SELECT name FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$') AS files,
           pg_current_wal_insert_lsn()::text AS insert_lsn
         FROM pg_stat_wal`,
      );
      const row = result.rows[0];
      if (row === undefined) return undefined;
      return {
        records: Number(row.wal_records),
        bytes: Number(row.wal_bytes),
        writes: Number(row.wal_write),
        syncs: Number(row.wal_sync),
        files: new Set(row.files),
        newFiles: 0,
        insertLsn: row.insert_lsn ?? '',
      };
    });
  } catch (error) {
    process.stderr.write(
      `note: pg_stat_wal not readable (${String(error)}); WAL figures skipped\n`,
    );
    return undefined;
  }
}

export function walDelta(before: WalCounters, after: WalCounters): WalCounters {
  return {
    records: after.records - before.records,
    bytes: after.bytes - before.bytes,
    writes: after.writes - before.writes,
    syncs: after.syncs - before.syncs,
    files: new Set(),
    newFiles: newWalFiles(before.files, after.files),
    insertLsn: after.insertLsn,
  };
}

/**
 * Runs `use` on a fresh scratch database and drops it afterwards, also on failure and when the
 * run is interrupted (SIGINT/SIGTERM: dropped, then the signal is raised again).
 */
export async function withScratchDatabase<T>(
  adminUrl: string,
  use: (databaseUrl: string) => Promise<T>,
): Promise<T> {
  const database = await createScratchDatabase(adminUrl);
  const onSignal = (signal: NodeJS.Signals): void => {
    void database.drop().finally(() => process.kill(process.pid, signal));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await use(database.url);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await database.drop();
  }
}
