// Routes each command to the shard owning its partition: by the product's hash (v2), or for
// commands that carry only a reservation id, by the partition embedded in the id, unless a route
// says otherwise (holds minted under hash v1 whose key moved to another partition with hash v2).
// A stock read never goes to a shard: the durable read view answers it at once. A page of the
// stock listing asks shards only for keys the view cannot answer exactly now.
import { fail, merged, type CartCommand, type Command } from '../actors/index.js';
import { clusterMoveRetryMs, clusterRequestBudgetMs, clusterUnreachableWaitMs } from '../limits.js';
import {
  failure,
  type ReplyCallback,
  type ShardChannel,
  type ShardOutcome,
  type ShardReply,
} from '../shards/index.js';
import { partitionOf } from './partition-hash.js';
import type { PartitionTable } from './partition-table.js';
import type { StockPageQuery, StockReadView } from './read-view.js';
import { mintReservationId, reservationPartition } from './reservation-id.js';
import { mergePages, type NodePage } from './cluster-listing.js';
import { gatherPage, type StockListing } from './stock-listing.js';

/**
 * What the ingress hands over: a reserve's reservation id is minted here, once routed. Cart
 * commands are not routed by a key: the cart coordinator sends each to its partition.
 */
export type RoutableCommand =
  | Exclude<Command, { kind: 'reserve' | 'transfer' } | CartCommand>
  | Omit<Extract<Command, { kind: 'reserve' }>, 'reservationId'>
  | Omit<Extract<Command, { kind: 'transfer' }>, 'transferId'>;

/** Where a dispatched command went: enough to take it back before it leaves this turn. */
export interface Dispatched {
  readonly channel: { cancel(id: number): boolean };
  readonly id: number;
}

/**
 * In a cluster, where a partition's commands go now: here, to its owner, nowhere for a moment
 * (`moving`: handed over, its next owner is taking it; the command waits), or nowhere (undefined:
 * its owner died and its lease has not run out yet; 503).
 */
export type Placement = 'local' | 'moving' | { readonly node: string } | undefined;

/** A cluster's placement of partitions and its way to their owners. */
export interface ClusterRoutes {
  where(partition: number): Placement;
  /**
   * Sends a command to the node owning its partition, to be answered within `budgetMs` (the
   * owner does not start it once that has passed).
   */
  forward(
    node: string,
    partition: number,
    command: Command,
    callback: ReplyCallback,
    budgetMs: number,
  ): void;
  /** Forwards leave at once: nothing to take back. */
  cancel(id: number): boolean;
  /** The live nodes, this one among them, as of the last look at the cluster. */
  nodes(): readonly string[];
  readonly self: string;
  /** Asks another node for its page of the stock listing. */
  list(node: string, query: StockPageQuery, callback: (page: NodePage) => void): void;
}

export interface RouterOptions {
  readonly table: PartitionTable;
  readonly channels: readonly ShardChannel[];
  readonly view: StockReadView;
  /**
   * Reservation id -> partition, for ids whose embedded partition no longer holds them (written
   * by `ledger migrate-partitions`, loaded at start; bounded by what it wrote). A route whose
   * hold the ledger has since forgotten is harmless: the partition answers not_found.
   */
  readonly routes?: ReadonlyMap<string, number>;
  /**
   * Whether this ledger is known to own its journal. Every command and read from the HTTP thread
   * (routes and the live feed) passes `dispatch`, so the fence is one check here: while
   * ownership is not known, another ledger may be writing the journal and this one's memory may
   * be stale, so nothing is answered from it (503 `unavailable`, retry-after). Requests already
   * in a shard still finish: their replies wait for durable writes, which the journal's
   * (partition, lsn) key fences against a second writer.
   */
  readonly owned?: () => boolean;
  /** The clock a read is checked against (the shards' too: one machine, one clock). */
  readonly now?: () => number;
  /** In a cluster: which partitions are served here, and the way to the others' owners. */
  readonly cluster?: ClusterRoutes;
}

const answeredAtOnce: Dispatched | undefined = undefined;

const ownerlessMessage =
  'No node serves this partition right now (it is moving, or its owner is being replaced); ' +
  'nothing was done, retry shortly.';

const cartShedMessage =
  "The shard is busy: this cart's lines would wait longer than the queue-delay bound; nothing " +
  'was done, retry after retry-after.';

const fencedMessage =
  'This ledger is re-claiming its journal and cannot vouch for its state; nothing was done, ' +
  'retry shortly.';

export class Router {
  readonly table: PartitionTable;
  private readonly channels: readonly ShardChannel[];
  private readonly view: StockReadView;
  private readonly routes: ReadonlyMap<string, number>;
  private readonly owned: () => boolean;
  private readonly now: () => number;
  private readonly cluster: ClusterRoutes | undefined;

  constructor(options: RouterOptions) {
    this.cluster = options.cluster;
    this.now = options.now ?? Date.now;
    this.table = options.table;
    this.channels = options.channels;
    this.view = options.view;
    this.routes = options.routes ?? new Map();
    this.owned = options.owned ?? (() => true);
  }

