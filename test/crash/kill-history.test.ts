// Proves the movement history is as durable as the journal: a ledger is SIGKILLed with reserves,
// confirms and releases in flight on a few keys; after the restart every acknowledged change has
// its movement, each key's history is exactly versions 1..its version (no gap, no duplicate, no
// movement of a change that did not survive), and its last movement's counts are the key's.
import { describe, expect, it } from 'vitest';
import { get, newKey, post } from '../helpers/http.js';
import { useRestartableLedger } from '../helpers/ledger-fixture.js';
import { havePostgres } from '../helpers/services.js';

interface Movement {
  readonly version: number;
  readonly type: string;
  readonly reservation_id?: string;
  readonly on_hand: number;
  readonly reserved: number;
}

describe.runIf(await havePostgres())('kill -9 and the movement history', () => {
  const { start } = useRestartableLedger();

  it('keeps a movement for every acknowledged change, and none for a lost one', async () => {
    let running = await start();
    const keys = ['h-1', 'h-2', 'h-3'].map((product) => ({
      product_id: `kill-history-${product}`,
      warehouse_id: 'w1',
    }));
    for (const key of keys) {
      const stocked = await post(running.baseUrl, '/v1/stock/adjust', { ...key, delta: 10_000 });
      expect(stocked.status).toBe(200);
    }
    // Acknowledged changes: [reservation id, the movement type it must have].
    const acknowledged: [string, string][] = [];
    const flights = Array.from({ length: 300 }, async (_, index) => {
      const key = keys[index % keys.length] as { product_id: string; warehouse_id: string };
      await new Promise((resolve) => setTimeout(resolve, index % 50));
      const body = { ...key, quantity: 1, idempotency_key: newKey('kh') };
      const reserved = await post(running.baseUrl, '/v1/reserve', body).catch(() => undefined);
      if (reserved?.status !== 200) return;
      const id = String(reserved.body.reservation_id);
      acknowledged.push([id, 'reserve']);
      const end = index % 2 === 0 ? 'confirm' : 'release';
      const ended = await post(running.baseUrl, `/v1/${end}`, { reservation_id: id }).catch(
        () => undefined,
      );
      if (ended?.status === 200) acknowledged.push([id, end]);
    });
    await new Promise((resolve) => setTimeout(resolve, 40));
    await running.kill();
    await Promise.all(flights);
    expect(acknowledged.length).toBeGreaterThan(0);

    running = await start();
    const seen = new Set<string>();
    for (const key of keys) {
      const stock = await get(running.baseUrl, `/v1/stock/${key.product_id}/${key.warehouse_id}`);
      const version = stock.body.version as number;
      const movements: Movement[] = [];
      let query = '?limit=1000';
      for (;;) {
        const page = await get(
          running.baseUrl,
          `/v1/stock/${key.product_id}/${key.warehouse_id}/movements${query}`,
        );
        expect(page.status, page.text).toBe(200);
        movements.push(...(page.body.movements as Movement[]));
        if (page.body.next === null) break;
        query = `?limit=1000&before=${String(page.body.next)}`;
      }
      expect(movements.map((movement) => movement.version)).toEqual(
        Array.from({ length: version }, (_, index) => version - index),
      );
      expect(movements[0]).toMatchObject({
        on_hand: stock.body.on_hand,
        reserved: stock.body.reserved,
      });
      for (const movement of movements) seen.add(`${movement.reservation_id}/${movement.type}`);
    }
    for (const [id, type] of acknowledged)
      expect(seen.has(`${id}/${type}`), `${id} ${type}`).toBe(true);
    expect(await running.stop()).toBe(0);
  });
});
