// The router's side of one shard: batches requests per event-loop turn, correlates replies, and
// bounds in-flight work. Beyond the bound a request is refused at once (503 overloaded), never
// queued without limit.
import {
  encodeBatch,
  errorReply,
  type ShardHost,
  type ShardReply,
  type ShardRequest,
} from '../shards/index.js';

export type ReplyCallback = (reply: ShardReply) => void;

export class ShardClient {
  private readonly inflight = new Map<number, ReplyCallback>();
  private queue: ShardRequest[] = [];
  private scheduled = false;

  constructor(
    private readonly host: ShardHost,
    private readonly inflightMax: number,
    private readonly nextId: () => number,
  ) {}

  get depth(): number {
    return this.inflight.size;
  }

  get ready(): boolean {
    return this.host.isReady;
  }

  send(partition: number, command: ShardRequest['command'], callback: ReplyCallback): void {
    const id = this.nextId();
    if (!this.host.isReady) {
      callback(
        errorReply(id, 'unavailable', 'The shard is recovering from the journal; retry shortly.'),
      );
      return;
    }
    if (this.inflight.size >= this.inflightMax) {
      callback(errorReply(id, 'overloaded'));
      return;
    }
    this.inflight.set(id, callback);
    this.queue.push({ id, partition, command });
    if (!this.scheduled) {
      this.scheduled = true;
      // setImmediate, not a microtask: it runs after every socket read of this loop turn.
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    if (!this.host.post(encodeBatch(batch))) {
      for (const request of batch) this.answer(errorReply(request.id, 'unavailable'));
    }
  };

  replies(replies: readonly ShardReply[]): void {
    for (const reply of replies) this.answer(reply);
  }

  private answer(reply: ShardReply): void {
    const callback = this.inflight.get(reply.id);
    if (callback === undefined) return;
    this.inflight.delete(reply.id);
    callback(reply);
  }

  /** The worker died: nothing it did was acknowledged; retries with the same key are safe. */
  failAll(message: string): void {
    const waiting = [...this.inflight.keys()];
    for (const id of waiting) this.answer(errorReply(id, 'unavailable', message));
    this.queue = [];
  }
}
