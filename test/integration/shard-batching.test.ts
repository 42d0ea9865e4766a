// Proves the HTTP thread does not hold commands back for the end of a long event-loop turn: a
// real shard worker over real Postgres, its ShardChannel sent commands in one synchronous turn.
// A command can be taken back (cancel) only until its batch leaves for the shard, so cancel says
// which commands already left: a batch of turnBatchMax leaves at once, and a batch whose first
// command has waited turnBatchWaitMsMax leaves with the next command sent. (Under a crowd that
// keeps thousands of sockets readable a turn lasts seconds; a batch left for its end sat unsent
// that long, the shard idle, and every reserve behind it was shed as overloaded.) The channel
// reads a batch's age from a clock the test moves, so a slow or busy box cannot age a batch the
// test did not (a CI run whose 128 sends took over 10 ms once sent the first batch early).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/actors/index.js';
import { systemClock, type Clock } from '../../src/clock.js';
import { turnBatchMax, turnBatchWaitMsMax } from '../../src/limits.js';
import { PartitionTable } from '../../src/router/index.js';
import type { ShardChannel, ShardReply } from '../../src/shards/index.js';
import { createDatabase, layOutJournal, type TestDatabase } from '../helpers/database.js';
import { sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { startShardChannel } from '../helpers/shard-channel.js';

const partitions = 4;
const read: Command = { kind: 'read-stock', productId: 'batch-p', warehouseId: 'batch-w' };

/** The system's clock, but its monotonic time stands still until `pass` moves it on. */
class SteppedClock implements Clock {
  private monotonicMs = 0;
  readonly now = systemClock.now;
  readonly defer = systemClock.defer;
  readonly sleep = systemClock.sleep;
  readonly monotonic = (): number => this.monotonicMs;

  /** `ms` go by within the turn, as in a long turn of socket reads. */
  pass(ms: number): void {
    this.monotonicMs += ms;
  }
}

describe.runIf(await havePostgres())('commands to a shard within one long turn', () => {
  let database: TestDatabase;
  let channel: ShardChannel;
  const clock = new SteppedClock();
  const table = new PartitionTable(partitions, 1);
  const partition = table.partitionsOf(0)[0] as number;

  beforeAll(async () => {
    database = await createDatabase();
    await layOutJournal(database, partitions);
    channel = await startShardChannel(database, table, { clock });
  });

  afterAll(async () => {
    await channel?.stop();
    await database?.drop();
  });

  /** Sends a read; its reply lands in `replies`. */
  function send(replies: ShardReply[]): number {
    return channel.send(partition, read, (reply) => replies.push(reply));
  }

  it('sends a full batch at once, before the turn ends', async () => {
    const replies: ShardReply[] = [];
    const ids = Array.from({ length: turnBatchMax + 1 }, () => send(replies));
    // The first turnBatchMax left together; the one after them still waits for the turn's end.
    expect(channel.cancel(ids[0] as number)).toBe(false);
    expect(channel.cancel(ids[turnBatchMax - 1] as number)).toBe(false);
    expect(channel.cancel(ids[turnBatchMax] as number)).toBe(true);
    while (replies.length < turnBatchMax) await sleep(5);
    await sleep(50);
    expect(replies).toHaveLength(turnBatchMax); // the cancelled one never ran
    expect(replies.every((reply) => reply.outcome.ok === false)).toBe(true); // an unknown key
    expect(channel.depth).toBe(0);
  });

  it('sends a batch whose first command waited past the bound with the next one', async () => {
    const replies: ShardReply[] = [];
    const first = send(replies);
    const second = send(replies);
    clock.pass(turnBatchWaitMsMax);
    const third = send(replies);
    // The third found the queue's first command older than the bound: all three left.
    expect(channel.cancel(first)).toBe(false);
    expect(channel.cancel(second)).toBe(false);
    expect(channel.cancel(third)).toBe(false);
    const fourth = send(replies);
    expect(channel.cancel(fourth)).toBe(true);
    while (replies.length < 3) await sleep(5);
    await sleep(50);
    expect(replies).toHaveLength(3);
  });

  it('still sends a lone command at the end of a short turn', async () => {
    const replies: ShardReply[] = [];
    const id = send(replies);
    while (replies.length < 1) await sleep(5);
    expect(replies[0]?.id).toBe(id);
  });
});
