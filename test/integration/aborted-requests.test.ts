// Proves abrupt clients cannot hurt the server: requests cut off mid-headers or mid-body, and
// clients that vanish before their answer, change nothing and the server keeps serving.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post } from '../helpers/http.js';
import { sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

function sendRaw(port: number, text: string, holdMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(text);
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, holdMs);
    });
    socket.on('error', reject);
  });
}

describe.runIf(await havePostgres())('aborted requests', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess;

  beforeAll(async () => {
    database = await createDatabase();
    ledger = await startLedger({ env: { DATABASE_URL: database.url } });
  });

  afterAll(async () => {
    await ledger?.stop();
    await database?.drop();
  });

  it('ignores bodies cut off midway and clients that hang up before the answer', async () => {
    const stock = { product_id: 'abort-sku', warehouse_id: 'w' };
    expect((await post(ledger.baseUrl, '/v1/stock/adjust', { ...stock, delta: 10 })).status).toBe(
      200,
    );
    const body = JSON.stringify({ ...stock, quantity: 1, idempotency_key: newKey('abort') });
    const head =
      'POST /v1/reserve HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n' +
      `content-length: ${body.length}\r\n\r\n`;
    await Promise.all([
      sendRaw(ledger.port, head + body.slice(0, 20), 50), // body cut off
      sendRaw(ledger.port, 'POST /v1/reserve HTTP/1.1\r\nhost: x\r\ncontent-ty', 50), // headers cut off
      sendRaw(ledger.port, head.slice(0, -2), 50), // no end of headers
    ]);
    // Complete requests whose clients leave at once: they may or may not be applied, but the
    // server must survive answering into closed sockets.
    await Promise.all(Array.from({ length: 20 }, () => sendRaw(ledger.port, head + body, 0)));
    await sleep(100);
    const read = await get(ledger.baseUrl, '/v1/stock/abort-sku/w');
    expect(read.status).toBe(200);
    // Only the 20 complete (same-key) requests could apply, and they share one idempotency key.
    expect(read.body.reserved).toBeLessThanOrEqual(1);
    expect((await get(ledger.baseUrl, '/health/ready')).status).toBe(200);
  });
});
