// Proves both partition hashes are frozen by pinning fixed vectors, that version 2 depends on the
// product id alone, and that each spreads keys evenly.
import { describe, expect, it } from 'vitest';
import {
  hashProduct,
  hashStockKeyV1,
  partitionHashVersion,
  partitionOf,
  partitionOfV1,
} from '../../../src/router/partition-hash.js';

// Computed once from version 1 of the hash and frozen here; never update them to make a test pass.
const vectorsV1: ReadonlyArray<[productId: string, warehouseId: string, hash: number]> = [
  ['sku-1', 'wh-1', 966433676],
  ['', '', 91794203],
  ['a', 'b', 1564531501],
  ['ab', '', 2138214941],
  ['', 'ab', 4178849543],
  ['550e8400-e29b-41d4-a716-446655440000', 'WH.eu-west:1', 2340546785],
  ['x'.repeat(64), 'y'.repeat(64), 362491828],
];

// Computed once from version 2 of the hash and frozen here; never update them to make a test pass.
const vectorsV2: ReadonlyArray<[productId: string, hash: number]> = [
  ['sku-1', 1636000271],
  ['', 2872998923],
  ['a', 444641715],
  ['ab', 2563531789],
  ['550e8400-e29b-41d4-a716-446655440000', 2531564893],
  ['x'.repeat(64), 2184493747],
  ['\u00e9\u{1F600}', 4159213040],
];

describe('hashStockKeyV1', () => {
  it.each(vectorsV1)('hashes (%j, %j) to the frozen value %i', (productId, warehouseId, hash) => {
    expect(hashStockKeyV1(productId, warehouseId)).toBe(hash);
  });

  it('keeps the boundary between the ids: ("ab",""), ("a","b"), ("","ab") differ', () => {
    const hashes = new Set([
      hashStockKeyV1('ab', ''),
      hashStockKeyV1('a', 'b'),
      hashStockKeyV1('', 'ab'),
    ]);
    expect(hashes.size).toBe(3);
  });

  it('is the hash modulo the partition count in partitionOfV1', () => {
    expect(partitionOfV1('sku-1', 'wh-1', 256)).toBe(140);
    expect(partitionOfV1('sku-1', 'wh-1', 65_536)).toBe(39_820);
    expect(partitionOfV1('sku-1', 'wh-1', 1)).toBe(0);
  });
});

describe('hashProduct (version 2)', () => {
  it('is version 2 of the partition hash', () => {
    expect(partitionHashVersion).toBe(2);
  });

  it.each(vectorsV2)('hashes %j to the frozen value %i', (productId, hash) => {
    expect(hashProduct(productId)).toBe(hash);
  });

  it('returns an unsigned 32-bit integer', () => {
    for (let index = 0; index < 1_000; index += 1) {
      const hash = hashProduct(`sku-${index}`);
      expect(Number.isInteger(hash) && hash >= 0 && hash <= 0xffffffff).toBe(true);
      const v1 = hashStockKeyV1(`sku-${index}`, `wh-${index % 7}`);
      expect(Number.isInteger(v1) && v1 >= 0 && v1 <= 0xffffffff).toBe(true);
    }
  });
});

describe('partitionOf', () => {
  it('is the product hash modulo the partition count', () => {
    expect(partitionOf('sku-1', 256)).toBe(15);
    expect(partitionOf('sku-1', 65_536)).toBe(25_103);
    expect(partitionOf('sku-1', 1)).toBe(0);
  });

  it('spreads sequential SKUs over 256 partitions within 0.5 to 1.5 times the mean', () => {
    for (const partitionOfSku of [
      (index: number) => partitionOf(`sku-${index}`, 256),
      (index: number) => partitionOfV1(`sku-${index}`, 'wh-1', 256),
    ]) {
      const counts = new Array<number>(256).fill(0);
      const keys = 256 * 100;
      for (let index = 0; index < keys; index += 1) {
        const partition = partitionOfSku(index);
        counts[partition] = (counts[partition] ?? 0) + 1;
      }
      expect(Math.min(...counts)).toBeGreaterThanOrEqual(50);
      expect(Math.max(...counts)).toBeLessThanOrEqual(150);
    }
  });
});
