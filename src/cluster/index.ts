// A cluster of ledger nodes (LEDGER_CLUSTER): partition leases, the placement of partitions, and
// the forwarding of commands to their owners. Uses router (its routes), shards (their replies)
// and persistence (the lease table); only the composition root imports it.
export {
  planAssignment,
  shareOf,
  type AssignmentPlan,
  type AssignmentSight,
} from './assignment.js';
export {
  LeaseKeeper,
  type ClusterView,
  type LeaseKeeperOptions,
  type PartitionHost,
} from './lease-keeper.js';
export { Forwarding, forwardSubject, type ForwardingOptions } from './forwarding.js';
export { clusterNode, type ClusterNode, type ClusterNodeOptions } from './cluster-node.js';
export { FeedRelay, type FeedPort } from './feed-relay.js';
