// Proves GET /v1/stock against the real server over a socket, on 300 stock keys spread over both
// shards and many partitions: paging with any limit visits every key exactly once in
// (product_id, warehouse_id) order and ends with next null, the product filter, values equal to
// single-key reads, keys created between pages, exact values while holds are due but not yet
// expired (the expiry sweep is slowed to a minute, so only the shard asked can expire them), and
// 422 for bad queries, which change nothing.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { partitionOf } from '../../src/router/index.js';
import { expectError, expectValidation } from '../helpers/expect-http.js';
import { get, newKey, post, request, type JsonResponse } from '../helpers/http.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { productsAcrossShards } from '../helpers/stock-keys.js';

const runTag = randomBytes(3).toString('hex');
const shards = 2;
const partitions = 256;
const products = productsAcrossShards(`list-${runTag}`, 100, shards, partitions);
const warehouses = ['wh-a', 'wh-b', 'wh-c'];

interface Item extends Record<string, unknown> {
  readonly product_id: string;
  readonly warehouse_id: string;
}

interface Page {
  readonly items: Item[];
  readonly next: string | null;
}

const name = (item: { product_id: string; warehouse_id: string }): string =>
  `${item.product_id}/${item.warehouse_id}`;

/** (product_id, warehouse_id) order with plain comparisons, as a client would check it. */
function before(a: Item, b: Item): boolean {
  if (a.product_id !== b.product_id) return a.product_id < b.product_id;
  return a.warehouse_id < b.warehouse_id;
}

