// The answers to this node's forwards, on one inbox of its own. Each forward is published with a
// reply subject `<inbox>.<token>`; the owner answers on it (message.respond), or, when nobody
// listens on the owner's subject, the NATS server does with its no-responders status (503, no
// data). A forward without an answer by its deadline is settled as timed out by one sweep.
//
// This replaces the client's request(), the same messages on the wire, because request() cost
// the forwarding node more than the forward itself under a crowd: a promise and a timer per
// request, and on every completion an Error with its stack trace (the client's "cancelled"),
// about 7% of the HTTP thread's busy time in a profile of wrk's crowd on the non-owner node.
//
// The forwards waiting are kept in slots, not a Map (src/pending-slots.ts says why). A slot is
// given again soon after its forward ends, so a token also carries the forward's own number: an
// answer that comes after its forward timed out finds a newer forward in the slot, and is
// dropped, never handed to it.
import { createInbox, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { PendingSlots } from '../pending-slots.js';

/** How a forward ended: the owner's answer, nobody listening on its subject, or no answer. */
export type ForwardEnd =
  | { readonly kind: 'answer'; readonly data: Uint8Array }
  | { readonly kind: 'no-responders' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'closed' };

interface Pending {
  /** This node's count of forwards when it was sent: the token's second part. */
  readonly number: number;
  readonly deadlineMs: number;
  readonly settle: (end: ForwardEnd) => void;
}

/** How often forwards past their deadline are looked for (a timed-out one waits this much more). */
const sweepEveryMs = 50;

const timedOut: ForwardEnd = { kind: 'timeout' };
const noResponders: ForwardEnd = { kind: 'no-responders' };
const closed: ForwardEnd = { kind: 'closed' };

export class ForwardReplies {
  private readonly inbox: string;
  private readonly pending = new PendingSlots<Pending>();
  private sent = 0;
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly connection: NatsConnection) {
    this.inbox = createInbox();
    const prefix = this.inbox.length + 1;
    connection.subscribe(`${this.inbox}.*`, {
      callback: (error, message) => {
        if (error === null) this.answer(message.subject.slice(prefix), message);
      },
    });
  }

  /** Publishes `payload` on `subject`; `settle` is called once, with how the forward ended. */
  send(
    subject: string,
    payload: Uint8Array,
    deadlineMs: number,
    settle: (end: ForwardEnd) => void,
  ): void {
    this.sent = this.sent >= Number.MAX_SAFE_INTEGER ? 1 : this.sent + 1;
    const number = this.sent;
    const id = this.pending.add({ number, deadlineMs, settle });
    try {
      const token = `${id.toString(36)}-${number.toString(36)}`;
      this.connection.publish(subject, payload, { reply: `${this.inbox}.${token}` });
    } catch {
      // Closed or draining: nothing was sent. Settled after this call, as an answer would be.
      this.pending.take(id);
      queueMicrotask(() => settle(closed));
      return;
    }
    this.sweeper ??= setInterval(this.sweep, sweepEveryMs).unref();
  }

  /** Settles every forward still waiting (the connection is going away). */
  close(): void {
    const waiting: Pending[] = [];
    this.pending.forEach((forward, id) => {
      this.pending.take(id);
      waiting.push(forward);
    });
    this.stopSweeping();
    for (const { settle } of waiting) settle(closed);
  }

  private answer(token: string, message: Msg): void {
    const dash = token.indexOf('-');
    if (dash < 0) return; // not ours
    const id = Number.parseInt(token.slice(0, dash), 36);
    const waiting = this.pending.peek(id);
    // Timed out already (its slot empty, or another forward's now).
    if (waiting?.number !== Number.parseInt(token.slice(dash + 1), 36)) return;
    this.pending.take(id);
    if (this.pending.size === 0) this.stopSweeping();
    // The server's no-responders status: no data, header status 503 (as the client's request()).
    if (message.data.length === 0 && message.headers?.code === 503) waiting.settle(noResponders);
    else waiting.settle({ kind: 'answer', data: message.data });
  }

  private readonly sweep = (): void => {
    // Deadlines are wall-clock ms: the owner, on another machine, checks the same one.
    const nowMs = Date.now();
    this.pending.forEach((waiting, id) => {
      if (waiting.deadlineMs > nowMs) return;
      this.pending.take(id);
      waiting.settle(timedOut);
    });
    if (this.pending.size === 0) this.stopSweeping();
  };

  private stopSweeping(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
