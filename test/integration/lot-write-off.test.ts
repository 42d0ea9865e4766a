// Proves a lot's unheld units are written off when its day ends, over a real server: the ledger
// process runs under libfaketime, started at 23:59:48 UTC, so the day of a lot expiring "today"
// ends a few seconds into the test; the stock view, the key's movements and the
// `inventory.lot.expired` event on NATS must all show the write-off, and a hold taken from a later
// lot must be untouched.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post } from '../helpers/http.js';
import { sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import {
  deleteStream,
  eventValidator,
  haveNats,
  readStream,
  sharedNatsUrl,
  uniqueStream,
} from '../helpers/nats.js';
import { havePostgres, servicesRequired } from '../helpers/services.js';

const libfaketime = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';
if (servicesRequired && !existsSync(libfaketime)) {
  throw new Error(`libfaketime is required (apt-get install faketime): ${libfaketime} missing`);
}
const ready = existsSync(libfaketime) && (await havePostgres()) && (await haveNats());

const dayMs = 86_400_000;
/** Today's date (UTC): the ledger's clock starts 12 s before this day ends. */
const today = new Date().toISOString().slice(0, 10);
const dayEndMs = Date.parse(today) + dayMs;
const later = new Date(dayEndMs + 30 * dayMs).toISOString().slice(0, 10);

interface LotView {
  readonly lot_id: string;
  readonly on_hand: number;
  readonly reserved: number;
}

interface StockBody {
  readonly on_hand: number;
  readonly reserved: number;
  readonly available: number;
  readonly lots?: LotView[];
}

describe.runIf(ready)('lot write-off at the end of its day', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess | undefined;
  const { stream, prefix } = uniqueStream('lot-write-off');
  const key = { product_id: 'wo-sku', warehouse_id: 'w1' };
  const base = () => (ledger as LedgerProcess).baseUrl;

  beforeAll(async () => {
    database = await createDatabase();
    ledger = await startLedger({
      env: {
        DATABASE_URL: database.url,
        NATS_URL: sharedNatsUrl,
        LEDGER_EVENTS_STREAM: stream,
        LEDGER_EVENTS_SUBJECT_PREFIX: prefix,
        // The process's wall clock starts at 23:59:48 UTC today and runs on in real time; its
        // monotonic clock (timers) stays real.
        LD_PRELOAD: libfaketime,
        FAKETIME: `@${today} 23:59:48`,
        DONT_FAKE_MONOTONIC: '1',
        TZ: 'UTC',
      },
    });
  });

  afterAll(async () => {
    await ledger?.stop();
    await deleteStream(sharedNatsUrl, stream).catch((error: unknown) => console.warn(error));
    await database?.drop();
  });

  async function stock(): Promise<StockBody> {
    const reply = await get(base(), `/v1/stock/${key.product_id}/${key.warehouse_id}`);
    expect(reply.status, reply.text).toBe(200);
    return reply.body as unknown as StockBody;
  }

  it('writes off the unheld units of the lot whose day ended, and only those', async () => {
    for (const [lot, delta] of [
      [{ lot_id: 'ends-today', expires_on: today }, 6],
      [{ lot_id: 'ends-later', expires_on: later }, 4],
    ] as const) {
      const made = await post(base(), '/v1/stock/adjust', { ...key, delta, lot });
      expect(made.status, `stocked before the day ended: ${made.text}`).toBe(200);
    }
    // A hold outlives today's lot, so FEFO takes the later one.
    const hold = await post(base(), '/v1/reserve', {
      ...key,
      quantity: 3,
      ttl_seconds: 600,
      idempotency_key: newKey('write-off'),
    });
    expect(hold.status, hold.text).toBe(200);
    expect((hold.body as { lots: unknown }).lots).toEqual([
      { lot_id: 'ends-later', quantity: 3, expires_on: later },
    ]);
    const before = await stock();
    expect([before.on_hand, before.reserved, before.available]).toEqual([10, 3, 7]);

    let after = before;
    for (let waited = 0; after.on_hand === 10 && waited < 30_000; waited += 250) {
      await sleep(250);
      after = await stock();
    }
    expect([after.on_hand, after.reserved, after.available]).toEqual([4, 3, 1]);
    expect(after.lots?.map(({ lot_id, on_hand, reserved }) => [lot_id, on_hand, reserved])).toEqual(
      [['ends-later', 4, 3]],
    );

    const history = await get(base(), `/v1/stock/${key.product_id}/${key.warehouse_id}/movements`);
    expect(history.status, history.text).toBe(200);
    const [newest] = (history.body as { movements: Record<string, unknown>[] }).movements;
    expect(newest).toMatchObject({ type: 'lot_expired', on_hand: 4, reserved: 3 });
    expect(Math.abs(Number(newest?.quantity))).toBe(6);
    expect(Date.parse(String(newest?.at))).toBeGreaterThanOrEqual(dayEndMs);
  });

  it('publishes one schema-valid inventory.lot.expired event for the lot', async () => {
    const subject = 'inventory.lot.expired';
    let expired: unknown[] = [];
    for (let attempt = 0; expired.length === 0 && attempt < 100; attempt += 1) {
      const events = await readStream(sharedNatsUrl, stream);
      expired = events
        .filter((event) => event.subject === `${prefix}${subject}`)
        .map((event) => event.body);
      if (expired.length === 0) await sleep(100);
    }
    expect(expired).toHaveLength(1);
    expect(eventValidator()(subject, expired[0])).toEqual([]);
    expect(expired[0]).toMatchObject({ ...key, lot_id: 'ends-today', quantity: 6 });
    const timestamp = Date.parse(String((expired[0] as { timestamp: string }).timestamp));
    expect(timestamp).toBeGreaterThanOrEqual(dayEndMs);
  });
});
