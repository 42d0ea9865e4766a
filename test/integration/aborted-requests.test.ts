// Proves abrupt clients cannot hurt the server: requests cut off mid-headers or mid-body, and
// clients that vanish before their answer, change nothing and the server keeps serving.
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { get, newKey, post } from '../helpers/http.js';
import { sleep } from '../helpers/ledger-process.js';
import { useLedger } from '../helpers/ledger-fixture.js';
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
  const fixture = useLedger();

  it('ignores bodies cut off midway and clients that hang up before the answer', async () => {
    const stock = { product_id: 'abort-sku', warehouse_id: 'w' };
    expect(
      (await post(fixture.ledger.baseUrl, '/v1/stock/adjust', { ...stock, delta: 10 })).status,
    ).toBe(200);
    const body = JSON.stringify({ ...stock, quantity: 1, idempotency_key: newKey('abort') });
    const head =
      'POST /v1/reserve HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n' +
      `content-length: ${body.length}\r\n\r\n`;
    await Promise.all([
      sendRaw(fixture.ledger.port, head + body.slice(0, 20), 50), // body cut off
      sendRaw(fixture.ledger.port, 'POST /v1/reserve HTTP/1.1\r\nhost: x\r\ncontent-ty', 50), // headers cut off
      sendRaw(fixture.ledger.port, head.slice(0, -2), 50), // no end of headers
    ]);
    // Complete requests whose clients leave at once: they may or may not be applied, but the
    // server must survive answering into closed sockets.
    await Promise.all(
      Array.from({ length: 20 }, () => sendRaw(fixture.ledger.port, head + body, 0)),
    );
    await sleep(100);
    const read = await get(fixture.ledger.baseUrl, '/v1/stock/abort-sku/w');
    expect(read.status).toBe(200);
    // Only the 20 complete (same-key) requests could apply, and they share one idempotency key.
    expect(read.body.reserved).toBeLessThanOrEqual(1);
    expect((await get(fixture.ledger.baseUrl, '/health/ready')).status).toBe(200);
  });
});
