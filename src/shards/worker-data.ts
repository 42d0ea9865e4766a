// What a shard's worker thread is started with, from the ledger's configuration: one place for
// the server (main.ts) and the benches that start the same shards (bench/micro/pipeline-alone.ts).
import { retentionOf, type Config } from '../config.js';
import type { ShardWorkerData } from './protocol.js';

export function shardWorkerData(
  config: Config,
  shard: number,
  partitions: readonly number[],
  partitionCount: number,
  databaseUrl: string,
): ShardWorkerData {
  return {
    shard,
    partitions,
    partitionCount,
    databaseUrl,
    retention: retentionOf(config, partitionCount),
    walBatchRecordsMax: config.walBatchRecordsMax,
    commitsInFlight: config.commitsInFlight,
    snapshotEveryRecords: config.snapshotEveryRecords,
    expirySweepMs: config.expirySweepMs,
    inflightMax: config.shardInflightMax,
    logLevel: config.logLevel,
    traceCommits: config.tracing !== undefined,
    ...(config.timelineFile === undefined ? {} : { timelineFile: config.timelineFile }),
    ...(config.shardYoungGenerationMb === 0
      ? {}
      : { youngGenerationMb: config.shardYoungGenerationMb }),
    ...(config.cluster === undefined
      ? {}
      : { cluster: { node: config.cluster.nodeId, leases: [] } }),
  };
}
