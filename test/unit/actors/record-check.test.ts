// Proves the record check refuses what no correct shard writes (it runs when a record is written
// and again when it is replayed): no key, version 0, a hold that expires before it was made, a
// quantity of 0, an adjust that leaves reserved above on_hand; and passes real records.
import { describe, expect, it } from 'vitest';
import { AssertionError, checkRecord, type JournalRecord } from '../../../src/actors/index.js';

const reserved: JournalRecord = {
  type: 'reserved',
  productId: 'p',
  warehouseId: 'w',
  version: 2,
  atMs: 1_000,
  traceId: 't',
  reservationId: 'r',
  quantity: 1,
  expiresAtMs: 61_000,
  idempotencyKey: 'k'.repeat(16),
  requesterId: '',
};
const adjusted: JournalRecord = {
  type: 'adjusted',
  productId: 'p',
  warehouseId: 'w',
  version: 1,
  atMs: 1_000,
  traceId: 't',
  delta: 5,
  onHand: 5,
  reserved: 0,
  reason: '',
  idempotencyKey: '',
  actorId: '',
};
const released: JournalRecord = {
  type: 'released',
  productId: 'p',
  warehouseId: 'w',
  version: 3,
  atMs: 2_000,
  traceId: '',
  reservationId: 'r',
  quantity: 1,
  requesterId: '',
};

describe('checkRecord', () => {
  it.each([reserved, adjusted, released])('passes a sound $type record', (record) => {
    expect(() => checkRecord(record)).not.toThrow();
  });

  it.each<[string, JournalRecord]>([
    ['a record without a stock key', { ...released, productId: '' }],
    ['version 0', { ...adjusted, version: 0 }],
    ['a fractional time', { ...released, atMs: 1.5 }],
    ['a hold that expires before it was made', { ...reserved, expiresAtMs: 1_000 }],
    ['a hold of 0 units', { ...reserved, quantity: 0 }],
    ['a hold without an idempotency key', { ...reserved, idempotencyKey: '' }],
    ['an adjust leaving reserved above on_hand', { ...adjusted, onHand: 2, reserved: 3 }],
    ['an adjust from a negative on_hand', { ...adjusted, delta: 9 }],
    ['a release of 0 units', { ...released, quantity: 0 }],
  ])('refuses %s', (_what, record) => {
    expect(() => checkRecord(record)).toThrow(AssertionError);
  });
});
