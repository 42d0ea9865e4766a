// Stock keys placed on purpose: the partition hash is a frozen contract (src/router), so a test
// can pick product ids that land on each shard of a ledger started with SHARDS and partitions.
// With hash v2 the partition depends on the product alone: any warehouse of it goes there too.
import { partitionOf } from '../../src/router/index.js';

/** `count` product ids with this prefix, spread round-robin over `shards` shards. */
export function productsAcrossShards(
  prefix: string,
  count: number,
  shards = 2,
  partitions = 256,
): string[] {
  const perShard = Math.ceil(count / shards);
  const byShard: string[][] = Array.from({ length: shards }, () => []);
  for (let candidate = 0; byShard.some((list) => list.length < perShard); candidate += 1) {
    const productId = `${prefix}-${candidate}`;
    const list = byShard[partitionOf(productId, partitions) % shards] as string[];
    if (list.length < perShard) list.push(productId);
  }
  const spread: string[] = [];
  for (let index = 0; spread.length < count; index += 1) {
    spread.push(byShard[index % shards]?.[Math.floor(index / shards)] as string);
  }
  return spread;
}

/**
 * Fresh product ids for one test file: `<tag>-<run>-<n>`, unique per run, and when asked, one
 * whose partition (of `partitions`) is `partition`.
 */
export function freshProductIds(
  runTag: string,
  partitions = 256,
): (tag: string, partition?: number) => string {
  let counter = 0;
  return (tag, partition) => {
    for (;;) {
      counter += 1;
      const id = `${tag}-${runTag}-${counter}`;
      if (partition === undefined || partitionOf(id, partitions) === partition) return id;
    }
  };
}
