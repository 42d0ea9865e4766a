// Shards: worker threads that own partitions. The main thread sees the channel and the protocol;
// the CLI and the tests also use partition recovery, the one way a journal becomes state.
export {
  ShardChannel,
  type ReplyCallback,
  type ShardChannelListener,
  type ShardDown,
} from './shard-channel.js';
export {
  recoverPartitions,
  type RecoveredPartition,
  type RecoveryOptions,
} from './partition-recovery.js';
export {
  failure,
  type CartInDoubt,
  type CommitTiming,
  type DurableChanges,
  type RecoveryStats,
  type ShardFailure,
  type ShardOutcome,
  type ShardReply,
  type ShardWorkerData,
  type StockChange,
} from './protocol.js';
export { shardWorkerData } from './worker-data.js';
