// Proves the router's ownership fence: while the ledger is not known to own its journal, every
// command and read is refused with 503 unavailable before it reaches a shard (there are none here).
import { describe, expect, it } from 'vitest';
import { PartitionTable } from '../../../src/router/partition-table.js';
import { mintReservationId } from '../../../src/router/reservation-id.js';
import { StockReadView } from '../../../src/router/read-view.js';
import { Router, type RoutableCommand } from '../../../src/router/router.js';
import type { ShardReply } from '../../../src/shards/index.js';

const commands: RoutableCommand[] = [
  { kind: 'read-stock', productId: 'p', warehouseId: 'w' },
  { kind: 'read-reservation', reservationId: mintReservationId(1), traceId: 't' },
];

describe('Router', () => {
  it.each(commands)('refuses $kind with 503 unavailable while ownership is not held', (command) => {
    let owned = false;
    const router = new Router(new PartitionTable(4, 1), [], new StockReadView(4), () => owned);
    const replies: ShardReply[] = [];
    router.dispatch(command, (reply) => replies.push(reply));
    expect(replies).toHaveLength(1);
    expect(replies[0]?.outcome).toMatchObject({ ok: false, code: 'unavailable' });
    owned = true;
    // Owned, it goes where it would: to the read view (empty here) or to a shard (none here).
    if (command.kind === 'read-stock') {
      router.dispatch(command, (reply) => replies.push(reply));
      expect(replies[1]?.outcome).toMatchObject({ ok: false, code: 'unavailable' });
    } else {
      expect(() => router.dispatch(command, () => undefined)).toThrow(/no shard channel/);
    }
  });

  it('answers a stock read from the durable read view at once, without a shard', () => {
    const view = new StockReadView(4);
    const router = new Router(new PartitionTable(4, 1), [], view);
    view.load([0, 1, 2, 3], [['p', 'w', 7, 2, 4]]);
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
