// Proves each change type becomes exactly one right, schema-valid event in per-partition order,
// re-publishing is dropped by JetStream's Nats-Msg-Id dedup, and lag shows in /metrics and ready;
// by driving a real ledger with NATS_URL set and reading the stream back next to the journal.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventOf, eventSubjects, type PublishedRecord } from '../../src/events/index.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post, request, type JsonResponse } from '../helpers/http.js';
import { sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import {
  deleteStream,
  eventValidator,
  haveNats,
  journalEntries,
  readStream,
  sharedNatsUrl,
  streamProblems,
  uniqueStream,
  waitForStreamToCatchUp,
  type StoredEvent,
} from '../helpers/nats.js';
import { havePostgres } from '../helpers/services.js';

const ready = (await havePostgres()) && (await haveNats());

describe.runIf(ready)('events published to NATS JetStream', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess | undefined;
  const { stream, prefix } = uniqueStream('publish');
  const start = async () =>
    (ledger = await startLedger({
      env: {
        DATABASE_URL: database.url,
        NATS_URL: sharedNatsUrl,
        LEDGER_EVENTS_STREAM: stream,
        LEDGER_EVENTS_SUBJECT_PREFIX: prefix,
        LEDGER_TTL_SECONDS_MIN: '1',
        LEDGER_EXPIRY_SWEEP_MS: '20',
      },
    }));
  const send = (path: string, body: unknown, trace: string) =>
    post((ledger as LedgerProcess).baseUrl, path, body, { 'x-trace-id': trace });

  beforeAll(async () => {
    database = await createDatabase();
    await start();
  });

  afterAll(async () => {
    await ledger?.stop();
    await deleteStream(sharedNatsUrl, stream).catch((error: unknown) => console.warn(error));
    await database?.drop();
  });

  /** Every change type, on three stock keys (so more than one partition is involved). */
  async function driveEveryChangeType(): Promise<Map<string, JsonResponse>> {
    const replies = new Map<string, JsonResponse>();
    const keys = ['ev-a', 'ev-b', 'ev-c'].map((product) => ({
      product_id: product,
      warehouse_id: 'wh-1',
    }));
    for (const [index, key] of keys.entries()) {
      replies.set(
        `adjust-${index}`,
        await send('/v1/stock/adjust', { ...key, delta: 50 }, `tr-adjust-${index}`),
      );
      for (let hold = 0; hold < 4; hold += 1) {
        const body = { ...key, quantity: hold + 1, idempotency_key: newKey('ev') };
        replies.set(
          `reserve-${index}-${hold}`,
          await send('/v1/reserve', body, `tr-r-${index}-${hold}`),
        );
      }
      const id = (hold: number) => replies.get(`reserve-${index}-${hold}`)?.body.reservation_id;
      replies.set(
        `confirm-${index}`,
        await send('/v1/confirm', { reservation_id: id(0) }, `tr-c-${index}`),
      );
      replies.set(
        `release-${index}`,
        await send('/v1/release', { reservation_id: id(1) }, `tr-l-${index}`),
      );
      const expiring = { ...key, quantity: 2, ttl_seconds: 1, idempotency_key: newKey('exp') };
      replies.set(`expiring-${index}`, await send('/v1/reserve', expiring, `tr-e-${index}`));
      replies.set(
        `take-${index}`,
        await send('/v1/stock/adjust', { ...key, delta: -3, reason: 'damaged' }, `tr-t-${index}`),
      );
    }
    for (const reply of replies.values()) expect(reply.status).toBe(200);
    await sleep(1500); // the 1 s holds expire (journaled like any change)
    return replies;
  }

  it('turns each change into one right, schema-valid event, in order per partition', async () => {
    const replies = await driveEveryChangeType();
    await waitForStreamToCatchUp(sharedNatsUrl, stream, database);
    const journal = await journalEntries(database);
    const events = await readStream(sharedNatsUrl, stream);
    expect(streamProblems(journal, events)).toEqual([]);
    expect(events).toHaveLength(journal.length);
    expect(new Set(journal.map((entry) => entry.record.type))).toEqual(
      new Set(['adjusted', 'reserved', 'confirmed', 'released', 'expired']),
    );

    const validate = eventValidator();
    const byId = new Map(events.map((event) => [event.msgId, event]));
    for (const entry of journal) {
      const event = byId.get(entry.id) as StoredEvent;
      const record = entry.record as PublishedRecord;
      expect(event.subject).toBe(`${prefix}${eventSubjects[record.type]}`);
      expect(validate(event.subject.slice(prefix.length), event.body)).toEqual([]);
      expect(event.body).toEqual(eventOf(entry.partition, entry.lsn, record).body);
    }

    // Field values checked against what the HTTP API answered, not only against the mapping.
    const eventsOf = (subject: string) =>
      events.filter((event) => event.subject === `${prefix}inventory.${subject}`);
    const hold = replies.get('reserve-1-2')?.body as Record<string, unknown>;
    const reserveEvent = eventsOf('reserve.request').find(
      (event) => event.body.reservation_id === hold.reservation_id,
    );
    expect(reserveEvent?.body).toMatchObject({
      product_id: 'ev-b',
      warehouse_id: 'wh-1',
      quantity: 3,
      requester_id: '',
      timestamp: hold.created_at,
      trace_id: 'tr-r-1-2',
      expires_at: hold.expires_at,
    });
    const confirmed = replies.get('confirm-2')?.body as Record<string, unknown>;
    expect(
      eventsOf('reserve.confirmed').find((event) => event.body.trace_id === 'tr-c-2')?.body,
    ).toMatchObject({ reservation_id: confirmed.reservation_id, quantity: 1 });
    expect(eventsOf('reserve.released').map((event) => event.body.quantity)).toEqual([2, 2, 2]);
    const expired = eventsOf('reserve.expired');
    expect(expired.map((event) => event.body.trace_id)).toEqual(['', '', '']);
    expect(expired.map((event) => event.body.reservation_id).sort()).toEqual(
      [0, 1, 2].map((index) => replies.get(`expiring-${index}`)?.body.reservation_id).sort(),
    );
    const taken = replies.get('take-0')?.body as Record<string, unknown>;
    expect(
      eventsOf('stock.adjusted').find((event) => event.body.trace_id === 'tr-t-0')?.body,
    ).toMatchObject({ delta: -3, on_hand: taken.on_hand, reserved: taken.reserved });
  });

  it('publishes the checkout: carts, partial confirms, extends and settings, schema-valid', async () => {
    const base = (ledger as LedgerProcess).baseUrl;
    const path = '/v1/products/ev-cart-a/settings';
    const trace = { 'x-trace-id': 'tr-settings' };
    const settings = await request(base, 'PUT', path, { max_per_buyer: 9 }, trace);
    expect(settings.status).toBe(200);
    for (const product of ['ev-cart-a', 'ev-cart-b']) {
      const stock = { product_id: product, warehouse_id: 'wh-1', delta: 20 };
      expect((await send('/v1/stock/adjust', stock, `tr-stock-${product}`)).status).toBe(200);
    }
    const lines = [
      { product_id: 'ev-cart-a', warehouse_id: 'wh-1', quantity: 2 },
      { product_id: 'ev-cart-b', quantity: 3 },
    ];
    const body = {
      idempotency_key: newKey('evcart'),
      lines,
      buyer_id: 'buyer-7',
      reference: 'po-1',
    };
    const cart = await send('/v1/carts', body, 'tr-cart');
    expect(cart.status).toBe(200);
    const [first, second] = cart.body.holds as { reservation_id: string }[];
    const extend = { reservation_id: second?.reservation_id, ttl_seconds: 900 };
    expect((await send('/v1/extend', extend, 'tr-extend')).status).toBe(200);
    const partial = { reservation_id: first?.reservation_id, quantity: 1 };
    expect((await send('/v1/confirm', partial, 'tr-partial')).status).toBe(200);
    // The two products sit in two partitions: the cart confirm journals its attempt's pins and
    // decision too, which publish nothing; the stream must still be whole and in order.
    const confirmCart = `/v1/carts/${cart.body.cart_id as string}/confirm`;
    expect((await send(confirmCart, {}, 'tr-cart-confirm')).status).toBe(200);
    const set = { product_id: 'ev-cart-a', warehouse_id: 'wh-1', on_hand: 30, reference: 'ST-1' };
    expect((await send('/v1/stock/set', set, 'tr-set')).status).toBe(200);
    await waitForStreamToCatchUp(sharedNatsUrl, stream, database);
    const steps = await database.query<{ n: string }>('SELECT count(*) AS n FROM ledger_wal');
    expect(Number(steps[0]?.n)).toBeGreaterThan((await journalEntries(database)).length);
    const journal = await journalEntries(database);
    const events = await readStream(sharedNatsUrl, stream);
    expect(streamProblems(journal, events)).toEqual([]);
    const validate = eventValidator();
    for (const event of events) {
      expect(validate(event.subject.slice(prefix.length), event.body), event.subject).toEqual([]);
    }
    const bySubject = (subject: string) =>
      events.filter((event) => event.subject === `${prefix}inventory.${subject}`);
    expect(bySubject('product.settings').at(-1)?.body).toMatchObject({
      product_id: 'ev-cart-a',
      settings: { max_per_buyer: 9, limit_window_seconds: 86_400 },
      trace_id: 'tr-settings',
    });
    expect(bySubject('cart.committed').at(-1)?.body).toMatchObject({
      cart_id: cart.body.cart_id,
      buyer_id: 'buyer-7',
      reference: 'po-1',
      trace_id: 'tr-cart',
    });
    const requests = bySubject('reserve.request').filter(
      (e) => e.body.cart_id === cart.body.cart_id,
    );
    expect(requests).toHaveLength(2);
    for (const event of requests) {
      expect(event.body).toMatchObject({ buyer_id: 'buyer-7', reference: 'po-1' });
    }
    expect(bySubject('reserve.extended').at(-1)?.body).toMatchObject({
      reservation_id: second?.reservation_id,
      cart_id: cart.body.cart_id,
      trace_id: 'tr-extend',
    });
    expect(bySubject('reserve.confirmed').at(-2)?.body).toMatchObject({
      reservation_id: first?.reservation_id,
      quantity: 2,
      confirmed_quantity: 1,
      trace_id: 'tr-partial',
    });
    expect(bySubject('reserve.confirmed').at(-1)?.body).toMatchObject({
      reservation_id: second?.reservation_id,
      cart_id: cart.body.cart_id,
      trace_id: 'tr-cart-confirm',
    });
    expect(bySubject('stock.set').at(-1)?.body).toMatchObject({
      product_id: 'ev-cart-a',
      delta: 30 - 19, // 20 stocked, 1 sold by the partial confirm
      on_hand: 30,
      reference: 'ST-1',
      trace_id: 'tr-set',
    });
  });

  it('follows a change that crossed a line with sold out, back in stock or low stock', async () => {
    const base = (ledger as LedgerProcess).baseUrl;
    const key = { product_id: 'ev-level', warehouse_id: 'wh-1' };
    const low = { low_stock_threshold: 3 };
    expect((await request(base, 'PUT', '/v1/products/ev-level/settings', low)).status).toBe(200);
    const hold = async (quantity: number, trace: string) => {
      const reply = await send(
        '/v1/reserve',
        { ...key, quantity, idempotency_key: newKey('lv') },
        trace,
      );
      expect(reply.status).toBe(200);
      return reply.body.reservation_id as string;
    };
    expect((await send('/v1/stock/adjust', { ...key, delta: 5 }, 'tr-lv-make')).status).toBe(200);
    await hold(3, 'tr-lv-low'); // 5 -> 2: below 3
    const last = await hold(2, 'tr-lv-out'); // 2 -> 0: sold out
    expect((await send('/v1/release', { reservation_id: last }, 'tr-lv-back')).status).toBe(200);
    expect((await send('/v1/stock/adjust', { ...key, delta: 5 }, 'tr-lv-up')).status).toBe(200);
    await hold(5, 'tr-lv-low-again'); // 7 -> 2: below 3 again
    await waitForStreamToCatchUp(sharedNatsUrl, stream, database);
    const events = await readStream(sharedNatsUrl, stream);
    expect(streamProblems(await journalEntries(database), events)).toEqual([]);
    const levels = events
      .filter(
        (event) =>
          event.body.product_id === 'ev-level' &&
          /stock\.(low|sold_out|back_in_stock)$/.test(event.subject),
      )
      .map((event) => [
        event.subject.slice(prefix.length),
        event.body.trace_id,
        event.body.available,
      ]);
    expect(levels).toEqual([
      ['inventory.stock.low', 'tr-lv-low', 2],
      ['inventory.stock.sold_out', 'tr-lv-out', 0],
      ['inventory.stock.back_in_stock', 'tr-lv-back', 2],
      ['inventory.stock.low', 'tr-lv-low-again', 2],
    ]);
    const validate = eventValidator();
    for (const event of events) {
      expect(validate(event.subject.slice(prefix.length), event.body), event.subject).toEqual([]);
    }
    // Each follows its change's own event, named after it: <partition>-<lsn>-1.
    const soldOut = events.find((event) => event.subject.endsWith('stock.sold_out'));
    const own = events.find((event) => event.body.trace_id === 'tr-lv-out');
    expect(soldOut?.msgId).toBe(`${own?.msgId}-1`);
    // /metrics counts the published events by subject (the dashboard's stock events panel).
    const counted =
      /^inventory_events_published_total\{subject="inventory\.stock\.sold_out"\} [1-9]/m;
    let metrics = '';
    for (let tries = 0; tries < 50 && !counted.test(metrics); tries += 1) {
      metrics = (await get(base, '/metrics')).text;
      if (!counted.test(metrics)) await sleep(100);
    }
    expect(metrics).toMatch(counted);
  });

  it("takes a W3C traceparent's trace id as the request's, into its answer and its event", async () => {
    const base = (ledger as LedgerProcess).baseUrl;
    const key = { product_id: 'ev-traced', warehouse_id: 'wh-1' };
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;
    expect((await post(base, '/v1/stock/adjust', { ...key, delta: 3 })).status).toBe(200);
    const body = { ...key, quantity: 1, idempotency_key: newKey('traced') };
    const reply = await post(base, '/v1/reserve', body, { traceparent });
    expect(reply.status).toBe(200);
    expect(reply.headers.get('x-trace-id')).toBe(traceId);
    await waitForStreamToCatchUp(sharedNatsUrl, stream, database);
    const events = await readStream(sharedNatsUrl, stream);
    const reserved = events.find(
      (event) =>
        event.subject === `${prefix}inventory.reserve.request` &&
        event.body.product_id === 'ev-traced',
    );
    expect(reserved?.body.trace_id).toBe(traceId);
  });

  it('shows the publisher in /metrics and in /health/ready details', async () => {
    const base = (ledger as LedgerProcess).baseUrl;
    // The publisher runs behind the replies: the last change of the test before may still be on
    // its way to JetStream (a CI run read a lag of one record, 0.157 s old). It must reach zero.
    const caughtUp = /^ledger_event_publisher_lag_records 0$/m;
    let metrics = '';
    for (let tries = 0; tries < 100 && !caughtUp.test(metrics); tries += 1) {
      if (tries > 0) await sleep(100);
      metrics = (await get(base, '/metrics')).text;
    }
    expect(metrics).toMatch(caughtUp);
    expect(metrics).toMatch(/^ledger_event_publisher_lag_seconds 0$/m);
    expect(metrics).toMatch(/^ledger_event_publisher_connected 1$/m);
    expect(metrics).toMatch(/^ledger_event_publisher_published_total [1-9]\d*$/m);
    const readiness = await get(base, '/health/ready');
    expect(readiness.status).toBe(200);
    expect(readiness.body).toMatchObject({
      events_connected: true,
      events_lag_records: 0,
      events_lag_seconds: 0,
    });
  });

  it('keeps one copy when everything is re-published: JetStream drops the rest', async () => {
    const before = await readStream(sharedNatsUrl, stream);
    await (ledger as LedgerProcess).stop();
    // As if no cursor had ever been saved: the whole journal goes out again.
    await database.query('UPDATE ledger_event_cursors SET lsn = 0');
    const running = await start();
    const duplicates = async () =>
      Number(
        /^ledger_event_publisher_duplicates_total (\d+)$/m.exec(
          (await get(running.baseUrl, '/metrics')).text,
        )?.[1],
      );
    const deadline = Date.now() + 10_000;
    while ((await duplicates()) < before.length && Date.now() < deadline) await sleep(100);
    expect(await duplicates()).toBe(before.length);
    expect(await readStream(sharedNatsUrl, stream)).toEqual(before);
  });
});
