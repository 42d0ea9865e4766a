// A node's part in its cluster, wired: the lease keeper moving partitions in and out of this
// node's shards, and forwarding over NATS both ways (the router's way to other owners, and this
// node's answers for its own partitions).
import { clusterReleaseMax, clusterRequestBudgetMs, snapshotTimeoutMs } from '../limits.js';
import type { Logger } from '../observability/logger.js';
import { ClusterLeases, type LeaseConnection } from '../persistence/index.js';
import type { ClusterRoutes, PartitionTable, Router, StockReadView } from '../router/index.js';
import { failure, type ShardChannel, type StockChange } from '../shards/index.js';
import { FeedRelay, type FeedPort } from './feed-relay.js';
import { Forwarding } from './forwarding.js';
import { LeaseKeeper, type PartitionHost } from './lease-keeper.js';

/** The node's part in its cluster: leases kept, commands forwarded both ways. */
export interface ClusterNode {
  readonly keeper: LeaseKeeper;
  readonly routes: ClusterRoutes;
  /**
   * Connects forwarding and joins (takes its share of partitions in the background); `feed` is
   * the node's live feed, which other nodes' stock changes go to while it has subscribers.
   */
  start(router: Router, feed: FeedPort, snapshot: () => Promise<number>): Promise<void>;
  /**
   * An operator's snapshot request: every live node snapshots its changed partitions (`local`:
   * this node's); resolves to how many, in all.
   */
  snapshotAll(local: () => Promise<number>): Promise<number>;
  /** This node's durable stock changes, for other nodes' live feeds (when they want them). */
  stockChanged(changes: readonly StockChange[]): void;
  leave(): Promise<void>;
}

export interface ClusterNodeOptions {
  readonly nodeId: string;
  readonly leaseSeconds: number;
  readonly natsUrl: string;
  /** The journal's identity: forwarding subjects are namespaced by it. */
  readonly journal: string;
  /** The connection leases are kept on (it holds the journal's lock, shared). */
  readonly connection: LeaseConnection;
  readonly table: PartitionTable;
  readonly shards: readonly ShardChannel[];
  readonly view: StockReadView;
  /** The event publisher (with NATS_URL): it publishes the partitions this node holds. */
  readonly events: PartitionPublisher | undefined;
  readonly log: Logger;
}

/** What a cluster node needs of its event publisher. */
export interface PartitionPublisher {
  own(partitions: readonly number[]): void;
  disown(partitions: readonly number[]): void;
}

/** The node's shards (and event publisher) taking partitions on and letting them go. */
function partitionHost(options: ClusterNodeOptions): PartitionHost {
  const { table, shards, view, events } = options;
  const byShard = <Item>(items: readonly Item[], partitionOf: (item: Item) => number) => {
    const groups = new Map<ShardChannel, Item[]>();
    for (const item of items) {
      const channel = shards[table.shardOf(partitionOf(item))] as ShardChannel;
      const group = groups.get(channel);
      if (group === undefined) groups.set(channel, [item]);
      else group.push(item);
    }
    return [...groups];
  };
  return {
    adopt: async (taken) => {
      const groups = byShard(taken, (lease) => lease.partition);
      await Promise.all(
        groups.map(([channel, group]) =>
          channel.adopt(group.map(({ partition, epoch }) => [partition, epoch] as const)),
        ),
      );
      events?.own(taken.map((lease) => lease.partition));
    },
    drop: async (partitions, handOver) => {
      events?.disown(partitions);
      const groups = byShard(partitions, (partition) => partition);
      await Promise.all(groups.map(([channel, group]) => channel.drop(group, handOver)));
      view.readableUntil(partitions, Number.NEGATIVE_INFINITY);
    },
  };
}

const unreachable = 'This node is not connected to the cluster yet; retry shortly.';

/** The router's view of the cluster: the keeper's placement and forwarding's way to owners. */
function clusterRoutes(
  keeper: LeaseKeeper,
  self: string,
  forwarding: () => Forwarding | undefined,
): ClusterRoutes {
  return {
    where: (partition) => keeper.where(partition),
    forward: (node, partition, command, callback, budgetMs) => {
      const way = forwarding();
      if (way !== undefined) way.forward(node, partition, command, callback, budgetMs);
      else callback(failure(0, 'unavailable', unreachable));
    },
    cancel: () => false,
    nodes: () => keeper.view().nodes.map((node) => node.node_id),
    self,
    list: (node, query, callback) => {
      const way = forwarding();
      if (way !== undefined) way.list(node, query, callback);
      else callback(failure(0, 'unavailable', unreachable).outcome);
    },
  };
}

export function clusterNode(options: ClusterNodeOptions): ClusterNode {
  const { nodeId, leaseSeconds, natsUrl, journal, connection, table, log } = options;
  const leases = new ClusterLeases(connection, nodeId, leaseSeconds);
  const keeper = new LeaseKeeper({
    self: nodeId,
    leaseMs: leaseSeconds * 1000,
    leases,
    now: () => performance.now(),
    log: (level, fields, message) => log[level]({ component: 'cluster', ...fields }, message),
    releaseMax: clusterReleaseMax,
    announce: () => forwarding?.announce(),
    host: partitionHost(options),
  });
  let forwarding: Forwarding | undefined;
  const routes = clusterRoutes(keeper, nodeId, () => forwarding);
  const relay = new FeedRelay(() => performance.now());
  let snapshotOwn: () => Promise<number> = () => Promise.resolve(0);
  return {
    keeper,
    routes,
    stockChanged: (changes) => {
      if (changes.length > 0 && relay.wanted) forwarding?.publishStock(changes);
    },
    snapshotAll: async (local) => {
      const others = keeper.view().nodes.filter((node) => node.node_id !== nodeId);
      const counts = await Promise.all([
        local(),
        ...others.map(({ node_id }) =>
          (forwarding as Forwarding).snapshotOf(node_id, snapshotTimeoutMs),
        ),
      ]);
      return counts.reduce((sum, count) => sum + count, 0);
    },
    start: async (router, feed, snapshot) => {
      snapshotOwn = snapshot;
      forwarding = await Forwarding.open({
        natsUrl,
        journal,
        self: nodeId,
        listTimeoutMs: clusterRequestBudgetMs,
        serve: (partition, command, callback) =>
          router.serveForwarded(partition, command, callback),
        changed: () => keeper.poke(),
        stockChanged: (changes) => feed.changed(changes),
        feedInterest: () => relay.heard(),
        servePage: (query, callback) => router.servePage(query, callback),
        snapshot: () => snapshotOwn(),
        log: (level, fields, message) => log[level]({ component: 'cluster', ...fields }, message),
      });
      relay.start(feed, () => forwarding?.announceFeedInterest());
      await leases.ensurePartitions(table.partitions);
      await keeper.start();
      log.info({ node_id: nodeId, lease_seconds: leaseSeconds }, 'joined the cluster');
    },
    leave: async () => {
      relay.stop();
      await keeper.leave();
      await forwarding?.close();
    },
  };
}
