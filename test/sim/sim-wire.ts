// The simulator's stand-in for the router <-> shard channel: commands are queued (in order, as a
// channel sends them) until the simulator delivers a batch to the shard, and each reply goes back
// by id to the callback that sent it. Every message belongs to one process incarnation: a crash
// drops what that process had queued or was waiting for, and its callbacks never run again.
import type { Command } from '../../src/actors/index.js';
import type { CartTransport } from '../../src/router/index.js';
import { partitionOf } from '../../src/router/index.js';
import type { ReplyCallback, ShardReply } from '../../src/shards/index.js';
import type { ShardRequest } from '../../src/shards/protocol.js';

export interface WireMessage {
  readonly request: ShardRequest;
  readonly callback: ReplyCallback;
  readonly incarnation: number;
}

export class SimWire {
  private queue: WireMessage[] = [];
  /** Delivered to the shard, waiting for its reply. */
  private readonly waiting = new Map<number, WireMessage>();
  private lastId = 0;

  constructor(readonly partitions: number) {}

  /** The coordinator's view of the router, for one incarnation. */
  transport(incarnation: number): CartTransport {
    const partitions = this.partitions;
    return {
      partitions,
      partitionOfProduct: (productId) => partitionOf(productId, partitions),
      dispatchTo: (partition, command, callback) =>
        this.send(incarnation, partition, command, callback),
    };
  }

  send(incarnation: number, partition: number, command: Command, callback: ReplyCallback): number {
    this.lastId += 1;
    const request = { id: this.lastId, partition, command };
    this.queue.push({ request, callback, incarnation });
    return this.lastId;
  }

  get queued(): number {
    return this.queue.length;
  }

  get inflight(): number {
    return this.waiting.size;
  }

  /** The next `count` queued messages, now waiting for their replies. */
  take(count: number): WireMessage[] {
    const taken = this.queue.slice(0, count);
    this.queue = this.queue.slice(taken.length);
    for (const message of taken) this.waiting.set(message.request.id, message);
    return taken;
  }

  /** The message a reply answers (undefined: none is waiting for it). */
  answer(reply: ShardReply): WireMessage | undefined {
    const message = this.waiting.get(reply.id);
    this.waiting.delete(reply.id);
    return message;
  }

  /** A process died: whatever it had queued or was waiting for is gone. */
  killIncarnation(incarnation: number): number {
    let lost = 0;
    for (const [id, message] of this.waiting) {
      if (message.incarnation !== incarnation) continue;
      this.waiting.delete(id);
      lost += 1;
    }
    const kept = this.queue.filter((message) => message.incarnation !== incarnation);
    lost += this.queue.length - kept.length;
    this.queue = kept;
    return lost;
  }
}
