// Proves the durable read view: nothing is answered for a partition before its census (it might
// hold the key), a key missing after the census was never stocked, and a key's version only
// moves forward whatever order changes arrive in.
import { describe, expect, it } from 'vitest';
import { StockReadView } from '../../../src/router/read-view.js';

describe('StockReadView', () => {
  it('answers a partition only after its census', () => {
    const view = new StockReadView(4);
    expect(view.read(1, 'p', 'w')).toBe('not-loaded');
    view.load([1], [['p', 'w', 5, 2, 3]]);
    expect(view.read(1, 'p', 'w')).toEqual({
      productId: 'p',
      warehouseId: 'w',
      onHand: 5,
      reserved: 2,
      available: 3,
      version: 3,
    });
    expect(view.read(1, 'other', 'w')).toBeUndefined();
    expect(view.read(2, 'p', 'w')).toBe('not-loaded');
  });

  it('keeps the newest version of a key', () => {
    const view = new StockReadView(1);
    view.load([0], []);
    view.apply([['p', 'w', 10, 0, 4]]);
    view.apply([['p', 'w', 9, 1, 3]]);
    expect(view.read(0, 'p', 'w')).toMatchObject({ onHand: 10, version: 4 });
    view.apply([['p', 'w', 8, 1, 5]]);
    expect(view.read(0, 'p', 'w')).toMatchObject({ onHand: 8, reserved: 1, version: 5 });
    expect(view.size).toBe(1);
  });
});
