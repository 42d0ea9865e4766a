// Proves the WAL trim never removes a row that recovery or the event publisher needs: with small
// snapshot intervals and the snapshots aged past LEDGER_WAL_RETAIN_HOURS (their created_at moved
// back), a kill -9 and restart trims at start, before recovery; only rows below each partition's
// spare snapshot (and, where a publisher cursor exists, at or below it) are gone; the restarted
// ledger recovers the very same stock, and the movement history still has every change.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { get, newKey, post } from '../helpers/http.js';
import { startLedger } from '../helpers/ledger-process.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { havePostgres } from '../helpers/services.js';
import { freshProductIds } from '../helpers/stock-keys.js';

const newProduct = freshProductIds(randomBytes(3).toString('hex'), 4);

interface Row {
  readonly partition: number;
  readonly lsn: string;
}

describe.runIf(await havePostgres())('WAL trim', () => {
  const env = { LEDGER_PARTITIONS: '4', LEDGER_SNAPSHOT_EVERY_RECORDS: '10', SHARDS: '1' };
  const fixture = useLedger(env);

  it('trims only what neither recovery nor the publisher needs; a restart recovers the same', async () => {
    const base = fixture.ledger.baseUrl;
    const keys = Array.from({ length: 8 }, (_, index) => ({
      product_id: newProduct(`trim${index}`),
      warehouse_id: 'w1',
    }));
    for (const key of keys) {
      expect((await post(base, '/v1/stock/adjust', { ...key, delta: 500 })).status).toBe(200);
    }
    for (let round = 0; round < 15; round += 1) {
      for (const key of keys) {
        const hold = { ...key, quantity: 1, idempotency_key: newKey('trim') };
        const reserved = await post(base, '/v1/reserve', hold);
        expect(reserved.status).toBe(200);
        if (round % 2 === 0) {
          const id = String(reserved.body.reservation_id);
          expect((await post(base, '/v1/confirm', { reservation_id: id })).status).toBe(200);
        }
      }
      // Two snapshots of every changed partition for sure (the record count alone may write
      // one only, as a partition's interval grows with its entries): the spare exists.
      if (round === 7 || round === 14) {
        expect((await post(base, '/v1/admin/snapshot', {})).status).toBe(200);
      }
    }
    const stockBefore = await Promise.all(
      keys.map(async (key) => (await get(base, `/v1/stock/${key.product_id}/w1`)).body),
    );
    const db = fixture.database;
    // Killed first: no snapshot is written after the bounds are read.
    await fixture.ledger.kill();
    const spares = await db.query<{ partition: number; spare: string; latest: string }>(
      `SELECT partition, min(lsn) AS spare, max(lsn) AS latest FROM (
         SELECT partition, lsn, row_number() OVER (PARTITION BY partition ORDER BY lsn DESC) AS r
         FROM ledger_snapshots) AS s WHERE r <= 2 GROUP BY partition HAVING count(*) = 2`,
    );
    expect(spares.length).toBeGreaterThanOrEqual(2);
    // A publisher cursor on one partition, low: its rows above it must stay.
    const held = spares[0] as { partition: number; spare: string };
    const cursor = Math.max(1, Math.floor(Number(held.spare) / 2));
    await db.query('INSERT INTO ledger_event_cursors (partition, lsn) VALUES ($1, $2)', [
      held.partition,
      cursor,
    ]);
    const walBefore = await db.query<Row>('SELECT partition, lsn FROM ledger_wal');
    // A week and a day pass for the snapshots (the default retention is a week).
    await db.query(`UPDATE ledger_snapshots SET created_at = now() - interval '8 days'`);
    const restarted = await startLedger({ env: { DATABASE_URL: db.url, ...env } });
    try {
      expect(restarted.output()).toMatch(/"walRowsTrimmed":[1-9]/);
      const walAfter = await db.query<Row>('SELECT partition, lsn FROM ledger_wal');
      const remaining = new Set(walAfter.map((row) => `${row.partition}/${row.lsn}`));
      const gone = walBefore.filter((row) => !remaining.has(`${row.partition}/${row.lsn}`));
      expect(gone.length).toBeGreaterThan(0);
      for (const row of gone) {
        const bound = spares.find((spare) => spare.partition === row.partition);
        expect(bound, `partition ${row.partition} had no spare snapshot`).toBeDefined();
        expect(Number(row.lsn)).toBeLessThan(Number(bound?.spare));
        if (row.partition === held.partition) expect(Number(row.lsn)).toBeLessThanOrEqual(cursor);
      }
      expect(gone.some((row) => row.partition === held.partition)).toBe(cursor > 1);
      const stockAfter = await Promise.all(
        keys.map(
          async (key) => (await get(restarted.baseUrl, `/v1/stock/${key.product_id}/w1`)).body,
        ),
      );
      expect(stockAfter).toEqual(stockBefore);
      for (const key of keys) {
        const page = await get(
          restarted.baseUrl,
          `/v1/stock/${key.product_id}/w1/movements?limit=1000`,
        );
        const versions = (page.body.movements as { version: number }[]).map((m) => m.version);
        const version = (stockAfter[keys.indexOf(key)] as { version: number }).version;
        expect(versions).toEqual(Array.from({ length: version }, (_, index) => version - index));
      }
      // And the restarted ledger keeps writing after the trimmed rows.
      const more = await post(restarted.baseUrl, '/v1/stock/adjust', { ...keys[0], delta: 1 });
      expect(more.status).toBe(200);
    } finally {
      await restarted.stop();
    }
  });
});
