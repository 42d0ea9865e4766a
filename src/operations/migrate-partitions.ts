// `ledger migrate-partitions`: moves a journal written with partition hash v1 (by stock key) to
// hash v2 (by product), offline and all-or-nothing. Under the journal's ownership lock and in one
// transaction: recover every v1 partition, regroup the states by product through snapshots,
// check them against the v1 states, archive the v1 WAL, write one snapshot per v2 partition at a
// base lsn above every lsn ever used (so no new record repeats an old event id), route the holds
// whose id names another partition, read the new journal back and check it again, then commit.
// Any failure before the commit rolls everything back: the command can simply be run again.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { captureSnapshot, restoreSnapshot, type PartitionState } from '../actors/index.js';
import { retentionOf, type Config } from '../config.js';
import { onOfflineJournal } from './offline-journal.js';
import { reservationRoutesMax } from '../limits.js';
import {
  JournalStore,
  encodeSnapshot,
  eventBacklog,
  highestLsn,
  lockJournalTables,
  readLayout,
  replaceJournal,
  replaceReservationRoutes,
  type EventBacklog,
  type JournalLayout,
} from '../persistence/index.js';
import { partitionHashVersion } from '../router/index.js';
import { recoverPartitions, type RecoveredPartition } from '../shards/index.js';
import { regroupByProduct, type Regrouped } from './regroup-by-product.js';
import { RegroupCheck } from './state-comparison.js';

export interface MigrationOptions {
  readonly databaseUrl: string;
  /** Go ahead although some journal records were never published as events (they never will). */
  readonly discardUnpublishedEvents: boolean;
  /** The ledger's own retention settings: recovery must keep what the ledger kept. */
  readonly retention: Pick<Config, 'retainFinishedSeconds' | 'retainFinishedMax'>;
  /** Progress, one line each (the summary is the result, not a log line). */
  readonly log: (message: string) => void;
}

export interface MigrationSummary {
  readonly migrated: true;
  readonly from_hash_version: number;
  readonly to_hash_version: number;
  readonly partitions: number;
  readonly keys: number;
  /** Holds retained (pending and finished), and of them still pending. */
  readonly reservations: number;
  readonly pending_reservations: number;
  readonly routes: number;
  /** Every v2 partition's snapshot lsn and event cursor; new records start after it. */
  readonly base_lsn: number;
  readonly archived_wal_rows: number;
  readonly discarded_events: number;
  readonly duration_ms: number;
}

export type MigrationResult =
  | { readonly kind: 'migrated'; readonly summary: MigrationSummary }
  | { readonly kind: 'nothing-to-do'; readonly message: string }
  | { readonly kind: 'refused'; readonly message: string };

/** The regrouped partitions failed a check: nothing was written. */
export class MigrationCheckError extends Error {
  override readonly name = 'MigrationCheckError';
}

const unchanged = 'nothing was changed';

const refused = (message: string): MigrationResult => ({
  kind: 'refused',
  message: `${message}; ${unchanged}`,
});

export async function migratePartitions(options: MigrationOptions): Promise<MigrationResult> {
  const startedMs = performance.now();
  const opened = await onOfflineJournal(options.databaseUrl, options.log, (client) =>
    inTransaction(client, options, () => rewrite(client, options, startedMs)),
  );
  return opened.kind === 'refused' ? refused(opened.message) : opened.result;
}

