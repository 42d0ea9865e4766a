// Proves the router sends every warehouse of a product to the product's partition (hash v2),
// routes a reservation id by its route when it has one, else by the partition it embeds, answers
// stock reads from the durable read view, and refuses everything while ownership is not held.
import { describe, expect, it } from 'vitest';
import type { Command } from '../../../src/actors/index.js';
import { partitionOf } from '../../../src/router/partition-hash.js';
import { PartitionTable } from '../../../src/router/partition-table.js';
import { mintReservationId, reservationPartition } from '../../../src/router/reservation-id.js';
import { StockReadView } from '../../../src/router/read-view.js';
import { Router, type RoutableCommand } from '../../../src/router/router.js';
import type { ReplyCallback, ShardChannel, ShardReply } from '../../../src/shards/index.js';

const partitions = 16;
const view = new StockReadView(partitions);

/** Stands in for a shard channel: remembers what was sent where, answers nothing. */
function recordingChannels(count: number): {
  channels: ShardChannel[];
  sent: Array<{ shard: number; partition: number; command: Command }>;
} {
  const sent: Array<{ shard: number; partition: number; command: Command }> = [];
  const channels = Array.from({ length: count }, (_, shard) => {
    const channel = {
      send(partition: number, command: Command, _callback: ReplyCallback): number {
        sent.push({ shard, partition, command });
        return sent.length;
      },
    };
    return channel as unknown as ShardChannel;
  });
  return { channels, sent };
}

const confirm = (reservationId: string): RoutableCommand => ({
  kind: 'confirm',
  reservationId,
  traceId: 't',
});

describe('Router', () => {
  it('sends every warehouse of a product to one partition and mints ids that name it', () => {
    const { channels, sent } = recordingChannels(3);
    const router = new Router({ table: new PartitionTable(partitions, 3), channels, view });
    for (const warehouseId of ['wh-1', 'wh-2', 'eu-west', 'x']) {
      router.dispatch(
        {
          kind: 'reserve',
          productId: 'sku-hot',
          warehouseId,
          quantity: 1,
          idempotencyKey: `key-${warehouseId}`.padEnd(16, '.'),
          ttlSeconds: 60,
          requesterId: '',
          traceId: 't',
        },
        () => undefined,
      );
    }
    const home = partitionOf('sku-hot', partitions);
    expect(new Set(sent.map((entry) => entry.partition))).toStrictEqual(new Set([home]));
    for (const { command, shard } of sent) {
      expect(shard).toBe(home % 3);
      if (command.kind !== 'reserve') throw new Error('not a reserve');
      expect(reservationPartition(command.reservationId, partitions)).toBe(home);
    }
  });

  it('routes an id by its route first, then by the partition it embeds', () => {
    const { channels, sent } = recordingChannels(2);
    const moved = mintReservationId(3);
    const plain = mintReservationId(5);
    const router = new Router({
      table: new PartitionTable(partitions, 2),
      channels,
      view,
      routes: new Map([[moved, 12]]),
    });
    router.dispatch(confirm(moved), () => undefined);
    router.dispatch(confirm(plain), () => undefined);
    expect(sent.map((entry) => entry.partition)).toStrictEqual([12, 5]);
  });

  it('answers not_found at once for an id that names no partition and has no route', () => {
    const { channels, sent } = recordingChannels(1);
    const router = new Router({ table: new PartitionTable(partitions, 1), channels, view });
    const replies: ShardReply[] = [];
    router.dispatch(confirm(mintReservationId(partitions + 1)), (reply) => replies.push(reply));
    expect(sent).toHaveLength(0);
    expect(replies[0]?.outcome).toMatchObject({ ok: false, code: 'not_found' });
  });
});

const commands: RoutableCommand[] = [
  { kind: 'read-stock', productId: 'p', warehouseId: 'w' },
  { kind: 'read-reservation', reservationId: mintReservationId(1), traceId: 't' },
];

describe('Router fence and read view', () => {
  it.each(commands)('refuses $kind with 503 unavailable while ownership is not held', (command) => {
    let owned = false;
    const router = new Router({
      table: new PartitionTable(4, 1),
      channels: [],
      view: new StockReadView(4),
      owned: () => owned,
    });
    const replies: ShardReply[] = [];
    router.dispatch(command, (reply) => replies.push(reply));
    expect(replies).toHaveLength(1);
    expect(replies[0]?.outcome).toMatchObject({ ok: false, code: 'unavailable' });
    owned = true;
    // Owned, each goes where it would: an unloaded read view sends the read to a shard too.
    expect(() => router.dispatch(command, () => undefined)).toThrow(/no shard channel/);
  });

  it('answers a stock read from the durable read view at once, without a shard', () => {
    const view = new StockReadView(4);
    const router = new Router({ table: new PartitionTable(4, 1), channels: [], view });
    view.load([0, 1, 2, 3], [['p', 'w', 7, 2, 4]], Number.POSITIVE_INFINITY);
    const replies: ShardReply[] = [];
    router.dispatch({ kind: 'read-stock', productId: 'p', warehouseId: 'w' }, (reply) =>
      replies.push(reply),
    );
    router.dispatch({ kind: 'read-stock', productId: 'q', warehouseId: 'w' }, (reply) =>
      replies.push(reply),
    );
    expect(replies.map((reply) => reply.outcome)).toMatchObject([
      { ok: true, stock: { onHand: 7, reserved: 2, available: 5, version: 4 } },
      { ok: false, code: 'not_found' },
    ]);
  });
});
