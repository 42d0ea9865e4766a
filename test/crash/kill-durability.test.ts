// Proves no acknowledged change is lost: a real ledger is SIGKILLed after acknowledging changes
// (idle, and with requests in flight), restarted on the same journal, and every 200 is found
// exactly once; idempotent retries answer as before.
import { describe, expect, it } from 'vitest';
import { useRestartableLedger } from '../helpers/ledger-fixture.js';
import { get, newKey, post, type JsonResponse } from '../helpers/http.js';
import { havePostgres } from '../helpers/services.js';

describe.runIf(await havePostgres())('kill -9 durability', () => {
  const { start } = useRestartableLedger();

  it('keeps every acknowledged reserve, confirm, release and adjust across a SIGKILL', async () => {
    let running = await start();
    const stock = { product_id: 'durable-sku', warehouse_id: 'wh-1' };
    expect((await post(running.baseUrl, '/v1/stock/adjust', { ...stock, delta: 50 })).status).toBe(
      200,
    );
    const reserves: { key: string; reply: JsonResponse }[] = [];
    for (let index = 0; index < 20; index += 1) {
      const key = newKey('dur');
      const reply = await post(running.baseUrl, '/v1/reserve', {
        ...stock,
        quantity: 2,
        idempotency_key: key,
      });
      expect(reply.status).toBe(200);
      reserves.push({ key, reply });
    }
    const id = (index: number) => reserves[index]?.reply.body.reservation_id as string;
    for (let index = 0; index < 5; index += 1) {
      expect(
        (await post(running.baseUrl, '/v1/confirm', { reservation_id: id(index) })).status,
      ).toBe(200);
    }
    for (let index = 5; index < 8; index += 1) {
      expect(
        (await post(running.baseUrl, '/v1/release', { reservation_id: id(index) })).status,
      ).toBe(200);
    }
    const before = await get(running.baseUrl, '/v1/stock/durable-sku/wh-1');
    expect(before.body).toMatchObject({ on_hand: 40, reserved: 24, available: 16, version: 29 });

    await running.kill();
    running = await start();

    expect((await get(running.baseUrl, '/v1/stock/durable-sku/wh-1')).body).toEqual(before.body);
    for (const [index, { key, reply }] of reserves.entries()) {
      const status = index < 5 ? 'CONFIRMED' : index < 8 ? 'RELEASED' : 'PENDING';
      const read = await get(running.baseUrl, `/v1/reservations/${id(index)}`);
      const sold = status === 'CONFIRMED' ? { confirmed_quantity: 2 } : {};
      expect(read.body).toEqual({ ...reply.body, status, ...sold });
      const again = await post(running.baseUrl, '/v1/reserve', {
        ...stock,
        quantity: 2,
        idempotency_key: key,
      });
      expect(again.status).toBe(200);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(again.body).toEqual(reply.body);
    }
    expect((await get(running.baseUrl, '/v1/stock/durable-sku/wh-1')).body).toEqual(before.body);
    expect(await running.stop()).toBe(0);
  });

  it('loses no acknowledged reserve when killed with requests in flight', async () => {
    let running = await start();
    const stock = { product_id: 'inflight-sku', warehouse_id: 'wh-2' };
    expect(
      (await post(running.baseUrl, '/v1/stock/adjust', { ...stock, delta: 100_000 })).status,
    ).toBe(200);
    const keys = Array.from({ length: 600 }, () => newKey('fly'));
    const acknowledged = new Map<string, Record<string, unknown>>();
    const sent = keys.map(async (key, index) => {
      await new Promise((resolve) => setTimeout(resolve, index % 60));
      const reply = await post(running.baseUrl, '/v1/reserve', {
        ...stock,
        quantity: 1,
        idempotency_key: key,
      }).catch(() => undefined);
      if (reply?.status === 200) acknowledged.set(key, reply.body);
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await running.kill();
    await Promise.all(sent);
    expect(acknowledged.size).toBeGreaterThan(0);

    running = await start();
    // Every acknowledged hold is there, with the same id and body.
    for (const [key, body] of acknowledged) {
      const read = await get(running.baseUrl, `/v1/reservations/${body.reservation_id as string}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(body);
      const again = await post(running.baseUrl, '/v1/reserve', {
        ...stock,
        quantity: 1,
        idempotency_key: key,
      });
      expect(again.body).toEqual(body);
    }
    // Retrying every key (acknowledged or not) leaves exactly one hold per key.
    for (const key of keys) {
      const retry = await post(running.baseUrl, '/v1/reserve', {
        ...stock,
        quantity: 1,
        idempotency_key: key,
      });
      expect(retry.status).toBe(200);
    }
    const read = await get(running.baseUrl, '/v1/stock/inflight-sku/wh-2');
    expect(read.body).toMatchObject({ on_hand: 100_000, reserved: keys.length });
  });
});
