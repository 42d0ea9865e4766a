// Proves the stock-key hash is frozen by pinning fixed vectors, and that it spreads keys evenly.
import { describe, expect, it } from 'vitest';
import {
  hashStockKey,
  partitionHashVersion,
  partitionOf,
} from '../../../src/router/partition-hash.js';

// Computed once from version 1 of the hash and frozen here; never update them to make a test pass.
const vectors: ReadonlyArray<[productId: string, warehouseId: string, hash: number]> = [
  ['sku-1', 'wh-1', 966433676],
  ['', '', 91794203],
  ['a', 'b', 1564531501],
  ['ab', '', 2138214941],
  ['', 'ab', 4178849543],
  ['550e8400-e29b-41d4-a716-446655440000', 'WH.eu-west:1', 2340546785],
  ['x'.repeat(64), 'y'.repeat(64), 362491828],
];

describe('hashStockKey', () => {
  it('is version 1 of the partition hash', () => {
    expect(partitionHashVersion).toBe(1);
  });

  it.each(vectors)('hashes (%j, %j) to the frozen value %i', (productId, warehouseId, hash) => {
    expect(hashStockKey(productId, warehouseId)).toBe(hash);
  });

  it('keeps the boundary between the ids: ("ab",""), ("a","b"), ("","ab") differ', () => {
    const hashes = new Set([
      hashStockKey('ab', ''),
      hashStockKey('a', 'b'),
      hashStockKey('', 'ab'),
    ]);
    expect(hashes.size).toBe(3);
  });

  it('returns an unsigned 32-bit integer', () => {
    for (let index = 0; index < 1_000; index += 1) {
      const hash = hashStockKey(`sku-${index}`, `wh-${index % 7}`);
      expect(Number.isInteger(hash) && hash >= 0 && hash <= 0xffffffff).toBe(true);
    }
  });
});

describe('partitionOf', () => {
  it('is the hash modulo the partition count', () => {
    expect(partitionOf('sku-1', 'wh-1', 256)).toBe(140);
    expect(partitionOf('sku-1', 'wh-1', 65_536)).toBe(39_820);
    expect(partitionOf('sku-1', 'wh-1', 1)).toBe(0);
  });

  it('spreads sequential SKUs over 256 partitions within 0.5 to 1.5 times the mean', () => {
    const counts = new Array<number>(256).fill(0);
    const keys = 256 * 100;
    for (let index = 0; index < keys; index += 1) {
      const partition = partitionOf(`sku-${index}`, 'wh-1', 256);
      counts[partition] = (counts[partition] ?? 0) + 1;
    }
    expect(Math.min(...counts)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...counts)).toBeLessThanOrEqual(150);
  });
});
