// Proves the live stock feed over a real WebSocket: a subscriber sees the counter fall to 0
// during a sold-out run, and every value it sees is a state the journal holds (never one that
// was not durable); bad subscriptions get a contract error and the socket keeps working.
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { PartitionState, type StockRecord } from '../../src/actors/index.js';
import { decodeRecord } from '../../src/persistence/index.js';
import { newKey, post } from '../helpers/http.js';
import { sleep } from '../helpers/ledger-process.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { havePostgres } from '../helpers/services.js';

interface StockMessage {
  product_id: string;
  warehouse_id: string;
  available: number;
  version: number;
}

async function openFeed(port: number): Promise<{ socket: WebSocket; messages: unknown[] }> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/v1/stream`);
  const messages: unknown[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return { socket, messages };
}

async function waitFor(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe.runIf(await havePostgres())('the live stock feed', () => {
  const fixture = useLedger();

  it('shows the counter falling to 0 in a sold-out run, only with durable values', async () => {
    const stock = { product_id: 'feed-sku', warehouse_id: 'w1' };
    expect(
      (await post(fixture.ledger.baseUrl, '/v1/stock/adjust', { ...stock, delta: 25 })).status,
    ).toBe(200);
    const { socket, messages } = await openFeed(fixture.ledger.port);
    socket.send(JSON.stringify({ subscribe: [stock] }));
    await waitFor(() => messages.length > 0);
    expect(messages[0]).toEqual({ ...stock, available: 25, version: 1 });

    const replies = await Promise.all(
      Array.from({ length: 40 }, () =>
        post(fixture.ledger.baseUrl, '/v1/reserve', {
          ...stock,
          quantity: 1,
          idempotency_key: newKey('feed'),
        }),
      ),
    );
    expect(replies.filter((reply) => reply.status === 200)).toHaveLength(25);
    await waitFor(() => (messages.at(-1) as StockMessage).available === 0);
    socket.close();

    // Every value shown must be the state after some journaled (durable) change.
    const rows = await fixture.database.query<{ payload: Buffer }>(
      'SELECT payload FROM ledger_wal ORDER BY partition, lsn',
    );
    const state = new PartitionState(0, {
      retainFinishedMs: 1e9,
      retainFinishedMax: 1e6,
      onHandMax: 1e12,
    });
    const durable = new Map<number, number>();
    for (const row of rows) {
      const record = decodeRecord(row.payload) as StockRecord;
      if (record.productId !== stock.product_id) continue;
      state.replay(record);
      const actor = [...state.actors.values()][0];
      if (actor !== undefined) durable.set(actor.version, actor.available);
    }
    const seen = messages as StockMessage[];
    for (const message of seen) expect(durable.get(message.version)).toBe(message.available);
    const versions = seen.map((message) => message.version);
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
  });

  it('answers bad subscriptions with a contract error and keeps the socket usable', async () => {
    const { socket, messages } = await openFeed(fixture.ledger.port);
    socket.send('not json');
    socket.send(JSON.stringify({ subscribe: [{ product_id: 'bad id!', warehouse_id: 'w' }] }));
    socket.send(
      JSON.stringify({ subscribe: [{ product_id: 'never-stocked', warehouse_id: 'w' }] }),
    );
    await waitFor(() => messages.length === 3);
    expect(messages[0]).toMatchObject({ error: { code: 'validation_failed' } });
    expect(messages[1]).toMatchObject({
      error: { code: 'validation_failed', details: { field: 'subscribe.product_id' } },
    });
    expect(messages[2]).toMatchObject({ error: { code: 'not_found' } });
    // Still subscribed: when the key gets stock, the change arrives.
    const key = { product_id: 'never-stocked', warehouse_id: 'w' };
    expect(
      (await post(fixture.ledger.baseUrl, '/v1/stock/adjust', { ...key, delta: 3 })).status,
    ).toBe(200);
    await waitFor(() => messages.length === 4);
    expect(messages[3]).toEqual({ ...key, available: 3, version: 1 });
    const tooMany = Array.from({ length: 101 }, (_, index) => ({
      product_id: `k${index}`,
      warehouse_id: 'w',
    }));
    socket.send(JSON.stringify({ subscribe: tooMany }));
    await waitFor(() => messages.length === 5);
    expect(messages[4]).toMatchObject({
      error: { code: 'validation_failed', details: { field: 'subscribe' } },
    });
    socket.close();
  });
});
