// Proves the real server stays correct under hostile HTTP: chunked, cut and odd raw requests.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, post } from '../helpers/http.js';
import { startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

/** Writes bytes to a fresh socket and returns all it answers until it closes (or `waitMs`). */
function exchange(port: number, data: string, waitMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.write(data);
  });
}

function statusLines(answer: string): string[] {
  return answer.match(/^HTTP\/1\.1 \d{3}/gm) ?? [];
}

function chunked(path: string, chunks: string[]): string {
  const head =
    `POST ${path} HTTP/1.1\r\nhost: ledger\r\ncontent-type: application/json\r\n` +
    'transfer-encoding: chunked\r\nconnection: close\r\n\r\n';
  const body = chunks.map((chunk) => `${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`);
  return `${head}${body.join('')}0\r\n\r\n`;
}

describe.runIf(await havePostgres())('the ledger under hostile HTTP', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess;
  const key = { product_id: `hostile-${process.pid}`, warehouse_id: 'wh-1' };
  const stockPath = `/v1/stock/${key.product_id}/${key.warehouse_id}`;

  beforeAll(async () => {
    database = await createDatabase();
    ledger = await startLedger({ env: { DATABASE_URL: database.url } });
    const adjusted = await post(ledger.baseUrl, '/v1/stock/adjust', { ...key, delta: 10 });
    expect(adjusted.status, adjusted.text).toBe(200);
  });

  afterAll(async () => {
    await ledger?.stop();
    await database?.drop();
  });

  async function stockNow(): Promise<Record<string, unknown>> {
    const read = await get(ledger.baseUrl, stockPath);
    expect(read.status, read.text).toBe(200);
    return read.body;
  }

  it('reads a chunked body within the limit', async () => {
    const body = JSON.stringify({ ...key, delta: 1 });
    const answer = await exchange(
      ledger.port,
      chunked('/v1/stock/adjust', [body.slice(0, 9), body.slice(9)]),
    );
    expect(statusLines(answer)).toEqual(['HTTP/1.1 200']);
    expect(answer).toMatch(/"on_hand":11/);
    const undo = await post(ledger.baseUrl, '/v1/stock/adjust', { ...key, delta: -1 });
    expect(undo.status, undo.text).toBe(200);
  });

  it('cuts a chunked body that grows past 16 KiB with 413 and applies nothing', async () => {
    const before = await stockNow();
    const padding = 'x'.repeat(10_000);
    const opening = JSON.stringify({ ...key, delta: 1, padding }).slice(0, -2);
    const answer = await exchange(
      ledger.port,
      chunked('/v1/stock/adjust', [opening, padding, '"}']),
    );
    expect(statusLines(answer)).toEqual(['HTTP/1.1 413']);
    expect(answer).toContain('"code":"payload_too_large"');
    expect(answer).toMatch(/^x-trace-id: \S+/im);
    expect(await stockNow()).toEqual(before);
  });

  it('never leaves a keep-alive connection hanging after an early 413', async () => {
    // The 413 is sent from the headers alone; the server may then skip the body and serve the
    // pipelined request, or close the connection. Both are fine, waiting forever is not.
    const big = 'x'.repeat(17_000);
    const startedMs = Date.now();
    const answer = await exchange(
      ledger.port,
      `POST /v1/stock/adjust HTTP/1.1\r\nhost: ledger\r\ncontent-type: application/json\r\n` +
        `content-length: ${big.length}\r\n\r\n${big}` +
        'GET /health/live HTTP/1.1\r\nhost: ledger\r\nconnection: close\r\n\r\n',
    );
    expect(Date.now() - startedMs).toBeLessThan(1000);
    expect(statusLines(answer)[0]).toBe('HTTP/1.1 413');
    expect(statusLines(answer).slice(1)).toEqual(
      statusLines(answer).length > 1 ? ['HTTP/1.1 200'] : [],
    );
    expect((await get(ledger.baseUrl, '/health/live')).status).toBe(200);
  });

  it('applies nothing for a client that hangs up halfway through its body', async () => {
    const before = await stockNow();
    const body = JSON.stringify({ ...key, delta: 5 });
    await new Promise<void>((resolve, reject) => {
      const socket = connect(ledger.port, '127.0.0.1', () => {
        socket.write(
          `POST /v1/stock/adjust HTTP/1.1\r\nhost: ledger\r\ncontent-type: application/json\r\n` +
            `content-length: ${body.length}\r\n\r\n${body.slice(0, 20)}`,
        );
        setTimeout(() => socket.destroy(), 100);
      });
      socket.on('error', reject);
      socket.on('close', () => resolve());
    });
    expect(await stockNow()).toEqual(before);
    expect((await get(ledger.baseUrl, '/health/ready')).status).toBe(200);
  });

  it('replaces an unusable x-trace-id with a generated one', async () => {
    for (const traceId of ['t'.repeat(200), 'has space', 'ünïcode']) {
      const answer = await exchange(
        ledger.port,
        `GET /health/live HTTP/1.1\r\nhost: ledger\r\nx-trace-id: ${traceId}\r\n` +
          'connection: close\r\n\r\n',
      );
      expect(statusLines(answer)).toEqual(['HTTP/1.1 200']);
      const echoed = /^x-trace-id: (.*)\r$/im.exec(answer)?.[1];
      expect(echoed).toMatch(/^[\x21-\x7e]{1,128}$/);
      expect(echoed).not.toBe(traceId);
    }
  });

  it('answers 404 for stock paths with broken or disallowed percent-encoding', async () => {
    for (const path of ['/v1/stock/%E0%A4%A/wh-1', '/v1/stock/a%20b/wh-1', '/v1/stock/%2F/wh-1']) {
      const response = await get(ledger.baseUrl, path);
      expect(response.status, `${path}: ${response.text}`).toBe(404);
      expect(response.body).toMatchObject({ error: { code: 'not_found' } });
    }
  });

  it('treats odd but valid JSON as data, never as behaviour', async () => {
    const before = await stockNow();
    const deep = await post(
      ledger.baseUrl,
      '/v1/stock/adjust',
      `${'['.repeat(8000)}${']'.repeat(8000)}`,
    );
    expect(deep.status, deep.text).toBe(400);
    const proto = await post(
      ledger.baseUrl,
      '/v1/stock/adjust',
      `{"__proto__":{"delta":1},"product_id":"${key.product_id}","warehouse_id":"wh-1"}`,
    );
    expect(proto.status, proto.text).toBe(422);
    expect(proto.body).toMatchObject({ error: { details: { field: 'delta' } } });
    const unsafe = await post(ledger.baseUrl, '/v1/stock/adjust', { ...key, delta: 2 ** 53 });
    expect(unsafe.body).toMatchObject({ error: { code: 'validation_failed' } });
    expect(await stockNow()).toEqual(before);
  });
});
