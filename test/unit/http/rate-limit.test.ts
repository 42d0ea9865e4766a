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

describe('RateLimiter at its bound of clients', () => {
  // 2 tokens a second, a burst of 2: a bucket idle for 1 s is full again, and is dropped.
  const fullAfterMs = 1_000;

  it('drops the idle buckets first, else the oldest, and never holds more clients', () => {
    const limiter = new RateLimiter(2, 2, 3);
    const t0 = 1_000_000;
    for (const client of ['a', 'b', 'c']) expect(limiter.take(client, t0)).toBe(0);
    expect(limiter.take('a', t0)).toBe(0);
    expect(limiter.take('a', t0)).toBe(1);
    // Every bucket active: the oldest ('a', emptied) makes room, and so starts full again.
    expect(limiter.take('d', t0 + 10)).toBe(0);
    expect(limiter.clients).toBe(3);
    expect(limiter.take('a', t0 + 20)).toBe(0);
    expect(limiter.clients).toBe(3);
    // 'b' went to make room for 'a' (the next oldest): the bound holds.
    expect(limiter.take('b', t0 + 30)).toBe(0);
    expect(limiter.take('b', t0 + 30)).toBe(0);
    expect(limiter.take('b', t0 + 30)).toBe(1);
    expect(limiter.clients).toBe(3);
  });

  it('sweeps out the buckets that are full again, however late, and keeps the active ones', () => {
    const limiter = new RateLimiter(2, 2, 3);
    const t0 = 1_000_000;
    limiter.take('a', t0);
    limiter.take('b', t0);
    limiter.take('c', t0 + 600);
    limiter.take('c', t0 + 600);
    // At t0 + 650 none is full: the oldest makes room ('a').
    limiter.take('d', t0 + 650);
    expect(limiter.clients).toBe(3);
    // At t0 + fullAfterMs, 'b' is full again and goes; 'c' (emptied at +600, 0.8 tokens since)
    // is kept as it is, so it still waits.
    limiter.take('e', t0 + fullAfterMs);
    expect(limiter.clients).toBe(3);
    expect(limiter.take('c', t0 + fullAfterMs)).toBe(1);
    // Long after, every bucket is full: one sweep leaves only the newcomer.
    limiter.take('f', t0 + 10 * fullAfterMs);
    expect(limiter.clients).toBe(1);
    // And so again later, after a sweep that left nothing.
    limiter.take('g', t0 + 10 * fullAfterMs);
    limiter.take('h', t0 + 10 * fullAfterMs);
    limiter.take('i', t0 + 20 * fullAfterMs);
    expect(limiter.clients).toBe(1);
  });
});
