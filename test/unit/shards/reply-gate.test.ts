// Proves the reply gate: a reply leaves only once the sequence it depends on is durable, in the
// order the durable sequence passes them; a failed write turns every held reply into a 503; and
// more held replies than requests may be in flight is an assertion, never a silent queue.
import { describe, expect, it } from 'vitest';
import { AssertionError } from '../../../src/actors/index.js';
import type { ShardReply } from '../../../src/shards/protocol.js';
import { ReplyGate } from '../../../src/shards/reply-gate.js';

const reply = (id: number): ShardReply => ({
  id,
  outcome: { ok: false, code: 'insufficient_stock', details: { available: 0 } },
});

describe('ReplyGate', () => {
  it('passes what is durable at once and holds the rest until it is', () => {
    const gate = new ReplyGate(10);
    const out: ShardReply[] = [];
    gate.pass(3, 3, reply(1), out);
    gate.pass(5, 3, reply(2), out);
    gate.pass(4, 3, reply(3), out);
    expect(out.map((r) => r.id)).toEqual([1]);
    gate.release(4, out);
    expect(out.map((r) => r.id)).toEqual([1, 3]);
    gate.release(5, out);
    expect(out.map((r) => r.id)).toEqual([1, 3, 2]);
    expect(gate.size).toBe(0);
  });

  it('answers every held reply 503 when a write fails, whatever it would have said', () => {
    const gate = new ReplyGate(10);
    const out: ShardReply[] = [];
    gate.pass(7, 6, reply(1), out);
    gate.pass(8, 6, reply(2), out);
    gate.failAll(out);
    expect(out).toEqual([
      { id: 1, outcome: { ok: false, code: 'unavailable' } },
      { id: 2, outcome: { ok: false, code: 'unavailable' } },
    ]);
    expect(gate.size).toBe(0);
  });

  it('asserts rather than hold more replies than may be in flight', () => {
    const gate = new ReplyGate(2);
    const out: ShardReply[] = [];
    gate.pass(9, 0, reply(1), out);
    gate.pass(9, 0, reply(2), out);
    expect(() => gate.pass(9, 0, reply(3), out)).toThrow(AssertionError);
  });
});
