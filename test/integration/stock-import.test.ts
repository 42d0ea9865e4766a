// Proves POST /v1/stock/import over a socket against the real server and Postgres: each line is
// answered as its op alone would be (good, not JSON, invalid, short stock, unknown op), a key's
// lines apply in file order over many keys and shards, the final state is what the lines say,
// the byte and line limits refuse a file with nothing applied (the journal unchanged), the wrong
// content-type is 415, a re-import with idempotency keys changes nothing, 10,000 lines land
// exactly, only admin may import, and a shard bound below the import's window loses no line.
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { expectError } from '../helpers/expect-http.js';
import { get, type JsonResponse } from '../helpers/http.js';
import { useLedger, type LedgerFixture } from '../helpers/ledger-fixture.js';
import { loggedLine } from '../helpers/ledger-process.js';
import { pipeline } from '../helpers/raw-http.js';
import { havePostgres } from '../helpers/services.js';
import { freshProductIds, productsAcrossShards } from '../helpers/stock-keys.js';

const runTag = randomBytes(3).toString('hex');
const newProduct = freshProductIds(runTag);
const mebibytes4 = 4 * 1024 * 1024;

interface StockKey {
  readonly product_id: string;
  readonly warehouse_id: string;
}

interface LineResult {
  readonly line: number;
  readonly status: number;
  readonly replayed?: true;
  readonly error?: { code: string; message: string; details?: Record<string, unknown> };
  readonly stock?: Record<string, unknown> & { on_hand: number; version: number };
}

interface ImportBody {
  readonly applied: number;
  readonly failed: number;
  readonly results: LineResult[];
}

const ndjson = { 'content-type': 'application/x-ndjson' };

/** POSTs the bytes as they are (fetch adds no content-type to a byte body). */
async function importFile(
  base: string,
  body: string | Uint8Array,
  headers: Record<string, string> = ndjson,
): Promise<JsonResponse> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const response = await fetch(`${base}/v1/stock/import`, { method: 'POST', headers, body: bytes });
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = {};
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

async function imported(base: string, body: string, headers = ndjson): Promise<ImportBody> {
  const response = await importFile(base, body, headers);
  expect(response.status, response.text.slice(0, 500)).toBe(200);
  return response.body as unknown as ImportBody;
}

const adjustLine = (key: StockKey, delta: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ op: 'adjust', ...key, delta, ...extra });

async function stockOf(base: string, key: StockKey): Promise<JsonResponse> {
  return get(base, `/v1/stock/${key.product_id}/${key.warehouse_id}`);
}

/** Rows in the journal: unchanged means nothing was applied (the tests of a file run in turn). */
async function journalRows(fixture: LedgerFixture): Promise<number> {
  const rows = await fixture.database.query<{ rows: string }>(
    'SELECT count(*) AS rows FROM ledger_wal',
  );
  return Number(rows[0]?.rows);
}

