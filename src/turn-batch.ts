// Work the HTTP thread sends on in batches: what one event-loop turn gathered leaves together at
// the turn's end, or sooner, once the batch holds `turnBatchMax` items or its first item has
// waited `turnBatchWaitMsMax`. Commands to a shard (ShardChannel: one message to the worker) and
// forwards to other nodes (Forwarding: one write to NATS) are both sent this way.
import { systemClock } from './clock.js';
import { turnBatchMax, turnBatchWaitMsMax } from './limits.js';

export class TurnBatch<T> {
  private items: T[] = [];
  /** When the first of `items` was added (the caller's monotonic ms). */
  private sinceMs = 0;
  private scheduled = false;

  constructor(
    /** Sends a batch on (never called with none). */
    private readonly send: (items: T[]) => void,
    /** Runs a task at the end of this turn. */
    private readonly defer: (task: () => void) => void = systemClock.defer,
  ) {}

  /** Items waiting to be sent. */
  get size(): number {
    return this.items.length;
  }

  /**
   * Adds an item at `nowMs`. A turn that goes on (a crowd keeps thousands of sockets readable,
   * and libuv runs up to 48 polls of 1,024 events before it ends a turn) must not hold the
   * batch back: a full or old batch leaves at once.
   */
  add(item: T, nowMs: number): void {
    this.items.push(item);
    if (this.items.length === 1) this.sinceMs = nowMs;
    if (!this.scheduled) {
      this.scheduled = true;
      this.defer(this.atTurnEnd);
    }
    if (this.items.length >= turnBatchMax || nowMs - this.sinceMs >= turnBatchWaitMsMax) {
      this.flush();
    }
  }

  /** Takes back the first waiting item `matches` finds; false if none (it left, or never was). */
  remove(matches: (item: T) => boolean): boolean {
    const index = this.items.findIndex(matches);
    if (index < 0) return false;
    this.items.splice(index, 1);
    return true;
  }

  /** Drops what waits: none of it is sent. */
  clear(): void {
    this.items = [];
  }

  /** Sends what waits now. */
  flush(): void {
    const items = this.items;
    this.items = [];
    if (items.length > 0) this.send(items);
  }

  private readonly atTurnEnd = (): void => {
    this.scheduled = false;
    this.flush();
  };
}
