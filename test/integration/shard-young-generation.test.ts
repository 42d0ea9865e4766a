// LEDGER_SHARD_YOUNG_GENERATION_MB reaches the shard's thread: the config's value goes into the
// worker data, the channel starts the worker with it as its young generation, and the thread
// serves as any other. Without it, the thread keeps V8's own size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/actors/index.js';
import { loadConfig } from '../../src/config.js';
import { PartitionTable } from '../../src/router/index.js';
import { shardWorkerData, type ShardChannel, type ShardReply } from '../../src/shards/index.js';
import { createDatabase, layOutJournal, type TestDatabase } from '../helpers/database.js';
import { havePostgres } from '../helpers/services.js';
import { startShardChannel } from '../helpers/shard-channel.js';

const partitions = 4;

describe('the shard young generation setting', () => {
  it('goes into the worker data only when set', () => {
    const data = (env: Record<string, string>) =>
      shardWorkerData(loadConfig(env), 0, [0], 1, 'postgres://x@127.0.0.1/y');
    expect(data({ LEDGER_SHARD_YOUNG_GENERATION_MB: '8' }).youngGenerationMb).toBe(8);
    expect(data({}).youngGenerationMb).toBeUndefined();
    expect(data({ LEDGER_SHARD_YOUNG_GENERATION_MB: '0' }).youngGenerationMb).toBeUndefined();
  });
});

describe.runIf(await havePostgres())('a shard thread with its own young generation', () => {
  let database: TestDatabase;
  const channels: ShardChannel[] = [];
  const table = new PartitionTable(partitions, 1);
  const partition = table.partitionsOf(0)[0] as number;

  beforeAll(async () => {
    database = await createDatabase();
    await layOutJournal(database, partitions);
  });

  afterAll(async () => {
    for (const channel of channels) await channel.stop();
    await database?.drop();
  });

  const adjust: Command = {
    kind: 'adjust',
    productId: 'young-p',
    warehouseId: 'young-w',
    delta: 5,
    reason: 'restock',
    idempotencyKey: 'young-adjust',
    actorId: 'test',
    traceId: 'young',
  };

  it('is started with it, and serves', async () => {
    const sized = await startShardChannel(database, table, { youngGenerationMb: 8 });
    channels.push(sized);
    expect(sized.youngGenerationMb).toBe(8);
    const reply = await new Promise<ShardReply>((resolve) => {
      sized.send(partition, adjust, resolve);
    });
    expect(reply).toMatchObject({ outcome: { ok: true } });
    await sized.stop();
    channels.pop();

    const plain = await startShardChannel(database, table);
    channels.push(plain);
    expect(plain.youngGenerationMb).toBeGreaterThan(0);
    expect(plain.youngGenerationMb).not.toBe(8);
  });
});
