// Proves each partition has exactly one shard by checking shardOf vs partitionsOf over a grid.
import { describe, expect, it } from 'vitest';
import { PartitionTable } from '../../../src/router/partition-table.js';

const grid: Array<[partitions: number, shards: number]> = [];
for (const partitions of [1, 2, 7, 256, 1_000, 65_536]) {
  for (const shards of [1, 2, 3, 8, 16, 300]) grid.push([partitions, shards]);
}

describe('PartitionTable', () => {
  it.each(grid)('gives each of %i partitions exactly one of %i shards', (partitions, shards) => {
    const table = new PartitionTable(partitions, shards);
    const owners = new Array<number>(partitions).fill(0);
    const strays: string[] = [];
    for (let shard = 0; shard < shards; shard += 1) {
      for (const partition of table.partitionsOf(shard)) {
        const inRange = Number.isInteger(partition) && partition >= 0 && partition < partitions;
        if (!inRange || table.shardOf(partition) !== shard) strays.push(`${partition}@${shard}`);
        owners[partition] = (owners[partition] ?? 0) + 1;
      }
    }
    expect(strays).toStrictEqual([]);
    expect(owners.length).toBe(partitions);
    expect(owners.every((count) => count === 1)).toBe(true);
  });

  it('balances partitions so shards differ by at most one partition', () => {
    const table = new PartitionTable(256, 3);
    const sizes = [0, 1, 2].map((shard) => table.partitionsOf(shard).length);
    expect(sizes).toStrictEqual([86, 85, 85]);
  });

  it('gives shards beyond the partition count nothing to own', () => {
    const table = new PartitionTable(2, 4);
    expect(table.partitionsOf(2)).toStrictEqual([]);
    expect(table.partitionsOf(3)).toStrictEqual([]);
  });
});
