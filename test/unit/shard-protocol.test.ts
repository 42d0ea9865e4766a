// The batches between the HTTP thread and a shard (src/shards/protocol.ts): whatever they hold
// comes back equal when decoded in another thread (a fresh codec, as a worker has), whether its
// objects have one of the shapes both threads know or not; and the hot path's messages (a
// reserve, a confirm, a release, their answers, the refusals under load), made as the ledger
// makes them, have only known shapes, so no message defines them again.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { merged, PartitionState, type Command } from '../../src/actors/index.js';
import { roomyRetention } from '../helpers/actor-fixtures.js';
import { testValidator } from '../helpers/validation.js';
import { mintReservationId } from '../../src/router/reservation-id.js';
import {
  batchCodec,
  batchShapes,
  decodeReplies,
  decodeRequests,
  encodeBatch,
  failure,
  type ShardReply,
  type ShardRequest,
} from '../../src/shards/protocol.js';

const validator = testValidator();
const caller = { subject: '' };

/** The hot path's requests and replies, each made by the code that makes it in the ledger. */
function hotMessages(): { requests: ShardRequest[]; replies: ShardReply[] } {
  const state = new PartitionState(3, roomyRetention);
  const nowMs = 1_796_000_000_000;
  const adjust = validator.adjust(
    { product_id: 'sku-1', warehouse_id: 'wh-1', delta: 2, idempotency_key: 'restock-0000000001' },
    'trace-adjust',
    caller,
  );
  state.apply(adjust as Command, nowMs);
  const requests: ShardRequest[] = [];
  const replies: ShardReply[] = [];
  const send = (command: Command): void => {
    const id = requests.length + 1;
    requests.push({ id, partition: 3, command });
    replies.push({ id, outcome: state.apply(command, nowMs).outcome });
  };
  const reserve = (key: string) =>
    // As the router sends it: the validator's command with the id it mints.
    merged(
      validator.reserve(
        { product_id: 'sku-1', warehouse_id: 'wh-1', quantity: 1, idempotency_key: key },
        'trace-reserve',
        caller,
      ),
      { reservationId: mintReservationId(3) },
    ) as Command;
  const first = reserve('checkout-0000000001');
  const second = reserve('checkout-0000000002');
  send(first);
  send(second);
  send(reserve('checkout-0000000001')); // a replay
  send(reserve('checkout-0000000003')); // sold out
  const [confirmId, releaseId] = [first, second].map((command) =>
    command.kind === 'reserve' ? command.reservationId : '',
  );
  send(
    validator.reservation(
      'confirm',
      { reservation_id: confirmId },
      'trace-confirm',
      caller,
    ) as Command,
  );
  send(
    validator.reservation(
      'release',
      { reservation_id: releaseId },
      'trace-release',
      caller,
    ) as Command,
  );
  replies.push(failure(90, 'overloaded', 'busy', 2), failure(91, 'unavailable'));
  return { requests, replies };
}

/** Every plain object's keys, in order, as msgpackr sees its shape. */
function shapesOf(value: unknown, into: string[][] = []): string[][] {
  if (Array.isArray(value)) {
    for (const item of value) shapesOf(item, into);
  } else if (typeof value === 'object' && value !== null) {
    into.push(Object.keys(value));
    for (const item of Object.values(value)) shapesOf(item, into);
  }
  return into;
}

describe('the shard batch codec', () => {
  it('gives the hot path a known shape for every object it sends', () => {
    const { requests, replies } = hotMessages();
    const known = new Set(batchShapes.map((keys) => keys.join(',')));
    const unknown = shapesOf([requests, replies])
      .map((keys) => keys.join(','))
      .filter((keys) => !known.has(keys));
    expect([...new Set(unknown)]).toEqual([]);
    expect(replies.slice(0, 6).map((reply) => reply.outcome.ok)).toEqual([
      true,
      true,
      true,
      false,
      true,
      true,
    ]);
  });

  it('decodes the hot messages equal in a fresh codec, as the other thread has', () => {
    const { requests, replies } = hotMessages();
    const other = batchCodec();
    expect(other.decode(encodeBatch(requests))).toStrictEqual(requests);
    expect(other.decode(encodeBatch(replies))).toStrictEqual(replies);
    // And the other way, into this thread's own.
    expect(decodeRequests(other.encode(requests))).toStrictEqual(requests);
    expect(decodeReplies(other.encode(replies))).toStrictEqual(replies);
  });

  it('decodes any objects equal, of known shapes or not, message after message', () => {
    const sender = batchCodec();
    const receiver = batchCodec();
    const shaped = fc
      .constantFrom(...batchShapes)
      .chain((keys) =>
        fc
          .tuple(...keys.map(() => fc.oneof(fc.string(), fc.integer(), fc.boolean())))
          .map((values) => Object.fromEntries(keys.map((key, index) => [key, values[index]]))),
      );
    // Plain objects, as the ledger's are (fast-check's dictionaries and records have none).
    const key = fc.string({ minLength: 1, maxLength: 8 }).filter((text) => text !== '__proto__');
    const anyObject = fc.dictionary(key, fc.integer()).map((entries) => ({ ...entries }));
    const message = fc.array(
      fc.oneof(
        shaped,
        anyObject,
        fc.record({ nested: shaped }).map((outer) => ({ ...outer })),
      ),
      {
        maxLength: 20,
      },
    );
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 5 }), (messages) => {
        for (const items of messages) {
          expect(receiver.decode(sender.encode(items as never))).toStrictEqual(items);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('decodes a message of more shapes than it has numbers for (a large census-like batch)', () => {
    const { requests } = hotMessages();
    const items = Array.from({ length: 150 }, (_, index) =>
      index % 3 === 0 ? requests[0] : { [`field${index}`]: index, again: { [`inner${index}`]: 1 } },
    );
    expect(batchCodec().decode(batchCodec().encode(items))).toStrictEqual(items);
  });
});
