// Proves the partition's key index finds every key by its ids whatever form its product takes (a
// lone key, a few keys, a product entry), keeps the order keys were made, and keeps what is
// written to a product, by registering keys directly and reading them back.
import { describe, expect, it } from 'vitest';
import { AssertionError, StockActor } from '../../../src/actors/index.js';
import { KeyIndex } from '../../../src/actors/key-index.js';
import { keysScannedMax } from '../../../src/actors/product-book.js';

function indexWith(keys: readonly (readonly [string, string])[]): KeyIndex {
  const index = new KeyIndex();
  for (const [productId, warehouseId] of keys)
    index.register(new StockActor(productId, warehouseId));
  return index;
}

const idsOf = (index: KeyIndex): string[] =>
  [...index.actors()].map((actor) => `${actor.productId}/${actor.warehouseId}`);

describe('KeyIndex', () => {
  it('finds a lone key of a product, and nothing under its other warehouses', () => {
    const index = indexWith([['sku-1', 'wh-1']]);
    expect(index.get('sku-1', 'wh-1')?.stockKey).toBe('sku-1\u0000wh-1');
    expect(index.get('sku-1', 'wh-2')).toBeUndefined();
    expect(index.get('sku-2', 'wh-1')).toBeUndefined();
    expect(index.product('sku-1')).toBeUndefined();
    expect(index.size).toBe(1);
  });

  it('finds every key of a product in a few and in many warehouses, in the order made', () => {
    for (const count of [2, keysScannedMax, keysScannedMax + 1, 3 * keysScannedMax]) {
      const warehouses = Array.from({ length: count }, (_, n) => `wh-${n}`);
      const index = indexWith([
        ['other', 'wh-0'],
        ...warehouses.map((warehouseId) => ['sku-1', warehouseId] as const),
        ['last', 'wh-0'],
      ]);
      for (const warehouseId of warehouses) {
        expect(index.get('sku-1', warehouseId)?.warehouseId).toBe(warehouseId);
      }
      expect(index.get('sku-1', 'wh-none')).toBeUndefined();
      expect(index.size).toBe(count + 2);
      expect(idsOf(index)).toEqual([
        'other/wh-0',
        ...warehouses.map((warehouseId) => `sku-1/${warehouseId}`),
        'last/wh-0',
      ]);
      expect(index.productView('sku-1')?.keys.map((actor) => actor.warehouseId)).toEqual(
        warehouses,
      );
    }
  });

  it('keeps settings and keys written to a product made from its keys, in the keys order', () => {
    const index = indexWith([
      ['sku-1', 'wh-b'],
      ['sku-2', 'wh-a'],
      ['sku-1', 'wh-a'],
    ]);
    const product = index.productOf('sku-1');
    product.settings = { ...product.settings, maxPerBuyer: 2 };
    index.register(new StockActor('sku-1', 'wh-c'));
    expect(index.product('sku-1')?.settings.maxPerBuyer).toBe(2);
    expect(index.productOf('sku-1')).toBe(product);
    expect(idsOf(index)).toEqual(['sku-1/wh-b', 'sku-1/wh-a', 'sku-1/wh-c', 'sku-2/wh-a']);
    expect(index.get('sku-1', 'wh-c')?.productId).toBe('sku-1');
    expect([...index.products()].map((entry) => entry.productId)).toEqual(['sku-1']);
  });

  it('keeps nothing written to the passing view of a product without an entry', () => {
    const index = indexWith([['sku-1', 'wh-1']]);
    const view = index.productView('sku-1');
    expect(view?.keys).toHaveLength(1);
    expect(index.product('sku-1')).toBeUndefined();
    expect([...index.products()]).toEqual([]);
  });

  it('gives a product without keys an entry of its own, which its first key joins', () => {
    const index = new KeyIndex();
    index.productOf('sku-1').settings = {
      maxPerBuyer: null,
      limitWindowSeconds: 60,
      warehousePriority: null,
      lowStockThreshold: 3,
    };
    expect(index.get('sku-1', 'wh-1')).toBeUndefined();
    index.register(new StockActor('sku-1', 'wh-1'));
    expect(index.get('sku-1', 'wh-1')?.warehouseId).toBe('wh-1');
    expect(index.product('sku-1')?.settings.lowStockThreshold).toBe(3);
    expect(index.size).toBe(1);
  });

  it('refuses a key registered twice, in any form of its product', () => {
    for (const count of [1, 2, keysScannedMax + 1]) {
      const keys = Array.from({ length: count }, (_, n) => ['sku-1', `wh-${n}`] as const);
      const index = indexWith(keys);
      expect(() => index.register(new StockActor('sku-1', 'wh-0'))).toThrow(AssertionError);
      expect(index.size).toBe(count);
    }
  });
});