/** Commits only a migration; rolls back a refusal, a no-op and every error. */
async function inTransaction(
  client: pg.Client,
  options: MigrationOptions,
  work: () => Promise<MigrationResult>,
): Promise<MigrationResult> {
  await client.query('BEGIN');
  let result: MigrationResult;
  try {
    result = await work();
  } catch (error) {
    await client.query('ROLLBACK').catch((rollback: unknown) => {
      // Uncommitted work dies with the connection anyway; the first error is the one to report.
      options.log(`rollback failed too: ${messageOf(rollback)}`);
    });
    if (error instanceof MigrationCheckError) throw error;
    throw new Error(`${messageOf(error)}; rolled back, ${unchanged}`, { cause: error });
  }
  if (result.kind !== 'migrated') {
    await client.query('ROLLBACK');
    return result;
  }
  try {
    await client.query('COMMIT');
  } catch (error) {
    // Whether a commit whose answer was lost took effect is unknown; a rerun tells.
    throw new Error(
      `the commit failed (${messageOf(error)}): run the command again, it either migrates or ` +
        'finds nothing to do',
      { cause: error },
    );
  }
  return result;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function rewrite(
  client: pg.Client,
  options: MigrationOptions,
  startedMs: number,
): Promise<MigrationResult> {
  await lockJournalTables(client);
  const layout = await readLayout(client);
  const refusal = refuseLayout(layout);
  if (refusal !== undefined || layout === undefined) return refusal ?? refused('no layout');
  const backlog = await eventBacklog(client);
  const discarding = backlog.inUse && backlog.records > 0;
  if (discarding && !options.discardUnpublishedEvents) return refuseBacklog(backlog);
  const retention = retentionOf(options.retention, layout.partitions);
  const store = new JournalStore(client);
  const all = Array.from({ length: layout.partitions }, (_, partition) => partition);
  const phase = phaseLog(options.log);
  phase(`recovering ${layout.partitions} partitions written with hash version 1`);
  const recovered = await recoverPartitions(store, all, { retention });
  refuseGaps(recovered);
  const before = [...recovered.values()].map((partition) => partition.state);
  const baseLsn = (await baseLsnAfter(client, recovered)) + 1;
  phase('recovered; regrouping by product');
  const regrouped = regroupByProduct(
    before.map(captureSnapshot),
    layout.partitions,
    retention.retainFinishedMs,
  );
  if (regrouped.routes.length > reservationRoutesMax)
    return refused(
      `${regrouped.routes.length} holds would need a route, over ${reservationRoutesMax}`,
    );
  const routes = new Map(regrouped.routes.map((route) => [route.reservationId, route.partition]));
  const after = regrouped.snapshots.map((snapshot) => restoreSnapshot(snapshot, retention));
  const check = new RegroupCheck(before, layout.partitions);
  ensureSame(check, after, routes, 'the regrouped partitions');
  phase(`regrouped and checked; writing them at base lsn ${baseLsn}`);
  const archived = await write(client, layout, regrouped, baseLsn);
  phase('written; reading the new journal back');
  const readBack = await recoverPartitions(store, all, { retention });
  checkReadBack(readBack, baseLsn);
  const states = [...readBack.values()].map((partition) => partition.state);
  ensureSame(check, states, routes, 'the journal read back');
  phase('read back and checked; committing');
  const summary = summarize(layout, before, regrouped, baseLsn, archived, startedMs);
  return {
    kind: 'migrated',
    summary: { ...summary, discarded_events: discarding ? backlog.records : 0 },
  };
}

/** Why this journal is not one to migrate, if it is not: the result to give instead. */
function refuseLayout(layout: JournalLayout | undefined): MigrationResult | undefined {
  if (layout === undefined) return refused('the journal has no layout yet (ledger_meta is empty)');
  if (layout.hashVersion === partitionHashVersion) {
    const message = `the journal already uses partition hash version ${partitionHashVersion} (by product); nothing to do`;
    return { kind: 'nothing-to-do', message };
  }
  if (layout.hashVersion !== 1)
    return refused(`the journal uses partition hash version ${layout.hashVersion}, not 1`);
  return undefined;
}

/** Logs a step with the time the previous one took, so a slow phase shows which it was. */
function phaseLog(log: (message: string) => void): (message: string) => void {
  let lastMs: number | undefined;
  return (message) => {
    const nowMs = performance.now();
    const took = lastMs === undefined ? '' : ` (${Math.round(nowMs - lastMs)} ms)`;
    lastMs = nowMs;
    log(`${message}${took}`);
  };
}

function refuseBacklog(backlog: EventBacklog): MigrationResult {
  return refused(
    `${backlog.records} journal records in ${backlog.partitions} partitions were never ` +
      'published as events, and never would be after this: let the hash v1 ledger publish them ' +
      '(events lag 0) and stop it, or pass --discard-unpublished-events to drop them',
  );
}

/** The highest lsn any partition has used, by recovery or by any table that holds one. */
async function baseLsnAfter(
  client: pg.Client,
  recovered: ReadonlyMap<number, RecoveredPartition>,
): Promise<number> {
  let highest = await highestLsn(client);
  for (const { lastLsn, snapshotLsn } of recovered.values())
    highest = Math.max(highest, lastLsn, snapshotLsn);
  return highest;
}

function ensureSame(
  check: RegroupCheck,
  after: readonly PartitionState[],
  routes: ReadonlyMap<string, number>,
  what: string,
): void {
  const problems = check.differences(after, routes);
  if (problems.length > 0) {
    throw new MigrationCheckError(
      `${what} differ from the hash v1 partitions (${problems.join('; ')}); ${unchanged}`,
    );
  }
}

async function write(
  client: pg.Client,
  layout: JournalLayout,
  regrouped: Regrouped,
  baseLsn: number,
): Promise<number> {
  const snapshots = regrouped.snapshots.map((snapshot) => ({
    partition: snapshot.partition,
    lsn: baseLsn,
    payload: encodeSnapshot(snapshot),
  }));
  const archived = await replaceJournal(client, {
    fromHashVersion: layout.hashVersion,
    toHashVersion: partitionHashVersion,
    baseLsn,
    snapshots,
  });
  await replaceReservationRoutes(client, regrouped.routes);
  return archived;
}

/** Every partition of the new journal starts from its snapshot at the base lsn, with no tail. */
/**
 * A hash version 1 journal was written one group commit at a time (a ledger refuses to start on
 * one), so a gap in its lsns is damage, never rows of a failed write's successor: refused.
 */
function refuseGaps(recovered: ReadonlyMap<number, RecoveredPartition>): void {
  for (const [partition, { lastLsn, pastGap }] of recovered) {
    if (pastGap === undefined) continue;
    throw new Error(
      `partition ${partition}: journal gap after lsn ${lastLsn} (${pastGap.rows} rows past it)`,
    );
  }
}

function checkReadBack(readBack: ReadonlyMap<number, RecoveredPartition>, baseLsn: number): void {
  for (const [partition, { snapshotLsn, lastLsn }] of readBack) {
    if (snapshotLsn !== baseLsn || lastLsn !== baseLsn) {
      throw new MigrationCheckError(
        `partition ${partition} read back from lsn ${snapshotLsn} to ${lastLsn}, ` +
          `not at the base lsn ${baseLsn}; ${unchanged}`,
      );
    }
  }
}

function summarize(
  layout: JournalLayout,
  states: readonly PartitionState[],
  regrouped: Regrouped,
  baseLsn: number,
  archived: number,
  startedMs: number,
): Omit<MigrationSummary, 'discarded_events'> {
  let keys = 0;
  let reservations = 0;
  let pending = 0;
  for (const state of states) {
    keys += state.actors.size;
    reservations += state.holdCount;
    for (const _ of state.pendingReservations()) pending += 1;
  }
  return {
    migrated: true,
    from_hash_version: layout.hashVersion,
    to_hash_version: partitionHashVersion,
    partitions: layout.partitions,
    keys,
    reservations,
    pending_reservations: pending,
    routes: regrouped.routes.length,
    base_lsn: baseLsn,
    archived_wal_rows: archived,
    duration_ms: Math.round(performance.now() - startedMs),
  };
}
