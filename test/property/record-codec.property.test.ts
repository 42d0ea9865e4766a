// Proves encode→decode is the identity on fast-check-generated journal records of every type.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../src/actors/index.js';
import { decodeRecord, encodeRecord } from '../../src/persistence/record-codec.js';
import { runOptions } from '../helpers/fc-options.js';

const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const safeInteger = fc.maxSafeInteger();
const count = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const base = {
  productId: text,
  warehouseId: text,
  version: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  atMs: count,
  traceId: text,
};

// Plain objects, as decodeRecord returns them (fast-check defaults to null prototypes).
const plain = { noNullPrototype: true } as const;

const record: fc.Arbitrary<JournalRecord> = fc.oneof(
  fc.record(
    {
      type: fc.constant('reserved' as const),
      ...base,
      reservationId: fc.uuid(),
      quantity: count,
      expiresAtMs: count,
      idempotencyKey: text,
      requesterId: text,
    },
    plain,
  ),
  fc.record(
    {
      type: fc.constantFrom('confirmed' as const, 'released' as const, 'expired' as const),
      ...base,
      reservationId: fc.uuid(),
      quantity: count,
      requesterId: text,
    },
    plain,
  ),
  fc.record(
    {
      type: fc.constant('adjusted' as const),
      ...base,
      delta: safeInteger,
      onHand: count,
      reserved: count,
      reason: fc.string({ unit: 'grapheme', maxLength: 500 }),
      idempotencyKey: text,
      actorId: text,
    },
    plain,
  ),
);

describe('record codec round trip', () => {
  it('decodes every encoded record to an equal record', () => {
    fc.assert(
      fc.property(record, (original) => {
        expect(decodeRecord(encodeRecord(original))).toStrictEqual(original);
      }),
      runOptions(2_000),
    );
  });
});
