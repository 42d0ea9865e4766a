// Proves a cart is entirely there or not at all across kill -9: a real ledger is SIGKILLed
// while hundreds of carts (most across partitions, some allocated) are being placed; after the
// restart every acknowledged cart is whole, every cart key retried ends with exactly one cart,
// and each key's reserved units are exactly the PENDING holds of the carts that exist: the
// prepared holds of carts never decided were released by the resolver. Then the same for cart
// confirms: SIGKILLed while hundreds of carts are being confirmed, every cart ends with all its
// holds CONFIRMED or none (the resolver rolls a decided confirm forward and lets go of the pins
// of an undecided one), and the units sold are exactly those of the CONFIRMED holds.
import { describe, expect, it } from 'vitest';
import { useRestartableLedger } from '../helpers/ledger-fixture.js';
import { get, newKey, post, type JsonResponse } from '../helpers/http.js';
import { eventually, sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

interface Line {
  readonly product_id: string;
  readonly warehouse_id?: string;
  readonly quantity: number;
}

interface Hold {
  readonly reservation_id: string;
  readonly product_id: string;
  readonly warehouse_id: string;
  readonly quantity: number;
  readonly status: string;
}

const products = Array.from({ length: 16 }, (_, index) => `cart-sku-${index}`);
const warehouses = ['wh-a', 'wh-b'];
const unitsPerKey = 10_000;

/** A deterministic cart: 3-5 lines, one without a warehouse, over products spread widely. */
function cartLines(serial: number): Line[] {
  const count = 3 + (serial % 3);
  return Array.from({ length: count }, (_, index) => {
    const product = products[(serial * 7 + index * 5) % products.length] as string;
    if (index === count - 1) return { product_id: product, quantity: 2 };
    return { product_id: product, warehouse_id: warehouses[index % 2], quantity: 1 };
  });
}

describe.runIf(await havePostgres())('kill -9 under cart load', () => {
  const { start } = useRestartableLedger();

  it('leaves every cart whole or absent, and every acknowledged one whole', async () => {
    let running = await start();
    for (const product of products) {
      for (const warehouse of warehouses) {
        const stock = { product_id: product, warehouse_id: warehouse, delta: unitsPerKey };
        expect((await post(running.baseUrl, '/v1/stock/adjust', stock)).status).toBe(200);
      }
    }
    const carts = Array.from({ length: 400 }, (_, serial) => ({
      idempotency_key: newKey('cart'),
      lines: cartLines(serial),
    }));
    const acknowledged = new Map<string, Record<string, unknown>>();
    const sent = carts.map(async (cart, index) => {
      await sleep(index % 80);
      const reply = await post(running.baseUrl, '/v1/carts', cart).catch(() => undefined);
      if (reply?.status === 200) acknowledged.set(cart.idempotency_key, reply.body);
    });
    await sleep(45);
    await running.kill();
    await Promise.all(sent);
    running = await start();

    // Every acknowledged cart is there, whole, as acknowledged.
    for (const body of acknowledged.values()) {
      const read = await get(running.baseUrl, `/v1/carts/${body.cart_id as string}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(body);
    }
    // Every key retried: the acknowledged ones replay, the others end with exactly one cart. A
    // key whose cart the kill left mid-protocol is answered 503 ("being placed; retry shortly")
    // until the resolver has finished it: retried as a client must, with the same key.
    const holds: Hold[] = [];
    for (const cart of carts) {
      const retry = await placeRetrying(running.baseUrl, cart);
      expect(retry.status, JSON.stringify(retry.body)).toBe(200);
      const earlier = acknowledged.get(cart.idempotency_key);
      if (earlier !== undefined) {
        expect(retry.headers.get('idempotent-replayed')).toBe('true');
        expect(retry.body).toEqual(earlier);
      }
      holds.push(...(retry.body.holds as Hold[]));
    }
    const wanted = reservedByKey(holds);
    // Prepared holds of carts never decided are released by the resolver, within seconds.
    const deadline = Date.now() + 20_000;
    let seen = await reservedNow(running.baseUrl);
    while (!sameCounts(seen, wanted) && Date.now() < deadline) {
      await sleep(250);
      seen = await reservedNow(running.baseUrl);
    }
    expect(seen).toEqual(wanted);
    expect(await running.stop()).toBe(0);
  });
});

describe.runIf(await havePostgres())('kill -9 under cart confirms', () => {
  const { start } = useRestartableLedger();

  it('leaves every cart confirmed whole or not at all, and sells exactly what is CONFIRMED', async () => {
    let running = await start();
    for (const product of products) {
      for (const warehouse of warehouses) {
        const stock = { product_id: product, warehouse_id: warehouse, delta: unitsPerKey };
        expect((await post(running.baseUrl, '/v1/stock/adjust', stock)).status).toBe(200);
      }
    }
    const cartIds: string[] = [];
    for (let serial = 0; serial < 300; serial += 1) {
      const cart = { idempotency_key: newKey('cart'), lines: cartLines(serial) };
      const placed = await post(running.baseUrl, '/v1/carts', cart);
      expect(placed.status).toBe(200);
      cartIds.push(placed.body.cart_id as string);
    }
    const confirmed = new Set<string>();
    const sent = cartIds.map(async (cartId, index) => {
      await sleep(index % 80);
      const reply = await post(running.baseUrl, `/v1/carts/${cartId}/confirm`, {}).catch(
        () => undefined,
      );
      if (reply?.status === 200) confirmed.add(cartId);
    });
    await sleep(45);
    await running.kill();
    await Promise.all(sent);
    running = await start();

    // Within seconds the resolver finishes every confirm the kill cut short (pins of undecided
    // attempts let go, decided ones rolled forward): nothing is left pinned or in doubt.
    const deadline = Date.now() + 20_000;
    while ((await holdsInDoubt(running.baseUrl)) > 0 && Date.now() < deadline) await sleep(250);
    expect(await holdsInDoubt(running.baseUrl)).toBe(0);
    const carts = await readCarts(running.baseUrl, cartIds);
    expect(carts.filter(halfConfirmed).map((cart) => cart.cart_id)).toEqual([]);
    for (const cart of carts) {
      if (confirmed.has(cart.cart_id)) expect(cart.status, cart.cart_id).toBe('CONFIRMED');
    }
    // The units sold are exactly those of the CONFIRMED holds; the rest are still held.
    const holds = carts.flatMap((cart) => cart.holds);
    const sold = reservedByKey(holds.filter((hold) => hold.status === 'CONFIRMED'));
    const held = reservedByKey(holds.filter((hold) => hold.status === 'PENDING'));
    for (const key of Object.keys(sold)) {
      const [product, warehouse] = key.split('/') as [string, string];
      const read = await get(running.baseUrl, `/v1/stock/${product}/${warehouse}`);
      expect(read.body, key).toMatchObject({
        on_hand: unitsPerKey - (sold[key] as number),
        reserved: held[key],
      });
    }
    // A retry of every confirm finishes the job: every cart CONFIRMED.
    for (const cartId of cartIds) {
      const retry = await post(running.baseUrl, `/v1/carts/${cartId}/confirm`, {});
      expect(retry.status, cartId).toBe(200);
      expect(retry.body.status).toBe('CONFIRMED');
    }
    expect(await running.stop()).toBe(0);
  });
});

/** POST /v1/carts, again after each 503 (the same key), for at most 20 s. */
function placeRetrying(baseUrl: string, cart: object): Promise<JsonResponse> {
  return eventually(20_000, async () => {
    const answer = await post(baseUrl, '/v1/carts', cart);
    if (answer.status === 503) {
      expect(answer.headers.get('retry-after')).not.toBeNull();
      throw new Error(`503 for ${JSON.stringify(cart)}: ${JSON.stringify(answer.body)}`);
    }
    return answer;
  });
}

/** Cart holds prepared or pinned and not yet known decided, over every shard (/metrics). */
async function holdsInDoubt(baseUrl: string): Promise<number> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const values = [...text.matchAll(/^ledger_cart_holds_in_doubt(?:\{[^}]*\})? (\d+)/gm)];
  expect(values.length).toBeGreaterThan(0);
  return values.reduce((sum, match) => sum + Number(match[1]), 0);
}

interface CartBody {
  readonly cart_id: string;
  readonly status: string;
  readonly holds: readonly Hold[];
}

async function readCarts(baseUrl: string, cartIds: readonly string[]): Promise<CartBody[]> {
  const carts: CartBody[] = [];
  for (const cartId of cartIds) {
    const read = await get(baseUrl, `/v1/carts/${cartId}`);
    expect(read.status).toBe(200);
    carts.push(read.body as unknown as CartBody);
  }
  return carts;
}

const halfConfirmed = (cart: CartBody): boolean =>
  cart.holds.some((hold) => hold.status === 'CONFIRMED') &&
  cart.holds.some((hold) => hold.status !== 'CONFIRMED');

function reservedByKey(holds: readonly Hold[]): Record<string, number> {
  const reserved: Record<string, number> = {};
  for (const product of products) {
    for (const warehouse of warehouses) reserved[`${product}/${warehouse}`] = 0;
  }
  for (const hold of holds) {
    const key = `${hold.product_id}/${hold.warehouse_id}`;
    reserved[key] = (reserved[key] ?? 0) + hold.quantity;
  }
  return reserved;
}

async function reservedNow(baseUrl: string): Promise<Record<string, number>> {
  const reserved: Record<string, number> = {};
  for (const product of products) {
    for (const warehouse of warehouses) {
      const read = await get(baseUrl, `/v1/stock/${product}/${warehouse}`);
      reserved[`${product}/${warehouse}`] = read.body.reserved as number;
    }
  }
  return reserved;
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  return Object.keys(b).every((key) => a[key] === b[key]);
}
