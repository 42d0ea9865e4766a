// Commands for a partition another node owns travel to it over NATS request/reply, on a subject
// of the owner's own (no queue group: exactly one node answers for a partition). What travels is
// the command as the router would hand it to a shard, and what comes back is the shard's outcome,
// which the asking node renders exactly as the owner would have: the same status, body and
// headers. A forward that finds no owner, or none in time, is answered 503 `unavailable` with
// retry-after: a reserve or keyed change retried with its idempotency key is then safe, whether
// or not the first one applied.
import { connect, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { Packr } from 'msgpackr';
import { merged, type Command } from '../actors/index.js';
import type { NodePage, StockPageQuery } from '../router/index.js';
import { failure, type ReplyCallback, type ShardReply, type StockChange } from '../shards/index.js';
import { TurnBatch } from '../turn-batch.js';
import { ForwardReplies } from './forward-replies.js';

/**
 * The subject a node answers forwarded commands on; `journal` tells clusters (and tests) that
 * share a NATS server apart.
 */
export const forwardSubject = (journal: string, node: string): string =>
  `ledger.${journal}.forward.${node}`;

/** Where a node answers for its page of the stock listing. */
const listSubject = (journal: string, node: string): string => `ledger.${journal}.list.${node}`;

/** Durable stock changes, for other nodes' live feeds (sent only while some node wants them). */
const stockSubject = (journal: string): string => `ledger.${journal}.stock`;

/** A node with live-feed subscribers says so, now and then: the others send their changes. */
const feedInterestSubject = (journal: string): string => `ledger.${journal}.feed-interest`;

/** Where a node takes an operator's snapshot request for its partitions. */
const snapshotSubject = (journal: string, node: string): string =>
  `ledger.${journal}.snapshot.${node}`;

/** Where nodes say that they took or let go of partitions. */
const changedSubject = (journal: string): string => `ledger.${journal}.leases-changed`;

const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * A forwarded command: [partition, command, its deadline]. The deadline is wall-clock time (ms
 * since the epoch) on the asking node: nodes' clocks agree to within what NTP keeps them, which
 * is far less than a request's budget, and only this check depends on it.
 */
type Forwarded = [partition: number, command: Command, deadlineMs: number];

const lateMessage =
  "The request ran out of time before its partition's owner could start it; nothing was done, " +
  'retry shortly.';

const unreachable =
  "The partition's owner did not answer; nothing is known to be done, retry shortly " +
  '(a retry with the same idempotency key is safe).';

export interface ForwardingOptions {
  readonly natsUrl: string;
  /** The journal's identity (ledger_meta's creation time): the nodes of one cluster share it. */
  readonly journal: string;
  readonly self: string;
  /** How long a node's page of the stock listing may take. */
  readonly listTimeoutMs: number;
  /** Runs a command forwarded to this node (the router's local path). */
  readonly serve: (partition: number, command: Command, callback: ReplyCallback) => void;
  /** Another node took or let go of partitions. */
  readonly changed: () => void;
  /** Another node's durable stock changes (for this node's live feed). */
  readonly stockChanged: (changes: readonly StockChange[]) => void;
  /** Another node has live-feed subscribers. */
  readonly feedInterest: () => void;
  /** Snapshots this node's changed partitions; resolves to how many. */
  readonly snapshot: () => Promise<number>;
  /** This node's page of the stock listing (the router's, over the partitions it serves). */
  readonly servePage: (query: StockPageQuery, callback: (page: NodePage) => void) => void;
  readonly log: (level: 'info' | 'warn' | 'error', fields: object, message: string) => void;
  /** Monotonic milliseconds that time a batch's wait (default `performance.now`; tests set it). */
  readonly now?: () => number;
}

/** A forward waiting for this turn's send. */
interface Outgoing {
  readonly node: string;
  readonly payload: Uint8Array;
  readonly deadlineMs: number;
  readonly callback: ReplyCallback;
}

/** An owner's answer: its outcome and whether the partition had moved; undefined if garbled. */
function answerOf(data: Uint8Array): [ShardReply['outcome'], boolean] | undefined {
  let answer: unknown;
  try {
    answer = packr.unpack(data);
  } catch {
    return undefined;
  }
  if (!Array.isArray(answer) || answer.length !== 2) return undefined;
  const [outcome, moved] = answer as unknown[];
  if (typeof outcome !== 'object' || outcome === null || typeof moved !== 'boolean')
    return undefined;
  return [outcome as ShardReply['outcome'], moved];
}

export class Forwarding {
  private subscription: Subscription | undefined;
  /**
   * Forwards not sent yet: published in one go (turn-batch.ts). The client writes what is
   * published within one synchronous run to its socket in one write (it flushes in a
   * microtask), so one write carries them all: one write each was the largest cost of a
   * forward on the asking node.
   */
  private readonly outgoing = new TurnBatch<Outgoing>((batch) => {
    for (const { node, payload, deadlineMs, callback } of batch) {
      this.send(node, payload, deadlineMs, callback);
    }
  });

  private readonly now: () => number;
  /** The owners' answers to this node's forwards. */
  private readonly replies: ForwardReplies;

  private constructor(
    private readonly connection: NatsConnection,
    private readonly options: ForwardingOptions,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.replies = new ForwardReplies(connection);
  }

  static async open(options: ForwardingOptions): Promise<Forwarding> {
    const connection = await connect({
      servers: options.natsUrl,
      name: `inventory-ledger-${options.self}`,
      // A node cut off from NATS keeps trying; forwards meanwhile get 503 at once.
      reconnect: true,
      maxReconnectAttempts: -1,
      noAsyncTraces: true,
      // A node never needs what it publishes itself (its own stock changes, its announcements).
      noEcho: true,
    });
    const forwarding = new Forwarding(connection, options);
    forwarding.listen();
    return forwarding;
  }

  /** Whether forwards can go out and come in now (readiness). */
  get connected(): boolean {
    return !this.connection.isClosed() && this.subscription !== undefined;
  }

  /** Forwards waiting to be sent with the others of this turn. */
  get queued(): number {
    return this.outgoing.size;
  }

  /**
   * Sends a command to its partition's owner; `callback` gets the owner's reply. The request
   * leaves with the others of this turn (see `outgoing`).
   */
  forward(
    node: string,
    partition: number,
    command: Command,
    callback: ReplyCallback,
    budgetMs: number,
  ): void {
    const deadlineMs = Date.now() + budgetMs;
    const payload = packr.pack([partition, command, deadlineMs] satisfies Forwarded);
    this.outgoing.add({ node, payload, deadlineMs, callback }, this.now());
  }

  /** One forward, published with its reply subject; `callback` gets how it ended. */
  private send(node: string, payload: Uint8Array, deadlineMs: number, callback: ReplyCallback) {
    const subject = forwardSubject(this.options.journal, node);
    this.replies.send(subject, payload, deadlineMs, (end) => {
      const answer = end.kind === 'answer' ? answerOf(end.data) : undefined;
      if (answer !== undefined) {
        const [outcome, moved] = answer;
        callback(
          moved ? { id: 0, outcome, servedBy: node, moved } : { id: 0, outcome, servedBy: node },
        );
        return;
      }
      // No answer, or one that does not decode: what the owner did is unknown.
      const refused = merged(failure(0, 'unavailable', unreachable), { servedBy: node });
      // Nobody listens on the owner's subject (it just left): the command reached no one and
      // can be sent again once the partition's next owner is known. A timeout cannot tell.
      callback(
        end.kind === 'no-responders'
          ? merged(refused, { moved: true, unreachable: true })
          : refused,
      );
    });
  }

  /** Asks a node for its page of the stock listing; a node that does not answer refuses it. */
  list(node: string, query: StockPageQuery, callback: (page: NodePage) => void): void {
    this.connection
      .request(listSubject(this.options.journal, node), packr.pack(query), {
        timeout: this.options.listTimeoutMs,
      })
      .then(
        (message) => callback(packr.unpack(message.data) as NodePage),
        () => callback(failure(0, 'unavailable', unreachable).outcome),
      );
  }

  /** Asks a node to snapshot its changed partitions; resolves to how many it snapshotted. */
  async snapshotOf(node: string, timeoutMs: number): Promise<number> {
    const subject = snapshotSubject(this.options.journal, node);
    const answer = await this.connection.request(subject, undefined, { timeout: timeoutMs });
    const partitions = packr.unpack(answer.data) as number | { error: string };
    if (typeof partitions !== 'number') throw new Error(`node ${node}: ${partitions.error}`);
    return partitions;
  }

  /** Sends this node's durable stock changes to the other nodes' live feeds. */
  publishStock(changes: readonly StockChange[]): void {
    if (this.connection.isClosed()) return;
    this.connection.publish(stockSubject(this.options.journal), packr.pack(changes));
  }

  /** Tells the other nodes that this one has live-feed subscribers. */
  announceFeedInterest(): void {
    if (!this.connection.isClosed()) {
      this.connection.publish(feedInterestSubject(this.options.journal));
    }
  }

  /** Tells every node that this one took or let go of partitions. */
  announce(): void {
    if (!this.connection.isClosed()) this.connection.publish(changedSubject(this.options.journal));
  }

  private listen(): void {
    this.connection.subscribe(stockSubject(this.options.journal), {
      callback: (error, message) => {
        if (error !== null) return;
        try {
          this.options.stockChanged(packr.unpack(message.data) as StockChange[]);
        } catch (decodeError) {
          this.options.log('warn', { err: decodeError }, 'stock changes did not decode');
        }
      },
    });
    this.connection.subscribe(snapshotSubject(this.options.journal, this.options.self), {
      callback: (error, message) => {
        if (error !== null) return;
        this.options.snapshot().then(
          (partitions) => message.respond(packr.pack(partitions)),
          (failed: unknown) => message.respond(packr.pack({ error: String(failed) })),
        );
      },
    });
    this.connection.subscribe(feedInterestSubject(this.options.journal), {
      callback: (error) => {
        if (error === null) this.options.feedInterest();
      },
    });
    this.connection.subscribe(listSubject(this.options.journal, this.options.self), {
      callback: (error, message) => {
        if (error !== null) return;
        let query: StockPageQuery;
        try {
          query = packr.unpack(message.data) as StockPageQuery;
        } catch (decodeError) {
          this.options.log('warn', { err: decodeError }, 'a listing request did not decode');
          return;
        }
        this.options.servePage(query, (page) => message.respond(packr.pack(page)));
      },
    });
    this.connection.subscribe(changedSubject(this.options.journal), {
      callback: (error) => {
        if (error === null) this.options.changed();
      },
    });
    this.subscription = this.connection.subscribe(
      forwardSubject(this.options.journal, this.options.self),
      {
        callback: (error, message) => {
          if (error !== null) {
            this.options.log('warn', { err: error }, 'forwarded commands: subscription error');
            return;
          }
          this.serve(message);
        },
      },
    );
  }

  private serve(message: Msg): void {
    let forwarded: Forwarded;
    try {
      forwarded = packr.unpack(message.data) as Forwarded;
    } catch (error) {
      this.options.log('warn', { err: error }, 'a forwarded command did not decode');
      return;
    }
    const [partition, command, deadlineMs] = forwarded;
    // A command whose asker has given up on it (it sat in transit, or behind a pause of this
    // node) is not started: the asker answered 503 and the client retries.
    if (!(Date.now() < deadlineMs)) {
      message.respond(packr.pack([failure(0, 'unavailable', lateMessage).outcome, false]));
      return;
    }
    this.options.serve(partition, command, (reply) => {
      message.respond(packr.pack([reply.outcome, reply.moved === true]));
    });
  }

  async close(): Promise<void> {
    // Drain: forwards being served here get their answers out first.
    await this.connection.drain().catch(() => undefined);
    // Forwards of this node still unanswered get 503 `unavailable` (their outcome is unknown).
    this.replies.close();
  }
}
