// Proves the shard never guesses after a failed journal write: with a fault-injecting journal
// over real Postgres, unacknowledged requests get 503 and the partition is rebuilt from what the
// journal really holds; with two group commits in flight, a write that commits while the one
// before it fails leaves rows past a gap, which recovery removes with their history before the
// partition is written again; and a crashed worker thread is restarted and recovered while the
// host keeps running.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/actors/index.js';
import { systemClock } from '../../src/clock.js';
import { JournalStore, type JournalConnection } from '../../src/persistence/index.js';
import { PartitionTable, Router, StockReadView, partitionOf } from '../../src/router/index.js';
import { Shard } from '../../src/shards/shard.js';
import type { ShardChannelListener, ShardReply } from '../../src/shards/index.js';
import { createDatabase, layOutJournal, type TestDatabase } from '../helpers/database.js';
import { sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { deafListener, startShardChannel } from '../helpers/shard-channel.js';

const retention = { retainFinishedMs: 86_400_000, retainFinishedMax: 10_000, onHandMax: 1e12 };
const partitions = 8;

type FailMode = 'none' | 'before-write' | 'after-commit';

/** A journal connection that is `store` itself, but for its appends. */
function withAppend(store: JournalStore, append: JournalConnection['append']): JournalConnection {
  return {
    append,
    writeSnapshot: (row) => store.writeSnapshot(row),
    latestSnapshots: (list) => store.latestSnapshots(list),
    readTails: (tails, onRow) => store.readTails(tails, onRow),
    readAll: (list, onRow) => store.readAll(list, onRow),
    ping: () => store.ping(),
    cutTail: (partition, lastLsn, movements) => store.cutTail(partition, lastLsn, movements),
    close: () => store.close(),
  };
}

/** A real journal connection whose next append can be made to fail, before or after committing. */
async function faultyConnection(url: string, mode: { next: FailMode }): Promise<JournalConnection> {
  const store = await JournalStore.connect(url, { onError: () => undefined });
  return withAppend(store, async (rows) => {
    const failure = mode.next;
    mode.next = 'none';
    if (failure === 'before-write') throw new Error('injected: connection lost before the write');
    await store.append(rows);
    if (failure === 'after-commit') throw new Error('injected: connection lost after commit');
  });
}

/** An append held until the test lets it commit or fail (before it reaches the server). */
interface HeldAppend {
  readonly commit: () => void;
  readonly fail: () => void;
}

/** Real journal connections whose appends, while `holding`, wait for the test's word. */
class HeldJournal {
  holding = false;
  readonly held: HeldAppend[] = [];

  constructor(private readonly url: string) {}

  async connect(): Promise<JournalConnection> {
    const store = await JournalStore.connect(this.url, { onError: () => undefined });
    return withAppend(store, (rows) => {
      if (!this.holding) return store.append(rows);
      return new Promise<void>((resolve, reject) =>
        this.held.push({
          commit: () => void store.append(rows).then(resolve, reject),
          fail: () => reject(new Error('injected: connection lost before the write')),
        }),
      );
    });
  }
}

/** A Shard of every partition on `connect`'s journal; how to send it commands, await replies. */
function startedShard(
  connect: () => Promise<JournalConnection>,
  options: { readonly commitsInFlight?: number; readonly log?: (message: string) => void } = {},
) {
  const replies: ShardReply[] = [];
  const shard = new Shard(
    {
      shard: 0,
      partitions: Array.from({ length: partitions }, (_, index) => index),
      retention,
      walBatchRecordsMax: 100,
      ...(options.commitsInFlight === undefined
        ? {}
        : { commitsInFlight: options.commitsInFlight }),
      snapshotEveryRecords: 1000,
      expiriesPerSweepMax: 100,
      inflightMax: 1000,
    },
    {
      connect,
      clock: systemClock,
      send: (batch) => replies.push(...batch),
      log: (_level, message) => options.log?.(message),
      flushed: () => undefined,
      durableChanges: () => undefined,
      census: () => undefined,
    },
  );
  let id = 0;
  /** Hands the shard one command; its id, to await the reply with. */
  const send = (partition: number, command: Command): number => {
    id += 1;
    shard.handle([{ id, partition, command }]);
    return id;
  };
  const replyTo = async (mine: number): Promise<ShardReply> => {
    for (let waited = 0; waited < 5000; waited += 5) {
      const reply = replies.find((candidate) => candidate.id === mine);
      if (reply !== undefined) return reply;
      await sleep(5);
    }
    throw new Error(`no reply for ${mine}`);
  };
  return { shard, send, replyTo };
}

const reserveOf = (product: string, quantity: number, key: string): Command => {
  const partition = partitionOf(product, partitions);
  return {
    kind: 'reserve',
    productId: product,
    warehouseId: 'w-1',
    quantity,
    idempotencyKey: key.padEnd(16, '.'),
    ttlSeconds: 600,
    reservationId: `000${partition}0000-0000-8000-8000-${String(quantity).padStart(12, '0')}`,
    requesterId: '',
    traceId: 't',
  };
};

const adjustOf = (product: string): Command => ({
  kind: 'adjust',
  productId: product,
  warehouseId: 'w-1',
  delta: 10,
  reason: '',
  idempotencyKey: '',
  actorId: '',
  traceId: 't',
});

describe.runIf(await havePostgres())('shard recovery', () => {
  let database: TestDatabase;

  beforeAll(async () => {
    database = await createDatabase();
    await layOutJournal(database, partitions);
  });

  afterAll(async () => {
    await database?.drop();
  });

  it('answers 503 for unacknowledged work after a failed write and reloads the truth', async () => {
    const mode: { next: FailMode } = { next: 'none' };
    const {
      shard,
      send: sendTo,
      replyTo,
    } = startedShard(() => faultyConnection(database.url, mode));
    await shard.start();
    const partition = partitionOf('p-1', partitions);
    const send = (command: Command): Promise<ShardReply> => replyTo(sendTo(partition, command));
    const reserve = (quantity: number, key: string): Command => reserveOf('p-1', quantity, key);
    const readStock: Command = { kind: 'read-stock', productId: 'p-1', warehouseId: 'w-1' };
    const adjust = adjustOf('p-1');
    expect((await send(adjust)).outcome.ok).toBe(true);

    mode.next = 'after-commit';
    const committed = await send(reserve(3, 'committed'));
    expect(committed.outcome).toMatchObject({ ok: false, code: 'unavailable' });
    const during = await send(readStock);
    expect(during.outcome).toMatchObject({ ok: false, code: 'unavailable' });
    while (!shard.serving) await sleep(5);
    // The write reached the journal: the rebuilt state holds it, though it was never acknowledged.
    expect((await send(readStock)).outcome).toMatchObject({ stock: { reserved: 3, version: 2 } });
    const retried = await send(reserve(3, 'committed'));
    expect(retried.outcome).toMatchObject({ ok: true, replayed: true });

    mode.next = 'before-write';
    expect((await send(reserve(2, 'lost'))).outcome).toMatchObject({ code: 'unavailable' });
    while (!shard.serving) await sleep(5);
    expect((await send(readStock)).outcome).toMatchObject({ stock: { reserved: 3, version: 2 } });
    expect((await send(reserve(2, 'lost'))).outcome).toMatchObject({ ok: true, replayed: false });
    expect((await send(readStock)).outcome).toMatchObject({ stock: { reserved: 5, version: 3 } });
    await shard.stop();
  });

  it('removes rows past a gap, with their history, before writing the partition again', async () => {
    const journal = new HeldJournal(database.url);
    const logged: string[] = [];
    const {
      shard,
      send: sendTo,
      replyTo,
    } = startedShard(() => journal.connect(), {
      commitsInFlight: 2,
      log: (message) => logged.push(message),
    });
    await shard.start();
    const product = 'gap-p';
    const partition = partitionOf(product, partitions);
    const send = (command: Command): number => sendTo(partition, command);
    const until = async (done: () => boolean | Promise<boolean>): Promise<void> => {
      for (let waited = 0; !(await done()); waited += 5) {
        if (waited > 5000) throw new Error('waited too long');
        await sleep(5);
      }
    };
    const reserve = (quantity: number): Command => reserveOf(product, quantity, `gap-${quantity}`);
    const adjust = adjustOf(product);
    const rowsOf = async (): Promise<{ wal: number[]; movements: number[] }> => {
      const wal = await database.query<{ lsn: string }>(
        'SELECT lsn FROM ledger_wal WHERE partition = $1 ORDER BY lsn',
        [partition],
      );
      const movements = await database.query<{ version: string }>(
        'SELECT version FROM ledger_movements WHERE product_id = $1 ORDER BY version',
        [product],
      );
      return {
        wal: wal.map((row) => Number(row.lsn)),
        movements: movements.map((row) => Number(row.version)),
      };
    };
    expect((await replyTo(send(adjust))).outcome.ok).toBe(true);

    // Two writes in flight, one reserve each: the later commits, the earlier fails.
    journal.holding = true;
    const first = send(reserve(3));
    await until(() => journal.held.length === 1);
    const second = send(reserve(4));
    await until(() => journal.held.length === 2);
    journal.holding = false;
    journal.held[1]?.commit();
    await until(async () => (await rowsOf()).wal.length === 2);
    journal.held[0]?.fail();
    expect((await replyTo(first)).outcome).toMatchObject({ ok: false, code: 'unavailable' });
    expect((await replyTo(second)).outcome).toMatchObject({ ok: false, code: 'unavailable' });
    await until(() => shard.serving);
    // lsn 3 (and version 3 in the history) lay past the gap at lsn 2: never acknowledged, removed.
    expect(await rowsOf()).toEqual({ wal: [1], movements: [1] });
    expect(logged.some((line) => line.includes('1 unacknowledged rows past lsn 1 removed'))).toBe(
      true,
    );
    const read: Command = { kind: 'read-stock', productId: product, warehouseId: 'w-1' };
    expect((await replyTo(send(read))).outcome).toMatchObject({
      stock: { reserved: 0, version: 1 },
    });
    // Written again from lsn 2: the same reserve holds afresh, and the history follows the WAL.
    expect((await replyTo(send(reserve(4)))).outcome).toMatchObject({ ok: true, replayed: false });
    expect(await rowsOf()).toEqual({ wal: [1, 2], movements: [1, 2] });
    await shard.stop();
  });

  it('restarts a crashed shard worker and recovers it from the journal', async () => {
    const table = new PartitionTable(partitions, 1);
    const view = new StockReadView(partitions);
    let downs = 0;
    const listener: ShardChannelListener = {
      ...deafListener,
      durable: (changes) => {
        view.apply(changes.stock);
        view.readableUntil(table.partitionsOf(0), changes.readableUntilMs);
      },
      census: (list, stock, until) => view.load(list, stock, until),
      down: () => (downs += 1),
    };
    const channel = await startShardChannel(database, table, {
      commitsInFlight: 2,
      snapshotEveryRecords: 1000,
      inflightMax: 1000,
      listener,
    });
    const router = new Router({ table, channels: [channel], view });
    const call = (command: Parameters<Router['dispatch']>[0]) =>
      new Promise<ShardReply>((resolve) => router.dispatch(command, resolve));
    const stock = { productId: 'crash-p', warehouseId: 'crash-w' };
    const adjusted = await call({
      kind: 'adjust',
      ...stock,
      delta: 5,
      reason: '',
      idempotencyKey: '',
      actorId: '',
      traceId: 't',
    });
    expect(adjusted.outcome.ok).toBe(true);

    await channel.terminate();
    expect(downs).toBe(1);
    const refill = {
      kind: 'adjust',
      ...stock,
      delta: 1,
      reason: '',
      idempotencyKey: '',
      actorId: '',
      traceId: 't',
    } as const;
    expect((await call(refill)).outcome).toMatchObject({ ok: false, code: 'unavailable' });
    // Reads go on from the durable read view while the shard recovers.
    const whileDown = await call({ kind: 'read-stock', ...stock });
    expect(whileDown.outcome).toMatchObject({ stock: { onHand: 5, version: 1 } });
    while (!channel.isReady) await sleep(10);
    expect((await call(refill)).outcome).toMatchObject({ stock: { onHand: 6, version: 2 } });
    const after = await call({ kind: 'read-stock', ...stock });
    expect(after.outcome).toMatchObject({ stock: { onHand: 6, version: 2 } });
    await channel.stop();
  });
});
