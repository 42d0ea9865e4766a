// Proves a NATS outage under load loses no event: a private nats-server is stopped while reserves
// keep being answered (lag shown, node still ready), restarted, and the stream then holds one
// event per journal record, duplicates dropped, in order per partition.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post } from '../helpers/http.js';
import { sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import {
  haveNats,
  journalEntries,
  readStream,
  startNatsServer,
  streamProblems,
  uniqueStream,
  waitForStreamToCatchUp,
  type NatsServer,
} from '../helpers/nats.js';
import { havePostgres } from '../helpers/services.js';

const ready = (await havePostgres()) && (await haveNats());
const keys = ['out-a', 'out-b', 'out-c', 'out-d'].map((product) => ({
  product_id: product,
  warehouse_id: 'wh-1',
}));

interface LoadResult {
  readonly statuses: Map<number, number>;
  readonly reservationIds: string[];
}

/** Reserves with `concurrency` loops until `running()` turns false. */
async function reserveLoad(
  baseUrl: string,
  concurrency: number,
  running: () => boolean,
): Promise<LoadResult> {
  const statuses = new Map<number, number>();
  const reservationIds: string[] = [];
  const loop = async (worker: number) => {
    for (let turn = 0; running(); turn += 1) {
      const key = keys[(worker + turn) % keys.length];
      const reply = await post(baseUrl, '/v1/reserve', {
        ...key,
        quantity: 1,
        idempotency_key: newKey('outage'),
      });
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      if (reply.status === 200) reservationIds.push(String(reply.body.reservation_id));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, worker) => loop(worker)));
  return { statuses, reservationIds };
}

describe.runIf(ready)('events across a NATS outage', () => {
  let database: TestDatabase;
  let nats: NatsServer;
  let ledger: LedgerProcess;
  const { stream } = uniqueStream('outage');

  beforeAll(async () => {
    database = await createDatabase();
    nats = await startNatsServer();
    ledger = await startLedger({
      env: { DATABASE_URL: database.url, NATS_URL: nats.url, LEDGER_EVENTS_STREAM: stream },
    });
  });

  afterAll(async () => {
    await ledger?.stop();
    await nats?.dispose();
    await database?.drop();
  });

  it('keeps answering while NATS is down, then publishes every change once, in order', async () => {
    for (const key of keys) {
      const reply = await post(ledger.baseUrl, '/v1/stock/adjust', { ...key, delta: 1_000_000 });
      expect(reply.status).toBe(200);
    }
    let loading = true;
    const load = reserveLoad(ledger.baseUrl, 16, () => loading);
    await sleep(1000);
    await nats.stop();
    const answeredBefore = (await get(ledger.baseUrl, '/v1/stock/out-a/wh-1')).body.reserved;
    await sleep(2500);

    // NATS is down: reserves are still answered, the lag is visible, the node stays ready.
    const readiness = await get(ledger.baseUrl, '/health/ready');
    expect(readiness.status).toBe(200);
    expect(readiness.body.events_connected).toBe(false);
    expect(readiness.body.events_lag_records).toBeGreaterThan(0);
    expect(readiness.body.events_lag_seconds).toBeGreaterThan(1);
    const metrics = (await get(ledger.baseUrl, '/metrics')).text;
    expect(metrics).toMatch(/^ledger_event_publisher_connected 0$/m);
    expect(metrics).toMatch(/^ledger_event_publisher_lag_records [1-9]\d*$/m);
    const answeredDuring = (await get(ledger.baseUrl, '/v1/stock/out-a/wh-1')).body.reserved;
    expect(answeredDuring).toBeGreaterThan(answeredBefore as number);

    await nats.restart();
    await sleep(1000);
    loading = false;
    const { statuses, reservationIds } = await load;
    expect([...statuses.keys()]).toEqual([200]);

    await waitForStreamToCatchUp(nats.url, stream, database);
    const journal = await journalEntries(database);
    const events = await readStream(nats.url, stream);
    expect(streamProblems(journal, events)).toEqual([]);
    expect(events).toHaveLength(journal.length);
    const published = new Set(events.map((event) => event.body.reservation_id));
    expect(reservationIds.filter((id) => !published.has(id))).toEqual([]);
    const ready = await get(ledger.baseUrl, '/health/ready');
    expect(ready.body).toMatchObject({ events_connected: true, events_lag_records: 0 });
  });
});
