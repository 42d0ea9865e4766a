// Which shard owns which partition. Partitions are fixed with the journal; shards may change from
// one start to the next, so ownership is a plain function of the two counts.

export class PartitionTable {
  constructor(
    readonly partitions: number,
    readonly shards: number,
  ) {}

  shardOf(partition: number): number {
    return partition % this.shards;
  }

  partitionsOf(shard: number): number[] {
    const owned: number[] = [];
    for (let partition = shard; partition < this.partitions; partition += this.shards) {
      owned.push(partition);
    }
    return owned;
  }
}
