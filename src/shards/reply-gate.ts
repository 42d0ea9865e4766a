// The reply gate: an answer (success or refusal) leaves only when every journal record it
// observed is durable. The shard tells it, per reply, the group-commit sequence of the newest
// record the answer depended on (its stock key's latest record); the gate releases replies as the
// durable sequence passes them, and fails them all if a write fails.
import { assert, merged } from '../actors/index.js';
import { failure, type CommitTiming, type ShardReply } from './protocol.js';

interface Held {
  readonly sequence: number;
  readonly reply: ShardReply;
}

export class ReplyGate {
  private held: Held[] = [];

  /** `heldMax`: replies in flight at most (the channel bounds requests in flight per shard). */
  constructor(private readonly heldMax: number) {}

  get size(): number {
    return this.held.length;
  }

  /** Passes `reply` to `out` if `sequence` is durable, else holds it. */
  pass(sequence: number, durableSequence: number, reply: ShardReply, out: ShardReply[]): void {
    if (sequence <= durableSequence) {
      out.push(reply);
      return;
    }
    assert(this.held.length < this.heldMax, 'more replies held than requests may be in flight');
    this.held.push({ sequence, reply });
  }

  /**
   * Everything up to `durableSequence` is durable: its replies go to `out`, stamped with the
   * `commit` that made them so when tracing asks for it.
   */
  release(durableSequence: number, out: ShardReply[], commit?: CommitTiming): void {
    if (this.held.length === 0) return;
    const still: Held[] = [];
    for (const held of this.held) {
      if (held.sequence > durableSequence) still.push(held);
      else out.push(commit === undefined ? held.reply : merged(held.reply, { commit }));
    }
    this.held = still;
  }

  /** A write failed: no held reply may say what it would have said; each becomes a 503. */
  failAll(out: ShardReply[]): void {
    for (const held of this.held) out.push(failure(held.reply.id, 'unavailable'));
    this.held = [];
  }
}