  /** Routes a command; a stock read is answered at once from the durable read view. */
  dispatch(command: RoutableCommand, callback: ReplyCallback): Dispatched | undefined {
    if (!this.owned()) {
      callback(failure(0, 'unavailable', fencedMessage));
      return answeredAtOnce;
    }
    if (command.kind === 'read-stock') {
      const outcome = this.readStock(command.productId, command.warehouseId);
      if (outcome !== undefined) {
        callback({ id: 0, outcome });
        return answeredAtOnce;
      }
    }
    let partition: number;
    let routed: Command;
    if ('reservationId' in command) {
      partition = this.reservationRoute(command.reservationId);
      if (partition < 0) {
        callback({
          id: 0,
          outcome: { ok: false, code: 'not_found', message: 'No such reservation.' },
        });
        return answeredAtOnce;
      }
      routed = command;
    } else if ('transferId' in command) {
      // Transfer ids are minted like reservation ids: the partition is in their first 16 bits.
      partition = reservationPartition(command.transferId, this.table.partitions);
      if (partition < 0) {
        callback({
          id: 0,
          outcome: { ok: false, code: 'not_found', message: 'No such transfer.' },
        });
        return answeredAtOnce;
      }
      routed = command;
    } else {
      partition = partitionOf(command.productId, this.table.partitions);
      // merged, not a spread: a spread copy that gains a property costs every reserve a hidden
      // class of its own (merged.ts).
      routed =
        command.kind === 'reserve'
          ? merged(command, { reservationId: mintReservationId(partition) })
          : command.kind === 'transfer'
            ? merged(command, { transferId: mintReservationId(partition) })
            : command;
    }
    return this.send(partition, routed, callback);
  }

  /**
   * Sends a command to a partition named by the caller (the cart coordinator, which knows where
   * each part of a cart lives), behind the same ownership fence as `dispatch`.
   */
  dispatchTo(partition: number, command: Command, callback: ReplyCallback): Dispatched | undefined {
    if (!this.owned()) {
      callback(failure(0, 'unavailable', fencedMessage));
      return answeredAtOnce;
    }
    return this.send(partition, command, callback);
  }

  /**
   * A page of the stock listing, through `callback`; returns how to take back what was not sent
   * yet (the client went away), or undefined when the page was answered at once.
   */
  listStock(
    query: StockPageQuery,
    callback: (listing: StockListing) => void,
  ): (() => void) | undefined {
    if (!this.owned()) {
      callback(failure(0, 'unavailable', fencedMessage).outcome);
      return undefined;
    }
    if (this.cluster !== undefined) {
      this.listInCluster(this.cluster, query, callback, performance.now());
      return undefined;
    }
    const page = this.view.page(query, this.now());
    if (page === 'not-loaded') {
      const message = 'The ledger is still loading its stock keys; retry shortly.';
      callback(failure(0, 'unavailable', message).outcome);
      return undefined;
    }
    return gatherPage(
      page,
      (partition, command, reply) => {
        const dispatched = this.send(partition, command, reply);
        return dispatched === undefined
          ? undefined
          : () => dispatched.channel.cancel(dispatched.id);
      },
      callback,
    );
  }

  /**
   * A page asked of every live node, merged; asked again (within `clusterRequestBudgetMs`) while
   * some partition is between owners.
   */
  private listInCluster(
    cluster: ClusterRoutes,
    query: StockPageQuery,
    callback: (listing: StockListing) => void,
    firstMs: number,
  ): void {
    // This node answers for itself even before its first look at the cluster.
    const nodes = new Set([cluster.self, ...cluster.nodes()]);
    const pages: NodePage[] = [];
    let waiting = nodes.size;
    const answered = (page: NodePage): void => {
      pages.push(page);
      waiting -= 1;
      if (waiting > 0) return;
      const merged = mergePages(pages, query.limit, this.table.partitions);
      if (merged !== 'uncovered') {
        callback(merged);
      } else if (performance.now() - firstMs < clusterRequestBudgetMs) {
        setTimeout(() => this.listInCluster(cluster, query, callback, firstMs), clusterMoveRetryMs);
      } else {
        callback(failure(0, 'unavailable', ownerlessMessage).outcome);
      }
    };
    for (const node of nodes) {
      if (node === cluster.self) this.servePage(query, answered);
      else cluster.list(node, query, answered);
    }
  }

  /** In a cluster: this node's page of the listing, over the partitions it serves now. */
  servePage(query: StockPageQuery, callback: (page: NodePage) => void): void {
    const cluster = this.cluster;
    const served: number[] = [];
    for (let partition = 0; partition < this.table.partitions; partition += 1) {
      if (cluster?.where(partition) === 'local') served.push(partition);
    }
    const servedSet = new Set(served);
    const page = this.view.servedPage(query, this.now(), (partition) => servedSet.has(partition));
    gatherPage(
      page,
      (partition, command, reply) => {
        const id = this.sendLocal(partition, command, reply);
        return id === undefined ? undefined : () => id.channel.cancel(id.id);
      },
      (listing) =>
        callback(
          listing.ok
            ? { ok: true, items: listing.items, more: listing.next !== undefined, served }
            : listing,
        ),
    );
  }

