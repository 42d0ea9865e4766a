// Proves the v1.1 journal rows round-trip: every record with a buyer, reference, cart, partial
// confirm, extend, settings, cart decision, cart confirm step or transfer step decodes to
// exactly what was encoded, a plain hold still writes its v1 row, and a damaged v1.1 row is
// refused rather than misread.
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../../src/actors/index.js';
import { RecordDecodeError, decodeRecord, encodeRecord } from '../../../src/persistence/index.js';

const base = { productId: 'p-1', warehouseId: 'w-1', version: 4, atMs: 1_800_000_000_000 };
const hold = { ...base, traceId: 't', reservationId: '00070000-0000-8000-8000-000000000001' };
const cartId = '00070000-0000-8000-8000-0000000a0000';
const transferRecord: JournalRecord = {
  type: 'transfer',
  ...base,
  traceId: 't',
  transferId: '00070000-0000-8000-8000-0000000c0000',
  step: 'out',
  fromWarehouseId: 'w-1',
  toWarehouseId: 'w-2',
  quantity: 3,
  inTransit: true,
  onHand: 0,
  reserved: 0,
  incoming: 0,
  idempotencyKey: 'transfer-key-0000001',
  reason: 'rebalance',
  reference: 'TR-1',
  actorId: 'admin',
  createdAtMs: base.atMs,
  signals: { flags: 1, onHand: 0, reserved: 0 },
};
const records: JournalRecord[] = [
  transferRecord,
  {
    ...transferRecord,
    warehouseId: 'w-2',
    step: 'incoming',
    onHand: 0,
    incoming: 3,
    reference: '',
    signals: undefined,
  } as JournalRecord,
  ...(['in', 'cancel'] as const).map((step): JournalRecord => ({
    ...(transferRecord as Extract<JournalRecord, { type: 'transfer' }>),
    warehouseId: 'w-2',
    step,
    inTransit: false,
    onHand: 5,
    incoming: 2,
    signals: { flags: 2, onHand: 5, reserved: 0 },
  })),
  {
    type: 'reserved',
    ...hold,
    quantity: 2,
    expiresAtMs: base.atMs + 60_000,
    idempotencyKey: '',
    requesterId: 'u',
    buyerId: 'b@1',
    cartId,
  },
  { type: 'confirmed', ...hold, quantity: 3, requesterId: '', confirmedQuantity: 1 },
  { type: 'released', ...hold, quantity: 3, requesterId: '', reference: 'PO 7' },
  { type: 'extended', ...hold, quantity: 3, expiresAtMs: base.atMs + 9e5, requesterId: '' },
  {
    type: 'settings',
    productId: 'p-1',
    settings: {
      maxPerBuyer: 5,
      limitWindowSeconds: 600,
      warehousePriority: ['w-2', 'w-1'],
      lowStockThreshold: null,
    },
    atMs: base.atMs,
    traceId: '',
    actorId: 'admin',
  },
  {
    type: 'cart',
    cartId,
    decision: 'committed',
    idempotencyKey: 'cart-key-0000000001',
    fingerprint: '[]',
    createdAtMs: base.atMs,
    expiresAtMs: base.atMs + 60_000,
    buyerId: '',
    reference: '',
    requesterId: '',
    holds: [
      {
        line: 0,
        partition: 7,
        reservationId: hold.reservationId,
        productId: 'p-1',
        warehouseId: 'w-1',
        quantity: 2,
      },
    ],
    atMs: base.atMs,
    traceId: 't',
  },
  {
    type: 'adjusted',
    ...base,
    traceId: 't',
    delta: -3,
    onHand: 7,
    reserved: 2,
    reason: 'stock take',
    idempotencyKey: 'erp-feed-000000001',
    actorId: 'erp',
    set: true,
    reference: 'ST-7',
    expectedVersion: 3,
  },
  {
    type: 'adjusted',
    ...base,
    traceId: '',
    delta: 0,
    onHand: 0,
    reserved: 0,
    reason: '',
    idempotencyKey: '',
    actorId: '',
    expectedVersion: 0,
  },
  {
    type: 'adjusted',
    ...base,
    traceId: '',
    delta: 4,
    onHand: 4,
    reserved: 0,
    reason: '',
    idempotencyKey: '',
    actorId: '',
    reference: 'PO 9',
  },
  // Changes that crossed a line (sold out, back in stock, low) take a v1.1 row to say so.
  {
    type: 'reserved',
    ...hold,
    quantity: 2,
    expiresAtMs: base.atMs + 60_000,
    idempotencyKey: 'reserve-key-00000002',
    requesterId: '',
    signals: { flags: 5, onHand: 2, reserved: 2 },
  },
  {
    type: 'expired',
    ...hold,
    traceId: '',
    quantity: 2,
    requesterId: '',
    signals: { flags: 2, onHand: 2, reserved: 0 },
  },
  {
    type: 'adjusted',
    ...base,
    traceId: '',
    delta: -4,
    onHand: 0,
    reserved: 0,
    reason: '',
    idempotencyKey: '',
    actorId: '',
    signals: { flags: 1, onHand: 0, reserved: 0 },
  },
  ...(['pinned', 'unpinned'] as const).map((step): JournalRecord => ({
    type: 'cart-confirm',
    cartId,
    attempt: '00070000-0000-8000-8000-0000000b0000',
    step,
    holds: [
      { reservationId: hold.reservationId, quantity: 2 },
      { reservationId: '00070000-0000-8000-8000-000000000002', quantity: 1 },
    ],
    atMs: base.atMs,
    traceId: 't',
  })),
  ...(['confirmed', 'aborted'] as const).map((step): JournalRecord => ({
    type: 'cart-confirm',
    cartId,
    attempt: 'a-1',
    step,
    holds: [],
    atMs: base.atMs,
    traceId: '',
  })),
];

