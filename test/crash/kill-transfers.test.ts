// Proves a transfer is never half-moved across kill -9: a real ledger is SIGKILLed while
// hundreds of transfers (direct and in transit, between three warehouses of several products)
// are being made, received and cancelled; after the restart each product's units on hand plus
// incoming are exactly what was put in, every acknowledged transfer reads at least as far as it
// was acknowledged, a retry of each transfer's key answers one transfer, and each key's incoming
// is exactly the units of the transfers in transit toward it.
import { describe, expect, it } from 'vitest';
import { useRestartableLedger } from '../helpers/ledger-fixture.js';
import { get, newKey, post } from '../helpers/http.js';
import { sleep } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

const products = Array.from({ length: 6 }, (_, index) => `transfer-sku-${index}`);
const warehouses = ['wh-a', 'wh-b', 'wh-c'];
const unitsPerKey = 1_000;

interface Transfer {
  readonly transfer_id: string;
  readonly status: string;
  readonly product_id: string;
  readonly to_warehouse_id: string;
  readonly quantity: number;
}

/** A deterministic transfer request: direction, units and mode by its serial. */
function transferBody(serial: number): Record<string, unknown> {
  const from = warehouses[serial % 3] as string;
  const to = warehouses[(serial + 1 + (serial % 2)) % 3] as string;
  return {
    product_id: products[serial % products.length],
    from_warehouse_id: from,
    to_warehouse_id: to,
    quantity: 1 + (serial % 7),
    in_transit: serial % 3 !== 0,
    idempotency_key: newKey('transfer'),
  };
}

describe.runIf(await havePostgres())('kill -9 under transfer load', () => {
  const { start } = useRestartableLedger();

  it('leaves every transfer whole, and the units of each product all there', async () => {
    let running = await start();
    for (const product of products) {
      for (const warehouse of warehouses) {
        const stock = { product_id: product, warehouse_id: warehouse, delta: unitsPerKey };
        expect((await post(running.baseUrl, '/v1/stock/adjust', stock)).status).toBe(200);
      }
    }
    const bodies = Array.from({ length: 400 }, (_, serial) => transferBody(serial));
    const acknowledged = new Map<string, Transfer>();
    const base = running.baseUrl;
    const sent = bodies.map(async (body, index) => {
      await sleep(index % 60);
      const reply = await post(base, '/v1/transfers', body).catch(() => undefined);
      if (reply?.status !== 200) return;
      const made = reply.body as unknown as Transfer;
      acknowledged.set(made.transfer_id, made);
      if (made.status !== 'IN_TRANSIT') return;
      // Half of those in transit are then received or cancelled, racing the kill.
      const step = index % 4 === 0 ? 'receive' : index % 4 === 1 ? 'cancel' : undefined;
      if (step === undefined) return;
      const path = `/v1/transfers/${made.transfer_id}/${step}`;
      const next = await post(base, path, {}).catch(() => undefined);
      if (next?.status === 200)
        acknowledged.set(made.transfer_id, next.body as unknown as Transfer);
    });
    await sleep(40);
    await running.kill();
    await Promise.all(sent);
    running = await start();

    // Every acknowledged transfer is there, at least as far as it was acknowledged.
    for (const [id, made] of acknowledged) {
      const read = await get(running.baseUrl, `/v1/transfers/${id}`);
      expect(read.status, id).toBe(200);
      const status = (read.body as unknown as Transfer).status;
      if (made.status !== 'IN_TRANSIT') expect(status, id).toBe(made.status);
    }
    // Retrying every key (acknowledged or not) answers one transfer or makes it now: no key
    // ends with two, and each retry of an acknowledged one answers that one.
    const byKey = new Map<string, Transfer>();
    for (const body of bodies) {
      const retry = await post(running.baseUrl, '/v1/transfers', body);
      expect([200, 409]).toContain(retry.status);
      if (retry.status === 200) byKey.set(String(body.idempotency_key), retry.body as never);
    }
    const ids = [...byKey.values()].map((transfer) => transfer.transfer_id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of acknowledged.keys()) expect(ids).toContain(id);

    // Units are conserved per product, and incoming is exactly what is in transit.
    const inTransit = new Map<string, number>();
    for (const id of ids) {
      const transfer = (await get(running.baseUrl, `/v1/transfers/${id}`))
        .body as never as Transfer;
      if (transfer.status !== 'IN_TRANSIT') continue;
      const key = `${transfer.product_id}/${transfer.to_warehouse_id}`;
      inTransit.set(key, (inTransit.get(key) ?? 0) + transfer.quantity);
    }
    for (const product of products) {
      const view = await get(running.baseUrl, `/v1/products/${product}/stock`);
      const body = view.body as {
        on_hand: number;
        incoming: number;
        warehouses: { warehouse_id: string; incoming: number }[];
      };
      expect(body.on_hand + body.incoming, product).toBe(unitsPerKey * warehouses.length);
      for (const key of body.warehouses) {
        expect(key.incoming, `${product}/${key.warehouse_id}`).toBe(
          inTransit.get(`${product}/${key.warehouse_id}`) ?? 0,
        );
      }
    }
  }, 120_000);
});
