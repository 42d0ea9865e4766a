// Proves a restarted shard thread is admitted as the cold shard it is: the drain rate the old
// thread showed is forgotten (DrainRate.forget, called by the ShardChannel when its worker dies).
// A real worker over real Postgres, its channel with a shedding floor of 1: a second reserve in
// the same turn is admitted only if the shard's drain rate is known and fast enough. Before the
// restart it is (learned from a stream of reserves); right after it, the same two reserves see
// the second one shed, 503 overloaded, as for a shard never measured.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/actors/index.js';
import { drainRateWindowMs } from '../../src/limits.js';
import { mintReservationId, partitionOf, PartitionTable } from '../../src/router/index.js';
import type { ShardChannel, ShardReply } from '../../src/shards/index.js';
import { createDatabase, layOutJournal, type TestDatabase } from '../helpers/database.js';
import { sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { startShardChannel } from '../helpers/shard-channel.js';

const partitions = 4;
const productId = 'drain-p';
const warehouseId = 'drain-w';
const partition = partitionOf(productId, partitions);
let serial = 0;

function reserve(): Command {
  serial += 1;
  return {
    kind: 'reserve',
    productId,
    warehouseId,
    quantity: 1,
    idempotencyKey: `drain-reserve-${serial}`.padEnd(16, '.'),
    ttlSeconds: 600,
    reservationId: mintReservationId(partition),
    requesterId: '',
    traceId: 't',
  };
}

describe.runIf(await havePostgres())('admission after a shard thread restarts', () => {
  let database: TestDatabase;
  let channel: ShardChannel;

  beforeAll(async () => {
    database = await createDatabase();
    await layOutJournal(database, partitions);
    const table = new PartitionTable(partitions, 1);
    const admission = { queueDelayMs: 100, floor: 1 };
    channel = await startShardChannel(database, table, { admission });
  });

  afterAll(async () => {
    await channel?.stop();
    await database?.drop();
  });

  const send = (command: Command): Promise<ShardReply> =>
    new Promise((resolve) => channel.send(partition, command, resolve));

  /** Two reserves in one turn: what the second one is told. */
  async function pair(): Promise<ShardReply> {
    const [, second] = await Promise.all([send(reserve()), send(reserve())]);
    return second;
  }

  it('forgets the old thread drain rate: the first pair after a restart is cut', async () => {
    const stock: Command = {
      kind: 'adjust',
      productId,
      warehouseId,
      delta: 1_000_000,
      reason: '',
      idempotencyKey: '',
      actorId: '',
      traceId: 't',
    };
    expect((await send(stock)).outcome.ok).toBe(true);
    // One at a time for several drain windows of busy time: the rate becomes known, and fast.
    const learnUntil = performance.now() + drainRateWindowMs * 5;
    while (performance.now() < learnUntil) expect((await send(reserve())).outcome.ok).toBe(true);
    // Known, a second reserve in flight is let in (its wait is within the bound).
    expect((await pair()).outcome.ok).toBe(true);

    await channel.terminate();
    while (!channel.isReady) await sleep(10);
    // The restarted thread is cold: what the old one showed is forgotten.
    expect((await pair()).outcome).toMatchObject({ ok: false, code: 'overloaded' });
  });
});
