// Two cluster nodes when their shared services fail: Postgres cut off for longer than a lease
// (nodes stop answering from memory, acknowledge nothing they cannot make durable, and serve
// again once it is back, with every acknowledged hold kept), and NATS stopped (each node keeps
// serving its own partitions; forwards answer 503 with retry-after at once or within the forward
// timeout, never hang; forwarding works again once NATS is back).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post, type JsonResponse } from '../helpers/http.js';
import { eventually, sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { haveNats, natsServerBinary, startNatsServer, type NatsServer } from '../helpers/nats.js';
import { havePostgres } from '../helpers/services.js';
import { productsAcrossShards } from '../helpers/stock-keys.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { existsSync } from 'node:fs';

const ready = (await havePostgres()) && (await haveNats()) && existsSync(natsServerBinary);

describe.runIf(ready)('a cluster when Postgres or NATS fails', () => {
  let database: TestDatabase;
  let proxy: TcpProxy;
  let nats: NatsServer;
  const tag = randomBytes(3).toString('hex');
  const nodes: LedgerProcess[] = [];
  // One product on each of the 8 partitions: whatever the division, each node owns four of them
  // (eight picked at random all land on one node's partitions in one run of 128; it happened).
  const products = productsAcrossShards(`cf-${tag}`, 8, 8, 8);
  const acknowledged: { product: string; reservationId: string }[] = [];
  const servedBy = (response: JsonResponse) => response.headers.get('x-served-by');

  /** A failure names what the nodes printed last: whether one died, or only closed a socket. */
  const withNodeOutput = async (step: () => Promise<void>): Promise<void> => {
    try {
      await step();
    } catch (error) {
      const tails = nodes.map((node, index) => `node ${index}:\n${node.output().slice(-3_000)}`);
      throw new Error(`${String(error)}\n${tails.join('\n')}`, { cause: error });
    }
  };

  const reserve = async (via: LedgerProcess, product: string) => {
    const answer = await post(via.baseUrl, '/v1/reserve', {
      product_id: product,
      warehouse_id: 'wh-1',
      quantity: 1,
      idempotency_key: newKey('fault'),
    });
    if (answer.status === 200) {
      const reservationId = (answer.body as { reservation_id: string }).reservation_id;
      acknowledged.push({ product, reservationId });
    }
    return answer;
  };

  beforeAll(async () => {
    database = await createDatabase('ledger_cluster_faults');
    proxy = await TcpProxy.start();
    nats = await startNatsServer();
    for (const name of ['x', 'y']) {
      nodes.push(
        await startLedger({
          env: {
            DATABASE_URL: proxy.urlFor(database.url),
            NATS_URL: nats.url,
            LEDGER_CLUSTER: '1',
            LEDGER_NODE_ID: `fault-${name}-${tag}`,
            LEDGER_LEASE_SECONDS: '2',
            LEDGER_PARTITIONS: '8',
            SHARDS: '1',
          },
        }),
      );
    }
    await eventually(30_000, async () => {
      const view = (await get(nodes[0]?.baseUrl as string, '/v1/cluster')).body as unknown as {
        nodes: { partitions: number }[];
      };
      expect(view.nodes.map((node) => node.partitions)).toEqual([4, 4]);
      for (const node of nodes) expect((await get(node.baseUrl, '/health/ready')).status).toBe(200);
    });
    for (const product of products) {
      // Keyed, so a retry after a 503 (a busy machine) applies it once.
      const key = newKey('stock');
      await eventually(30_000, async () => {
        const stocked = await post(nodes[0]?.baseUrl as string, '/v1/stock/adjust', {
          product_id: product,
          warehouse_id: 'wh-1',
          delta: 1000,
          reason: 'fault test stock',
          idempotency_key: key,
        });
        expect(stocked.status).toBe(200);
      });
    }
  }, 120_000);

  afterAll(async () => {
    proxy?.refuse(false);
    for (const node of nodes) await node.stop();
    await proxy?.close();
    await nats?.dispose();
    await database?.drop();
  }, 60_000);

  it('acknowledges nothing it cannot keep while Postgres is cut off, and serves again after', async () => {
    const statuses = new Map<number, number>();
    proxy.refuse(true);
    proxy.dropAll();
    // Postgres comes back whatever happens, so a failure here does not fail the next test too.
    try {
      await withNodeOutput(async () => {
        const cutUntil = Date.now() + 6_000;
        while (Date.now() < cutUntil) {
          for (const [index, product] of products.entries()) {
            const answer = await reserve(nodes[index % 2] as LedgerProcess, product);
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          }
          await sleep(100);
        }
      });
    } finally {
      proxy.refuse(false);
    }
    // Without the journal nothing can be made durable: every answer was a 503.
    expect([...statuses.keys()]).toEqual([503]);
    for (const product of products) {
      for (const via of nodes) {
        await eventually(30_000, async () =>
          expect((await reserve(via, product)).status).toBe(200),
        );
      }
    }
    for (const { product, reservationId } of acknowledged) {
      const read = await get(nodes[1]?.baseUrl as string, `/v1/reservations/${reservationId}`);
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ product_id: product, status: 'PENDING' });
    }
  }, 90_000);

  it('serves its own partitions while NATS is down, refuses forwards at once, and forwards again after', async () => {
    const [first] = nodes as [LedgerProcess, LedgerProcess];
    // After the outage one node may hold every partition for a while: wait for the division.
    await eventually(30_000, async () => {
      const view = (await get(first.baseUrl, '/v1/cluster')).body as unknown as {
        nodes: { partitions: number }[];
      };
      expect(view.nodes.map((node) => node.partitions)).toEqual([4, 4]);
      for (const node of nodes) expect((await get(node.baseUrl, '/health/ready')).status).toBe(200);
    });
    const owners = new Map<string, string>();
    for (const product of products) {
      owners.set(
        product,
        servedBy(await get(first.baseUrl, `/v1/stock/${product}/wh-1`)) as string,
      );
    }
    const self = servedBy(await get(first.baseUrl, '/v1/cluster'));
    const local = products.filter((product) => owners.get(product) === self);
    const remote = products.filter((product) => owners.get(product) !== self);
    expect(local.length).toBeGreaterThan(0);
    expect(remote.length).toBeGreaterThan(0);
    await nats.stop();
    for (const product of local) expect((await reserve(first, product)).status).toBe(200);
    for (const product of remote) {
      // Answered, not left hanging (a hang would outlast the test's own timeout).
      const answer = await reserve(first, product);
      expect(answer.status).toBe(503);
      expect(answer.headers.get('retry-after')).not.toBeNull();
    }
    await nats.restart();
    for (const product of remote) {
      await eventually(30_000, async () =>
        expect((await reserve(first, product)).status).toBe(200),
      );
    }
    for (const { reservationId } of acknowledged) {
      expect((await get(first.baseUrl, `/v1/reservations/${reservationId}`)).status).toBe(200);
    }
  }, 90_000);
});
