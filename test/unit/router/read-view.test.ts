// Proves the durable read view: nothing is answered for a partition before its census (it might
// hold the key), nor once a hold pending in the journal may be due (only the shard, which expires
// it first, answers exactly then); a key missing after the census was never stocked; and a key's
// version only moves forward whatever order changes arrive in. Its listing pages: keys of every
// partition in (product_id, warehouse_id) order, from a cursor, of one product, each with its
// exact view or none (ask the shard) as its partition reads, and none before every census.
import { describe, expect, it } from 'vitest';
import { partitionOf } from '../../../src/router/partition-hash.js';
import {
  StockReadView,
  type StockPageQuery,
  type ViewPage,
} from '../../../src/router/read-view.js';
import type { StockChange } from '../../../src/shards/index.js';

const forever = Number.POSITIVE_INFINITY;

const all = (partitions: number): number[] => Array.from({ length: partitions }, (_, p) => p);

const query = (over: Partial<StockPageQuery> = {}): StockPageQuery => ({
  productId: undefined,
  after: undefined,
  limit: 100,
  ...over,
});

/** The page's keys as `product/warehouse`, to compare at a glance. */
const keysOf = (page: ViewPage | 'not-loaded'): string[] => {
  if (page === 'not-loaded') throw new Error('not loaded');
  return page.entries.map((entry) => `${entry.key.productId}/${entry.key.warehouseId}`);
};

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

describe('StockReadView pages', () => {
  const partitions = 8;
  // Products whose ids sort apart from their partitions, and ids that are prefixes of others.
  const stock: StockChange[] = [
    ['b', 'w2', 4, 0, 1],
    ['a.', 'w1', 1, 0, 1],
    ['a', 'w2', 2, 1, 2],
    ['B', 'w1', 3, 0, 1],
    ['a', 'w1', 5, 0, 3],
    ['a-b', 'w1', 6, 0, 1],
    ['ab', 'w1', 7, 0, 1],
  ];
  const ordered = ['B/w1', 'a/w1', 'a/w2', 'a-b/w1', 'a./w1', 'ab/w1', 'b/w2'];

  function loadedView(): StockReadView {
    const view = new StockReadView(partitions);
    view.load(all(partitions), stock, forever);
    return view;
  }

  it('lists the keys of every partition in (product_id, warehouse_id) order', () => {
    expect(new Set(stock.map(([product]) => partitionOf(product, partitions))).size).toBe(3);
    const page = loadedView().page(query(), 0);
    expect(keysOf(page)).toEqual(ordered);
    if (page === 'not-loaded') throw new Error('not loaded');
    expect(page.more).toBe(false);
    expect(page.entries[1]).toEqual({
      partition: partitionOf('a', partitions),
      key: { productId: 'a', warehouseId: 'w1' },
      stock: {
        productId: 'a',
        warehouseId: 'w1',
        onHand: 5,
        reserved: 0,
        available: 5,
        version: 3,
      },
    });
  });

  it('pages from a cursor and says when keys follow', () => {
    const view = loadedView();
    const first = view.page(query({ limit: 3 }), 0);
    expect(keysOf(first)).toEqual(ordered.slice(0, 3));
    expect(first !== 'not-loaded' && first.more).toBe(true);
    const after = { productId: 'a', warehouseId: 'w2' };
    const second = view.page(query({ limit: 4, after }), 0);
    expect(keysOf(second)).toEqual(ordered.slice(3));
    expect(second !== 'not-loaded' && second.more).toBe(false);
    // A cursor need not name a key that exists: the page starts after where it would sort.
    const between = { productId: 'a', warehouseId: 'w1x' };
    expect(keysOf(view.page(query({ limit: 1, after: between }), 0))).toEqual(['a/w2']);
  });

  it("lists one product's keys only, from a cursor inside, before or after them", () => {
    const view = loadedView();
    expect(keysOf(view.page(query({ productId: 'a' }), 0))).toEqual(['a/w1', 'a/w2']);
    expect(keysOf(view.page(query({ productId: 'a-b' }), 0))).toEqual(['a-b/w1']);
    const inside = { productId: 'a', warehouseId: 'w1' };
    expect(keysOf(view.page(query({ productId: 'a', after: inside }), 0))).toEqual(['a/w2']);
    const before = { productId: 'B', warehouseId: 'w1' };
    expect(keysOf(view.page(query({ productId: 'a', after: before }), 0))).toEqual(
      ordered.slice(1, 3),
    );
    const past = { productId: 'ab', warehouseId: 'w1' };
    expect(view.page(query({ productId: 'a', after: past }), 0)).toEqual({
      entries: [],
      more: false,
    });
    expect(view.page(query({ productId: 'zz' }), 0)).toEqual({ entries: [], more: false });
    const one = view.page(query({ productId: 'a', limit: 1 }), 0);
    expect(one !== 'not-loaded' && one.more).toBe(true);
    const both = view.page(query({ productId: 'a', limit: 2 }), 0);
    expect(both !== 'not-loaded' && both.more).toBe(false);
  });

  it('shows keys that arrive after the cursor on later pages, and not those before it', () => {
    const view = loadedView();
    const first = view.page(query({ limit: 2 }), 0);
    expect(keysOf(first)).toEqual(['B/w1', 'a/w1']);
    view.apply([
      ['A', 'w1', 1, 0, 1],
      ['a', 'w3', 1, 0, 1],
      ['c', 'w1', 1, 0, 1],
    ]);
    const after = { productId: 'a', warehouseId: 'w1' };
    expect(keysOf(view.page(query({ after }), 0))).toEqual([
      'a/w2',
      'a/w3',
      ...ordered.slice(3),
      'c/w1',
    ]);
  });

  it('gives no view for a key whose partition may have a hold due: the shard is asked', () => {
    const view = loadedView();
    const late = partitionOf('a', partitions);
    view.readableUntil([late], 1_000);
    const page = view.page(query(), 1_000);
    if (page === 'not-loaded') throw new Error('not loaded');
    for (const entry of page.entries) {
      expect(entry.stock === undefined, keysOf(page).join()).toBe(entry.partition === late);
    }
    const before = view.page(query(), 999);
    if (before === 'not-loaded') throw new Error('not loaded');
    expect(before.entries.every((entry) => entry.stock !== undefined)).toBe(true);
  });

  it('refuses to list before the census of a partition the page could draw from', () => {
    const view = new StockReadView(partitions);
    const home = partitionOf('a', partitions);
    const others = all(partitions).filter((partition) => partition !== home);
    view.load(others, [['b', 'w2', 4, 0, 1]], forever);
    expect(view.page(query(), 0)).toBe('not-loaded');
    expect(view.page(query({ productId: 'a' }), 0)).toBe('not-loaded');
    expect(keysOf(view.page(query({ productId: 'b' }), 0))).toEqual(['b/w2']);
    view.load([home], [['a', 'w1', 5, 0, 3]], forever);
    expect(keysOf(view.page(query(), 0))).toEqual(['a/w1', 'b/w2']);
  });

  it('keeps one key once, whatever census and changes repeat it', () => {
    const view = loadedView();
    view.load(all(partitions), stock, forever);
    view.apply([['a', 'w1', 9, 0, 4]]);
    expect(keysOf(view.page(query(), 0))).toEqual(ordered);
    expect(view.size).toBe(ordered.length);
  });
});
