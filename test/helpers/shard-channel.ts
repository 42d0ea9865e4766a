// A real shard worker behind its ShardChannel, for the tests that drive one directly (no HTTP,
// no router): the worker data every such test shares, a listener that hears nothing unless given
// one, and a start that waits until the shard serves.
import type { Clock } from '../../src/clock.js';
import type { PartitionTable } from '../../src/router/index.js';
import { ShardChannel, type ShardChannelListener } from '../../src/shards/index.js';
import type { AdmissionRule } from '../../src/shards/queue-admission.js';
import type { TestDatabase } from './database.js';
import { sleep } from './ledger-process.js';

/** A day's retention: nothing a test makes is pruned under it. */
const dayRetention = {
  retainFinishedMs: 86_400_000,
  retainFinishedMax: 10_000,
  onHandMax: 1e12,
};

export const deafListener: ShardChannelListener = {
  ready: () => undefined,
  durable: () => undefined,
  census: () => undefined,
  down: () => undefined,
  log: () => undefined,
};

export interface ChannelOptions {
  readonly commitsInFlight?: number;
  readonly snapshotEveryRecords?: number;
  readonly inflightMax?: number;
  readonly listener?: ShardChannelListener;
  readonly admission?: AdmissionRule;
  readonly youngGenerationMb?: number;
  /** The HTTP thread's time as the channel reads it (batch ages, drain rate); else the system's. */
  readonly clock?: Clock;
}

/** Shard 0 of `table` over `database`'s journal, started and serving. */
export async function startShardChannel(
  database: TestDatabase,
  table: PartitionTable,
  options: ChannelOptions = {},
): Promise<ShardChannel> {
  const channel = new ShardChannel(
    0,
    {
      shard: 0,
      partitions: table.partitionsOf(0),
      partitionCount: table.partitions,
      databaseUrl: database.url,
      retention: dayRetention,
      walBatchRecordsMax: 100,
      commitsInFlight: options.commitsInFlight ?? 1,
      snapshotEveryRecords: options.snapshotEveryRecords ?? 100_000,
      expirySweepMs: 100,
      inflightMax: options.inflightMax ?? 10_000,
      logLevel: 'silent',
      traceCommits: false,
      ...(options.youngGenerationMb === undefined
        ? {}
        : { youngGenerationMb: options.youngGenerationMb }),
    },
    options.listener ?? deafListener,
    options.admission,
    undefined,
    options.clock,
  );
  channel.start();
  while (!channel.isReady) await sleep(10);
  return channel;
}
