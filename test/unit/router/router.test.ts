// Proves the router sends every warehouse of a product to the product's partition (hash v2),
// routes a reservation id by its route when it has one, else by the partition it embeds, answers
// stock reads from the durable read view, and refuses everything while ownership is not held.
// A listing page asks the shards (real partition states behind a stand-in channel) only for the
// keys the view cannot answer exactly, and is refused whole when one of them cannot be answered.
import { describe, expect, it } from 'vitest';
import { PartitionState, type Command } from '../../../src/actors/index.js';
import { partitionOf } from '../../../src/router/partition-hash.js';
import { PartitionTable } from '../../../src/router/partition-table.js';
import { mintReservationId, reservationPartition } from '../../../src/router/reservation-id.js';
import { StockReadView, type StockPageQuery } from '../../../src/router/read-view.js';
import { Router, type RoutableCommand } from '../../../src/router/router.js';
import type { StockListing } from '../../../src/router/stock-listing.js';
import type {
  ReplyCallback,
  ShardChannel,
  ShardFailure,
  ShardOutcome,
  ShardReply,
  StockChange,
} from '../../../src/shards/index.js';
import { adjust, roomyRetention } from '../../helpers/actor-fixtures.js';

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

/**
 * Stands in for the shard channels around real partition states: each command is applied to its
 * partition's state (the actors' own code) and answered on a later turn, as a shard would.
 */
function partitionChannels(states: Map<number, PartitionState>, refuse?: ShardFailure['code']) {
  const sent: Array<{ partition: number; command: Command }> = [];
  const channel = {
    send(partition: number, command: Command, callback: ReplyCallback): number {
      sent.push({ partition, command });
      const id = sent.length;
      setImmediate(() => {
        const state = states.get(partition) as PartitionState;
        const outcome: ShardOutcome =
          refuse === undefined ? state.apply(command, 0).outcome : { ok: false, code: refuse };
        callback({ id, outcome });
      });
      return id;
    },
    cancel: () => false,
  };
  return { channels: [channel as unknown as ShardChannel], sent };
}

