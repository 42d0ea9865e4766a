// `--wal-files`: the state of Postgres's WAL files when the load begins, which decides whether
// a run's group commits wait for new ones.
//
// Postgres writes its WAL into files of 16 MB (wal_segment_size). When the insert position
// reaches the end of one, the next is either an old file recycled (a checkpoint renamed it ahead
// of the position: nothing to write) or a new one, which Postgres fills with zeros and fsyncs
// first (wal_init_zero, on by default); the commit that needs it, and every commit queued behind
// it, waits for that. A cluster that has run through checkpoints at its load keeps enough files
// ahead; a new cluster, or one whose load grew, makes them as it goes.
//
// - `fresh`: no file ahead, and none behind for a checkpoint to rename ahead during the run, so
//   the run makes every file it fills, as a new cluster does. With wal_recycle off (ALTER SYSTEM,
//   for those few seconds only: reset in any case, after which the cluster recycles again) it
//   switches to the next file until none is left ahead, then runs a CHECKPOINT: checkpoints then
//   remove the files behind instead of renaming them ahead.
// - `recycled`: as many files ahead as a checkpoint keeps (switches through max_wal_size of
//   them, then a CHECKPOINT renames them ahead; again while that keeps more), as a cluster in its
//   steady state. With the default max_wal_size of 1 GB that was 34 to 63 files here (540 MB to
//   1 GB): a 60 s hot-SKU run fits.
// Both end with a checkpoint just taken, so none comes due from WAL volume in a run that writes
// less than max_wal_size. They act on the whole cluster (it is the bench's local Postgres) and
// write nothing to any table.
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

export type WalFilesMode = 'fresh' | 'recycled';

export const walFilesModes: readonly WalFilesMode[] = ['fresh', 'recycled'];

/** Bounds the switching, whatever the cluster's settings say. */
const switchesMax = 1024;
const reloadMs = 300;
const recycleRounds = 3;

const aheadQuery = `select
  count(*) filter (where name > pg_walfile_name(pg_current_wal_lsn())) as ahead,
  pg_size_bytes(current_setting('max_wal_size')) as max_wal_bytes,
  pg_size_bytes(current_setting('wal_segment_size')) as segment_bytes
  from pg_ls_waldir() where name ~ '^[0-9A-F]{24}$'`;

interface Ahead {
  /** WAL files named after the current one: recycled ones, ready to be written. */
  readonly ahead: number;
  /** max_wal_size in files. */
  readonly maxFiles: number;
}

async function filesAhead(client: pg.Client): Promise<Ahead> {
  const { rows } = await client.query<{
    ahead: string;
    max_wal_bytes: string;
    segment_bytes: string;
  }>(aheadQuery);
  const row = rows[0];
  const segmentBytes = Number(row?.segment_bytes ?? 16 << 20);
  const maxWalBytes = Number(row?.max_wal_bytes ?? 1 << 30);
  return {
    ahead: Number(row?.ahead ?? 0),
    maxFiles: Math.max(1, Math.floor(maxWalBytes / segmentBytes)),
  };
}

/** Moves the WAL to the next file (a switch needs a record since the last one: a message). */
async function switchFile(client: pg.Client): Promise<void> {
  await client.query(`select pg_logical_emit_message(false, 'ledger-bench', '')`);
  await client.query('select pg_switch_wal()');
}

/**
 * Runs `work` with a server setting of the cluster changed (ALTER SYSTEM and a reload), and
 * resets it afterwards whatever happens (a kill -9 in between leaves it: `ALTER SYSTEM RESET`).
 * `name` and `value` are the bench's own constants, never input.
 */
export async function withServerSetting<T>(
  client: pg.Client,
  setting: { readonly name: string; readonly value: string },
  work: () => Promise<T>,
): Promise<T> {
  try {
    await client.query(`ALTER SYSTEM SET ${setting.name} = ${setting.value}`);
    await client.query('select pg_reload_conf()');
    // Every process reads the reloaded file at its next turn (the checkpointer before it takes a
    // request): a moment's margin.
    await sleep(reloadMs);
    return await work();
  } finally {
    await client.query(`ALTER SYSTEM RESET ${setting.name}`);
    await client.query('select pg_reload_conf()');
  }
}

/**
 * Switches until no file is left ahead, then checkpoints, with wal_recycle off throughout: the
 * checkpoints (the one at the end, and those the switching's WAL volume asks for) remove the
 * files behind instead of renaming them ahead. Answers the switches made.
 */
function useUpFilesAhead(client: pg.Client): Promise<number> {
  return withServerSetting(client, { name: 'wal_recycle', value: 'off' }, async () => {
    let switches = 0;
    while ((await filesAhead(client)).ahead > 0) {
      if (switches >= switchesMax) throw new Error(`WAL files still ahead after ${switches}`);
      await switchFile(client);
      switches += 1;
    }
    await client.query('CHECKPOINT');
    return switches;
  });
}

/**
 * Puts the cluster's WAL files in `mode`; what it found and left, for the log. Needs a superuser
 * (pg_switch_wal, CHECKPOINT, pg_ls_waldir).
 */
export async function prepareWalFiles(adminUrl: string, mode: WalFilesMode): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await filesAhead(client);
    if (mode === 'fresh') {
      const switches = await useUpFilesAhead(client);
      const left = await filesAhead(client);
      return `WAL files ahead: ${found.ahead}, now ${left.ahead} (${switches} switches)`;
    }
    // A checkpoint keeps ahead what its estimate of the WAL between checkpoints asks for (about
    // max_wal_size / (1 + checkpoint_completion_target), where the WAL's volume asks for the next
    // one), and the switching's own volume may ask for one part way: rounds while it keeps more.
    let left = found;
    for (let round = 0; round < recycleRounds; round += 1) {
      for (let switches = 0; switches < Math.min(found.maxFiles, switchesMax); switches += 1) {
        await switchFile(client);
      }
      await client.query('CHECKPOINT');
      const now = await filesAhead(client);
      const grew = now.ahead > left.ahead;
      left = now;
      if (!grew) break;
    }
    return `WAL files ahead: ${found.ahead}, now ${left.ahead} (max_wal_size: ${found.maxFiles})`;
  } finally {
    await client.end();
  }
}
