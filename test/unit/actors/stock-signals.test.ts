// Proves the lines a change of available stock crosses, as its record says them: sold out (to 0),
// back in stock (from 0; never the change that made the key), low (below the product's
// threshold from at or above it, once per crossing), for every kind of change; and that a
// replay of the records keeps them as journaled.
import { describe, expect, it } from 'vitest';
import {
  stockSignal,
  type Command,
  type JournalRecord,
  type StockRecord,
} from '../../../src/actors/index.js';
import { RecordingPartition, adjust, replayAll } from '../../helpers/actor-fixtures.js';

const t0 = Date.UTC(2026, 11, 2, 12);
const key = { productId: 'sku-s', warehouseId: 'w1' };
let serial = 0;

function reserve(quantity: number, ttlSeconds = 600): Command {
  serial += 1;
  const hex = serial.toString(16).padStart(12, '0');
  return {
    kind: 'reserve',
    ...key,
    quantity,
    idempotencyKey: `signal-key-${hex}`,
    ttlSeconds,
    reservationId: `00070000-0000-8000-8000-${hex}`,
    requesterId: '',
    traceId: `t${serial}`,
  };
}

/** What the record of the last command crossed, by name. */
function crossed(record: JournalRecord | undefined): string[] {
  const flags = record !== undefined && 'signals' in record ? (record.signals?.flags ?? 0) : 0;
  return Object.entries(stockSignal)
    .filter(([, bit]) => (flags & bit) !== 0)
    .map(([name]) => name);
}

describe('the lines a change crosses', () => {
  it('says sold out at 0 and back in stock from 0, with the counts after, never at creation', () => {
    const partition = new RecordingPartition();
    const made = partition.apply(adjust(3, key), t0);
    expect(crossed(made.record)).toEqual([]);
    const first = partition.apply(reserve(1), t0);
    expect(crossed(first.record)).toEqual([]);
    const last = partition.apply(reserve(2), t0);
    expect(crossed(last.record)).toEqual(['soldOut']);
    expect((last.record as StockRecord & { signals?: unknown }).signals).toEqual({
      flags: stockSignal.soldOut,
      onHand: 3,
      reserved: 3,
    });
    const id = (
      last.outcome.ok && 'reservation' in last.outcome ? last.outcome.reservation.reservationId : ''
    ) as string;
    // A partial sale of 1 of the 2 held gives 1 back: back in stock.
    const sold = partition.apply(
      { kind: 'confirm', reservationId: id, traceId: 'c', quantity: 1 },
      t0,
    );
    expect(crossed(sold.record)).toEqual(['backInStock']);
    expect(crossed(partition.apply(adjust(-1, key), t0).record)).toEqual(['soldOut']);
    expect(crossed(partition.apply(adjust(5, key), t0).record)).toEqual(['backInStock']);
    // The change that makes a key is its first stocking, not a return.
    const fresh = { productId: 'sku-fresh', warehouseId: 'w1' };
    expect(crossed(partition.apply(adjust(2, fresh), t0).record)).toEqual([]);
  });

  it('says low once per crossing of the product threshold, again only after rising to it', () => {
    const partition = new RecordingPartition();
    partition.apply(adjust(10, key), t0);
    partition.apply(
      {
        kind: 'put-settings',
        productId: key.productId,
        changes: { lowStockThreshold: 5 },
        traceId: '',
        actorId: '',
      },
      t0,
    );
    expect(crossed(partition.apply(reserve(5), t0).record)).toEqual([]); // 5: not below
    expect(crossed(partition.apply(reserve(1), t0).record)).toEqual(['low']); // 4
    expect(crossed(partition.apply(reserve(1), t0).record)).toEqual([]); // 3: still below
    expect(crossed(partition.apply(adjust(2, key), t0).record)).toEqual([]); // 5: back at it
    expect(crossed(partition.apply(reserve(5), t0).record)).toEqual(['soldOut', 'low']);
  });

  it('says what an expiry crosses, and a replay keeps every record as journaled', () => {
    const partition = new RecordingPartition();
    partition.apply(adjust(2, key), t0);
    const hold = partition.apply(reserve(2, 60), t0);
    expect(crossed(hold.record)).toEqual(['soldOut']);
    const id =
      hold.outcome.ok && 'reservation' in hold.outcome
        ? hold.outcome.reservation.reservationId
        : '';
    expect(crossed(partition.expire(id, t0 + 60_000)?.record)).toEqual(['backInStock']);
    const replayed = replayAll(partition.records, {
      retainFinishedMs: 1e9,
      retainFinishedMax: 1e6,
      onHandMax: 1e9,
    });
    expect(replayed.actors.get(`${key.productId}\u0000${key.warehouseId}`)?.stockView()).toEqual(
      partition.state.actors.get(`${key.productId}\u0000${key.warehouseId}`)?.stockView(),
    );
  });
});
