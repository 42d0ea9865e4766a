// Proves each record type round-trips, type codes are frozen and unknown rows refused, by example.
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../../src/actors/index.js';
import {
  decodeRecord,
  encodeRecord,
  RecordDecodeError,
} from '../../../src/persistence/record-codec.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const base = {
  productId: 'sku-1',
  warehouseId: 'wh-1',
  version: 7,
  atMs: 1_700_000_000_123,
  traceId: 'trace-abc',
};

const examples: Array<[code: number, record: JournalRecord]> = [
  [
    1,
    {
      type: 'reserved',
      ...base,
      reservationId: '00070000-1111-8222-9333-444455556666',
      quantity: 3,
      expiresAtMs: 1_700_000_600_123,
      idempotencyKey: 'client-key-000001',
      requesterId: 'user-9',
    },
  ],
  [2, { type: 'confirmed', ...base, reservationId: 'r-1', quantity: 3, requesterId: 'user-9' }],
  [3, { type: 'released', ...base, reservationId: 'r-2', quantity: 1, requesterId: '' }],
  [4, { type: 'expired', ...base, reservationId: 'r-3', quantity: 1_000, requesterId: '' }],
  [
    5,
    {
      type: 'adjusted',
      ...base,
      delta: -1_000_000_000,
      onHand: 999_999_999_999,
      reserved: 12,
      reason: 'cycle count — Lager Nord 😀',
      idempotencyKey: '',
      actorId: 'admin-1',
    },
  ],
];

describe('encodeRecord / decodeRecord', () => {
  it.each(examples)('round-trips a record with type code %i unchanged', (_code, record) => {
    expect(decodeRecord(encodeRecord(record))).toStrictEqual(record);
  });

  it.each(examples)('writes type code %i as the first element of the row', (code, record) => {
    const row = packr.unpack(encodeRecord(record)) as unknown[];
    expect(row[0]).toBe(code);
  });

  it.each([0, 6, 99, -1])('refuses a row with the unknown type code %i', (code) => {
    const row = [code, 'sku-1', 'wh-1', 1, 0, '', 'r-1', 1];
    expect(() => decodeRecord(packr.pack(row))).toThrow(RecordDecodeError);
  });

  it('refuses a payload that is not an array', () => {
    expect(() => decodeRecord(packr.pack({ type: 'confirmed' }))).toThrow(RecordDecodeError);
  });

  it('refuses a row too short to be a record', () => {
    expect(() => decodeRecord(packr.pack([2, 'sku-1', 'wh-1']))).toThrow(RecordDecodeError);
  });

  // A truncated reserved row would otherwise replay as a hold with no expiry that never ends.
  it.each([
    ['reserved', 8, [1, 'sku-1', 'wh-1', 2, 1_000, 't', 'r-1', 3]],
    ['reserved', 10, [1, 'sku-1', 'wh-1', 2, 1_000, 't', 'r-1', 3, 61_000, 'client-key-000001']],
    ['adjusted', 8, [5, 'sku-1', 'wh-1', 1, 1_000, 't', 10, 10]],
    ['adjusted', 11, [5, 'sku-1', 'wh-1', 1, 1_000, 't', 10, 10, 0, '', '']],
    ['confirmed', 8, [2, 'sku-1', 'wh-1', 3, 1_000, 't', 'r-1', 3]],
  ])('refuses a row of type %s cut short to %i fields', (_type, _length, row) => {
    expect(() => decodeRecord(packr.pack(row))).toThrow(RecordDecodeError);
  });
});
