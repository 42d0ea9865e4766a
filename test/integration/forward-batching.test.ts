// Forwards to another node of a cluster leave together: those sent within one turn of the HTTP
// thread go out as one write to NATS (the client flushes what was published in one synchronous
// run at once), not one write each, which was the largest cost of a forward on the asking node.
// As with a shard's batch, a long turn (a crowd keeping thousands of sockets readable) must not
// hold them back: turnBatchMax of them leave at once, and a forward that has waited
// turnBatchWaitMsMax leaves with the next one. Two real Forwarding ends over real NATS; the
// asking end's batch clock is the test's, so that a busy machine cannot move it. And how a forward
// ends when no answer comes (ForwardReplies): nobody listening on the owner's subject (the NATS
// server's no-responders status: moved, sent again once the next owner is known), an owner that
// does not answer by the deadline, and the asking end closing: each a 503 `unavailable`.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Command } from '../../src/actors/index.js';
import { connect } from '@nats-io/transport-node';
import { Forwarding, forwardSubject, type ForwardingOptions } from '../../src/cluster/index.js';
import { turnBatchMax, turnBatchWaitMsMax } from '../../src/limits.js';
import { failure, type ShardReply } from '../../src/shards/index.js';
import { haveNats, sharedNatsUrl } from '../helpers/nats.js';

const read = (index: number): Command => ({
  kind: 'read-stock',
  productId: `fwd-${index}`,
  warehouseId: 'w',
});

