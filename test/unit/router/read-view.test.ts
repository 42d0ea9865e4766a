// Proves the durable read view: nothing is answered for a partition before its census (it might
// hold the key), nor once a hold pending in the journal may be due (only the shard, which expires
// it first, answers exactly then); a key missing after the census was never stocked; and a key's
// version only moves forward whatever order changes arrive in.
import { describe, expect, it } from 'vitest';
import { StockReadView } from '../../../src/router/read-view.js';

const forever = Number.POSITIVE_INFINITY;

describe('StockReadView', () => {
  it('answers a partition only after its census', () => {
    const view = new StockReadView(4);
    expect(view.read(1, 'p', 'w', 0)).toBe('ask-shard');
    view.load([1], [['p', 'w', 5, 2, 3]], forever);
    expect(view.read(1, 'p', 'w', 0)).toEqual({
      productId: 'p',
      warehouseId: 'w',
      onHand: 5,
      reserved: 2,
      available: 3,
      version: 3,
    });
    expect(view.read(1, 'other', 'w', 0)).toBeUndefined();
    expect(view.read(2, 'p', 'w', 0)).toBe('ask-shard');
  });

  it('declines from the moment a pending hold may be due until the shard says otherwise', () => {
    const view = new StockReadView(2);
    view.load([0, 1], [['p', 'w', 5, 2, 3]], 1_000);
    expect(view.read(0, 'p', 'w', 999)).toMatchObject({ reserved: 2 });
    expect(view.read(0, 'p', 'w', 1_000)).toBe('ask-shard');
    view.apply([['p', 'w', 5, 0, 4]]);
    view.readableUntil([0], forever);
    expect(view.read(0, 'p', 'w', 1_000)).toMatchObject({ reserved: 0, version: 4 });
    expect(view.read(1, 'p', 'w', 1_000)).toBe('ask-shard');
  });

  it('keeps the newest version of a key', () => {
    const view = new StockReadView(1);
    view.load([0], [], forever);
    view.apply([['p', 'w', 10, 0, 4]]);
    view.apply([['p', 'w', 9, 1, 3]]);
    expect(view.read(0, 'p', 'w', 0)).toMatchObject({ onHand: 10, version: 4 });
    view.apply([['p', 'w', 8, 1, 5]]);
    expect(view.read(0, 'p', 'w', 0)).toMatchObject({ onHand: 8, reserved: 1, version: 5 });
    expect(view.size).toBe(1);
  });
});
