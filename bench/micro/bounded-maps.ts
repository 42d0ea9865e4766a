// What one more entry costs a bounded table that is full: the rate limiter's buckets (100,000
// clients, all active), the token cache (10,000 tokens, each new one verified: HS256) and a home
// partition's decided carts at a retention bound (each new cart decided, then the oldest
// forgotten). Each keeps its entries in a Map in insertion order and forgets the oldest; a Map
// iterator made anew for that steps over every entry deleted since the table was last rebuilt.
//
//   npx tsx bench/micro/bounded-maps.ts [--rounds 3] [--entries 100000]
import { SignJWT } from 'jose';
import { CartBook } from '../../src/actors/cart-book.js';
import type { CartRecord } from '../../src/actors/types.js';
import { Authenticator } from '../../src/http/auth.js';
import { RateLimiter } from '../../src/http/rate-limit.js';
import { authCacheEntriesMax, rateLimitClientsMax } from '../../src/limits.js';
import { parseIntegerFlags } from '../lib/args.js';
import { median } from '../lib/report.js';

const out = (line: string): boolean => process.stdout.write(`${line}\n`);

/** µs per `step` over `count` steps. */
async function timed(count: number, step: (index: number) => unknown): Promise<number> {
  const started = process.hrtime.bigint();
  for (let index = 0; index < count; index += 1) {
    // Only a step that is async is awaited: an await costs a turn of the microtask queue.
    const result = step(index);
    if (result instanceof Promise) await result;
  }
  return Number(process.hrtime.bigint() - started) / 1000 / count;
}

function rateLimiter(newClients: number): Promise<number> {
  // 1 request a second, a burst of 10: a bucket is full again (and may go) after 10 s idle.
  const limiter = new RateLimiter(1, 10);
  const t0 = 1_000_000;
  for (let index = 0; index < rateLimitClientsMax; index += 1) limiter.take(`c${index}`, t0);
  return timed(newClients, (index) => limiter.take(`new${index}`, t0 + 1 + index / 1000));
}

const secret = new TextEncoder().encode('a-bench-secret-that-is-at-least-32-bytes-long');

async function tokenCache(newTokens: number): Promise<number> {
  const auth = await Authenticator.open({
    jwtSecret: secret.toString(),
    jwtPublicKeyPath: undefined,
  });
  const expires = Math.floor(Date.now() / 1000) + 3_600;
  const sign = (index: number): Promise<string> =>
    new SignJWT({ role: 'checkout', jti: `t${index}` })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(expires)
      .sign(secret);
  const total = authCacheEntriesMax + newTokens;
  const tokens = await Promise.all(Array.from({ length: total }, (_, index) => sign(index)));
  const nowMs = Date.now();
  for (const token of tokens.slice(0, authCacheEntriesMax))
    await auth.check(`Bearer ${token}`, nowMs);
  return timed(newTokens, (index) =>
    auth.check(`Bearer ${tokens[authCacheEntriesMax + index] as string}`, nowMs),
  );
}

function cart(cartId: string, atMs: number): CartRecord {
  const idempotencyKey = `k-${cartId}`;
  const [fingerprint, buyerId, reference, requesterId, traceId] = ['f', '', '', 'checkout', 't'];
  return {
    type: 'cart',
    cartId,
    decision: 'aborted',
    idempotencyKey,
    fingerprint,
    createdAtMs: atMs,
    expiresAtMs: atMs,
    buyerId,
    reference,
    requesterId,
    holds: [],
    atMs,
    traceId,
  };
}

function decidedCarts(bound: number, newCarts: number): Promise<number> {
  const book = new CartBook();
  for (let index = 0; index < bound; index += 1) book.decide(cart(`old${index}`, index));
  // Retention by count alone: every cart decided long ago (none live), kept for a day.
  return timed(newCarts, (index) => {
    const atMs = bound + index;
    book.decide(cart(`new${index}`, atMs));
    book.prune(atMs - 86_400_000, bound, atMs + 1);
  });
}

async function main(): Promise<void> {
  const { rounds, entries } = parseIntegerFlags({
    rounds: { defaultValue: 3, min: 1, max: 100 },
    entries: { defaultValue: 100_000, min: 1, max: 10_000_000 },
  });
  const cases: [string, () => Promise<number>][] = [
    [
      `rate limiter, ${rateLimitClientsMax} active clients: a new client`,
      () => rateLimiter(20_000),
    ],
    [
      `token cache, ${authCacheEntriesMax} tokens: a new token (HS256 verify included)`,
      () => tokenCache(5_000),
    ],
    [
      'decided carts at a bound of 3,907 (256 partitions): decide + prune',
      () => decidedCarts(3_907, entries),
    ],
    [
      `decided carts at a bound of ${entries}: decide + prune`,
      () => decidedCarts(entries, entries),
    ],
  ];
  out(`node ${process.version}, median of ${rounds} rounds (µs per step; every round):`);
  for (const [name, run] of cases) {
    const each: number[] = [];
    for (let round = 0; round < rounds; round += 1) each.push(await run());
    out(
      `  ${name}: ${(median(each) ?? 0).toFixed(2)} (${each.map((us) => us.toFixed(2)).join(', ')})`,
    );
  }
}

await main();
