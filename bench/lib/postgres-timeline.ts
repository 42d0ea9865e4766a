// `--timeline`: Postgres's checkpoints on the run's clock (`<prefix>.postgres.jsonl`). A
// checkpoint flushes dirty pages and fsyncs them, and a group commit's own fsync waits behind it:
// on a shared machine other work's CREATE or DROP DATABASE forces one ("immediate force wait").
// pg_stat_bgwriter is read four times a second; a checkpoint shows up when its counters move, as
// an event ending at that read and lasting its write and sync time.
import pg from 'pg';
import { Timeline, timelineNow, timelinePath } from '../../src/observability/timeline.js';

const pollMs = 250;

const checkpointQuery =
  'select checkpoints_timed + checkpoints_req as count, ' +
  'checkpoint_write_time + checkpoint_sync_time as ms from pg_stat_bgwriter';

interface Counters {
  readonly count: number;
  readonly ms: number;
}

async function read(client: pg.Client): Promise<Counters> {
  const { rows } = await client.query<{ count: string; ms: number }>(checkpointQuery);
  return { count: Number(rows[0]?.count ?? 0), ms: Number(rows[0]?.ms ?? 0) };
}

/** Starts sampling; the returned function stops it and writes the file. */
export async function samplePostgresCheckpoints(
  databaseUrl: string,
  prefix: string,
): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const timeline = new Timeline(timelinePath(prefix, 'postgres'));
  let last = await read(client);
  let reading = false;
  const timer = setInterval(() => {
    if (reading) return;
    reading = true;
    read(client)
      .then((now) => {
        const atMs = timelineNow();
        if (now.count > last.count) {
          const ms = now.ms - last.ms;
          timeline.record('checkpoint', atMs - ms, { ms, count: now.count - last.count });
        }
        last = now;
      })
      .catch((error: unknown) => process.stderr.write(`checkpoint sampling: ${String(error)}\n`))
      .finally(() => (reading = false));
  }, pollMs);
  return async () => {
    clearInterval(timer);
    timeline.flushSync();
    await client.end();
  };
}
