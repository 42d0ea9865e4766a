// Proves auth, roles and rate limits on the real server: the role × endpoint matrix answers
// 200/401/403 as API.md says, the token's subject becomes the journaled requester, adjustments
// leave an audit line without the token, and a client over its rate gets 429 then recovers.
import type { StockRecord } from '../../src/actors/index.js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeRecord } from '../../src/persistence/index.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post, request } from '../helpers/http.js';
import { loggedLine, sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

const secret = 'integration-secret-of-at-least-32-bytes';

async function token(role: string | string[], subject = `${String(role)}-user`, expSeconds = 300) {
  const claims = Array.isArray(role) ? { roles: role } : { role };
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setExpirationTime(Math.floor(Date.now() / 1000) + expSeconds)
    .sign(new TextEncoder().encode(secret));
}

const bearer = (jwt: string) => ({ authorization: `Bearer ${jwt}` });

function socketStatus(port: number, headers: Record<string, string>, query = ''): Promise<number> {
  return new Promise((resolve) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/stream${query}`, { headers });
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.once('error', () => resolve(-1));
  });
}

describe.runIf(await havePostgres())('auth and rate limits', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    database = await createDatabase();
    ledger = await startLedger({ env: { DATABASE_URL: database.url, LEDGER_JWT_SECRET: secret } });
    tokens.admin = await token('admin', 'ops-anna');
    tokens.checkout = await token(['checkout'], 'buyer-1');
    tokens.reader = await token('reader');
    tokens.none = await token([]);
    tokens.expired = await token('admin', 'late', -60);
  });

  afterAll(async () => {
    await ledger?.stop();
    await database?.drop();
  });

  it('answers each role on each endpoint as the contract says', async () => {
    const stock = { product_id: 'auth-sku', warehouse_id: 'w' };
    const adjusted = await post(
      ledger.baseUrl,
      '/v1/stock/adjust',
      { ...stock, delta: 50 },
      bearer(tokens.admin as string),
    );
    expect(adjusted.status).toBe(200);
    const held = await post(
      ledger.baseUrl,
      '/v1/reserve',
      { ...stock, quantity: 1, idempotency_key: newKey('auth') },
      bearer(tokens.checkout as string),
    );
    expect(held.status).toBe(200);
    const id = held.body.reservation_id as string;
    const attempt = async (name: string, auth: Record<string, string>): Promise<number> => {
      const reserveBody = { ...stock, quantity: 1, idempotency_key: newKey('m') };
      switch (name) {
        case 'reserve':
          return (await post(ledger.baseUrl, '/v1/reserve', reserveBody, auth)).status;
        case 'confirm':
          return (await post(ledger.baseUrl, '/v1/confirm', { reservation_id: id }, auth)).status;
        case 'release':
          return (await post(ledger.baseUrl, '/v1/release', { reservation_id: randomId() }, auth))
            .status;
        case 'adjust':
          return (await post(ledger.baseUrl, '/v1/stock/adjust', { ...stock, delta: 1 }, auth))
            .status;
        case 'get-stock':
          return (await get(ledger.baseUrl, '/v1/stock/auth-sku/w', auth)).status;
        case 'get-reservation':
          return (await get(ledger.baseUrl, `/v1/reservations/${id}`, auth)).status;
        case 'snapshot':
          return (await request(ledger.baseUrl, 'POST', '/v1/admin/snapshot', undefined, auth))
            .status;
        default:
          return (await get(ledger.baseUrl, name, auth)).status;
      }
    };
    // release uses an unknown id: an admitted caller gets 404, a refused one 401/403.
    const expected: Record<string, Record<string, number>> = {
      reserve: { admin: 200, checkout: 200, reader: 403, none: 403, expired: 401, missing: 401 },
      confirm: { admin: 200, checkout: 200, reader: 403, none: 403, expired: 401, missing: 401 },
      release: { admin: 404, checkout: 404, reader: 403, none: 403, expired: 401, missing: 401 },
      adjust: { admin: 200, checkout: 403, reader: 403, none: 403, expired: 401, missing: 401 },
      'get-stock': {
        admin: 200,
        checkout: 200,
        reader: 200,
        none: 403,
        expired: 401,
        missing: 401,
      },
      'get-reservation': {
        admin: 200,
        checkout: 200,
        reader: 200,
        none: 403,
        expired: 401,
        missing: 401,
      },
      snapshot: { admin: 200, checkout: 403, reader: 403, none: 403, expired: 401, missing: 401 },
      '/v1/stock?limit=5': {
        admin: 200,
        checkout: 200,
        reader: 200,
        none: 403,
        expired: 401,
        missing: 401,
      },
      // A bad query is told only to a caller who may list.
      '/v1/stock?limit=0': { admin: 422, reader: 422, none: 403, missing: 401 },
      '/health/live': { admin: 200, missing: 200 },
      '/health/ready': { admin: 200, missing: 200 },
      '/metrics': { admin: 200, missing: 200 },
      '/openapi.json': { admin: 200, missing: 200 },
    };
    const observed: Record<string, Record<string, number>> = {};
    for (const [endpoint, byRole] of Object.entries(expected)) {
      observed[endpoint] = {};
      for (const role of Object.keys(byRole)) {
        const auth = role === 'missing' ? {} : bearer(tokens[role] as string);
        (observed[endpoint] as Record<string, number>)[role] = await attempt(endpoint, auth);
      }
    }
    expect(observed).toEqual(expected);
  });

  it('tells a missing token from a forbidden role in the contract error format', async () => {
    const missing = await get(ledger.baseUrl, '/v1/stock/auth-sku/w');
    expect(missing.body).toMatchObject({ error: { code: 'unauthenticated' } });
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    const forbidden = await post(
      ledger.baseUrl,
      '/v1/stock/adjust',
      { product_id: 'auth-sku', warehouse_id: 'w', delta: 1 },
      bearer(tokens.reader as string),
    );
    expect(forbidden.body).toMatchObject({ error: { code: 'forbidden' } });
  });

  it('admits live-feed sockets with a reader token in the header or the query, and refuses others', async () => {
    expect(await socketStatus(ledger.port, {})).toBe(401);
    expect(await socketStatus(ledger.port, bearer(tokens.none as string))).toBe(401);
    expect(await socketStatus(ledger.port, bearer(tokens.reader as string))).toBe(101);
    expect(await socketStatus(ledger.port, {}, `?access_token=${tokens.checkout as string}`)).toBe(
      101,
    );
  });

  it('journals the token subject as requester and audits adjustments without logging tokens', async () => {
    const stock = { product_id: 'audit-sku', warehouse_id: 'w' };
    const reason = 'cycle count found 5 more';
    const adjusted = await post(
      ledger.baseUrl,
      '/v1/stock/adjust',
      { ...stock, delta: 5, reason },
      bearer(tokens.admin as string),
    );
    expect(adjusted.status).toBe(200);
    const held = await post(
      ledger.baseUrl,
      '/v1/reserve',
      { ...stock, quantity: 2, idempotency_key: newKey('who') },
      bearer(tokens.checkout as string),
    );
    expect(held.status).toBe(200);
    const rows = await database.query<{ payload: Buffer }>('SELECT payload FROM ledger_wal');
    const records = rows
      .map((row) => decodeRecord(row.payload) as StockRecord)
      .filter((r) => r.productId === 'audit-sku');
    expect(records.find((r) => r.type === 'reserved')).toMatchObject({ requesterId: 'buyer-1' });
    expect(records.find((r) => r.type === 'adjusted')).toMatchObject({
      actorId: 'ops-anna',
      reason,
    });
    const auditLine = await loggedLine(
      () => ledger.output(),
      /(?=.*"audit":"stock\.adjust")(?=.*audit-sku)/,
    );
    expect(JSON.parse(auditLine as string)).toMatchObject({
      subject: 'ops-anna',
      delta: 5,
      reason,
      status: 200,
      trace_id: adjusted.headers.get('x-trace-id'),
    });
    for (const jwt of Object.values(tokens)) expect(ledger.output()).not.toContain(jwt);
  });

  it('limits a client over its rate with 429 and retry-after, then lets it back in', async () => {
    const own = await createDatabase();
    const limited = await startLedger({
      env: {
        DATABASE_URL: own.url,
        LEDGER_RATE_LIMIT_PER_SECOND: '5',
        LEDGER_RATE_LIMIT_BURST: '5',
      },
    });
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => get(limited.baseUrl, '/v1/stock/never-stocked/w')),
    );
    const refused = replies.filter((reply) => reply.status === 429);
    expect(refused.length).toBeGreaterThanOrEqual(10);
    expect(refused[0]?.body).toMatchObject({ error: { code: 'rate_limited' } });
    expect(Number(refused[0]?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // Health and metrics are never limited, so probes keep working under a flood.
    expect((await get(limited.baseUrl, '/health/ready')).status).toBe(200);
    // One client (this test's address) has a bucket; the ledger without a limit keeps none.
    const metrics = async (baseUrl: string) =>
      (await fetch(`${baseUrl}/metrics`)).text().then((text) => {
        return /^ledger_rate_limit_clients (\d+)$/m.exec(text)?.[1];
      });
    expect(await metrics(limited.baseUrl)).toBe('1');
    expect(await metrics(ledger.baseUrl)).toBe('0');
    await sleep(1100);
    expect((await get(limited.baseUrl, '/v1/stock/never-stocked/w')).status).toBe(404);
    expect(await limited.stop()).toBe(0);
    await own.drop();
  });
});

function randomId(): string {
  return '00000000-0000-8000-8000-000000000001';
}
