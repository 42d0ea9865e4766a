// Proves each journal record type maps to its API.md subject and fields, valid against the
// shipped JSON Schemas (ajv, 2020-12, formats on), and that the schemas refuse what they must.
import { describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../../src/actors/index.js';
import { stockSignal } from '../../../src/actors/index.js';
import {
  eventOf,
  eventsOf,
  eventSubjects,
  isPublished,
  type PublishedRecord,
} from '../../../src/events/index.js';
import { eventValidator } from '../../helpers/nats.js';

const validate = eventValidator();
const base = {
  productId: 'sku-1',
  warehouseId: 'wh:eu-1',
  version: 7,
  atMs: Date.UTC(2026, 10, 23, 12, 0, 0, 123),
  traceId: 'trace-abc',
};
const reservationId = '00070000-1111-8222-9333-444455556666';
const lots = [
  { lotId: 'B-7', quantity: 2, expiresOn: '2026-12-05' },
  { lotId: '', quantity: 1 },
];
const lotsJson = [
  { lot_id: 'B-7', quantity: 2, expires_on: '2026-12-05' },
  { lot_id: '', quantity: 1 },
];
const records: PublishedRecord[] = [
  {
    type: 'reserved',
    ...base,
    reservationId,
    quantity: 3,
    expiresAtMs: base.atMs + 600_000,
    idempotencyKey: 'client-key-000001',
    requesterId: 'user-9',
  },
  { type: 'confirmed', ...base, reservationId, quantity: 3, requesterId: 'user-9' },
  { type: 'released', ...base, reservationId, quantity: 3, requesterId: '' },
  { type: 'expired', ...base, traceId: '', reservationId, quantity: 3, requesterId: '' },
  {
    type: 'adjusted',
    ...base,
    delta: -5,
    onHand: 95,
    reserved: 3,
    reason: 'damaged',
    idempotencyKey: '',
    actorId: 'admin-1',
  },
];

describe('eventOf', () => {
  it('publishes a set as inventory.stock.set, with its reference; an adjust carries one too', () => {
    const set: PublishedRecord = {
      type: 'adjusted',
      ...base,
      delta: 0,
      onHand: 40,
      reserved: 2,
      reason: 'stock take',
      idempotencyKey: 'erp-feed-0000001',
      actorId: 'erp',
      set: true,
      reference: 'ST-2026-11',
      expectedVersion: 6,
    };
    const event = eventOf(2, 5, set);
    expect(event.subject).toBe('inventory.stock.set');
    expect(event.body).toEqual({
      event_id: '2-5',
      product_id: 'sku-1',
      warehouse_id: 'wh:eu-1',
      delta: 0,
      on_hand: 40,
      reserved: 2,
      timestamp: '2026-11-23T12:00:00.123Z',
      trace_id: 'trace-abc',
      version: 7,
      reason: 'stock take',
      reference: 'ST-2026-11',
    });
    expect(validate(event.subject, event.body)).toEqual([]);
    const adjusted = eventOf(2, 6, { ...set, set: undefined, delta: 5 } as PublishedRecord);
    expect(adjusted.subject).toBe('inventory.stock.adjusted');
    expect(adjusted.body).toMatchObject({ delta: 5, reference: 'ST-2026-11' });
    expect(validate(adjusted.subject, adjusted.body)).toEqual([]);
    // A delta of 0 is a set's only: an adjust's schema refuses it.
    expect(validate('inventory.stock.adjusted', { ...adjusted.body, delta: 0 })).not.toEqual([]);
  });

  it('follows a change that crossed lines with one event per line, named <p>-<lsn>-<n>', () => {
    const hold: PublishedRecord = {
      type: 'reserved',
      ...base,
      reservationId,
      quantity: 3,
      expiresAtMs: base.atMs + 600_000,
      idempotencyKey: 'client-key-000001',
      requesterId: 'user-9',
      signals: { flags: stockSignal.soldOut | stockSignal.low, onHand: 3, reserved: 3 },
    };
    const events = eventsOf(4, 11, hold, 'pre.');
    expect(events.map((event) => [event.subject, event.msgId])).toEqual([
      ['pre.inventory.reserve.request', '4-11'],
      ['pre.inventory.stock.sold_out', '4-11-1'],
      ['pre.inventory.stock.low', '4-11-2'],
    ]);
    expect(events[1]?.body).toEqual({
      event_id: '4-11-1',
      product_id: 'sku-1',
      warehouse_id: 'wh:eu-1',
      available: 0,
      on_hand: 3,
      reserved: 3,
      timestamp: '2026-11-23T12:00:00.123Z',
      trace_id: 'trace-abc',
    });
    for (const event of events) {
      expect(validate(event.subject.slice('pre.'.length), event.body)).toEqual([]);
    }
    const back = { ...hold, signals: { flags: stockSignal.backInStock, onHand: 5, reserved: 2 } };
    const [, returned] = eventsOf(4, 12, back);
    expect(returned?.subject).toBe('inventory.stock.back_in_stock');
    expect(validate('inventory.stock.back_in_stock', returned?.body)).toEqual([]);
    expect(validate('inventory.stock.sold_out', returned?.body)).not.toEqual([]);
    // A record without crossings: its own event only; one that publishes nothing: none.
    expect(eventsOf(4, 13, records[0] as PublishedRecord)).toHaveLength(1);
  });

  it('publishes nothing of a cart confirm attempt (its holds publish their confirms)', () => {
    const step: JournalRecord = {
      type: 'cart-confirm',
      cartId: '00070000-0000-8000-8000-000000010000',
      attempt: 'a1',
      step: 'confirmed',
      holds: [],
      atMs: 0,
      traceId: '',
    };
    expect(isPublished(step)).toBe(false);
    expect(eventsOf(1, 1, step)).toEqual([]);
    expect(records.every((record) => isPublished(record))).toBe(true);
  });

  it('gives each record type its subject, event id and a schema-valid body', () => {
    for (const record of records) {
      const event = eventOf(17, 42, record);
      expect(event.subject).toBe(eventSubjects[record.type]);
      expect(event.msgId).toBe('17-42');
      expect(event.body.event_id).toBe('17-42');
      expect(validate(event.subject, event.body)).toEqual([]);
    }
  });

  it('carries the reservation fields, the time as RFC 3339 and the trace and requester', () => {
    expect(eventOf(3, 9, records[0] as PublishedRecord, 'staging.')).toEqual({
      subject: 'staging.inventory.reserve.request',
      msgId: '3-9',
      body: {
        event_id: '3-9',
        reservation_id: reservationId,
        product_id: 'sku-1',
        warehouse_id: 'wh:eu-1',
        quantity: 3,
        requester_id: 'user-9',
        timestamp: '2026-11-23T12:00:00.123Z',
        trace_id: 'trace-abc',
        version: 7,
        expires_at: '2026-11-23T12:10:00.123Z',
      },
    });
    expect(eventOf(3, 10, records[1] as PublishedRecord).body).not.toHaveProperty('expires_at');
  });

  it('carries the lots of a hold on every reserve event, valid against each schema', () => {
    for (const record of records.slice(0, 4)) {
      const event = eventOf(17, 43, { ...record, lots } as PublishedRecord);
      expect(event.body).toMatchObject({ lots: lotsJson });
      expect(validate(event.subject, event.body)).toEqual([]);
      const badLot = { ...event.body, lots: [{ lot_id: 'a/b', quantity: 1 }] };
      expect(validate(event.subject, badLot)).not.toEqual([]);
      const badDate = { ...event.body, lots: [{ lot_id: 'a', quantity: 1, expires_on: 'soon' }] };
      expect(validate(event.subject, badDate)).not.toEqual([]);
    }
    expect(eventOf(3, 9, records[0] as PublishedRecord).body).not.toHaveProperty('lots');
  });

  it('publishes a write-off as inventory.lot.expired, then the lines it crossed', () => {
    const writeOff: PublishedRecord = {
      type: 'lot-expired',
      ...base,
      traceId: '',
      lotId: 'B-7',
      expiresOn: '2026-11-22',
      quantity: 4,
      onHand: 0,
      reserved: 0,
      signals: { flags: stockSignal.soldOut, onHand: 0, reserved: 0 },
    };
    const events = eventsOf(5, 8, writeOff);
    expect(events.map((event) => [event.subject, event.msgId])).toEqual([
      ['inventory.lot.expired', '5-8'],
      ['inventory.stock.sold_out', '5-8-1'],
    ]);
    expect(events[0]?.body).toEqual({
      event_id: '5-8',
      product_id: 'sku-1',
      warehouse_id: 'wh:eu-1',
      lot_id: 'B-7',
      quantity: 4,
      timestamp: '2026-11-23T12:00:00.123Z',
    });
    for (const event of events) {
      expect(validate(event.subject, event.body)).toEqual([]);
    }
    const body = events[0]?.body ?? {};
    expect(validate('inventory.lot.expired', { ...body, quantity: 0 })).not.toEqual([]);
    expect(validate('inventory.lot.expired', { ...body, lot_id: '' })).not.toEqual([]);
    expect(validate('inventory.lot.expired', { ...body, trace_id: '' })).not.toEqual([]);
  });

  it('carries delta, on_hand and reserved for an adjustment', () => {
    expect(eventOf(0, 1, records[4] as PublishedRecord).body).toEqual({
      event_id: '0-1',
      product_id: 'sku-1',
      warehouse_id: 'wh:eu-1',
      delta: -5,
      on_hand: 95,
      reserved: 3,
      timestamp: '2026-11-23T12:00:00.123Z',
      trace_id: 'trace-abc',
      version: 7,
      reason: 'damaged',
    });
  });
});

describe('the event schemas', () => {
  const reserve = eventOf(1, 1, records[0] as PublishedRecord).body;
  const adjusted = eventOf(1, 2, records[4] as PublishedRecord).body;

  it('refuse a missing required field, an unknown field and wrong types or formats', () => {
    const subject = 'inventory.reserve.request';
    const without = (field: string) =>
      Object.fromEntries(Object.entries(reserve).filter(([key]) => key !== field));
    for (const field of ['event_id', 'reservation_id', 'quantity', 'requester_id', 'trace_id']) {
      expect(validate(subject, without(field))).not.toEqual([]);
    }
    expect(validate(subject, { ...reserve, extra: 1 })).not.toEqual([]);
    expect(validate(subject, { ...reserve, quantity: 0 })).not.toEqual([]);
    expect(validate(subject, { ...reserve, quantity: 1.5 })).not.toEqual([]);
    expect(validate(subject, { ...reserve, reservation_id: 'not-a-uuid' })).not.toEqual([]);
    expect(validate(subject, { ...reserve, timestamp: '23/11/2026' })).not.toEqual([]);
    expect(validate(subject, { ...reserve, event_id: '1:1' })).not.toEqual([]);
  });

  it('refuse an adjustment with a zero delta or a negative on_hand', () => {
    expect(validate('inventory.stock.adjusted', { ...adjusted, delta: 0 })).not.toEqual([]);
    expect(validate('inventory.stock.adjusted', { ...adjusted, on_hand: -1 })).not.toEqual([]);
  });
});

describe('transfer events', () => {
  const transferId = '00070000-1111-8222-9333-777755556666';
  const shipped = {
    type: 'transfer',
    ...base,
    warehouseId: 'wh-2',
    transferId,
    step: 'incoming',
    fromWarehouseId: 'wh:eu-1',
    toWarehouseId: 'wh-2',
    quantity: 4,
    inTransit: true,
    onHand: 0,
    reserved: 0,
    incoming: 4,
    idempotencyKey: 'transfer-key-000001',
    reason: '',
    reference: 'TR-9',
    actorId: 'admin-1',
    createdAtMs: base.atMs,
  } as const satisfies PublishedRecord;

  it("publishes each step once, from the destination's record, valid against its schema", () => {
    const steps = [
      ['incoming', 'inventory.transfer.shipped'],
      ['in', 'inventory.transfer.received'],
      ['cancel', 'inventory.transfer.cancelled'],
    ] as const;
    for (const [step, subject] of steps) {
      const events = eventsOf(3, 9, { ...shipped, step });
      expect(events.map((event) => event.subject)).toEqual([subject]);
      expect(events[0]?.body).toEqual({
        event_id: '3-9',
        transfer_id: transferId,
        product_id: 'sku-1',
        from_warehouse_id: 'wh:eu-1',
        to_warehouse_id: 'wh-2',
        quantity: 4,
        timestamp: '2026-11-23T12:00:00.123Z',
        trace_id: 'trace-abc',
        reference: 'TR-9',
      });
      expect(validate(subject, events[0]?.body)).toEqual([]);
    }
    const withLots = eventsOf(3, 11, { ...shipped, step: 'in', lots })[0]?.body;
    expect(withLots).toMatchObject({ lots: lotsJson });
    expect(validate('inventory.transfer.received', withLots)).toEqual([]);
    const plain = eventsOf(3, 10, { ...shipped, reference: '' })[0]?.body;
    expect(plain).not.toHaveProperty('reference');
    expect(validate('inventory.transfer.shipped', plain)).toEqual([]);
    expect(validate('inventory.transfer.shipped', { ...plain, quantity: 0 })).not.toEqual([]);
  });

  it("publishes only the lines the source's record crossed, the first as <p>-<lsn>", () => {
    const out: PublishedRecord = {
      ...shipped,
      warehouseId: 'wh:eu-1',
      step: 'out',
      incoming: 0,
      signals: { flags: stockSignal.soldOut, onHand: 0, reserved: 0 },
    };
    const events = eventsOf(3, 8, out);
    expect(events.map((event) => [event.subject, event.msgId])).toEqual([
      ['inventory.stock.sold_out', '3-8'],
    ]);
    expect(validate('inventory.stock.sold_out', events[0]?.body)).toEqual([]);
    expect(eventsOf(3, 8, { ...out, signals: undefined })).toEqual([]);
    expect(() => eventOf(3, 8, out)).toThrow(TypeError);
  });
});
