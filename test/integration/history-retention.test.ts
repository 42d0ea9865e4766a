// Proves the movement history's retention on real Postgres, with the time of each run given:
// day tables are created from yesterday to a week ahead, days wholly older than the retention
// are dropped (and no younger one), rows a far-off clock put in the default partition move into
// their day's table when it is created, and old default rows are deleted; a run that cannot get
// its lock in time skips that step instead of waiting (and a later run does it); in a cluster
// one node's run per interval does the work and the others' find it claimed.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HistoryMaintenance,
  maintainHistory,
  migrate,
  movementPartitions,
  partitionName,
} from '../../src/persistence/index.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { havePostgres } from '../helpers/services.js';

const dayMs = 86_400_000;
const options = { retainDays: 90, daysAhead: 7, lockTimeoutMs: 100 };
const insert = `INSERT INTO ledger_movements (product_id, warehouse_id, version, at, on_hand,
                  reserved, incoming, payload) VALUES ('p', 'w', $1, $2, 0, 0, 0, '\\x00')`;

describe.runIf(await havePostgres())('movement history retention', () => {
  let database: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    database = await createDatabase();
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await migrate(client);
  });
  afterAll(async () => {
    await client?.end();
    await database?.drop();
  });
  const count = async (table: string): Promise<number> =>
    Number((await client.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

  it('creates yesterday to a week ahead, and drops only days wholly past the retention', async () => {
    const start = Date.UTC(2026, 0, 10, 15, 0, 0);
    const first = await maintainHistory(client, start, options);
    const expected = Array.from({ length: 9 }, (_, index) =>
      partitionName(start + (index - 1) * dayMs),
    );
    expect(first.created).toEqual(expected);
    expect(await movementPartitions(client)).toEqual(expected);
    await client.query(insert, [1, new Date(start - dayMs).toISOString()]);
    await client.query(insert, [2, new Date(start).toISOString()]);
    // 89 days later, the end of 2026-01-09 is younger than 90 days: its table is kept.
    const later = start + 89 * dayMs;
    const second = await maintainHistory(client, later, options);
    expect(second.dropped).toEqual([]);
    expect(second.created).toContain(partitionName(later + 7 * dayMs));
    // A day later, the whole of 2026-01-09 is older than 90 days: dropped, 2026-01-10 kept.
    const third = await maintainHistory(client, later + dayMs, options);
    expect(third.dropped).toEqual([partitionName(start - dayMs)]);
    expect(await count('ledger_movements')).toBe(1);
    const rows = await client.query('SELECT version FROM ledger_movements');
    expect(rows.rows).toEqual([{ version: '2' }]);
    // Running again changes nothing.
    const again = await maintainHistory(client, later + dayMs, options);
    expect(again).toEqual({ created: [], dropped: [], defaultRowsDeleted: 0, skipped: 0 });
  });

  it('moves default rows into the day created for them, and deletes old ones', async () => {
    const now = Date.UTC(2026, 6, 1, 12, 0, 0);
    await maintainHistory(client, now, options);
    // A clock ten days ahead wrote into a day that has no table yet: the default caught it.
    const ahead = now + 10 * dayMs;
    await client.query(insert, [10, new Date(ahead).toISOString()]);
    await client.query(insert, [11, new Date(now - 400 * dayMs).toISOString()]);
    expect(await count('ledger_movements_default')).toBe(2);
    const run = await maintainHistory(client, now + 4 * dayMs, options);
    expect(run.created).toContain(partitionName(ahead));
    expect(run.defaultRowsDeleted).toBe(1);
    expect(await count('ledger_movements_default')).toBe(0);
    expect(await count(partitionName(ahead))).toBe(1);
  });

  it('skips a step whose lock is held instead of waiting, and does it at the next run', async () => {
    const now = Date.UTC(2027, 0, 1, 0, 30, 0);
    const holder = new pg.Client({ connectionString: database.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE ledger_movements IN ACCESS SHARE MODE');
      const blocked = await maintainHistory(client, now, options);
      expect(blocked.skipped).toBeGreaterThan(0);
      expect(blocked.created).toEqual([]);
      await holder.query('COMMIT');
    } finally {
      await holder.end();
    }
    const run = await maintainHistory(client, now, options);
    expect(run.skipped).toBe(0);
    expect(run.created).toContain(partitionName(now));
  });

  it('runs on one node of a cluster per interval: the others find the run claimed', async () => {
    const runs: string[] = [];
    const node = (name: string, everyMs: number | undefined) =>
      new HistoryMaintenance({
        ...options,
        newClient: () => new pg.Client({ connectionString: database.url }),
        intervalMs: 3_600_000,
        wal: { retainMs: 3_600_000, eventsOn: false, batchRows: 1000 },
        now: () => Date.UTC(2027, 0, 1, 0, 30, 0),
        ran: () => runs.push(`${name} ran`),
        failed: (error) => runs.push(`${name} failed: ${error.message}`),
        ...(everyMs === undefined
          ? {}
          : { claim: { nodeId: name, everyMs, skipped: () => runs.push(`${name} skipped`) } }),
      });
    // Two nodes at once, nothing claimed yet: exactly one runs.
    await Promise.all([node('a', 60_000).runOnce(), node('b', 60_000).runOnce()]);
    expect([...runs].sort()).toEqual(
      runs.includes('a ran') ? ['a ran', 'b skipped'] : ['a skipped', 'b ran'],
    );
    const claimed = await client.query('SELECT task, node_id FROM ledger_maintenance');
    expect(claimed.rows).toEqual([
      { task: 'history-and-wal', node_id: runs.includes('a ran') ? 'a' : 'b' },
    ]);
    // Within the interval another node skips; once a claim is older than the interval, it runs.
    runs.length = 0;
    await node('c', 60_000).runOnce();
    await node('c', 0).runOnce();
    // A ledger alone claims nothing and always runs.
    await node('alone', undefined).runOnce();
    expect(runs).toEqual(['c skipped', 'c ran', 'alone ran']);
    expect((await client.query('SELECT node_id FROM ledger_maintenance')).rows).toEqual([
      { node_id: 'c' },
    ]);
  });
});
