// Proves the live page (/ui) on the real server and in a real browser (Debian's chromium,
// headless, driven by playwright-core): the page and its files are public, cached by etag and
// hold no data; the summary counts reserves and lists hot and sold-out keys; in chromium the page
// shows a key's stock and changes it after a reserve made through the API (the version only the
// live feed carries moves too), with no console errors; with auth on, no token shows a clear
// message and makes no data call at all, and a pasted reader token shows the stock.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { haveChromium, startBrowser, type TestBrowser } from '../helpers/browser.js';
import { get, newKey, post } from '../helpers/http.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { havePostgres } from '../helpers/services.js';

const postgres = await havePostgres();
const chromiumPresent = postgres && haveChromium();
const secret = 'ui-browser-secret-of-at-least-32-bytes';
const poll = { timeout: 20_000, interval: 100 };

async function token(roles: string[]): Promise<string> {
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(`ui-${roles.join('-') || 'nobody'}`)
    .setExpirationTime(Math.floor(Date.now() / 1000) + 600)
    .sign(new TextEncoder().encode(secret));
}

const newProduct = () => `ui-${randomBytes(4).toString('hex')}`;

interface Summary {
  window_seconds: number | null;
  reserve: { requests: number | null; per_second: number | null };
  journal: { in_flight: number; flushes: number | null };
  events: unknown;
  hot_keys: { product_id: string; warehouse_id: string; available: number }[];
  sold_out: { product_id: string; warehouse_id: string }[];
}

/** The row of a key in the page's hot-keys table. */
const rowOf = (page: Page, product: string, warehouse: string) =>
  page.locator(`#hot-keys tr[data-product="${product}"][data-warehouse="${warehouse}"]`);

