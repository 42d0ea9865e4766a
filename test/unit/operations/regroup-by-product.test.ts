// Proves regroupByProduct refuses input no hash v1 journal can hold, and merges the finished
// queues of several v1 partitions in time order while each keeps its own order.
import { describe, expect, it } from 'vitest';
import type { PartitionSnapshot } from '../../../src/actors/index.js';
import { RegroupError, regroupByProduct } from '../../../src/operations/index.js';
import { partitionOf, partitionOfV1 } from '../../../src/router/index.js';

const partitions = 4;

/** A product with two warehouses that hash v1 puts in two different partitions. */
function splitProduct(): { productId: string; warehouses: [string, string] } {
  for (let index = 0; ; index += 1) {
    const productId = `sku-${index}`;
    if (
      partitionOfV1(productId, 'wh-a', partitions) !== partitionOfV1(productId, 'wh-b', partitions)
    )
      return { productId, warehouses: ['wh-a', 'wh-b'] };
  }
}

function actor(productId: string, warehouseId: string): PartitionSnapshot['actors'][number] {
  return [productId, warehouseId, 10, 0, 1, [], [['adjust-key', 10, '', 10, 0, 1, 5]]];
}

describe('regroupByProduct', () => {
  it('refuses a key that hash v1 does not put in the partition holding it', () => {
    const source: PartitionSnapshot = {
      partition: (partitionOfV1('sku-1', 'wh-1', partitions) + 1) % partitions,
      actors: [actor('sku-1', 'wh-1')],
      finished: [],
    };
    expect(() => regroupByProduct([source], partitions, 1000)).toThrow(RegroupError);
  });

  it('refuses a partition given twice', () => {
    const empty: PartitionSnapshot = { partition: 1, actors: [], finished: [] };
    expect(() => regroupByProduct([empty, empty], partitions, 1000)).toThrow(RegroupError);
  });

  it('merges finished queues by time, each source keeping its order past a clock step', () => {
    const { productId, warehouses } = splitProduct();
    const [first, second] = warehouses.map((warehouseId) => ({
      partition: partitionOfV1(productId, warehouseId, partitions),
      actors: [actor(productId, warehouseId)],
      retained: [] as NonNullable<PartitionSnapshot['retained']>,
    }));
    if (first === undefined || second === undefined) throw new Error('two sources');
    // The first source's clock stepped back from 30 to 20: its 20 must stay after its 30.
    first.retained.push([0, '', 'a1', 10], [0, '', 'a2', 30], [0, '', 'a3', 20]);
    second.retained.push([0, '', 'b1', 15], [0, '', 'b2', 25], [0, '', 'b3', 40]);
    const { snapshots, routes } = regroupByProduct([second, first], partitions, 1000);
    const home = snapshots[partitionOf(productId, partitions)] as PartitionSnapshot;
    expect(home.actors.map((tuple) => tuple[1]).sort()).toStrictEqual(['wh-a', 'wh-b']);
    const order = (home.retained ?? []).map(([, , adjustKey]) => adjustKey);
    expect(order).toStrictEqual(['a1', 'b1', 'b2', 'a2', 'a3', 'b3']);
    const keyOf = (name: string) => (name.startsWith('a') ? first : second);
    for (const [index, , adjustKey] of home.retained ?? []) {
      const owner = home.actors[index];
      expect(owner?.[1]).toBe(keyOf(adjustKey).actors[0]?.[1]);
    }
    expect(routes).toStrictEqual([]);
    expect(snapshots.filter((snapshot) => snapshot.actors.length > 0)).toHaveLength(1);
  });
});
