// Proves the client's retries against real ledgers: 503 `overloaded` (a ledger whose in-flight
// bound is 1) and 429 are retried until served; a connection dropped after the request reached
// the ledger (a TCP proxy holds the answer, then resets) is retried with the same key and holds
// stock once; an adjust without a key is never retried then; deadlines and aborts end a call.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LedgerClient,
  LedgerConnectionError,
  LedgerError,
  LedgerTimeoutError,
  type RetryEvent,
} from '../../client/src/index.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';

const runTag = randomBytes(3).toString('hex');
let productCounter = 0;
const newProduct = (tag: string) => `r-${tag}-${runTag}-${(productCounter += 1)}`;

/** A client that records its retries. */
function recordingClient(baseUrl: string, options: Record<string, unknown> = {}) {
  const retries: RetryEvent[] = [];
  const client = new LedgerClient({
    baseUrl,
    retry: { baseDelayMs: 20, attemptsMax: 20 },
    deadlineMs: 60_000,
    onRetry: (event) => retries.push(event),
    ...options,
  });
  return { client, retries };
}

async function until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('expected a rejection'),
    (error: unknown) => error,
  );
}

const ledgerCodes = (retries: RetryEvent[]) =>
  retries.map((event) => (event.error instanceof LedgerError ? event.error.code : 'connection'));

describe.runIf(await havePostgres())('client retries over a dropped connection', () => {
  const fixture = useLedger();
  let proxy: TcpProxy;
  beforeAll(async () => {
    proxy = await TcpProxy.start({ targetPort: fixture.ledger.port });
  });
  afterAll(() => proxy.close());
  const direct = () => new LedgerClient({ baseUrl: fixture.ledger.baseUrl });
  const viaProxy = () => recordingClient(`http://127.0.0.1:${proxy.port}`);

  /** Holds the ledger's answers in the proxy until `applied` says the change is in, then resets. */
  async function dropAfterApplied(applied: () => Promise<boolean>): Promise<void> {
    await until(applied);
    proxy.replyDelayMs = 0;
    expect(proxy.dropAll()).toBeGreaterThan(0);
  }

  it('retries a reserve with the same key and holds its stock once', async () => {
    const product = newProduct('drop');
    await direct().adjust({ product_id: product, warehouse_id: 'w1', delta: 10 });
    const { client, retries } = viaProxy();
    proxy.replyDelayMs = 10_000;
    const pending = client.reserve({ product_id: product, warehouse_id: 'w1', quantity: 3 });
    await dropAfterApplied(async () => (await direct().getStock(product, 'w1')).reserved > 0);
    const reservation = await pending;
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries[0]?.error).toBeInstanceOf(LedgerConnectionError);
    expect((retries[0]?.error as LedgerConnectionError).maybeApplied).toBe(true);
    expect(await direct().getStock(product, 'w1')).toMatchObject({ reserved: 3, available: 7 });
    expect(await direct().getReservation(reservation.reservation_id)).toMatchObject({
      status: 'PENDING',
      quantity: 3,
    });
  });

  it('retries a keyed adjust after a drop and applies it once', async () => {
    const product = newProduct('drop-adjust');
    await direct().adjust({ product_id: product, warehouse_id: 'w1', delta: 10 });
    const { client, retries } = viaProxy();
    proxy.replyDelayMs = 10_000;
    const pending = client.adjust({ product_id: product, warehouse_id: 'w1', delta: 5 });
    await dropAfterApplied(async () => (await direct().getStock(product, 'w1')).on_hand > 10);
    expect(await pending).toMatchObject({ on_hand: 15, version: 2 });
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect((await direct().getStock(product, 'w1')).on_hand).toBe(15);
  });

  it('never retries an adjust without a key once it may have reached the ledger', async () => {
    const product = newProduct('drop-unkeyed');
    await direct().adjust({ product_id: product, warehouse_id: 'w1', delta: 10 });
    const { client, retries } = viaProxy();
    proxy.replyDelayMs = 10_000;
    const pending = rejectionOf(
      client.adjust(
        { product_id: product, warehouse_id: 'w1', delta: 5 },
        { idempotencyKey: null },
      ),
    );
    await dropAfterApplied(async () => (await direct().getStock(product, 'w1')).on_hand > 10);
    const error = await pending;
    expect(error).toBeInstanceOf(LedgerConnectionError);
    expect(error).toMatchObject({ maybeApplied: true, attempts: 1 });
    expect(retries).toEqual([]);
    await sleep(200);
    expect((await direct().getStock(product, 'w1')).on_hand).toBe(15);
  });

  it('retries even an unkeyed adjust while the connection is refused, then says so', async () => {
    const port = await closedPort();
    const { client, retries } = recordingClient(`http://127.0.0.1:${port}`, {
      retry: { attemptsMax: 3, baseDelayMs: 1 },
    });
    const request = { product_id: newProduct('refused'), warehouse_id: 'w1', delta: 1 };
    const error = await rejectionOf(client.adjust(request, { idempotencyKey: null }));
    expect(error).toBeInstanceOf(LedgerConnectionError);
    expect(error).toMatchObject({ maybeApplied: false, attempts: 3 });
    expect(retries).toHaveLength(2);
  });

  it('ends a call at its deadline across retries, and when the caller aborts', async () => {
    const product = newProduct('stall');
    await direct().adjust({ product_id: product, warehouse_id: 'w1', delta: 1 });
    const { client, retries } = viaProxy();
    proxy.stall();
    try {
      const startedMs = Date.now();
      const options = { attemptTimeoutMs: 150, deadlineMs: 700 };
      const late = await rejectionOf(client.getStock(product, 'w1', options));
      expect(late).toBeInstanceOf(LedgerTimeoutError);
      expect(Date.now() - startedMs).toBeLessThan(1_500);
      expect(retries.length).toBeGreaterThanOrEqual(1);
      const controller = new AbortController();
      setTimeout(() => controller.abort(new Error('shopper left')), 100);
      const aborted = await rejectionOf(
        client.getStock(product, 'w1', { signal: controller.signal }),
      );
      expect(aborted).toBeInstanceOf(LedgerTimeoutError);
      expect(aborted).toMatchObject({ reason: 'aborted' });
    } finally {
      proxy.heal();
      proxy.dropAll();
    }
  });
});

