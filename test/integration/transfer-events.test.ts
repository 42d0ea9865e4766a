// Proves each transfer step publishes exactly one schema-valid event to NATS JetStream (shipped
// when one in transit leaves, received when one arrives, cancelled on a cancel; a direct transfer
// only received), carrying the request's trace id, and that the source's crossings (sold out,
// back in stock) follow as further events; by driving a real ledger and reading the stream back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { newKey, post } from '../helpers/http.js';
import { sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import {
  deleteStream,
  eventValidator,
  haveNats,
  readStream,
  sharedNatsUrl,
  uniqueStream,
  type StoredEvent,
} from '../helpers/nats.js';
import { havePostgres } from '../helpers/services.js';

const ready = (await havePostgres()) && (await haveNats());

describe.runIf(ready)('transfer events', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess | undefined;
  const { stream, prefix } = uniqueStream('transfer');

  beforeAll(async () => {
    database = await createDatabase();
    ledger = await startLedger({
      env: {
        DATABASE_URL: database.url,
        NATS_URL: sharedNatsUrl,
        LEDGER_EVENTS_STREAM: stream,
        LEDGER_EVENTS_SUBJECT_PREFIX: prefix,
      },
    });
  });

  afterAll(async () => {
    await ledger?.stop();
    await deleteStream(sharedNatsUrl, stream).catch((error: unknown) => console.warn(error));
    await database?.drop();
  });

  const send = async (path: string, body: unknown, trace: string) => {
    const reply = await post((ledger as LedgerProcess).baseUrl, path, body, {
      'x-trace-id': trace,
    });
    expect(reply.status, reply.text).toBe(200);
    return reply.body as Record<string, unknown>;
  };

  async function eventsUntil(count: number): Promise<StoredEvent[]> {
    for (let attempt = 0; attempt < 100; attempt += 1) {
      const events = await readStream(sharedNatsUrl, stream);
      if (events.length >= count) return events;
      await sleep(100);
    }
    return readStream(sharedNatsUrl, stream);
  }

  it('publishes one event per step, from the destination, and the source crossings', async () => {
    const product = 'tr-events';
    const move = (fields: Record<string, unknown>) => ({
      product_id: product,
      from_warehouse_id: 'w1',
      to_warehouse_id: 'w2',
      idempotency_key: newKey('transfer'),
      ...fields,
    });
    await send('/v1/stock/adjust', { product_id: product, warehouse_id: 'w1', delta: 6 }, 'tr-a');
    // Direct, selling the source out: received, and the source's sold_out.
    const direct = await send('/v1/transfers', move({ quantity: 6, reference: 'TR-1' }), 'tr-d');
    // Back: in transit, then cancelled, then again and received (w1 comes back in stock).
    const back = { from_warehouse_id: 'w2', to_warehouse_id: 'w1', in_transit: true };
    const shipped = await send('/v1/transfers', move({ ...back, quantity: 2 }), 'tr-s1');
    const shippedId = String(shipped.transfer_id);
    await send(`/v1/transfers/${shippedId}/cancel`, {}, 'tr-c');
    const again = await send('/v1/transfers', move({ ...back, quantity: 2 }), 'tr-s2');
    const againId = String(again.transfer_id);
    await send(`/v1/transfers/${againId}/receive`, {}, 'tr-r');

    // adjust, direct (received + w1 sold out), shipped, cancelled, shipped, received, and the
    // w1 that comes back in stock when the second one arrives.
    const events = await eventsUntil(8);
    const validate = eventValidator();
    for (const event of events) {
      const subject = event.subject.slice(prefix.length);
      expect(validate(subject, event.body), subject).toEqual([]);
      expect(event.body.event_id).toBe(event.msgId);
    }
    const transferEvents = events
      .filter((event) => event.subject.includes('.transfer.'))
      .map((event) => [
        event.subject.slice(prefix.length),
        event.body.transfer_id,
        event.body.trace_id,
        event.body.quantity,
      ]);
    expect(transferEvents).toEqual([
      ['inventory.transfer.received', direct.transfer_id, 'tr-d', 6],
      ['inventory.transfer.shipped', shippedId, 'tr-s1', 2],
      ['inventory.transfer.cancelled', shippedId, 'tr-c', 2],
      ['inventory.transfer.shipped', againId, 'tr-s2', 2],
      ['inventory.transfer.received', againId, 'tr-r', 2],
    ]);
    const levels = events
      .filter((event) => event.subject.includes('.stock.') && !event.subject.endsWith('adjusted'))
      .map((event) => [event.subject.slice(prefix.length), event.body.warehouse_id]);
    // w1 sold out by the direct transfer (its source record's only event: no `-n`), and back in
    // stock when the second transfer arrives (after that arrival's own event).
    expect(levels).toEqual([
      ['inventory.stock.sold_out', 'w1'],
      ['inventory.stock.back_in_stock', 'w1'],
    ]);
    const soldOut = events.find((event) => event.subject.endsWith('sold_out'));
    expect(soldOut?.msgId).toMatch(/^\d+-\d+$/);
    expect(events).toHaveLength(8);
    expect(events.find((event) => event.body.transfer_id === direct.transfer_id)?.body).toEqual(
      expect.objectContaining({ reference: 'TR-1', from_warehouse_id: 'w1' }),
    );
  });
});
