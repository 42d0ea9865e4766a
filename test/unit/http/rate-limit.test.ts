// Proves the per-client token bucket: a burst passes, the next request waits the right number of
// seconds, tokens come back with time, clients do not share buckets, and rate 0 means off.
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../../src/http/rate-limit.js';

describe('RateLimiter', () => {
  it('lets a burst through, then asks to wait, then refills at the configured rate', () => {
    const limiter = new RateLimiter(2, 3);
    const t0 = 1_000_000;
    expect([0, 1, 2].map(() => limiter.take('a', t0))).toEqual([0, 0, 0]);
    expect(limiter.take('a', t0)).toBe(1);
    expect(limiter.take('b', t0)).toBe(0);
    expect(limiter.take('a', t0 + 500)).toBe(0);
    expect(limiter.take('a', t0 + 500)).toBe(1);
    expect(limiter.take('a', t0 + 10_000)).toBe(0);
  });

  it('never refuses when the rate is 0 (off)', () => {
    const limiter = new RateLimiter(0, 0);
    expect(limiter.enabled).toBe(false);
    for (let index = 0; index < 1000; index += 1) expect(limiter.take('a', 0)).toBe(0);
  });

  it('asks slow rates to wait whole seconds, at least one', () => {
    const limiter = new RateLimiter(0.25, 1);
    expect(limiter.take('a', 0)).toBe(0);
    expect(limiter.take('a', 0)).toBe(4);
  });
});
