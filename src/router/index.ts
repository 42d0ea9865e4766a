// Partitioning and the shard clients.
export { hashStockKey, partitionOf, partitionHashVersion } from './partition-hash.js';
export { mintReservationId, reservationPartition } from './reservation-id.js';
export { PartitionTable } from './partition-table.js';
export { ShardClient, type ReplyCallback } from './shard-client.js';
export { Router, type RoutableCommand } from './router.js';