function useBrowser(): () => TestBrowser {
  let browser: TestBrowser | undefined;
  beforeAll(async () => {
    if (chromiumPresent) browser = await startBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  return () => {
    if (browser === undefined) throw new Error('chromium is not started');
    return browser;
  };
}

describe.runIf(postgres)('the live page, auth off', () => {
  const fixture = useLedger();
  const browser = useBrowser();
  const base = () => fixture.ledger.baseUrl;

  const stock = async (product: string, delta: number) => {
    const body = { product_id: product, warehouse_id: 'w1', delta };
    expect((await post(base(), '/v1/stock/adjust', body)).status).toBe(200);
  };
  const reserve = async (product: string, quantity: number) => {
    const body = { product_id: product, warehouse_id: 'w1', quantity, idempotency_key: newKey() };
    expect((await post(base(), '/v1/reserve', body)).status).toBe(200);
  };

  it('serves the page and its files publicly, with an etag that a reload gets a 304 for', async () => {
    const page = await fetch(`${base()}/ui`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    expect(await page.text()).toContain('<meta name="ledger-auth" content="none" />');
    const etag = page.headers.get('etag') ?? '';
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await fetch(`${base()}/ui`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');
    const script = await fetch(`${base()}/ui/app.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toContain('/v1/ui/summary');
    const style = await fetch(`${base()}/ui/app.css`);
    expect(style.headers.get('content-type')).toBe('text/css; charset=utf-8');
    const missing = await get(base(), '/ui/secrets.json');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ error: { code: 'not_found' } });
  });

  it('sums up reserves, the journal, the hot keys and the sold-out ones', async () => {
    const product = newProduct();
    await stock(product, 3);
    await reserve(product, 3);
    await expect
      .poll(async () => (await get(base(), '/v1/ui/summary')).body as unknown as Summary, poll)
      .toMatchObject({
        window_seconds: expect.any(Number),
        events: null,
        hot_keys: expect.arrayContaining([
          { product_id: product, warehouse_id: 'w1', available: 0 },
        ]),
        sold_out: expect.arrayContaining([{ product_id: product, warehouse_id: 'w1' }]),
      });
    const summary = (await get(base(), '/v1/ui/summary')).body as unknown as Summary;
    expect(summary.reserve.requests).toBeGreaterThanOrEqual(1);
    expect(summary.reserve.per_second).toBeGreaterThan(0);
    expect(summary.journal.flushes).toBeGreaterThanOrEqual(2);
  });

  it.runIf(chromiumPresent)(
    'shows a key in chromium, and its new stock after a reserve, without console errors',
    async () => {
      const product = newProduct();
      await stock(product, 10);
      const { page, errors } = await browser().page();
      await page.goto(`${base()}/ui`);
      const row = rowOf(page, product, 'w1');
      // The first value comes from the feed's read on subscribe: version 1.
      await expect.poll(() => row.locator('td.version').textContent(), poll).toBe('1');
      expect(await row.locator('td.available').textContent()).toBe('10');

      await reserve(product, 4);
      // Only the live feed carries a version: this change came over the WebSocket.
      await expect.poll(() => row.locator('td.version').textContent(), poll).toBe('2');
      expect(await row.locator('td.available').textContent()).toBe('6');

      await reserve(product, 6);
      const soldOut = page.locator(`#sold-out li[data-product="${product}"]`);
      await expect.poll(() => soldOut.count(), poll).toBe(1);
      expect(await row.locator('td.available').textContent()).toBe('0');
      await expect.poll(() => page.locator('#reserve-rate').textContent(), poll).toMatch(/^\d/);
      expect(await page.locator('#events-detail').textContent()).toContain('publishing off');
      expect(errors).toEqual([]);
      await page.close();
    },
  );
});

describe.runIf(postgres)('the live page, auth on', () => {
  const fixture = useLedger({ LEDGER_JWT_SECRET: secret });
  const browser = useBrowser();
  const base = () => fixture.ledger.baseUrl;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    tokens.admin = await token(['admin']);
    tokens.reader = await token(['reader']);
    tokens.none = await token([]);
  });

  const stock = async (product: string) => {
    const body = { product_id: product, warehouse_id: 'w1', delta: 8 };
    const answer = await post(base(), '/v1/stock/adjust', body, {
      authorization: `Bearer ${tokens.admin}`,
    });
    expect(answer.status).toBe(200);
  };

  it('serves the page without a token, and its numbers only to a reader', async () => {
    const product = newProduct();
    await stock(product);
    const page = await fetch(`${base()}/ui`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<meta name="ledger-auth" content="bearer" />');
    expect(html).not.toContain(product);
    expect((await get(base(), '/v1/ui/summary')).status).toBe(401);
    const nobody = { authorization: `Bearer ${tokens.none}` };
    expect((await get(base(), '/v1/ui/summary', nobody)).status).toBe(403);
    const reader = await get(base(), '/v1/ui/summary', {
      authorization: `Bearer ${tokens.reader}`,
    });
    expect(reader.status).toBe(200);
    expect((reader.body as unknown as Summary).hot_keys).toContainEqual({
      product_id: product,
      warehouse_id: 'w1',
      available: 8,
    });
  });

  it.runIf(chromiumPresent)(
    'asks for a token and calls for no data without one; shows the stock with a reader token',
    async () => {
      const product = newProduct();
      await stock(product);
      const { page, errors } = await browser().page();
      const dataCalls: string[] = [];
      page.on('request', (request) => {
        if (/\/v1\//.test(request.url())) dataCalls.push(request.url());
      });
      await page.goto(`${base()}/ui`, { waitUntil: 'networkidle' });
      const message = page.locator('#message');
      expect(await message.isVisible()).toBe(true);
      expect(await message.textContent()).toContain('requires a token with the reader');
      expect(await page.locator('#data').isVisible()).toBe(false);
      expect(await page.locator('#hot-keys tr').count()).toBe(0);
      expect(dataCalls).toEqual([]);

      await page.locator('#token').fill(tokens.reader ?? '');
      await page.locator('#token-form button[type="submit"]').click();
      const row = rowOf(page, product, 'w1');
      // The version comes from the feed, which accepted the token as access_token.
      await expect.poll(() => row.locator('td.version').textContent(), poll).toBe('1');
      expect(await row.locator('td.available').textContent()).toBe('8');
      expect(await message.isVisible()).toBe(false);
      expect(errors).toEqual([]);
      await page.close();
    },
  );

  it.runIf(chromiumPresent)('says so and shows nothing when the token is refused', async () => {
    const { page } = await browser().page();
    await page.goto(`${base()}/ui`);
    await page.locator('#token').fill(tokens.none ?? '');
    await page.locator('#token-form button[type="submit"]').click();
    const message = page.locator('#message');
    await expect.poll(() => message.textContent(), poll).toContain('refused this token (403)');
    expect(await page.locator('#data').isVisible()).toBe(false);
    expect(await page.locator('#hot-keys tr').count()).toBe(0);
    await page.close();
  });
});