describe('v1.1 journal rows', () => {
  it('decode to exactly the record encoded, for every v1.1 record type', () => {
    for (const record of records) expect(decodeRecord(encodeRecord(record))).toEqual(record);
  });

  it('keeps a plain hold on its v1 row (type code 1)', () => {
    const plain: JournalRecord = {
      type: 'reserved',
      ...hold,
      quantity: 1,
      expiresAtMs: base.atMs + 60_000,
      idempotencyKey: 'reserve-key-00000001',
      requesterId: '',
    };
    const row = new Packr({ useRecords: false }).unpack(encodeRecord(plain)) as unknown[];
    expect(row[0]).toBe(1);
    expect(decodeRecord(encodeRecord(plain))).toEqual(plain);
  });

  it('refuses a v1.1 row with a field of the wrong type or one too many', () => {
    const packr = new Packr({ useRecords: false, moreTypes: false });
    const row = packr.unpack(encodeRecord(records[3] as JournalRecord)) as unknown[];
    const wrong = [...row];
    wrong[3] = 'four';
    expect(() => decodeRecord(packr.pack(wrong))).toThrow(RecordDecodeError);
    expect(() => decodeRecord(packr.pack([...row, 1]))).toThrow(RecordDecodeError);
  });

  it('refuses a cart confirm row with a step out of range or a hold missing its units', () => {
    const packr = new Packr({ useRecords: false, moreTypes: false });
    const pinned = records.find((record) => record.type === 'cart-confirm') as JournalRecord;
    const row = packr.unpack(encodeRecord(pinned)) as unknown[];
    expect(row[0]).toBe(11);
    const step = [...row];
    step[3] = 4;
    expect(() => decodeRecord(packr.pack(step))).toThrow(RecordDecodeError);
    const holds = [...row];
    holds[6] = [['00070000-0000-8000-8000-000000000001']];
    expect(() => decodeRecord(packr.pack(holds))).toThrow(RecordDecodeError);
  });

  it('refuses a transfer row with a step or an in-transit flag out of range', () => {
    const packr = new Packr({ useRecords: false, moreTypes: false });
    const row = packr.unpack(encodeRecord(transferRecord)) as unknown[];
    expect(row[0]).toBe(13);
    const step = [...row];
    step[7] = 4;
    expect(() => decodeRecord(packr.pack(step))).toThrow(RecordDecodeError);
    const flag = [...row];
    flag[11] = 2;
    expect(() => decodeRecord(packr.pack(flag))).toThrow(RecordDecodeError);
    expect(() => decodeRecord(packr.pack(row.slice(0, 19)))).toThrow(RecordDecodeError);
  });
});
