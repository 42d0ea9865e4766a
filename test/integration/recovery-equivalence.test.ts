// Proves snapshots change nothing but speed: after a random workload on the real ledger (small
// snapshot interval, then SIGKILL), each partition rebuilt from its latest snapshot plus the WAL
// tail equals the same partition rebuilt by replaying its whole WAL, and both match what the
// restarted ledger serves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PartitionState,
  captureSnapshot,
  restoreSnapshot,
  type RetentionPolicy,
} from '../../src/actors/index.js';
import { decodeRecord, decodeSnapshotForRestore } from '../../src/persistence/index.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post } from '../helpers/http.js';
import { startLedger } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

// The ledger's defaults: 86400 s retention, 1,000,000 finished entries over 256 partitions.
const retention: RetentionPolicy = {
  retainFinishedMs: 86_400_000,
  retainFinishedMax: Math.ceil(1_000_000 / 256),
  onHandMax: 1_000_000_000_000,
};

interface Row {
  partition: number;
  lsn: number;
  payload: Buffer;
}

describe.runIf(await havePostgres())('recovery from snapshot + WAL tail', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createDatabase();
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('equals recovery by full replay, partition by partition', async () => {
    const ledger = await startLedger({
      env: { DATABASE_URL: database.url, LEDGER_SNAPSHOT_EVERY_RECORDS: '7' },
    });
    const keys = Array.from({ length: 12 }, (_, index) => ({
      product_id: `eq-${index}`,
      warehouse_id: 'w',
    }));
    for (const key of keys) {
      expect((await post(ledger.baseUrl, '/v1/stock/adjust', { ...key, delta: 40 })).status).toBe(
        200,
      );
    }
    let seed = 12345;
    const random = (bound: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % bound;
    };
    const held: string[] = [];
    for (let step = 0; step < 300; step += 1) {
      const key = keys[random(keys.length)] as (typeof keys)[number];
      const choice = random(10);
      if (choice < 6 || held.length === 0) {
        const reply = await post(ledger.baseUrl, '/v1/reserve', {
          ...key,
          quantity: 1 + random(3),
          idempotency_key: newKey('eq'),
        });
        if (reply.status === 200) held.push(reply.body.reservation_id as string);
      } else {
        const id = held.splice(random(held.length), 1)[0];
        await post(ledger.baseUrl, choice < 8 ? '/v1/confirm' : '/v1/release', {
          reservation_id: id,
        });
      }
    }
    await ledger.kill();

    const wal = await database.query<Row>(
      'SELECT partition, lsn, payload FROM ledger_wal ORDER BY partition, lsn',
    );
    const snapshots = await database.query<Row>(
      // A large snapshot's bytes are in its parts (JournalStore.writeSnapshot).
      `SELECT DISTINCT ON (s.partition) s.partition, s.lsn,
              CASE WHEN s.parts = 0 THEN s.payload
                   ELSE (SELECT string_agg(p.payload, ''::bytea ORDER BY p.part)
                         FROM ledger_snapshot_parts p
                         WHERE p.partition = s.partition AND p.lsn = s.lsn) END AS payload
       FROM ledger_snapshots s ORDER BY s.partition, s.lsn DESC`,
    );
    expect(snapshots.length).toBeGreaterThan(0);
    let withTail = 0;
    const full = new Map<number, PartitionState>();
    for (const row of wal) {
      let state = full.get(row.partition);
      if (state === undefined)
        full.set(row.partition, (state = new PartitionState(row.partition, retention)));
      state.replay(decodeRecord(row.payload));
    }
    for (const snapshot of snapshots) {
      const fast = restoreSnapshot(decodeSnapshotForRestore(snapshot.payload), retention);
      const tail = wal.filter(
        (row) => row.partition === snapshot.partition && Number(row.lsn) > Number(snapshot.lsn),
      );
      if (tail.length > 0) withTail += 1;
      for (const row of tail) fast.replay(decodeRecord(row.payload));
      expect(captureSnapshot(fast)).toEqual(
        captureSnapshot(full.get(snapshot.partition) as PartitionState),
      );
    }
    expect(withTail).toBeGreaterThan(0);

    const restarted = await startLedger({ env: { DATABASE_URL: database.url } });
    for (const state of full.values()) {
      for (const actor of state.actors.values()) {
        const read = await get(
          restarted.baseUrl,
          `/v1/stock/${actor.productId}/${actor.warehouseId}`,
        );
        expect(read.body).toEqual({
          product_id: actor.productId,
          warehouse_id: actor.warehouseId,
          on_hand: actor.onHand,
          reserved: actor.reserved,
          available: actor.onHand - actor.reserved,
          incoming: 0,
          version: actor.version,
        });
      }
    }
    expect(await restarted.stop()).toBe(0);
  });
});
