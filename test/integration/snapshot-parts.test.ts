// A snapshot larger than snapshotPartBytes is written in parts, its row last (JournalStore.
// writeSnapshot): read back whole, forgotten with its parts, never taken for a snapshot while a
// part is missing, and a crash between parts leaves nothing a reader would use.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { snapshotPartBytes } from '../../src/limits.js';
import { JournalStore, migrate } from '../../src/persistence/index.js';
import { snapshotPartsLockKey } from '../../src/persistence/journal-store.js';
import { replaceJournal } from '../../src/persistence/journal-rewrite.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { havePostgres } from '../helpers/services.js';

/** Bytes that differ from part to part, so a part out of place or missing shows. */
function payloadOf(length: number, seed: number): Buffer {
  const payload = Buffer.allocUnsafe(length);
  for (let index = 0; index < length; index += 1) payload[index] = (index * 7 + seed) % 251;
  return payload;
}

describe.runIf(await havePostgres())('snapshots written in parts', () => {
  let database: TestDatabase;
  let client: pg.Client;
  let store: JournalStore;

  beforeAll(async () => {
    database = await createDatabase();
    const migrating = new pg.Client({ connectionString: database.url });
    await migrating.connect();
    await migrate(migrating);
    await migrating.end();
  });

  beforeEach(async () => {
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    store = new JournalStore(client);
    await client.query('TRUNCATE ledger_snapshots, ledger_snapshot_parts');
  });

  afterEach(async () => {
    await client.end();
  });

  afterAll(async () => {
    await database?.drop();
  });

  const rowsOf = async (partition: number) =>
    (
      await client.query<{ lsn: string; parts: number; bytes: number }>(
        `SELECT lsn, parts, length(payload) AS bytes FROM ledger_snapshots
         WHERE partition = $1 ORDER BY lsn`,
        [partition],
      )
    ).rows.map((row) => ({ lsn: Number(row.lsn), parts: row.parts, bytes: row.bytes }));

  const partsOf = async (partition: number) =>
    (
      await client.query<{ lsn: string; part: number; bytes: number }>(
        `SELECT lsn, part, length(payload) AS bytes FROM ledger_snapshot_parts
         WHERE partition = $1 ORDER BY lsn, part`,
        [partition],
      )
    ).rows.map((row) => `${row.lsn}/${row.part}/${row.bytes}`);

  it('writes a large snapshot in parts, its row holding none of it, and reads it back whole', async () => {
    const length = 2 * snapshotPartBytes + 12_345;
    const payload = payloadOf(length, 1);
    await store.writeSnapshot({ partition: 7, lsn: 40, blocks: [payload] });

    expect(await rowsOf(7)).toStrictEqual([{ lsn: 40, parts: 3, bytes: 0 }]);
    expect(await partsOf(7)).toStrictEqual([
      `40/0/${snapshotPartBytes}`,
      `40/1/${snapshotPartBytes}`,
      '40/2/12345',
    ]);
    const latest = await store.latestSnapshots([7]);
    expect(latest.get(7)?.lsn).toBe(40);
    expect(Buffer.from(latest.get(7)?.payload ?? []).equals(payload)).toBe(true);
  });

  it('writes blocks cut anywhere in parts of the part size, and reads them back whole', async () => {
    const blocks = [700_000, 0, 900_000, snapshotPartBytes, 600_000].map((length, seed) =>
      payloadOf(length, seed),
    );
    const whole = Buffer.concat(blocks);
    await store.writeSnapshot({ partition: 11, lsn: 12, blocks });

    expect(await rowsOf(11)).toStrictEqual([{ lsn: 12, parts: 4, bytes: 0 }]);
    expect(await partsOf(11)).toStrictEqual([
      `12/0/${snapshotPartBytes}`,
      `12/1/${snapshotPartBytes}`,
      `12/2/${snapshotPartBytes}`,
      `12/3/${whole.length - 3 * snapshotPartBytes}`,
    ]);
    const latest = await store.latestSnapshots([11]);
    expect(Buffer.from(latest.get(11)?.payload ?? []).equals(whole)).toBe(true);
  });

  it('keeps small blocks in its row, put together', async () => {
    const blocks = [payloadOf(300, 1), payloadOf(200, 2)];
    await store.writeSnapshot({ partition: 10, lsn: 3, blocks });
    expect(await rowsOf(10)).toStrictEqual([{ lsn: 3, parts: 0, bytes: 500 }]);
    const latest = await store.latestSnapshots([10]);
    expect(Buffer.from(latest.get(10)?.payload ?? []).equals(Buffer.concat(blocks))).toBe(true);
  });

  it('writes in parts of the size it is given (the bench compares sizes), and reads back whole', async () => {
    const partBytes = 256 * 1024;
    const payload = payloadOf(snapshotPartBytes, 3);
    await store.writeSnapshot({ partition: 8, lsn: 5, blocks: [payload] }, partBytes);

    expect(await rowsOf(8)).toStrictEqual([{ lsn: 5, parts: 4, bytes: 0 }]);
    expect(await partsOf(8)).toStrictEqual([0, 1, 2, 3].map((part) => `5/${part}/${partBytes}`));
    const latest = await store.latestSnapshots([8]);
    expect(Buffer.from(latest.get(8)?.payload ?? []).equals(payload)).toBe(true);
  });

  it('keeps a snapshot of at most one part in its row, as before', async () => {
    const payload = payloadOf(snapshotPartBytes, 2);
    await store.writeSnapshot({ partition: 3, lsn: 5, blocks: [payload] });
    expect(await rowsOf(3)).toStrictEqual([{ lsn: 5, parts: 0, bytes: snapshotPartBytes }]);
    expect(await partsOf(3)).toStrictEqual([]);
    expect(
      Buffer.from((await store.latestSnapshots([3])).get(3)?.payload ?? []).equals(payload),
    ).toBe(true);
  });

  it('forgets older snapshots with their parts, keeping the latest two', async () => {
    const large = (seed: number) => payloadOf(snapshotPartBytes + 100 * seed, seed);
    await store.writeSnapshot({ partition: 2, lsn: 10, blocks: [large(1)] });
    await store.writeSnapshot({ partition: 2, lsn: 20, blocks: [payloadOf(500, 9)] });
    await store.writeSnapshot({ partition: 2, lsn: 30, blocks: [large(3)] });
    expect((await rowsOf(2)).map((row) => row.lsn)).toStrictEqual([20, 30]);
    expect(await partsOf(2)).toStrictEqual([`30/0/${snapshotPartBytes}`, '30/1/300']);
    // Another partition's parts are its own.
    await store.writeSnapshot({ partition: 9, lsn: 1, blocks: [large(4)] });
    await store.writeSnapshot({ partition: 2, lsn: 40, blocks: [large(5)] });
    expect(await partsOf(2)).toStrictEqual([
      `30/0/${snapshotPartBytes}`,
      '30/1/300',
      `40/0/${snapshotPartBytes}`,
      '40/1/500',
    ]);
    expect(await partsOf(9)).toStrictEqual([`1/0/${snapshotPartBytes}`, '1/1/400']);
    const latest = await store.latestSnapshots([2, 9]);
    expect(Buffer.from(latest.get(2)?.payload ?? []).equals(large(5))).toBe(true);
    expect(Buffer.from(latest.get(9)?.payload ?? []).equals(large(4))).toBe(true);
  });

  it('writes the same snapshot twice as once', async () => {
    const payload = payloadOf(snapshotPartBytes + 1, 6);
    await store.writeSnapshot({ partition: 4, lsn: 8, blocks: [payload] });
    await store.writeSnapshot({ partition: 4, lsn: 8, blocks: [payload] });
    expect(await rowsOf(4)).toStrictEqual([{ lsn: 8, parts: 2, bytes: 0 }]);
    expect(
      Buffer.from((await store.latestSnapshots([4])).get(4)?.payload ?? []).equals(payload),
    ).toBe(true);
  });

  it('takes parts without their row (a crash part way) for nothing, and forgets them later', async () => {
    const whole = payloadOf(snapshotPartBytes + 10, 7);
    await store.writeSnapshot({ partition: 5, lsn: 10, blocks: [whole] });
    // A write of lsn 20 that stopped after its first part.
    await client.query(
      `INSERT INTO ledger_snapshot_parts (partition, lsn, part, payload) VALUES (5, 20, 0, $1)`,
      [payloadOf(snapshotPartBytes, 8)],
    );
    const latest = await store.latestSnapshots([5]);
    expect(latest.get(5)?.lsn).toBe(10);
    expect(Buffer.from(latest.get(5)?.payload ?? []).equals(whole)).toBe(true);
    // Two later snapshots: everything below them goes, the stray part too.
    await store.writeSnapshot({ partition: 5, lsn: 30, blocks: [payloadOf(100, 1)] });
    await store.writeSnapshot({ partition: 5, lsn: 40, blocks: [payloadOf(100, 2)] });
    expect(await partsOf(5)).toStrictEqual([]);
    expect((await rowsOf(5)).map((row) => row.lsn)).toStrictEqual([30, 40]);
  });

  it('writes over the parts of an attempt at the same lsn that stopped part way, never mixing them', async () => {
    // An attempt at lsn 50 that stopped after two parts (killed as it stopped, say), whose bytes
    // differ from the next attempt's at the same lsn (the same state, laid out otherwise in
    // memory after a recovery, may encode otherwise).
    for (const part of [0, 1]) {
      await client.query(
        `INSERT INTO ledger_snapshot_parts (partition, lsn, part, payload) VALUES (12, 50, $1, $2)`,
        [part, payloadOf(snapshotPartBytes, 20 + part)],
      );
    }
    const payload = payloadOf(snapshotPartBytes * 2 + 5, 30);
    await store.writeSnapshot({ partition: 12, lsn: 50, blocks: [payload] });
    expect(await rowsOf(12)).toStrictEqual([{ lsn: 50, parts: 3, bytes: 0 }]);
    const latest = await store.latestSnapshots([12]);
    expect(Buffer.from(latest.get(12)?.payload ?? []).equals(payload)).toBe(true);
    // Once its row is there, another attempt at that lsn changes nothing.
    await store.writeSnapshot({ partition: 12, lsn: 50, blocks: [payloadOf(100, 31)] });
    const again = await store.latestSnapshots([12]);
    expect(Buffer.from(again.get(12)?.payload ?? []).equals(payload)).toBe(true);
  });

  it('lets one of two writers of one lsn write its parts, the other then finding it whole', async () => {
    const other = new pg.Client({ connectionString: database.url });
    await other.connect();
    try {
      const first = payloadOf(snapshotPartBytes * 3 + 7, 40);
      const second = payloadOf(snapshotPartBytes * 3 + 7, 41);
      await Promise.all([
        store.writeSnapshot({ partition: 13, lsn: 60, blocks: [first] }),
        new JournalStore(other).writeSnapshot({ partition: 13, lsn: 60, blocks: [second] }),
      ]);
      const read = Buffer.from((await store.latestSnapshots([13])).get(13)?.payload ?? []);
      expect(read.equals(first) || read.equals(second)).toBe(true);
      // Each let its lock go: a third session takes it at once (other tests hold locks of their
      // own meanwhile, so the lock table as a whole says nothing).
      const third = new pg.Client({ connectionString: database.url });
      await third.connect();
      try {
        const key = snapshotPartsLockKey(13, 60);
        const taken = await third.query<{ taken: boolean }>(
          'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS taken',
          [key],
        );
        expect(taken.rows[0]?.taken).toBe(true);
      } finally {
        await third.end();
      }
    } finally {
      await other.end();
    }
  });

  it('refuses a snapshot whose part went missing, rather than restore part of one', async () => {
    await store.writeSnapshot({
      partition: 6,
      lsn: 12,
      blocks: [payloadOf(snapshotPartBytes * 2 + 1, 3)],
    });
    await client.query('DELETE FROM ledger_snapshot_parts WHERE partition = 6 AND part = 1');
    await expect(store.latestSnapshots([6])).rejects.toThrow(/2 of 3 parts/);
    // And a write whose parts vanish before its row is refused, no row written.
    await client.query('DELETE FROM ledger_snapshots WHERE partition = 6');
    await client.query(`
      CREATE FUNCTION drop_part() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN DELETE FROM ledger_snapshot_parts WHERE partition = NEW.partition AND part = 0;
            RETURN NULL; END $$;
      CREATE TRIGGER drop_part AFTER INSERT ON ledger_snapshot_parts
        FOR EACH ROW WHEN (NEW.part = 2) EXECUTE FUNCTION drop_part();`);
    try {
      await expect(
        store.writeSnapshot({
          partition: 6,
          lsn: 13,
          blocks: [payloadOf(snapshotPartBytes * 2 + 1, 4)],
        }),
      ).rejects.toThrow(/a part is missing/);
      expect(await rowsOf(6)).toStrictEqual([]);
    } finally {
      await client.query(
        'DROP TRIGGER drop_part ON ledger_snapshot_parts; DROP FUNCTION drop_part()',
      );
    }
  });

  it('drops the parts with the snapshots when the journal is replaced', async () => {
    await store.writeSnapshot({
      partition: 1,
      lsn: 3,
      blocks: [payloadOf(snapshotPartBytes + 5, 5)],
    });
    await client.query('BEGIN');
    await replaceJournal(client, {
      fromHashVersion: 1,
      toHashVersion: 2,
      baseLsn: 9,
      snapshots: [{ partition: 1, lsn: 9, payload: payloadOf(64, 1) }],
    });
    await client.query('COMMIT');
    expect(await partsOf(1)).toStrictEqual([]);
    expect(await rowsOf(1)).toStrictEqual([{ lsn: 9, parts: 0, bytes: 64 }]);
  });
});
