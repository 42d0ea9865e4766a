// The live feed across nodes: a node's durable stock changes go to the other nodes only while
// one of them has live-feed subscribers (it says so every `feedInterestEveryMs`, and at once when
// its first subscriber comes), so a cluster nobody watches pays nothing for it.
import { feedInterestEveryMs, feedInterestHeldMs } from '../limits.js';
import type { StockChange } from '../shards/index.js';

/** What a cluster node needs of its live feed. */
export interface FeedPort {
  readonly watched: boolean;
  changed(changes: readonly StockChange[]): void;
}

/** How often a node looks whether its live feed has subscribers. */
const checkEveryMs = 100;

export class FeedRelay {
  private heardMs = Number.NEGATIVE_INFINITY;
  private announcedMs = Number.NEGATIVE_INFINITY;
  private watched = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly now: () => number) {}

  /** Another node has subscribers. */
  heard(): void {
    this.heardMs = this.now();
  }

  /** Whether this node's changes are wanted elsewhere now. */
  get wanted(): boolean {
    return this.now() - this.heardMs <= feedInterestHeldMs;
  }

  /** Says this node's interest (through `announce`) while its feed has subscribers. */
  start(feed: FeedPort, announce: () => void): void {
    this.timer = setInterval(() => {
      const first = feed.watched && !this.watched;
      this.watched = feed.watched;
      if (!this.watched) return;
      const now = this.now();
      if (first || now - this.announcedMs >= feedInterestEveryMs) {
        announce();
        this.announcedMs = now;
      }
    }, checkEveryMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }
}
