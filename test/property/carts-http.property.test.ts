// Proves carts keep the books over the real server under interleavings: fast-check plans rounds
// of concurrent carts (across partitions, allocated, summed, replayed, some too large) and
// reserves, releases and cart releases on a few scarce keys, all sent at once over HTTP; after
// each round every acknowledged cart is whole, every refused one held nothing, and each key's
// reserved units are exactly the PENDING holds of the acknowledged carts and reserves (no
// oversell, no leak), with available never below zero.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { runOptions } from '../helpers/fc-options.js';
import { get, newKey, post, type JsonResponse } from '../helpers/http.js';
import { startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

const products = ['cp-0', 'cp-1', 'cp-2', 'cp-3'];
const warehouses = ['wa', 'wb'];
const unitsPerKey = 6;

type Action =
  | { kind: 'cart'; lines: { product: number; warehouse: number; quantity: number }[] }
  | { kind: 'replay'; pick: number }
  | { kind: 'reserve'; product: number; warehouse: number; quantity: number }
  | { kind: 'release-cart'; pick: number };

interface Hold {
  readonly reservation_id: string;
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly quantity: number;
  readonly status?: string;
}

const lineArbitrary = fc.record({
  product: fc.nat({ max: products.length - 1 }),
  warehouse: fc.integer({ min: -1, max: warehouses.length - 1 }),
  quantity: fc.integer({ min: 1, max: 4 }),
});

const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('cart' as const),
      lines: fc.array(lineArbitrary, { minLength: 1, maxLength: 4 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('reserve' as const),
      product: fc.nat({ max: products.length - 1 }),
      warehouse: fc.nat({ max: warehouses.length - 1 }),
      quantity: fc.integer({ min: 1, max: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('release-cart' as const), pick: fc.nat() }),
  },
);

describe.runIf(await havePostgres())('carts over the real server, interleaved', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess | undefined;
  const base = () => (ledger as LedgerProcess).baseUrl;

  beforeAll(async () => {
    database = await createDatabase();
    ledger = await startLedger({ env: { DATABASE_URL: database.url, SHARDS: '2' } });
  });

  afterAll(async () => {
    await ledger?.stop();
    await database?.drop();
  });

  it('keeps each key reserved equal to the PENDING holds acknowledged', async () => {
    let run = 0;
    let placed = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(actionArbitrary, { minLength: 4, maxLength: 24 }), async (plan) => {
        run += 1;
        const scope = `r${run}-${Date.now().toString(36)}`;
        const book = new Book(base(), scope);
        await book.stockEveryKey();
        // Two waves: everything of a wave in flight at once, then the next.
        const half = Math.ceil(plan.length / 2);
        for (const wave of [plan.slice(0, half), plan.slice(half)]) {
          await Promise.all(wave.map((action) => book.send(action)));
        }
        await book.check();
        placed += book.cartsAcknowledged;
      }),
      runOptions(12),
    );
    // The runs reach the interesting part: carts got placed, not only refused.
    expect(placed).toBeGreaterThan(10);
  });
});

/** What one run sent and was told, and the checks of it against the server's stock. */
class Book {
  private readonly carts: { key: string; body: unknown; reply: JsonResponse }[] = [];
  private readonly reserves: Hold[] = [];
  cartsAcknowledged = 0;

  constructor(
    private readonly baseUrl: string,
    private readonly scope: string,
  ) {}

  product(index: number): string {
    return `${this.scope}-${products[index] as string}`;
  }

  async stockEveryKey(): Promise<void> {
    for (const [index] of products.entries()) {
      for (const warehouse of warehouses) {
        const body = {
          product_id: this.product(index),
          warehouse_id: warehouse,
          delta: unitsPerKey,
        };
        expect((await post(this.baseUrl, '/v1/stock/adjust', body)).status).toBe(200);
      }
    }
  }

  async send(action: Action): Promise<void> {
    switch (action.kind) {
      case 'cart': {
        const lines = action.lines.map((line) => ({
          product_id: this.product(line.product),
          ...(line.warehouse < 0 ? {} : { warehouse_id: warehouses[line.warehouse] }),
          quantity: line.quantity,
        }));
        const body = { idempotency_key: newKey('cprop'), lines };
        const reply = await post(this.baseUrl, '/v1/carts', body);
        this.carts.push({ key: body.idempotency_key, body, reply });
        return;
      }
      case 'replay': {
        const earlier = this.carts[action.pick % Math.max(1, this.carts.length)];
        if (earlier === undefined) return;
        const reply = await post(this.baseUrl, '/v1/carts', earlier.body);
        const first = earlier.reply;
        if (first.status === 200) {
          // A bound key always answers its cart again, whatever happened since.
          expect(reply.status).toBe(200);
          expect(reply.body.cart_id).toBe(first.body.cart_id);
        } else if (reply.status === 200) {
          this.carts.push({ key: earlier.key, body: earlier.body, reply });
        }
        return;
      }
      case 'reserve': {
        const body = {
          product_id: this.product(action.product),
          warehouse_id: warehouses[action.warehouse],
          quantity: action.quantity,
          idempotency_key: newKey('rprop'),
        };
        const reply = await post(this.baseUrl, '/v1/reserve', body);
        if (reply.status === 200) this.reserves.push(reply.body as unknown as Hold);
        else expect(reply.status).toBe(409);
        return;
      }
      case 'release-cart': {
        const placed = this.carts.filter((cart) => cart.reply.status === 200);
        const cart = placed[action.pick % Math.max(1, placed.length)];
        if (cart === undefined) return;
        const reply = await post(
          this.baseUrl,
          `/v1/carts/${cart.reply.body.cart_id as string}/release`,
          undefined,
        );
        expect([200, 503]).toContain(reply.status);
      }
    }
  }

  /** Every cart whole or refused with nothing held; reserved = the PENDING holds, per key. */
  async check(): Promise<void> {
    const pending = new Map<string, number>();
    const count = (hold: Hold) => {
      const key = `${hold.product_id}/${hold.warehouse_id}`;
      pending.set(key, (pending.get(key) ?? 0) + hold.quantity);
    };
    const seen = new Set<string>();
    for (const { reply } of this.carts) {
      if (reply.status !== 200) {
        expect([409, 503], JSON.stringify(reply.body)).toContain(reply.status);
        continue;
      }
      const cartId = reply.body.cart_id as string;
      if (seen.has(cartId)) continue;
      seen.add(cartId);
      this.cartsAcknowledged += 1;
      const read = await get(this.baseUrl, `/v1/carts/${cartId}`);
      expect(read.status).toBe(200);
      const holds = read.body.holds as Hold[];
      expect(holds.map((hold) => hold.reservation_id)).toEqual(
        (reply.body.holds as Hold[]).map((hold) => hold.reservation_id),
      );
      for (const hold of holds) if (hold.status === 'PENDING') count(hold);
    }
    for (const hold of this.reserves) {
      const read = await get(this.baseUrl, `/v1/reservations/${hold.reservation_id}`);
      if (read.body.status === 'PENDING') count(hold);
    }
    for (const [index] of products.entries()) {
      for (const warehouse of warehouses) {
        const read = await get(this.baseUrl, `/v1/stock/${this.product(index)}/${warehouse}`);
        const key = `${this.product(index)}/${warehouse}`;
        expect(read.body.reserved, key).toBe(pending.get(key) ?? 0);
        expect(read.body.on_hand).toBe(unitsPerKey);
        expect(read.body.available as number).toBeGreaterThanOrEqual(0);
      }
    }
  }
}
