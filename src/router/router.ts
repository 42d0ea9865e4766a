// Routes each command to the shard owning its partition: by the product's hash, or for commands
// that carry only a reservation id, by the partition embedded in the id.
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
  constructor(
    readonly table: PartitionTable,
    readonly channels: readonly ShardChannel[],
  ) {}

  dispatch(command: RoutableCommand, callback: ReplyCallback): Dispatched | undefined {
    let partition: number;
    let routed: Command;
    if ('reservationId' in command) {
      partition = reservationPartition(command.reservationId, this.table.partitions);
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
}
