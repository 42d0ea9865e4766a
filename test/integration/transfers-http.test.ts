// Proves transfers over a real server: direct and in transit (incoming shown on every stock
// view, not available), receive and cancel (idempotent, each refusing the other afterwards),
// idempotent creation, every bad input a 4xx that changes nothing, and all of it still there,
// never half-moved, after kill -9 (the last test kills the ledger).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectError, expectValidation } from '../helpers/expect-http.js';
import { get, newKey, post } from '../helpers/http.js';
import { useLedger } from '../helpers/ledger-fixture.js';
import { startLedger } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';
import { freshProductIds } from '../helpers/stock-keys.js';

const newProduct = freshProductIds(randomBytes(3).toString('hex'));

describe.runIf(await havePostgres())('transfers over HTTP', () => {
  const fixture = useLedger();
  const base = () => fixture.ledger.baseUrl;
  const stockOf = async (productId: string, warehouseId: string) => {
    const response = await get(base(), `/v1/stock/${productId}/${warehouseId}`);
    return response.status === 200 ? response.body : response.status;
  };
  const stocked = async (tag: string, onHand = 20) => {
    const product = newProduct(tag);
    const adjust = { product_id: product, warehouse_id: 'w1', delta: onHand };
    expect((await post(base(), '/v1/stock/adjust', adjust)).status).toBe(200);
    return product;
  };
  const transfer = (product: string, fields: Record<string, unknown> = {}) => ({
    product_id: product,
    from_warehouse_id: 'w1',
    to_warehouse_id: 'w2',
    quantity: 5,
    idempotency_key: newKey('transfer'),
    ...fields,
  });

  it('moves units at once: RECEIVED, both stock views, the destination made', async () => {
    const product = await stocked('direct');
    const body = transfer(product, { reason: 'rebalance', reference: 'TR-1' });
    const made = await post(base(), '/v1/transfers', body);
    expect(made.status, made.text).toBe(200);
    const answer = made.body as Record<string, unknown>;
    expect(answer).toMatchObject({
      status: 'RECEIVED',
      product_id: product,
      from_warehouse_id: 'w1',
      to_warehouse_id: 'w2',
      quantity: 5,
      reason: 'rebalance',
      reference: 'TR-1',
      from: { on_hand: 15, available: 15, incoming: 0, version: 2 },
      to: { on_hand: 5, available: 5, incoming: 0, version: 1 },
    });
    expect(answer.received_at).toBe(answer.created_at);
    expect(answer.transfer_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8/);
    expect(await stockOf(product, 'w2')).toMatchObject({ on_hand: 5, version: 1 });
    const read = await get(base(), `/v1/transfers/${String(answer.transfer_id)}`);
    expect(read.body).toEqual(answer);
    // Receiving a transfer that arrived is answered again; cancelling it is refused.
    const receive = await post(base(), `/v1/transfers/${String(answer.transfer_id)}/receive`, {});
    expect(receive.status).toBe(200);
    expect(receive.headers.get('idempotent-replayed')).toBe('true');
    const cancel = await post(base(), `/v1/transfers/${String(answer.transfer_id)}/cancel`, {});
    expectError(cancel, 409, 'transfer_received');
  });

  it('shows units in transit as incoming until received, or back at the source on cancel', async () => {
    const product = await stocked('transit');
    const shipped = await post(base(), '/v1/transfers', transfer(product, { in_transit: true }));
    expect(shipped.body).toMatchObject({
      status: 'IN_TRANSIT',
      from: { on_hand: 15, incoming: 0 },
      to: { on_hand: 0, available: 0, incoming: 5 },
    });
    expect(shipped.body).not.toHaveProperty('received_at');
    const id = String((shipped.body as { transfer_id: string }).transfer_id);
    expect(await stockOf(product, 'w2')).toMatchObject({ on_hand: 0, incoming: 5 });
    const productStock = await get(base(), `/v1/products/${product}/stock`);
    expect(productStock.body).toMatchObject({ on_hand: 15, available: 15, incoming: 5 });
    // Incoming units are not for sale.
    const hold = { product_id: product, warehouse_id: 'w2', quantity: 1 };
    const refused = await post(base(), '/v1/reserve', { ...hold, idempotency_key: newKey('r') });
    expectError(refused, 409, 'insufficient_stock');
    const received = await post(base(), `/v1/transfers/${id}/receive`, {});
    expect(received.body).toMatchObject({
      status: 'RECEIVED',
      to: { on_hand: 5, available: 5, incoming: 0 },
    });
    expect(received.headers.get('idempotent-replayed')).toBeNull();
    expectError(await post(base(), `/v1/transfers/${id}/cancel`, {}), 409, 'transfer_received');

    const second = await post(base(), '/v1/transfers', transfer(product, { in_transit: true }));
    const other = String((second.body as { transfer_id: string }).transfer_id);
    const cancelled = await post(base(), `/v1/transfers/${other}/cancel`, {});
    expect(cancelled.body).toMatchObject({
      status: 'CANCELLED',
      from: { on_hand: 15 },
      to: { on_hand: 5, incoming: 0 },
    });
    expect(cancelled.body).toHaveProperty('cancelled_at');
    const again = await post(base(), `/v1/transfers/${other}/cancel`, {});
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expectError(
      await post(base(), `/v1/transfers/${other}/receive`, {}),
      409,
      'transfer_cancelled',
    );
    expect(await stockOf(product, 'w1')).toMatchObject({ on_hand: 15, incoming: 0 });
  });

  it('answers bad input with a 4xx and changes nothing', async () => {
    const product = await stocked('bad', 10);
    const cases: [Record<string, unknown>, string][] = [
      [transfer(product, { to_warehouse_id: 'w1' }), 'to_warehouse_id'],
      [transfer(product, { quantity: 0 }), 'quantity'],
      [transfer(product, { quantity: 1.5 }), 'quantity'],
      [transfer(product, { product_id: 'a/b' }), 'product_id'],
      [transfer(product, { in_transit: 'yes' }), 'in_transit'],
      [transfer(product, { idempotency_key: undefined }), 'idempotency_key'],
      [transfer(product, { reference: '' }), 'reference'],
    ];
    for (const [body, field] of cases) {
      expectValidation(await post(base(), '/v1/transfers', body), field);
    }
    const short = await post(base(), '/v1/transfers', transfer(product, { quantity: 11 }));
    expectError(short, 409, 'insufficient_stock');
    expect(short.body).toMatchObject({ error: { details: { available: 10 } } });
    const missing = await post(
      base(),
      '/v1/transfers',
      transfer(product, { from_warehouse_id: 'x' }),
    );
    expectError(missing, 404, 'not_found');
    const unknown = '00000000-0000-8000-8000-000000000000';
    expectError(await get(base(), `/v1/transfers/${unknown}`), 404, 'not_found');
    expectError(await post(base(), `/v1/transfers/${unknown}/receive`, {}), 404, 'not_found');
    expectError(await get(base(), '/v1/transfers/not-a-uuid'), 404, 'not_found');
    expectError(await post(base(), '/v1/transfers/not-a-uuid/cancel', {}), 404, 'not_found');
    expect(await stockOf(product, 'w1')).toMatchObject({ on_hand: 10, version: 1 });
    expect(await stockOf(product, 'w2')).toBe(404);
  });

  it('replays a transfer by its key, refuses the key with another body, and keeps it all after kill -9', async () => {
    const product = await stocked('idem');
    const body = transfer(product, { in_transit: true, quantity: 4 });
    const first = await post(base(), '/v1/transfers', body);
    expect(first.status).toBe(200);
    const id = String((first.body as { transfer_id: string }).transfer_id);
    const retry = await post(base(), '/v1/transfers', body);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body).toEqual(first.body);
    for (const changed of [{ quantity: 5 }, { in_transit: false }, { to_warehouse_id: 'w3' }]) {
      expectError(
        await post(base(), '/v1/transfers', { ...body, ...changed }),
        422,
        'idempotency_key_reused',
      );
    }
    const direct = transfer(product, { quantity: 1 });
    expect((await post(base(), '/v1/transfers', direct)).status).toBe(200);
    await fixture.ledger.kill();
    const restarted = await startLedger({ env: { DATABASE_URL: fixture.database.url } });
    try {
      const source = await get(restarted.baseUrl, `/v1/stock/${product}/w1`);
      expect(source.body).toMatchObject({ on_hand: 15, version: 3 });
      const destination = await get(restarted.baseUrl, `/v1/stock/${product}/w2`);
      expect(destination.body).toMatchObject({ on_hand: 1, incoming: 4, version: 2 });
      const replay = await post(restarted.baseUrl, '/v1/transfers', body);
      expect(replay.body).toEqual(first.body);
      const received = await post(restarted.baseUrl, `/v1/transfers/${id}/receive`, {});
      expect(received.body).toMatchObject({ status: 'RECEIVED', to: { on_hand: 5, incoming: 0 } });
    } finally {
      await restarted.stop();
    }
  });
});