describe.runIf(await haveNats())('forwards to another node', () => {
  const journal = `fwd-${randomBytes(4).toString('hex')}`;
  let asking: Forwarding;
  let owner: Forwarding;
  /** Takes commands and never answers them. */
  let silent: Forwarding;
  /** Takes commands and answers them when a test calls what it kept. */
  let late: Forwarding;
  const lateHeld: ((reply: ShardReply) => void)[] = [];
  /** The asking end's clock: it moves only when a test moves it, as a long turn goes on. */
  let clockMs = 0;

  const options = (self: string, serve: ForwardingOptions['serve']): ForwardingOptions => ({
    natsUrl: sharedNatsUrl,
    journal,
    self,
    listTimeoutMs: 1_000,
    serve,
    changed: () => undefined,
    stockChanged: () => undefined,
    feedInterest: () => undefined,
    snapshot: () => Promise.resolve(0),
    servePage: () => undefined,
    log: () => undefined,
  });

  beforeAll(async () => {
    // The owner answers each command after a turn of its own, naming the partition and product.
    owner = await Forwarding.open(
      options('owner', (partition, command, callback) => {
        const product = command.kind === 'read-stock' ? command.productId : '?';
        setImmediate(() => callback(failure(0, 'unavailable', `${partition}/${product}`)));
      }),
    );
    silent = await Forwarding.open(options('silent', () => undefined));
    late = await Forwarding.open(options('late', (_p, _c, callback) => lateHeld.push(callback)));
    asking = await Forwarding.open({ ...options('asking', () => undefined), now: () => clockMs });
  });

  afterAll(async () => {
    await asking?.close();
    await owner?.close();
    await silent?.close();
    await late?.close();
  });

  /** Forwards `count` reads to the owner; resolves to the replies once all came. */
  const forwardMany = (from: number, count: number) => {
    const replies: Promise<ShardReply>[] = [];
    for (let index = from; index < from + count; index += 1) {
      replies.push(
        new Promise((resolve) => asking.forward('owner', index, read(index), resolve, 5_000)),
      );
    }
    return replies;
  };

  const expectAnswered = async (replies: Promise<ShardReply>[], from: number) => {
    const answered = await Promise.all(replies);
    answered.forEach((reply, offset) => {
      expect(reply.servedBy).toBe('owner');
      expect(reply.outcome).toEqual({
        ok: false,
        code: 'unavailable',
        message: `${from + offset}/fwd-${from + offset}`,
      });
    });
  };

  it('keeps a turn’s forwards for one send and sends them when the turn ends', async () => {
    const replies = forwardMany(0, 3);
    expect(asking.queued).toBe(3);
    await expectAnswered(replies, 0);
    expect(asking.queued).toBe(0);
  });

  it(`sends ${turnBatchMax} forwards at once, without waiting for the turn's end`, async () => {
    const first = forwardMany(100, turnBatchMax - 1);
    expect(asking.queued).toBe(turnBatchMax - 1);
    const last = forwardMany(100 + turnBatchMax - 1, 1);
    expect(asking.queued).toBe(0);
    await expectAnswered([...first, ...last], 100);
  });

  it(`sends a forward that waited ${turnBatchWaitMsMax} ms with the next one`, async () => {
    const first = forwardMany(1000, 1);
    clockMs += turnBatchWaitMsMax - 1;
    const second = forwardMany(1001, 1);
    expect(asking.queued).toBe(2);
    clockMs += 1;
    const third = forwardMany(1002, 1);
    expect(asking.queued).toBe(0);
    await expectAnswered([...first, ...second, ...third], 1000);
  });

  /** One forward from `from` to `node`; resolves to its reply. */
  const forwardOne = (from: Forwarding, node: string, budgetMs: number) =>
    new Promise<ShardReply>((resolve) => from.forward(node, 7, read(7), resolve, budgetMs));

  it('is moved and unreachable when nobody listens on the owner’s subject', async () => {
    const reply = await forwardOne(asking, 'nobody', 5_000);
    expect(reply.outcome).toMatchObject({ ok: false, code: 'unavailable' });
    expect(reply).toMatchObject({ servedBy: 'nobody', moved: true, unreachable: true });
  });

  it('is unavailable, not moved, when the owner does not answer by the deadline', async () => {
    const sentMs = Date.now();
    const reply = await forwardOne(asking, 'silent', 200);
    expect(Date.now() - sentMs, 'settled at its deadline, not before').toBeGreaterThanOrEqual(199);
    expect(reply.outcome).toMatchObject({ ok: false, code: 'unavailable' });
    expect(reply.moved).toBeUndefined();
  });

  it('drops an answer that comes after its forward timed out, even onto a slot given again', async () => {
    // The late owner answers only when the test says: the first forward times out, the second
    // takes its slot, and then the first's answer comes, before the second's.
    const first = await forwardOne(asking, 'late', 200);
    expect(first.outcome).toMatchObject({ ok: false, code: 'unavailable' });
    expect(first.moved, 'timed out, not refused for want of a listener').toBeUndefined();
    const second = forwardOne(asking, 'late', 5_000);
    await expect.poll(() => lateHeld.length, { timeout: 5_000 }).toBe(2);
    lateHeld[0]?.(failure(0, 'unavailable', 'the first forward’s answer'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    lateHeld[1]?.(failure(0, 'unavailable', 'the second forward’s answer'));
    expect((await second).outcome).toEqual({
      ok: false,
      code: 'unavailable',
      message: 'the second forward’s answer',
    });
  });

  it('is unavailable when the asking end closes before an answer came', async () => {
    const closing = await Forwarding.open(options('closing', () => undefined));
    const replied = forwardOne(closing, 'silent', 60_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await closing.close();
    const reply = await replied;
    expect(reply.outcome).toMatchObject({ ok: false, code: 'unavailable' });
    expect(reply.moved).toBeUndefined();
  });

  it('is unavailable when the answer does not decode, and the node goes on', async () => {
    // A stand-in owner on the node subject "garbled" answering bytes that are no answer: not
    // msgpack at all (0xc1 is never used), then msgpack that is not [outcome, moved].
    const connection = await connect({ servers: sharedNatsUrl });
    const answers = [Uint8Array.of(0xc1), Uint8Array.of(0x01)];
    connection.subscribe(forwardSubject(journal, 'garbled'), {
      callback: (_error, message) => {
        message.respond(answers.shift() ?? Uint8Array.of(0x01));
      },
    });
    await connection.flush();
    try {
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const reply = await forwardOne(asking, 'garbled', 5_000);
        expect(reply.outcome).toMatchObject({ ok: false, code: 'unavailable' });
        expect(reply.moved).toBeUndefined();
      }
      await expectAnswered(forwardMany(5000, 1), 5000);
    } finally {
      await connection.close();
    }
  });
});
