// Merging the nodes' pages of a listing: key order across nodes, the page bound and its cursor,
// a refusal passed on, and no page while a partition is served by no node.
import { describe, expect, it } from 'vitest';
import { mergePages, type NodePage } from '../../../src/router/cluster-listing.js';

const view = (productId: string, warehouseId = 'w') => ({
  productId,
  warehouseId,
  onHand: 1,
  reserved: 0,
  available: 1,
  version: 1,
});

const page = (served: number[], more: boolean, ...products: string[]): NodePage => ({
  ok: true,
  items: products.map((product) => view(product)),
  more,
  served,
});

describe('a listing merged across nodes', () => {
  it('takes the first keys of all nodes in key order, with a cursor when more follow', () => {
    const merged = mergePages(
      [page([0, 1], false, 'b', 'd'), page([2, 3], false, 'a', 'c', 'e')],
      3,
      4,
    );
    expect(merged).toEqual({
      ok: true,
      items: [view('a'), view('b'), view('c')],
      next: { productId: 'c', warehouseId: 'w' },
    });
  });

  it('orders a product before another that extends its id, as the view does', () => {
    const merged = mergePages(
      [
        { ok: true, items: [view('ab', 'a')], more: false, served: [0] },
        { ok: true, items: [view('a', 'z')], more: false, served: [1] },
      ],
      10,
      2,
    );
    expect(merged).toMatchObject({ items: [view('a', 'z'), view('ab', 'a')], next: undefined });
  });

  it('says more follow when a node had more, even if the merged page is not full', () => {
    expect(mergePages([page([0], true, 'a'), page([1], false)], 5, 2)).toMatchObject({
      next: { productId: 'a', warehouseId: 'w' },
    });
  });

  it('gives no page while a partition is served by no node, and passes a refusal on', () => {
    expect(mergePages([page([0], false, 'a'), page([2], false)], 5, 3)).toBe('uncovered');
    const refusal = { ok: false as const, code: 'unavailable' as const, message: 'down' };
    expect(mergePages([page([0, 1, 2], false), refusal], 5, 3)).toBe(refusal);
  });
});
