// Routes each command to the shard owning its partition: by the product's hash, or for commands
// that carry only a reservation id, by the partition embedded in the id, unless a route says
// otherwise (holds minted under hash v1 whose key moved to another partition with hash v2).
import type { Command } from '../actors/index.js';
import type { ReplyCallback, ShardChannel } from '../shards/index.js';
import { partitionOf } from './partition-hash.js';
import type { PartitionTable } from './partition-table.js';
import { mintReservationId, reservationPartition } from './reservation-id.js';

/** What the ingress hands over: a reserve's reservation id is minted here, once routed. */
export type RoutableCommand =
  | Exclude<Command, { kind: 'reserve' }>
  | Omit<Extract<Command, { kind: 'reserve' }>, 'reservationId'>;

/** Where a dispatched command went: enough to take it back before it leaves this turn. */
export interface Dispatched {
  readonly channel: ShardChannel;
  readonly id: number;
}

const answeredAtOnce: Dispatched | undefined = undefined;

export class Router {
  /**
   * `routes`: reservation id -> partition, for ids whose embedded partition no longer holds them
   * (written by `ledger migrate-partitions`, loaded at start; bounded by what it wrote). A route
   * the ledger has since forgotten the hold of is harmless: the partition answers not_found.
   */
  constructor(
    readonly table: PartitionTable,
    readonly channels: readonly ShardChannel[],
    private readonly routes: ReadonlyMap<string, number> = new Map(),
  ) {}

  dispatch(command: RoutableCommand, callback: ReplyCallback): Dispatched | undefined {
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
    } else {
      partition = partitionOf(command.productId, this.table.partitions);
      routed =
        command.kind === 'reserve'
          ? { ...command, reservationId: mintReservationId(partition) }
          : command;
    }
    const channel = this.channels[this.table.shardOf(partition)];
    if (channel === undefined) throw new Error(`no shard channel for partition ${partition}`);
    const id = channel.send(partition, routed, callback);
    return id === 0 ? answeredAtOnce : { channel, id };
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
}