describe('Router stock listing', () => {
  const partitions = 16;
  const products = ['sku-a', 'sku-b', 'sku-c', 'sku-d', 'sku-e', 'sku-f'];
  const late = partitionOf('sku-c', partitions);

  /**
   * Every product stocked with 5 in wh-1 and wh-2; the view's copy of the keys of sku-c's
   * partition (sku-a's too, with 16 partitions) is out of date.
   */
  function stocked(): { view: StockReadView; states: Map<number, PartitionState> } {
    const states = new Map<number, PartitionState>();
    for (let partition = 0; partition < partitions; partition += 1) {
      states.set(partition, new PartitionState(partition, roomyRetention));
    }
    const census: StockChange[] = [];
    for (const productId of products) {
      for (const warehouseId of ['wh-1', 'wh-2']) {
        const state = states.get(partitionOf(productId, partitions)) as PartitionState;
        state.apply(adjust(5, { productId, warehouseId }), 0);
        const stale = partitionOf(productId, partitions) === late ? 3 : 0;
        census.push([productId, warehouseId, 5, stale, stale === 0 ? 1 : 2]);
      }
    }
    const view = new StockReadView(partitions);
    view.load([...states.keys()], census, Number.POSITIVE_INFINITY);
    // A hold of that partition is due: only its shard can say what is left.
    view.readableUntil([late], 0);
    return { view, states };
  }

  function list(router: Router, query: StockPageQuery): Promise<StockListing> {
    return new Promise((resolve) => router.listStock(query, resolve));
  }

  it('asks shards only for keys the view cannot answer exactly, and keeps the order', async () => {
    const { view, states } = stocked();
    const { channels, sent } = partitionChannels(states);
    const router = new Router({ table: new PartitionTable(partitions, 1), channels, view });
    const listing = await list(router, { productId: undefined, after: undefined, limit: 5 });
    if (!listing.ok) throw new Error(JSON.stringify(listing));
    expect(listing.items.map((item) => `${item.productId}/${item.warehouseId}`)).toEqual([
      'sku-a/wh-1',
      'sku-a/wh-2',
      'sku-b/wh-1',
      'sku-b/wh-2',
      'sku-c/wh-1',
    ]);
    expect(listing.next).toEqual({ productId: 'sku-c', warehouseId: 'wh-1' });
    expect(listing.items.every((item) => item.reserved === 0 && item.version === 1)).toBe(true);
    const read = (productId: string, warehouseId: string) => ({
      partition: late,
      command: { kind: 'read-stock', productId, warehouseId },
    });
    expect(partitionOf('sku-a', partitions)).toBe(late);
    expect(partitionOf('sku-b', partitions)).not.toBe(late);
    expect(sent).toEqual([read('sku-a', 'wh-1'), read('sku-a', 'wh-2'), read('sku-c', 'wh-1')]);
    const rest = await list(router, { productId: undefined, after: listing.next, limit: 100 });
    expect(rest).toMatchObject({ ok: true, next: undefined });
    expect(rest.ok && rest.items.map((item) => item.productId)).toEqual([
      'sku-c',
      ...products.slice(3).flatMap((product) => [product, product]),
    ]);
  });

  it('answers at once, without a shard, when the view has the whole page exactly', () => {
    const { view, states } = stocked();
    const { channels, sent } = partitionChannels(states);
    const router = new Router({ table: new PartitionTable(partitions, 1), channels, view });
    const listings: StockListing[] = [];
    const cancel = router.listStock(
      { productId: 'sku-b', after: undefined, limit: 10 },
      (listing) => listings.push(listing),
    );
    expect(cancel).toBeUndefined();
    expect(sent).toHaveLength(0);
    expect(listings).toMatchObject([{ ok: true, next: undefined, items: [{}, {}] }]);
  });

  it('refuses the whole page when a shard asked cannot answer, or ownership is not held', async () => {
    const { view, states } = stocked();
    const { channels } = partitionChannels(states, 'overloaded');
    let owned = true;
    const router = new Router({
      table: new PartitionTable(partitions, 1),
      channels,
      view,
      owned: () => owned,
    });
    const query = { productId: undefined, after: undefined, limit: 100 };
    expect(await list(router, query)).toMatchObject({ ok: false, code: 'overloaded' });
    owned = false;
    expect(await list(router, query)).toMatchObject({ ok: false, code: 'unavailable' });
  });

  it('takes back the questions still queued when a shard refuses one at once', () => {
    const { view } = stocked();
    const queued = new Set<number>();
    let sends = 0;
    // Room for two questions in flight, then refused on the spot, as a full channel does.
    const channel = {
      send(_partition: number, _command: Command, callback: ReplyCallback): number {
        sends += 1;
        if (sends > 2) {
          callback({ id: 0, outcome: { ok: false, code: 'overloaded' } });
          return 0;
        }
        queued.add(sends);
        return sends;
      },
      cancel: (id: number) => queued.delete(id),
    };
    const router = new Router({
      table: new PartitionTable(partitions, 1),
      channels: [channel as unknown as ShardChannel],
      view,
    });
    const listings: StockListing[] = [];
    const cancel = router.listStock({ productId: undefined, after: undefined, limit: 100 }, (l) =>
      listings.push(l),
    );
    expect(cancel).toBeUndefined();
    expect(sends).toBe(3);
    expect(queued.size).toBe(0);
    expect(listings).toEqual([{ ok: false, code: 'overloaded' }]);
  });

  it('refuses with 503 unavailable while a partition has not sent its census', async () => {
    const router = new Router({
      table: new PartitionTable(4, 1),
      channels: [],
      view: new StockReadView(4),
    });
    const query = { productId: undefined, after: undefined, limit: 100 };
    expect(await list(router, query)).toMatchObject({ ok: false, code: 'unavailable' });
  });
});