  /**
   * A command another node forwarded here, as the owner of its partition: served like one of
   * this node's own, or refused (503) if this node does not serve the partition now.
   */
  serveForwarded(partition: number, command: Command, callback: ReplyCallback): void {
    if (!Number.isSafeInteger(partition) || partition < 0 || partition >= this.table.partitions) {
      callback(failure(0, 'unavailable', ownerlessMessage));
      return;
    }
    if (this.cluster?.where(partition) !== 'local') {
      // Nothing applied: the asking node sends it again once the partition has its owner.
      callback(merged(failure(0, 'unavailable', ownerlessMessage), { moved: true }));
      return;
    }
    if (command.kind === 'read-stock') {
      const outcome = this.readStock(command.productId, command.warehouseId);
      if (outcome !== undefined) {
        callback({ id: 0, outcome });
        return;
      }
    }
    this.sendLocal(partition, command, callback);
  }

  private send(
    partition: number,
    command: Command,
    callback: ReplyCallback,
  ): Dispatched | undefined {
    if (!(partition >= 0 && partition < this.table.partitions)) fail(`partition ${partition}`);
    if (this.cluster === undefined) return this.sendLocal(partition, command, callback);
    return this.sendInCluster(this.cluster, partition, command, callback, 0);
  }

  /**
   * In a cluster: here, to the owner, or (the partition moving between nodes) again a little
   * later, until `clusterRequestBudgetMs` has passed since the first try. Only a command refused
   * before anything applied is sent again, so a retry never applies a change twice.
   */
  private sendInCluster(
    cluster: ClusterRoutes,
    partition: number,
    command: Command,
    callback: ReplyCallback,
    sinceMs: number,
  ): Dispatched | undefined {
    const placement = cluster.where(partition);
    const firstMs = sinceMs === 0 ? performance.now() : sinceMs;
    const again = (reply: ShardReply): void => {
      const waitMs = reply.unreachable === true ? clusterUnreachableWaitMs : clusterRequestBudgetMs;
      if (reply.moved !== true || performance.now() - firstMs >= waitMs) {
        callback(reply);
        return;
      }
      setTimeout(
        () => this.sendInCluster(cluster, partition, command, callback, firstMs),
        clusterMoveRetryMs,
      );
    };
    if (placement === undefined) {
      callback(failure(0, 'unavailable', ownerlessMessage));
      return answeredAtOnce;
    }
    if (placement === 'moving') {
      again(merged(failure(0, 'unavailable', ownerlessMessage), { moved: true }));
      return { channel: cluster, id: 0 };
    }
    if (placement !== 'local') {
      const budgetMs = Math.max(1, clusterRequestBudgetMs - (performance.now() - firstMs));
      cluster.forward(placement.node, partition, command, again, budgetMs);
      return { channel: cluster, id: 0 };
    }
    return this.sendLocal(partition, command, again);
  }

  private sendLocal(partition: number, command: Command, callback: ReplyCallback) {
    const channel = this.channels[this.table.shardOf(partition)];
    if (channel === undefined) throw new Error(`no shard channel for partition ${partition}`);
    const id = channel.send(partition, command, callback);
    return id === 0 ? answeredAtOnce : { channel, id };
  }

  get partitions(): number {
    return this.table.partitions;
  }

  /**
   * A cart's lines for a partition arriving now: the 503 overloaded to refuse the cart with if
   * the partition's shard sheds (queue-admission.ts), else undefined. Only a shard of this node
   * is asked: another node's partition is its owner's to judge (not yet done for carts).
   */
  shedding(partition: number): ShardOutcome | undefined {
    if (this.cluster !== undefined && this.cluster.where(partition) !== 'local') return undefined;
    return this.channels[this.table.shardOf(partition)]?.shed(cartShedMessage)?.outcome;
  }

  /** The partition a product's keys live in (hash v2). */
  partitionOfProduct(productId: string): number {
    return partitionOf(productId, this.table.partitions);
  }

  /** The partition holding a reservation, or -1 if the id cannot be one of ours. */
  private reservationRoute(reservationId: string): number {
    // Nothing to look up on a journal that was never migrated (the common case): no cost.
    if (this.routes.size !== 0) {
      const routed = this.routes.get(reservationId);
      if (routed !== undefined) return routed;
    }
    return reservationPartition(reservationId, this.table.partitions);
  }

  /** The read view's answer, or undefined when only the key's shard can answer it. */
  private readStock(productId: string, warehouseId: string): ShardOutcome | undefined {
    const partition = partitionOf(productId, this.table.partitions);
    // In a cluster the view holds only this node's partitions: the others' owners answer.
    if (this.cluster !== undefined && this.cluster.where(partition) !== 'local') return undefined;
    const stock = this.view.read(partition, productId, warehouseId, this.now());
    if (stock === 'ask-shard') return undefined;
    if (stock === undefined) {
      return { ok: false, code: 'not_found', message: 'This stock key was never stocked.' };
    }
    return { ok: true, stock, replayed: false };
  }
}
