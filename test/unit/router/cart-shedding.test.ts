// Proves a cart is shed like a reserve, before any part of it is sent: when a shard holding any
// of its lines sheds, the coordinator answers the shard's 503 overloaded (with its retry-after)
// and dispatches nothing anywhere (no key claimed at the home, no hold prepared), and it counts
// the placement as overloaded; a shedding home alone refuses nothing. The router asks the shard
// of the partition (the channel's own rule), and in a cluster only for partitions served here.
import { describe, expect, it } from 'vitest';
import type { Command } from '../../../src/actors/index.js';
import type { Clock } from '../../../src/clock.js';
import {
  CartCoordinator,
  type CartRequest,
  type CartTransport,
} from '../../../src/router/cart-coordinator.js';
import { partitionOf } from '../../../src/router/partition-hash.js';
import { PartitionTable } from '../../../src/router/partition-table.js';
import { StockReadView } from '../../../src/router/read-view.js';
import { Router, type ClusterRoutes } from '../../../src/router/router.js';
import {
  failure,
  type ReplyCallback,
  type ShardChannel,
  type ShardOutcome,
} from '../../../src/shards/index.js';

const partitions = 16;

const clock: Clock = {
  now: () => 0,
  monotonic: () => 0,
  defer: (task) => task(),
  sleep: () => Promise.resolve(),
};

/** A product whose keys live in `partition`. */
function productIn(partition: number): string {
  for (let serial = 0; ; serial += 1) {
    const productId = `sku-${serial}`;
    if (partitionOf(productId, partitions) === partition) return productId;
  }
}

function cart(idempotencyKey: string, productIds: readonly string[]): CartRequest {
  return {
    idempotencyKey,
    lines: productIds.map((productId) => ({ productId, warehouseId: 'w', quantity: 1 })),
    ttlSeconds: 60,
    buyerId: '',
    reference: '',
    requesterId: '',
    traceId: 't',
  };
}

const overloaded = failure(0, 'overloaded', 'busy', 4).outcome;

/** A transport whose `shedding` partitions refuse; it records what is sent, answers nothing. */
function transport(shedding: ReadonlySet<number>): {
  transport: CartTransport;
  sent: Array<{ partition: number; command: Command }>;
  asked: number[];
} {
  const sent: Array<{ partition: number; command: Command }> = [];
  const asked: number[] = [];
  return {
    sent,
    asked,
    transport: {
      partitions,
      partitionOfProduct: (productId) => partitionOf(productId, partitions),
      dispatchTo: (partition, command) => sent.push({ partition, command }),
      shedding: (partition) => {
        asked.push(partition);
        return shedding.has(partition) ? overloaded : undefined;
      },
    },
  };
}

function place(
  shedding: ReadonlySet<number>,
  request: CartRequest,
): {
  answers: ShardOutcome[];
  placed: string[];
  sent: Array<{ partition: number; command: Command }>;
  home: number;
} {
  const { transport: via, sent } = transport(shedding);
  const placed: string[] = [];
  const coordinator = new CartCoordinator({
    transport: via,
    clock,
    placed: (result) => placed.push(result),
  });
  const answers: ShardOutcome[] = [];
  coordinator.place(request, (outcome) => answers.push(outcome));
  return { answers, placed, sent, home: coordinator.homeOf(request.idempotencyKey) };
}

describe('CartCoordinator, shedding', () => {
  it('refuses a cart across partitions when one of its shards sheds, sending nothing', () => {
    const request = cart('cart-key-across-00', [productIn(3), productIn(7)]);
    const { answers, placed, sent } = place(new Set([7]), request);
    expect(answers).toEqual([overloaded]);
    expect(answers[0]).toMatchObject({ code: 'overloaded', retryAfterSeconds: 4 });
    expect(sent).toEqual([]);
    expect(placed).toEqual(['overloaded']);
  });

  it('refuses a cart in one partition when its shard sheds, sending nothing', () => {
    const { answers, sent } = place(new Set([5]), cart('cart-key-single-00', [productIn(5)]));
    expect(answers).toEqual([overloaded]);
    expect(sent).toEqual([]);
  });

  it('lets a cart in when none of its lines is on a shedding shard, even if its home sheds', () => {
    const probe = new CartCoordinator({ transport: transport(new Set()).transport, clock });
    let key = 'cart-key-home-0000';
    for (let serial = 0; [2, 9].includes(probe.homeOf(key)); serial += 1) {
      key = `cart-key-home-${String(serial).padStart(4, '0')}`;
    }
    const request = cart(key, [productIn(2), productIn(9)]);
    const { answers, sent } = place(new Set([probe.homeOf(key)]), request);
    expect(answers).toEqual([]); // waiting for the shards' answers
    expect(sent.length).toBeGreaterThan(0);
    expect(sent[0]?.command.kind).toMatch(/^cart-(begin|place)$/);
  });

  it('asks each partition of the cart once, and nothing when no partition sheds', () => {
    const { transport: via, asked, sent } = transport(new Set());
    const coordinator = new CartCoordinator({ transport: via, clock });
    const request = cart('cart-key-asked-000', [productIn(1), productIn(1), productIn(4)]);
    coordinator.place(request, () => undefined);
    expect(asked.sort((a, b) => a - b)).toEqual([1, 4]);
    expect(sent.length).toBe(1);
  });
});

/** Channels that shed (or not) with the given refusal, counting the questions. */
function channels(count: number, sheds: boolean) {
  const questions: number[] = [];
  const list = Array.from({ length: count }, (_, shard) => {
    const channel = {
      shed: (message: string) => {
        questions.push(shard);
        return sheds ? failure(0, 'overloaded', message, 3) : undefined;
      },
      send: (_partition: number, _command: Command, _callback: ReplyCallback) => 1,
    };
    return channel as unknown as ShardChannel;
  });
  return { list, questions };
}

describe('Router.shedding', () => {
  const view = new StockReadView(partitions);

  it("answers the partition's shard's refusal, with its retry-after", () => {
    const { list, questions } = channels(3, true);
    const router = new Router({ table: new PartitionTable(partitions, 3), channels: list, view });
    expect(router.shedding(5)).toMatchObject({ ok: false, code: 'overloaded' });
    expect(router.shedding(5)).toMatchObject({ retryAfterSeconds: 3 });
    expect(questions).toEqual([5 % 3, 5 % 3]);
  });

  it('lets the lines in when their shard does not shed', () => {
    const { list } = channels(2, false);
    const router = new Router({ table: new PartitionTable(partitions, 2), channels: list, view });
    expect(router.shedding(0)).toBeUndefined();
  });

  it('in a cluster, asks only for partitions served here', () => {
    const { list, questions } = channels(1, true);
    const cluster = {
      where: (partition: number) => (partition === 0 ? 'local' : { node: 'other' }),
    } as unknown as ClusterRoutes;
    const table = new PartitionTable(partitions, 1);
    const router = new Router({ table, channels: list, view, cluster });
    expect(router.shedding(1)).toBeUndefined();
    expect(router.shedding(0)).toMatchObject({ code: 'overloaded' });
    expect(questions).toEqual([0]);
  });
});