/** A seeded generator, so a failing run can be told apart from a flaky one. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

describe.runIf(await havePostgres())('POST /v1/stock/import', () => {
  describe('with the default limits', () => {
    const fixture = useLedger();
    const base = () => fixture.ledger.baseUrl;

    it('answers each line as its op alone would, and a key’s lines apply in file order', async () => {
      const chain = { product_id: newProduct('chain'), warehouse_id: 'w1' };
      const never = { product_id: newProduct('never'), warehouse_id: 'w1' };
      const spread = productsAcrossShards(`spread-${runTag}`, 24, 2).flatMap((product) => [
        { product_id: product, warehouse_id: 'wa' },
        { product_id: product, warehouse_id: 'wb' },
      ]);
      // Each entry: a line of the file and what its result must say ('' is a blank line).
      type Expected = { status: number; code?: string; field?: string; onHand?: number };
      const file: Array<[string, Expected | undefined]> = [
        [adjustLine(chain, 10), { status: 200, onHand: 10 }],
        ['{"op":"adjust", not json', { status: 400, code: 'malformed_json' }],
        [adjustLine(chain, -3), { status: 200, onHand: 7 }],
        ['', undefined],
        [adjustLine(chain, -20), { status: 409, code: 'insufficient_stock' }],
        [adjustLine(chain, 0), { status: 422, code: 'validation_failed', field: 'delta' }],
        [
          JSON.stringify({ op: 'delete', ...chain, delta: 1 }),
          { status: 422, code: 'validation_failed', field: 'op' },
        ],
        [
          JSON.stringify({ ...chain, delta: 1 }),
          { status: 422, code: 'validation_failed', field: 'op' },
        ],
        [
          adjustLine({ product_id: 'bad id!', warehouse_id: 'w1' }, 1),
          { status: 422, code: 'validation_failed', field: 'product_id' },
        ],
        ['[1,2,3]', { status: 400, code: 'malformed_json' }],
        [adjustLine(never, -1), { status: 409, code: 'insufficient_stock' }],
        ...spread.map((key, index): [string, Expected] => [
          adjustLine(key, index + 1, { reason: 'stock take' }),
          { status: 200, onHand: index + 1 },
        ]),
        [adjustLine(chain, 5), { status: 200, onHand: 12 }],
        // Sets: the count itself, compare-and-set on the key's version, never below what is held.
        [JSON.stringify({ op: 'set', ...chain, on_hand: 30 }), { status: 200, onHand: 30 }],
        [
          JSON.stringify({ op: 'set', ...chain, on_hand: 31, expected_version: 1 }),
          { status: 409, code: 'version_conflict' },
        ],
        [
          JSON.stringify({ op: 'set', ...chain, on_hand: 25, expected_version: 4 }),
          { status: 200, onHand: 25 },
        ],
        [
          JSON.stringify({ op: 'set', ...chain, on_hand: -1 }),
          { status: 422, code: 'validation_failed', field: 'on_hand' },
        ],
      ];
      const body = await imported(base(), `${file.map(([line]) => line).join('\n')}\n`);

      const expected = file
        .map(([, result], index) => ({ line: index + 1, result }))
        .filter((entry) => entry.result !== undefined);
      expect(body.results.map((result) => result.line)).toEqual(expected.map((e) => e.line));
      expect(body.applied).toBe(expected.filter((e) => e.result?.status === 200).length);
      expect(body.failed).toBe(expected.length - body.applied);
      expected.forEach(({ line, result }, index) => {
        const got = body.results[index] as LineResult;
        const summary = `line ${line}: ${JSON.stringify(got)}`;
        expect(got.status, summary).toBe(result?.status);
        if (result?.status === 200) {
          expect(got.error, summary).toBeUndefined();
          expect(got.stock?.on_hand, summary).toBe(result.onHand);
          return;
        }
        expect(got.stock, summary).toBeUndefined();
        expect(got.error?.code, summary).toBe(result?.code);
        expect(typeof got.error?.message, summary).toBe('string');
        if (result?.field !== undefined) {
          expect(got.error?.details, summary).toEqual({ field: result.field });
        }
      });
      // The short line says what was available then, as the single endpoint would.
      expect(body.results[3]?.error?.details).toEqual({ available: 7 });

      const conflict = body.results.find((result) => result.error?.code === 'version_conflict');
      expect(conflict?.error?.details).toEqual({ version: 4 });
      const final = await stockOf(base(), chain);
      expect(final.body).toMatchObject({ on_hand: 25, reserved: 0, available: 25, version: 5 });
      expect((await stockOf(base(), never)).status).toBe(404);
      for (const [index, key] of spread.entries()) {
        expect((await stockOf(base(), key)).body).toMatchObject({ on_hand: index + 1 });
      }
    });

    it('counts its lines by result in /metrics', async () => {
      const metrics = await get(base(), '/metrics');
      expect(metrics.text).toMatch(/^inventory_stock_import_lines_total\{result="ok"\} \d+/m);
      expect(metrics.text).toMatch(/inventory_stock_import_lines_total\{result="malformed_json"\}/);
    });

    it('takes a file of exactly 4 MiB, and refuses one byte more with 413, applying nothing', async () => {
      const fits = { product_id: newProduct('fits'), warehouse_id: 'w1' };
      const over = { product_id: newProduct('over'), warehouse_id: 'w1' };
      // 1024 lines of 4096 bytes each (padded with spaces, which JSON ignores).
      const padded = (key: StockKey) => `${adjustLine(key, 1).padEnd(4095, ' ')}\n`;
      const exact = padded(fits).repeat(1024);
      expect(Buffer.byteLength(exact)).toBe(mebibytes4);
      const body = await imported(base(), exact);
      expect(body.applied).toBe(1024);
      expect((await stockOf(base(), fits)).body).toMatchObject({ on_hand: 1024 });

      const rows = await journalRows(fixture);
      const tooLarge = `${padded(over).repeat(1024)} `;
      expect(Buffer.byteLength(tooLarge)).toBe(mebibytes4 + 1);
      expectError(await importFile(base(), tooLarge), 413, 'payload_too_large');

      // Chunked: no content-length to check up front, so the bytes are counted as they come.
      const head =
        'POST /v1/stock/import HTTP/1.1\r\nhost: ledger\r\ncontent-type: application/x-ndjson\r\n' +
        'transfer-encoding: chunked\r\nconnection: close\r\n\r\n';
      const chunkText = padded(over).repeat(64);
      const chunk = `${Buffer.byteLength(chunkText).toString(16)}\r\n${chunkText}\r\n`;
      const answer = await pipeline(
        fixture.ledger.port,
        [head, ...Array.from({ length: 16 }, () => chunk), '1\r\n \r\n0\r\n\r\n'],
        1,
      );
      expect(answer.responses[0]?.status, answer.responses[0]?.body).toBe(413);
      expect(answer.responses[0]?.body).toContain('"code":"payload_too_large"');

      expect((await stockOf(base(), over)).status).toBe(404);
      expect(await journalRows(fixture)).toBe(rows);
    });

    it('refuses 10,001 lines with 413 before applying any of them', async () => {
      const keys = Array.from({ length: 7 }, (_, index) => ({
        product_id: newProduct(`lines-${index}`),
        warehouse_id: 'w1',
      }));
      const lines = Array.from({ length: 10_001 }, (_, index) =>
        adjustLine(keys[index % keys.length] as StockKey, 1),
      );
      const rows = await journalRows(fixture);
      const response = await importFile(base(), lines.join('\n'));
      expectError(response, 413, 'payload_too_large');
      expect((response.body.error as { message: string }).message).toContain('10000 lines');
      for (const key of keys) expect((await stockOf(base(), key)).status).toBe(404);
      expect(await journalRows(fixture)).toBe(rows);
    });

    it('refuses any other content-type with 415, applying nothing', async () => {
      const key = { product_id: newProduct('typed'), warehouse_id: 'w1' };
      const line = adjustLine(key, 5);
      const others: Record<string, string>[] = [
        { 'content-type': 'application/json' },
        { 'content-type': 'text/plain' },
        {},
      ];
      for (const headers of others) {
        const response = await importFile(base(), line, headers);
        expectError(response, 415, 'unsupported_media_type');
      }
      expect((await stockOf(base(), key)).status).toBe(404);
      // Parameters of the right type are fine.
      const charset = { 'content-type': 'application/x-ndjson; charset=utf-8' };
      expect((await imported(base(), line, charset)).applied).toBe(1);
    });

    it('changes nothing when re-imported with idempotency keys: every line replays', async () => {
      const keys = Array.from({ length: 10 }, (_, index) => ({
        product_id: newProduct(`again-${index}`),
        warehouse_id: 'w1',
      }));
      const lines = Array.from({ length: 60 }, (_, index) =>
        adjustLine(keys[index % keys.length] as StockKey, (index % 7) + 1, {
          idempotency_key: `import-${runTag}-line-${index}`,
          reason: 'erp feed',
        }),
      );
      const file = `${lines.join('\n')}\n`;
      const first = await imported(base(), file);
      expect(first.applied).toBe(60);
      expect(first.results.every((result) => result.replayed === undefined)).toBe(true);
      const before = await Promise.all(keys.map(async (key) => (await stockOf(base(), key)).body));
      const rows = await journalRows(fixture);

      const second = await imported(base(), file);
      expect(second.applied).toBe(60);
      expect(second.results).toEqual(
        first.results.map((result) => ({ ...result, replayed: true })),
      );
      const after = await Promise.all(keys.map(async (key) => (await stockOf(base(), key)).body));
      expect(after).toEqual(before);
      expect(await journalRows(fixture)).toBe(rows);

      // A key reused with another delta is refused on its line, as on the single endpoint.
      const changed = [...lines];
      changed[5] = adjustLine(keys[5] as StockKey, 1000, {
        idempotency_key: `import-${runTag}-line-5`,
        reason: 'erp feed',
      });
      const third = await imported(base(), changed.join('\n'));
      expect(third.failed).toBe(1);
      expect(third.results[5]).toMatchObject({
        line: 6,
        status: 422,
        error: { code: 'idempotency_key_reused' },
      });
      expect(await journalRows(fixture)).toBe(rows);
    });

    it('lands 10,000 lines over 300 keys: every key ends at the sum of its lines', async () => {
      const products = productsAcrossShards(`bulk-${runTag}`, 150, 2);
      const keys = products.flatMap((product) => [
        { product_id: product, warehouse_id: 'w1' },
        { product_id: product, warehouse_id: 'w2' },
      ]);
      const random = seeded(20_251_101);
      const sums = new Map<string, number>();
      const running: number[] = [];
      const lines: string[] = [];
      for (let index = 0; index < 10_000; index += 1) {
        const key = keys[Math.floor(random() * keys.length)] as StockKey;
        const name = `${key.product_id}/${key.warehouse_id}`;
        const sum = sums.get(name) ?? 0;
        // Never below zero, so every line applies; negative lines keep the order meaningful.
        const wanted = Math.floor(random() * 26) - 5;
        const delta = wanted === 0 || sum + wanted < 0 ? 7 : wanted;
        sums.set(name, sum + delta);
        running.push(sum + delta);
        lines.push(adjustLine(key, delta));
      }
      const body = await imported(base(), lines.join('\n'));
      expect(body.failed).toBe(0);
      expect(body.applied).toBe(10_000);
      // Each result shows its key's on_hand right after it: the lines of a key applied in order.
      expect(body.results.map((result) => result.stock?.on_hand)).toEqual(running);
      for (const key of keys) {
        const expected = sums.get(`${key.product_id}/${key.warehouse_id}`);
        const read = await stockOf(base(), key);
        if (expected === undefined) expect(read.status).toBe(404);
        else expect(read.body, key.product_id).toMatchObject({ on_hand: expected });
      }
    });
  });

  describe('with auth on and a shard in-flight bound below the import window', () => {
    const secret = 'import-test-secret-of-at-least-32-bytes';
    const fixture = useLedger({
      LEDGER_JWT_SECRET: secret,
      SHARDS: '1',
      LEDGER_SHARD_INFLIGHT_MAX: '4',
    });
    const base = () => fixture.ledger.baseUrl;
    const token = (role: string) =>
      new SignJWT({ roles: [role] })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(`${role}-importer`)
        .setExpirationTime(Math.floor(Date.now() / 1000) + 300)
        .sign(new TextEncoder().encode(secret));
    const headersAs = async (role: string) => ({
      ...ndjson,
      authorization: `Bearer ${await token(role)}`,
    });

    it('lets only admin import', async () => {
      const key = { product_id: newProduct('auth'), warehouse_id: 'w1' };
      const line = adjustLine(key, 3);
      expectError(await importFile(base(), line), 401, 'unauthenticated');
      expectError(await importFile(base(), line, await headersAs('checkout')), 403, 'forbidden');
      expectError(await importFile(base(), line, await headersAs('reader')), 403, 'forbidden');
      const admin = { ...(await headersAs('admin')), 'x-trace-id': `import-${runTag}` };
      expect((await imported(base(), line, admin)).applied).toBe(1);
      const reader = { authorization: `Bearer ${await token('reader')}` };
      const read = await get(base(), `/v1/stock/${key.product_id}/${key.warehouse_id}`, reader);
      expect(read.body).toMatchObject({ on_hand: 3 });
      // Each line leaves the audit line its single request would, with the caller.
      await loggedLine(
        () => fixture.ledger.output(),
        new RegExp(
          `"audit":"stock.adjust".*"subject":"admin-importer".*"trace_id":"import-${runTag}"`,
        ),
      );
    });

    it('loses no line its shard refuses at dispatch: each waits and applies, in file order', async () => {
      const keys = Array.from({ length: 20 }, (_, index) => ({
        product_id: newProduct(`busy-${index}`),
        warehouse_id: 'w1',
      }));
      const running = new Map<string, number>();
      const expected: number[] = [];
      const lines = Array.from({ length: 2_000 }, (_, index) => {
        const key = keys[index % keys.length] as StockKey;
        const delta = (index % 5) + 1;
        const onHand = (running.get(key.product_id) ?? 0) + delta;
        running.set(key.product_id, onHand);
        expected.push(onHand);
        return adjustLine(key, delta);
      });
      const body = await imported(base(), lines.join('\n'), await headersAs('admin'));
      expect(body.failed, JSON.stringify(body.results.find((r) => r.status !== 200))).toBe(0);
      expect(body.results.map((result) => result.stock?.on_hand)).toEqual(expected);
      const reader = { authorization: `Bearer ${await token('reader')}` };
      for (const key of keys) {
        const read = await get(base(), `/v1/stock/${key.product_id}/${key.warehouse_id}`, reader);
        expect(read.body).toMatchObject({ on_hand: running.get(key.product_id) });
      }
    });
  });
});