describe.runIf(await havePostgres())('client retries on 503 overloaded', () => {
  const fixture = useLedger({ SHARDS: '1', LEDGER_SHARD_INFLIGHT_MAX: '1' });

  it('retries reserves and unkeyed adjusts refused as overloaded until each is served once', async () => {
    const { client, retries } = recordingClient(fixture.ledger.baseUrl);
    const product = newProduct('busy');
    await client.adjust({ product_id: product, warehouse_id: 'w1', delta: 100 });
    const key = { product_id: product, warehouse_id: 'w1' };
    const holds = Array.from({ length: 12 }, () => client.reserve({ ...key, quantity: 1 }));
    const adjusts = Array.from({ length: 8 }, () =>
      client.adjust({ ...key, delta: 1 }, { idempotencyKey: null }),
    );
    await Promise.all([...holds, ...adjusts]);
    expect(ledgerCodes(retries)).toContain('overloaded');
    expect(retries.every((event) => event.delayMs >= 1_000)).toBe(true);
    expect(await client.getStock(product, 'w1')).toMatchObject({ on_hand: 108, reserved: 12 });
  });
});

describe.runIf(await havePostgres())('client retries on 429 rate_limited', () => {
  const fixture = useLedger({ LEDGER_RATE_LIMIT_PER_SECOND: '4', LEDGER_RATE_LIMIT_BURST: '4' });

  it('waits for retry-after and gets every answer', async () => {
    const { client, retries } = recordingClient(fixture.ledger.baseUrl);
    const product = newProduct('limited');
    await client.adjust({ product_id: product, warehouse_id: 'w1', delta: 1 });
    const reads = await Promise.all(
      Array.from({ length: 10 }, () => client.getStock(product, 'w1')),
    );
    expect(reads.every((stock) => stock.on_hand === 1)).toBe(true);
    expect(ledgerCodes(retries)).toContain('rate_limited');
  });
});

/** A port nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}
