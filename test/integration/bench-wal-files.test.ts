// Proves the bench's WAL-file readings and `--wal-files fresh` on the real Postgres: after it no
// WAL file is left ahead of the insert position, so the next file the cluster fills is made new,
// and the counters it reads around a window count that file as made (not recycled). (Postgres
// counts pg_stat_wal's bytes a second late at most, so no figure of bytes is asserted.) The
// `recycled` mode is not run here: it switches through max_wal_size of files (1 GB by default)
// and forces a checkpoint, too much for a test suite sharing the cluster. Only WAL positions
// move; nothing is written to any table.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseBenchArguments, UsageError } from '../../bench/lib/args.js';
import { readWalCounters, walDelta } from '../../bench/lib/scratch-database.js';
import { prepareWalFiles } from '../../bench/lib/wal-files.js';
import { adminDatabaseUrl, havePostgres } from '../helpers/services.js';

async function filesAhead(): Promise<number> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ ahead: string }>(
      `select count(*) as ahead from pg_ls_waldir()
       where name ~ '^[0-9A-F]{24}$' and name > pg_walfile_name(pg_current_wal_lsn())`,
    );
    return Number(rows[0]?.ahead);
  } finally {
    await client.end();
  }
}

describe('--wal-files', () => {
  it('takes fresh or recycled, and nothing else', () => {
    expect(parseBenchArguments([])?.walFiles).toBeUndefined();
    expect(parseBenchArguments(['--wal-files', 'fresh'])?.walFiles).toBe('fresh');
    expect(parseBenchArguments(['--wal-files', 'recycled'])?.walFiles).toBe('recycled');
    expect(() => parseBenchArguments(['--wal-files', 'warm'])).toThrow(UsageError);
  });
});

/** Switches to the next WAL file; the WAL counters read around the switch, as a window's are. */
async function switchWindow() {
  const before = await readWalCounters(adminDatabaseUrl);
  const client = new pg.Client({ connectionString: adminDatabaseUrl });
  await client.connect();
  try {
    await client.query(`select pg_logical_emit_message(false, 'ledger-test', 'x')`);
    await client.query('select pg_switch_wal()');
    // The next file is made when WAL is first written out into it: a transactional message
    // commits, and the commit flushes it.
    await client.query(`select pg_logical_emit_message(true, 'ledger-test', 'y')`);
  } finally {
    await client.end();
  }
  const after = await readWalCounters(adminDatabaseUrl);
  expect(before).toBeDefined();
  expect(after).toBeDefined();
  return before === undefined || after === undefined ? undefined : walDelta(before, after);
}

describe.runIf(await havePostgres())('the WAL files around a bench window', () => {
  it('leaves no file ahead when fresh, and counts the file made next as new', async () => {
    // Other tests' CREATE DATABASE forces checkpoints, which may rename old files ahead between
    // two steps here: a few tries, and one must see the whole sequence.
    const seen: string[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const said = await prepareWalFiles(adminDatabaseUrl, 'fresh');
      expect(said).toMatch(/^WAL files ahead: \d+, now 0 \(\d+ switches\)$/);
      const ahead = await filesAhead();
      const delta = await switchWindow();
      seen.push(`ahead ${ahead}, new ${delta?.newFiles}`);
      if (ahead === 0 && delta !== undefined && delta.newFiles >= 1) break;
    }
    expect(seen.at(-1)).toMatch(/^ahead 0, new [1-9]\d*$/);
  });
});
