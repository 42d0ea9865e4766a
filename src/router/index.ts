// Partitioning and routing to the shard channels.
export {
  hashProduct,
  hashStockKeyV1,
  partitionOf,
  partitionOfV1,
  partitionHashVersion,
} from './partition-hash.js';
export { mintReservationId, reservationPartition } from './reservation-id.js';
export { PartitionTable } from './partition-table.js';
export { StockReadView, type StockKey, type StockPageQuery } from './read-view.js';
export type { NodePage } from './cluster-listing.js';
export type { StockListing } from './stock-listing.js';
export {
  Router,
  type ClusterRoutes,
  type Dispatched,
  type Placement,
  type RoutableCommand,
} from './router.js';
export {
  CartCoordinator,
  cartFingerprint,
  cartStatus,
  type CartCallback,
  type CartTransport,
  type CartCoordinatorOptions,
  type CartRequest,
} from './cart-coordinator.js';
export { CartResolver, type CartResolverOptions } from './cart-resolver.js';
