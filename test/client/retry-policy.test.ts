// Proves the client's backoff and failure reading without a server: the jittered ceiling grows
// and is capped, retry-after is a floor (and itself capped), and connect failures are told apart
// from failures that may have reached the ledger.
import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  defaultRetryPolicy,
  neverSent,
  parseRetryAfter,
} from '../../client/src/retry.js';

const policy = { ...defaultRetryPolicy, baseDelayMs: 50, delayMaxMs: 400, retryAfterMaxMs: 5_000 };

describe('backoff', () => {
  it('spreads each wait over a ceiling that doubles up to the maximum', () => {
    expect(
      [1, 2, 3, 4, 5].map((retry) => backoffDelayMs(policy, retry, () => 1, undefined)),
    ).toEqual([50, 100, 200, 400, 400]);
    expect(backoffDelayMs(policy, 3, () => 0.5, undefined)).toBe(100);
    expect(backoffDelayMs(policy, 3, () => 0, undefined)).toBe(0);
  });

  it('waits at least retry-after, with up to a fifth more, and caps it', () => {
    expect(backoffDelayMs(policy, 1, () => 0, 1)).toBe(1_000);
    expect(backoffDelayMs(policy, 1, () => 1, 1)).toBe(1_200);
    expect(backoffDelayMs(policy, 1, () => 0, 3_600)).toBe(5_000);
  });

  it('reads retry-after as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('1', 0)).toBe(1);
    expect(parseRetryAfter(null, 0)).toBeUndefined();
    expect(parseRetryAfter('soon', 0)).toBeUndefined();
    const nowMs = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:03 GMT', nowMs)).toBe(3);
  });
});

describe('connection failures', () => {
  const wrapped = (code: string) => new TypeError('fetch failed', { cause: { code } });

  it('knows a refused connection never reached the ledger', () => {
    expect(neverSent(wrapped('ECONNREFUSED'))).toBe(true);
    expect(neverSent(wrapped('UND_ERR_CONNECT_TIMEOUT'))).toBe(true);
  });

  it('takes a reset, a hang up or an unknown failure as maybe applied', () => {
    expect(neverSent(wrapped('ECONNRESET'))).toBe(false);
    expect(neverSent(wrapped('UND_ERR_SOCKET'))).toBe(false);
    expect(neverSent(new Error('socket hang up'))).toBe(false);
  });
});
