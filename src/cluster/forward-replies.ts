// The answers to this node's forwards, on one inbox of its own. Each forward is published with a
// reply subject `<inbox>.<token>`; the owner answers on it (message.respond), or, when nobody
// listens on the owner's subject, the NATS server does with its no-responders status (503, no
// data). A forward without an answer by its deadline is settled as timed out by one sweep.
//
// This replaces the client's request(), the same messages on the wire, because request() cost
// the forwarding node more than the forward itself under a crowd: a promise and a timer per
// request, and on every completion an Error with its stack trace (the client's "cancelled"),
// about 7% of the HTTP thread's busy time in a profile of wrk's crowd on the non-owner node.
import { createInbox, type Msg, type NatsConnection } from '@nats-io/transport-node';

/** How a forward ended: the owner's answer, nobody listening on its subject, or no answer. */
export type ForwardEnd =
  | { readonly kind: 'answer'; readonly data: Uint8Array }
  | { readonly kind: 'no-responders' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'closed' };

interface Pending {
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
  private readonly pending = new Map<string, Pending>();
  private nextToken = 0;
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
    this.nextToken = this.nextToken >= Number.MAX_SAFE_INTEGER ? 1 : this.nextToken + 1;
    const token = this.nextToken.toString(36);
    try {
      this.connection.publish(subject, payload, { reply: `${this.inbox}.${token}` });
    } catch {
      // Closed or draining: nothing was sent. Settled after this call, as an answer would be.
      queueMicrotask(() => settle(closed));
      return;
    }
    this.pending.set(token, { deadlineMs, settle });
    this.sweeper ??= setInterval(this.sweep, sweepEveryMs).unref();
  }

  /** Settles every forward still waiting (the connection is going away). */
  close(): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    this.stopSweeping();
    for (const { settle } of waiting) settle(closed);
  }

  private answer(token: string, message: Msg): void {
    const waiting = this.pending.get(token);
    if (waiting === undefined) return; // timed out already, or not ours
    this.pending.delete(token);
    if (this.pending.size === 0) this.stopSweeping();
    // The server's no-responders status: no data, header status 503 (as the client's request()).
    if (message.data.length === 0 && message.headers?.code === 503) waiting.settle(noResponders);
    else waiting.settle({ kind: 'answer', data: message.data });
  }

  private readonly sweep = (): void => {
    // Deadlines are wall-clock ms: the owner, on another machine, checks the same one.
    const nowMs = Date.now();
    for (const [token, waiting] of this.pending) {
      if (waiting.deadlineMs > nowMs) continue;
      this.pending.delete(token);
      waiting.settle(timedOut);
    }
    if (this.pending.size === 0) this.stopSweeping();
  };

  private stopSweeping(): void {
    if (this.sweeper !== undefined) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
