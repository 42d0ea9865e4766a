// Shards: worker threads that own partitions. The main thread sees the host and the protocol.
export { ShardHost, type ShardHostListener } from './shard-host.js';
export { errorReply } from './reply-format.js';
export {
  encodeBatch,
  type DurableChanges,
  type RecoveryStats,
  type StockChange,
  type ShardReply,
  type ShardRequest,
  type ShardWorkerData,
} from './protocol.js';
