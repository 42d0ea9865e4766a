// Per-client token buckets (client = token subject when auth is on, else the remote address).
// A request takes one token; an empty bucket answers 429 with the seconds until the next token.
// Idle buckets are full by definition, so they are dropped rather than kept: memory is bounded.
import { rateLimitClientsMax } from '../limits.js';
import { OldestFirst } from '../actors/index.js';

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** No bucket can be full (idle long enough to drop) before this: no sweep before it either. */
  private sweepFromMs = Number.NEGATIVE_INFINITY;
  private readonly oldest = new OldestFirst(this.buckets);

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    /** Clients with a bucket at most (limits.ts; smaller in tests). */
    private readonly clientsMax = rateLimitClientsMax,
  ) {}

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  /** 0 if the request may go ahead, else the whole seconds to wait (for retry-after). */
  take(client: string, nowMs: number): number {
    if (this.perSecond <= 0) return 0;
    let bucket = this.buckets.get(client);
    if (bucket === undefined) {
      if (this.buckets.size >= this.clientsMax) this.makeRoom(nowMs);
      bucket = { tokens: this.burst, updatedMs: nowMs };
      this.buckets.set(client, bucket);
    } else {
      const refill = ((nowMs - bucket.updatedMs) / 1000) * this.perSecond;
      bucket.tokens = Math.min(this.burst, bucket.tokens + refill);
      bucket.updatedMs = nowMs;
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond));
  }

  /** Clients with a bucket now. */
  get clients(): number {
    return this.buckets.size;
  }

  /**
   * Drops the full buckets (idle long enough to have refilled), at most once until the least
   * recently used one can be full: a crowd of active clients at the bound would otherwise make
   * every new client sweep them all. Still at the bound, the oldest bucket makes room.
   */
  private makeRoom(nowMs: number): void {
    const fullAfterMs = (this.burst / this.perSecond) * 1000;
    if (nowMs >= this.sweepFromMs) {
      let leastRecentMs = Number.POSITIVE_INFINITY;
      for (const [client, bucket] of this.buckets) {
        if (nowMs - bucket.updatedMs >= fullAfterMs) this.buckets.delete(client);
        else leastRecentMs = Math.min(leastRecentMs, bucket.updatedMs);
      }
      // A bucket's time only moves on, and a new one starts at its request's time (now or later).
      this.sweepFromMs = Math.min(leastRecentMs, nowMs) + fullAfterMs;
    }
    if (this.buckets.size >= this.clientsMax) this.oldest.forget();
  }
}