describe.runIf(await havePostgres())('GET /v1/stock, the stock listing', () => {
  const fixture = useLedger({
    SHARDS: String(shards),
    LEDGER_TTL_SECONDS_MIN: '1',
    // No sweep within the test: a due hold stays pending until a command reaches its shard.
    LEDGER_EXPIRY_SWEEP_MS: '60000',
  });
  const base = () => fixture.ledger.baseUrl;
  let stocked = false;

  async function page(query: string): Promise<Page> {
    const response = await get(base(), `/v1/stock${query}`);
    expect(response.status, response.text).toBe(200);
    expect(Object.keys(response.body).sort()).toEqual(['items', 'next']);
    return response.body as unknown as Page;
  }

  /**
   * Every page from the first (or from the one after `from`), with `query` on each; checks each
   * page's size on the way.
   */
  async function everyPage(query: string, limit: number, from?: string): Promise<Page[]> {
    const pages: Page[] = [];
    let after: string | null = from ?? null;
    do {
      const parameters = [query, after === null ? '' : `after=${after}`].filter((p) => p !== '');
      // The first page of the default listing is the bare path, with no query string at all.
      const next = await page(parameters.length === 0 ? '' : `?${parameters.join('&')}`);
      pages.push(next);
      if (next.next !== null) expect(next.items).toHaveLength(limit);
      else expect(next.items.length).toBeLessThanOrEqual(limit);
      after = next.next;
      expect(pages.length, 'paging must end').toBeLessThan(1000);
    } while (after !== null);
    return pages;
  }

  async function stockEveryKey(): Promise<void> {
    if (stocked) return;
    const keys = products.flatMap((product_id, index) =>
      warehouses.map((warehouse_id, w) => ({ product_id, warehouse_id, delta: 3 + index + w })),
    );
    for (let from = 0; from < keys.length; from += 50) {
      const answers = await Promise.all(
        keys.slice(from, from + 50).map((body) => post(base(), '/v1/stock/adjust', body)),
      );
      for (const answer of answers) expect(answer.status, answer.text).toBe(200);
    }
    stocked = true;
  }

  /** Every key of the ledger, through pages of 1000. */
  async function listing(): Promise<Item[]> {
    return (await everyPage('limit=1000', 1000)).flatMap((each) => each.items);
  }

  it('spans both shards and many partitions with its keys', () => {
    const used = new Set(products.map((product) => partitionOf(product, partitions)));
    expect(used.size).toBeGreaterThan(50);
    expect(new Set([...used].map((partition) => partition % shards)).size).toBe(shards);
  });

  it('pages through every key exactly once, in order, with limit 7, 1000 and the default', async () => {
    await stockEveryKey();
    const expected = products.flatMap((product_id) =>
      warehouses.map((warehouse_id) => name({ product_id, warehouse_id })),
    );
    for (const [query, limit] of [
      ['limit=7', 7],
      ['limit=1000', 1000],
      ['', 100],
    ] as const) {
      const pages = await everyPage(query, limit);
      const items = pages.flatMap((each) => each.items);
      expect(items.map(name).sort(), query).toEqual([...expected].sort());
      for (let index = 1; index < items.length; index += 1) {
        expect(before(items[index - 1] as Item, items[index] as Item), query).toBe(true);
      }
      expect(pages.length, query).toBe(Math.ceil(expected.length / limit));
      expect(pages[pages.length - 1]?.next, query).toBeNull();
    }
  });

  it('answers each key as the single-key read does, incoming included', async () => {
    await stockEveryKey();
    const items = await listing();
    const singles = await Promise.all(
      items.map((item) => get(base(), `/v1/stock/${item.product_id}/${item.warehouse_id}`)),
    );
    for (const [index, single] of singles.entries()) {
      expect(single.status, single.text).toBe(200);
      expect(items[index]).toEqual(single.body);
    }
    expect(items[0]).toMatchObject({ incoming: 0 });
  });

  it("lists one product's keys only, and nothing for a product never stocked", async () => {
    await stockEveryKey();
    for (const product of products.slice(0, 12)) {
      const all = await page(`?product_id=${product}`);
      expect(all.items.map(name)).toEqual(warehouses.map((w) => `${product}/${w}`));
      expect(all.next).toBeNull();
      const pages = await everyPage(`product_id=${product}&limit=2`, 2);
      expect(pages.map((each) => each.items.map((item) => item.warehouse_id))).toEqual([
        ['wh-a', 'wh-b'],
        ['wh-c'],
      ]);
    }
    // `<tag>-1` is a prefix of `<tag>-10` and others: the filter is the whole product id.
    const prefixed = `list-${runTag}-1`;
    expect(
      products.some((product) => product.startsWith(`${prefixed}`) && product !== prefixed),
    ).toBe(true);
    const one = await page(`?product_id=${prefixed}&limit=1000`);
    expect(new Set(one.items.map((item) => item.product_id))).toEqual(
      products.includes(prefixed) ? new Set([prefixed]) : new Set(),
    );
    expect(await page(`?product_id=never-${runTag}`)).toEqual({ items: [], next: null });
  });

  it('shows keys created between pages after the cursor, and not those before it', async () => {
    await stockEveryKey();
    const first = await page('?limit=7');
    expect(first.next).not.toBeNull();
    const last = first.items[first.items.length - 1] as Item;
    // One key sorts before the cursor, one just after it (same product, later warehouse).
    const early = { product_id: `a-${runTag}`, warehouse_id: 'wh-a' };
    const late = { product_id: last.product_id, warehouse_id: `${last.warehouse_id}-new` };
    for (const key of [early, late]) {
      const adjusted = await post(base(), '/v1/stock/adjust', { ...key, delta: 1 });
      expect(adjusted.status, adjusted.text).toBe(200);
    }
    const rest = (await everyPage('limit=7', 7, first.next as string)).flatMap((p) => p.items);
    expect(rest[0]).toMatchObject(late);
    expect(rest.map(name)).not.toContain(name(early));
    expect((await listing()).map(name)).toContain(name(early));
  });

  it('lists exact values while holds are due but not yet expired by their shard', async () => {
    await stockEveryKey();
    // One hold on a key of each shard, one second long.
    const held = [products[0], products[1]].map((product_id) => ({
      product_id: product_id as string,
      warehouse_id: 'wh-b',
    }));
    expect(new Set(held.map((key) => partitionOf(key.product_id, partitions) % shards)).size).toBe(
      shards,
    );
    const ids: string[] = [];
    for (const key of held) {
      const reserved = await post(base(), '/v1/reserve', {
        ...key,
        quantity: 2,
        idempotency_key: newKey('listing'),
        ttl_seconds: 1,
      });
      expect(reserved.status, reserved.text).toBe(200);
      ids.push(reserved.body.reservation_id as string);
    }
    const whileHeld = await listing();
    const heldItems = () => held.map((key) => whileHeld.find((item) => name(item) === name(key)));
    for (const item of heldItems()) expect(item).toMatchObject({ reserved: 2 });

    // The holds are due now; with no sweep in the test, their shards have not expired them yet.
    await sleep(1_300);
    const afterDue = await listing();
    for (const key of held) {
      const before = whileHeld.find((item) => name(item) === name(key)) as Item;
      const item = afterDue.find((each) => name(each) === name(key));
      expect(item).toMatchObject({
        reserved: 0,
        available: before.on_hand,
        version: (before.version as number) + 1,
      });
    }
    // Every other key is as it was, and every listed value is what a single read says now.
    const unchanged = (list: Item[]) =>
      list.filter((item) => !held.some((key) => name(key) === name(item)));
    expect(unchanged(afterDue)).toEqual(unchanged(whileHeld));
    for (const item of afterDue.slice(0, 50)) {
      const single = await get(base(), `/v1/stock/${item.product_id}/${item.warehouse_id}`);
      expect(single.body).toEqual(item);
    }
    for (const id of ids) {
      expect((await get(base(), `/v1/reservations/${id}`)).body).toMatchObject({
        status: 'EXPIRED',
      });
    }
  });

  it('answers a bad query with 422 naming the parameter, and changes nothing', async () => {
    await stockEveryKey();
    const listed = await listing();
    const cursor = (await page('?limit=3')).next as string;
    const bad: [string, string][] = [
      ['limit=0', 'limit'],
      ['limit=1001', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=2.5', 'limit'],
      ['limit=-3', 'limit'],
      ['limit=', 'limit'],
      ['limit=5&limit=6', 'limit'],
      ['product_id=', 'product_id'],
      ['product_id=has%20space', 'product_id'],
      [`product_id=${'x'.repeat(65)}`, 'product_id'],
      ['product_id=a%2Fb', 'product_id'],
      ['after=', 'after'],
      ['after=not*a*cursor', 'after'],
      [`after=${cursor}x`, 'after'],
      [`after=${Buffer.from('only-a-product').toString('base64url')}`, 'after'],
    ];
    for (const [query, field] of bad) {
      const response: JsonResponse = await get(base(), `/v1/stock?${query}`);
      expectValidation(response, field);
      expect(Object.keys(response.body)).toEqual(['error']);
      expect(response.headers.get('x-trace-id')).toBeTruthy();
    }
    const posted = await request(base(), 'POST', '/v1/stock', {});
    expectError(posted, 405, 'method_not_allowed');
    expect(posted.headers.get('allow')).toBe('GET');
    expect(await listing()).toEqual(listed);
  });
});
