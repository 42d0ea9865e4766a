// Per-client token buckets (client = token subject when auth is on, else the remote address).
// A request takes one token; an empty bucket answers 429 with the seconds until the next token.
// Idle buckets are full by definition, so they are dropped rather than kept: memory is bounded.
import { rateLimitClientsMax } from '../limits.js';

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
  ) {}

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  /** 0 if the request may go ahead, else the whole seconds to wait (for retry-after). */
  take(client: string, nowMs: number): number {
    if (this.perSecond <= 0) return 0;
    let bucket = this.buckets.get(client);
    if (bucket === undefined) {
      if (this.buckets.size >= rateLimitClientsMax) this.dropFullBuckets(nowMs);
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

  private dropFullBuckets(nowMs: number): void {
    const fullAfterMs = (this.burst / this.perSecond) * 1000;
    for (const [client, bucket] of this.buckets) {
      if (nowMs - bucket.updatedMs >= fullAfterMs) this.buckets.delete(client);
    }
    // Still full of active clients: refuse to grow; the oldest entry makes room.
    if (this.buckets.size >= rateLimitClientsMax) {
      const oldest = this.buckets.keys().next();
      if (oldest.done !== true) this.buckets.delete(oldest.value);
    }
  }
}
