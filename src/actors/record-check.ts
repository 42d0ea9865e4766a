// The shape every journal record must have, checked twice: when the shard writes it and when
// recovery replays it (STYLE.md: assertions paired). A record that fails here is a programmer
// error on one side or the other, never bad input: requests are validated long before.
import { assert } from './assert.js';
import type { JournalRecord } from './types.js';

const isCount = (value: number, min: number): boolean =>
  Number.isSafeInteger(value) && value >= min;

export function checkRecord(record: JournalRecord): void {
  assert(
    record.productId.length > 0 && record.warehouseId.length > 0,
    () => `a ${record.type} record without a stock key`,
  );
  assert(isCount(record.version, 1), () => `a ${record.type} record at version ${record.version}`);
  assert(isCount(record.atMs, 0), () => `a ${record.type} record at time ${record.atMs}`);
  switch (record.type) {
    case 'reserved':
      assert(isCount(record.quantity, 1), 'a reserved record without a positive quantity');
      assert(
        isCount(record.expiresAtMs, record.atMs + 1),
        'a reserved record that expires before it was made',
      );
      assert(record.reservationId.length > 0, 'a reserved record without a reservation id');
      assert(record.idempotencyKey.length > 0, 'a reserved record without an idempotency key');
      return;
    case 'adjusted':
      assert(Number.isSafeInteger(record.delta), 'an adjusted record with a fractional delta');
      assert(
        isCount(record.reserved, 0) &&
          isCount(record.onHand, record.reserved) &&
          record.onHand - record.delta >= 0,
        () => `an adjusted record with on_hand ${record.onHand}, reserved ${record.reserved}`,
      );
      return;
    default:
      assert(isCount(record.quantity, 1), () => `a ${record.type} record without a quantity`);
      assert(record.reservationId.length > 0, () => `a ${record.type} record without an id`);
  }
}
