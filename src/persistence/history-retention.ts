// Keeps the movement history (and, through wal-trim.ts, the WAL) bounded: ledger_movements has one
// table per UTC day; the days a group commit may write are created ahead, and the days older than
// the retention are dropped whole (no DELETE, no vacuum debt). The default partition catches a row
// whose day has no table (a clock far off); its rows are moved into their day's table when that is
// created, and those older than the retention are deleted.
//
// Creating and dropping a partition takes a short exclusive lock on ledger_movements, which the
// group commits' INSERT needs too. Each step therefore waits `lockTimeoutMs` at most for its lock
// (a long history read holds it off) and is simply tried again at the next run: a group commit is
// never queued behind this work for longer than that.
import type pg from 'pg';
import { merged } from '../actors/index.js';
import { trimWal, type WalTrimOptions } from './wal-trim.js';

const dayMs = 86_400_000;
const partitionPrefix = 'ledger_movements_p';
const partitionPattern = /^ledger_movements_p(\d{4})(\d{2})(\d{2})$/;

export interface HistoryRetentionOptions {
  /** Movements are kept at least this many days (whole days: up to one more). */
  readonly retainDays: number;
  /** Day tables created ahead of today, so a write never lacks its day. */
  readonly daysAhead: number;
  readonly lockTimeoutMs: number;
}

export interface RetentionRun {
  readonly created: readonly string[];
  readonly dropped: readonly string[];
  /** Rows of the default partition deleted for being older than the retention. */
  readonly defaultRowsDeleted: number;
  /** Steps that could not get their lock in time (tried again at the next run). */
  readonly skipped: number;
}

/** The UTC day (epoch ms at 00:00) of a time. */
export const dayOf = (epochMs: number): number => Math.floor(epochMs / dayMs) * dayMs;

export function partitionName(dayMsValue: number): string {
  return partitionPrefix + new Date(dayMsValue).toISOString().slice(0, 10).replaceAll('-', '');
}

/** The day a partition's name stands for, or undefined for another table (the default). */
export function partitionDay(name: string): number | undefined {
  const match = partitionPattern.exec(name);
  if (match === null) return undefined;
  return Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3]));
}

/** The day tables of ledger_movements there are now. */
export async function movementPartitions(client: pg.ClientBase): Promise<string[]> {
  const result = await client.query<{ name: string }>(
    `SELECT child.relname AS name FROM pg_inherits
       JOIN pg_class child ON child.oid = pg_inherits.inhrelid
       JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
     WHERE parent.relname = 'ledger_movements' ORDER BY 1`,
  );
  return result.rows.map((row) => row.name).filter((name) => partitionDay(name) !== undefined);
}

const lockNotAvailable = '55P03';

/** Runs `step` in a transaction whose locks wait `lockTimeoutMs` at most; false if one did not. */
async function withLockTimeout(
  client: pg.ClientBase,
  lockTimeoutMs: number,
  step: () => Promise<void>,
): Promise<boolean> {
  await client.query('BEGIN');
  try {
    await client.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.floor(lockTimeoutMs))}`);
    await step();
    await client.query('COMMIT');
    return true;
  } catch (error) {
    await client.query('ROLLBACK');
    if ((error as { code?: string }).code === lockNotAvailable) return false;
    throw error;
  }
}

/**
 * Creates the table of one day, moving the default partition's rows of that day into it first
 * (Postgres refuses a new partition while the default holds rows that belong to it).
 */
async function createDay(client: pg.ClientBase, day: number, lockTimeoutMs: number) {
  const name = partitionName(day);
  const from = new Date(day).toISOString();
  const to = new Date(day + dayMs).toISOString();
  return withLockTimeout(client, lockTimeoutMs, async () => {
    await client.query(
      `CREATE TEMPORARY TABLE ledger_movements_moving ON COMMIT DROP AS
       WITH moved AS (DELETE FROM ledger_movements_default WHERE at >= $1 AND at < $2
                      RETURNING *)
       SELECT * FROM moved`,
      [from, to],
    );
    // IF NOT EXISTS (and IF EXISTS on drop): a ledger starting while another one's run is at
    // the same day must not fail its run for it.
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${name} PARTITION OF ledger_movements FOR VALUES FROM ('${from}') TO ('${to}')`,
    );
    await client.query('INSERT INTO ledger_movements SELECT * FROM ledger_movements_moving');
  });
}

