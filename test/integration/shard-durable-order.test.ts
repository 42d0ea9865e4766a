// Proves a reply from a shard never reaches the HTTP thread before the durable change it answers
// for: a real shard worker over real Postgres, behind its ShardChannel. The read view and the live
// feed are fed from the changes (the listener's `durable`), so a stock read sent once a reserve is
// answered must find the reserve there. A group commit's changes and replies leave the shard in
// one message; changes told with no reply to go with them leave alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/actors/index.js';
import { mintReservationId, partitionOf, PartitionTable } from '../../src/router/index.js';
import type { DurableChanges, ShardChannel, ShardChannelListener } from '../../src/shards/index.js';
import { createDatabase, layOutJournal, type TestDatabase } from '../helpers/database.js';
import { sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { deafListener, startShardChannel } from '../helpers/shard-channel.js';

const partitions = 1;
const product = 'order-p';
const warehouse = 'order-w';

describe.runIf(await havePostgres())("a shard's replies and its durable changes", () => {
  let database: TestDatabase;
  let channel: ShardChannel;
  const table = new PartitionTable(partitions, 1);
  const partition = partitionOf(product, partitions);
  /** The key's reserved units as the changes told so far say. */
  let toldReserved = 0;
  const told: DurableChanges[] = [];
  const listener: ShardChannelListener = {
    ...deafListener,
    durable: (changes) => {
      told.push(changes);
      for (const [changed, where, , reserved] of changes.stock) {
        if (changed === product && where === warehouse) toldReserved = reserved;
      }
    },
  };

  beforeAll(async () => {
    database = await createDatabase();
    await layOutJournal(database, partitions);
    channel = await startShardChannel(database, table, { listener });
  });

  afterAll(async () => {
    await channel?.stop();
    await database?.drop();
  });

  const answered = (command: Command) =>
    new Promise<boolean>((resolve) => {
      channel.send(partition, command, (reply) => resolve(reply.outcome.ok));
    });

  it('tells every change before the replies that depend on it, commit after commit', async () => {
    const stocked = await answered({
      kind: 'adjust',
      productId: product,
      warehouseId: warehouse,
      delta: 100_000,
      reason: '',
      idempotencyKey: '',
      actorId: '',
      traceId: 't',
    });
    expect(stocked).toBe(true);
    let okReplies = 0;
    const behind: string[] = [];
    const reserve = (serial: number) =>
      new Promise<void>((resolve) => {
        const command: Command = {
          kind: 'reserve',
          productId: product,
          warehouseId: warehouse,
          quantity: 1,
          idempotencyKey: `order-key-${serial}`.padEnd(16, '.'),
          ttlSeconds: 600,
          reservationId: mintReservationId(partition),
          requesterId: '',
          traceId: 't',
        };
        channel.send(partition, command, (reply) => {
          expect(reply.outcome.ok).toBe(true);
          okReplies += 1;
          // Every reserve answered so far, this one included, is in the changes told so far.
          if (toldReserved < okReplies) behind.push(`${toldReserved} told, ${okReplies} answered`);
          resolve();
        });
      });
    // Waves of reserves sent in one turn each, a little apart, so that commits carry many
    // replies and follow one another while more arrive.
    const waves: Promise<void>[] = [];
    for (let wave = 0; wave < 30; wave += 1) {
      for (let index = 0; index < 20; index += 1) waves.push(reserve(wave * 20 + index));
      await sleep(2);
    }
    await Promise.all(waves);
    expect(behind).toEqual([]);
    expect(okReplies).toBe(600);
    expect(toldReserved).toBe(600);
    expect(told.length).toBeGreaterThan(1);
  });
});