/**
 * One run at `nowMs`: creates the missing days from yesterday to `daysAhead` ahead, drops every
 * day whose whole span is older than `retainDays`, and deletes the default's rows that are.
 */
export async function maintainHistory(
  client: pg.ClientBase,
  nowMs: number,
  options: HistoryRetentionOptions,
): Promise<RetentionRun> {
  const existing = new Set(await movementPartitions(client));
  const today = dayOf(nowMs);
  const cutoffMs = nowMs - options.retainDays * dayMs;
  const created: string[] = [];
  const dropped: string[] = [];
  let skipped = 0;
  for (let day = today - dayMs; day <= today + options.daysAhead * dayMs; day += dayMs) {
    if (day + dayMs <= cutoffMs || existing.has(partitionName(day))) continue;
    if (await createDay(client, day, options.lockTimeoutMs)) created.push(partitionName(day));
    else skipped += 1;
  }
  for (const name of existing) {
    const day = partitionDay(name) as number;
    if (day + dayMs > cutoffMs) continue;
    const done = await withLockTimeout(client, options.lockTimeoutMs, async () => {
      await client.query(`DROP TABLE IF EXISTS ${name}`);
    });
    if (done) dropped.push(name);
    else skipped += 1;
  }
  const deleted = await client.query('DELETE FROM ledger_movements_default WHERE at < $1', [
    new Date(cutoffMs).toISOString(),
  ]);
  return { created, dropped, defaultRowsDeleted: deleted.rowCount ?? 0, skipped };
}

export interface HistoryMaintenanceOptions extends HistoryRetentionOptions {
  /** The WAL's trim (wal-trim.ts), run after the history's days. */
  readonly wal: WalTrimOptions;
  readonly newClient: () => pg.Client;
  readonly intervalMs: number;
  /** The time a run works from (UTC days); a parameter so tests can move it. */
  readonly now: () => number;
  readonly ran: (run: RetentionRun & { readonly walRowsTrimmed: number }) => void;
  readonly failed: (error: Error) => void;
  /**
   * In a cluster: every node runs the maintenance, but a run first claims it (claimTask) and
   * does nothing if another node's run claimed it less than `everyMs` ago.
   */
  readonly claim?: { readonly nodeId: string; readonly everyMs: number; skipped(): void };
}

/** The task name the maintenance claims in ledger_maintenance. */
export const historyTask = 'history-and-wal';

/**
 * Claims `task` for this node unless another claim is younger than `everyMs`, on Postgres's
 * clock (the one every node shares), in one statement: two nodes racing, one claims.
 */
export async function claimTask(
  client: pg.ClientBase,
  task: string,
  nodeId: string,
  everyMs: number,
): Promise<boolean> {
  const result = await client.query(
    `INSERT INTO ledger_maintenance (task, claimed_at, node_id) VALUES ($1, now(), $2)
     ON CONFLICT (task) DO UPDATE SET claimed_at = now(), node_id = $2
       WHERE ledger_maintenance.claimed_at < now() - make_interval(secs => $3)
     RETURNING task`,
    [task, nodeId, everyMs / 1000],
  );
  return result.rowCount === 1;
}

/**
 * Runs `maintainHistory` and `trimWal` once at start and then every `intervalMs`, each run on a
 * connection of its own (closed after), never two at once. A failed run is reported and tried
 * again later: the default partition keeps every write possible meanwhile.
 */
export class HistoryMaintenance {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: HistoryMaintenanceOptions) {}

  /** The first run, awaited, so the day tables exist before the shards write. */
  async start(): Promise<void> {
    await this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs);
    this.timer.unref();
  }

  runOnce(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async run(): Promise<void> {
    const client = this.options.newClient();
    try {
      await client.connect();
      const { claim } = this.options;
      if (claim && !(await claimTask(client, historyTask, claim.nodeId, claim.everyMs))) {
        claim.skipped();
        return;
      }
      const nowMs = this.options.now();
      const run = await maintainHistory(client, nowMs, this.options);
      const walRowsTrimmed = await trimWal(client, nowMs, this.options.wal);
      this.options.ran(merged(run, { walRowsTrimmed }));
    } catch (error) {
      this.options.failed(error instanceof Error ? error : new Error(String(error)));
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }
}
