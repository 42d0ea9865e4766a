// Three real ledger nodes on one Postgres and one NATS (LEDGER_CLUSTER): they divide the
// partitions, any node answers any request (forwarded to the owner, x-served-by naming it), and
// when an owner is killed with kill -9, or frozen with SIGSTOP, the others take its partitions
// over from the journal with nothing acknowledged lost; a frozen node that wakes up never answers
// from its stale memory.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get, newKey, post, type JsonResponse } from '../helpers/http.js';
import { eventually, sleep, startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import {
  deleteStream,
  haveNats,
  journalEntries,
  readStream,
  sharedNatsUrl,
  streamProblems,
  uniqueStream,
  waitForStreamToCatchUp,
} from '../helpers/nats.js';
import { havePostgres } from '../helpers/services.js';

const ready = (await havePostgres()) && (await haveNats());
const partitions = 16;
const leaseSeconds = 2;

interface ClusterView {
  readonly node_id: string;
  readonly nodes: readonly { node_id: string; partitions: number; ready: boolean }[];
  readonly partitions: number;
}

interface Hold {
  readonly product: string;
  readonly reservationId: string;
  readonly key: string;
}

describe.runIf(ready)('a cluster of three nodes', () => {
  let database: TestDatabase;
  const { stream, prefix } = uniqueStream('cluster');
  const tag = randomBytes(3).toString('hex');
  const ids = ['a', 'b', 'c'].map((name) => `node-${name}-${tag}`);
  const nodes = new Map<string, LedgerProcess>();
  const products = Array.from({ length: 12 }, (_, index) => `cl-${tag}-${index}`);
  const holds: Hold[] = [];

  const start = async (id: string) => {
    const node = await startLedger({
      env: {
        DATABASE_URL: database.url,
        NATS_URL: sharedNatsUrl,
        LEDGER_EVENTS_STREAM: stream,
        LEDGER_EVENTS_SUBJECT_PREFIX: prefix,
        LEDGER_CLUSTER: '1',
        LEDGER_NODE_ID: id,
        LEDGER_LEASE_SECONDS: String(leaseSeconds),
        LEDGER_PARTITIONS: String(partitions),
        SHARDS: '1',
      },
    });
    nodes.set(id, node);
    return node;
  };
  const node = (id: string) => nodes.get(id) as LedgerProcess;
  const live = () => [...nodes.values()];
  const cluster = async (id: string) =>
    (await get(node(id).baseUrl, '/v1/cluster')).body as unknown as ClusterView;
  const reserve = (via: LedgerProcess, product: string, key: string) =>
    post(via.baseUrl, '/v1/reserve', {
      product_id: product,
      warehouse_id: 'wh-1',
      quantity: 1,
      idempotency_key: key,
    });
  const servedBy = (response: JsonResponse) => response.headers.get('x-served-by');

  beforeAll(async () => {
    database = await createDatabase('ledger_cluster');
    // The first node creates the journal alone, then the others join.
    await start(ids[0] as string);
    await Promise.all(ids.slice(1).map((id) => start(id)));
  }, 120_000);

  afterAll(async () => {
    for (const process of nodes.values()) {
      process.child.kill('SIGCONT');
      await process.stop();
    }
    await database?.drop();
    await deleteStream(sharedNatsUrl, stream);
  }, 60_000);

  it('divides the partitions evenly and shows it on every node', async () => {
    for (const id of ids) {
      const view = await eventually(30_000, async () => {
        const seen = await cluster(id);
        const owned = seen.nodes.reduce((sum, each) => sum + each.partitions, 0);
        expect(seen.nodes.map((each) => each.node_id).sort()).toEqual([...ids].sort());
        expect(owned).toBe(partitions);
        for (const each of seen.nodes) expect(each.partitions).toBeGreaterThanOrEqual(5);
        return seen;
      });
      expect(view.node_id).toBe(id);
      expect(view.partitions).toBe(partitions);
    }
  }, 60_000);

  it('answers any request on any node, as the owner, named in x-served-by', async () => {
    const entry = node(ids[0] as string);
    for (const process of live()) {
      await eventually(30_000, async () =>
        expect((await get(process.baseUrl, '/health/ready')).status).toBe(200),
      );
    }
    for (const product of products) {
      // Keyed, so a retry after a 503 (a busy machine) applies it once.
      const key = newKey('stock');
      await eventually(30_000, async () => {
        const stocked = await post(entry.baseUrl, '/v1/stock/adjust', {
          product_id: product,
          warehouse_id: 'wh-1',
          delta: 1000,
          reason: 'cluster test stock',
          idempotency_key: key,
        });
        expect(stocked.status).toBe(200);
      });
    }
    const owners = new Set<string>();
    for (const product of products) {
      const served = new Set<string | null>();
      for (const via of live()) {
        const key = newKey('hold');
        const answer = await reserve(via, product, key);
        expect(answer.status).toBe(200);
        served.add(servedBy(answer));
        holds.push({
          product,
          key,
          reservationId: (answer.body as { reservation_id: string }).reservation_id,
        });
        const read = await get(via.baseUrl, `/v1/stock/${product}/wh-1`);
        expect(read.status).toBe(200);
        served.add(servedBy(read));
      }
      // One owner per product, whichever node was asked.
      expect(served.size).toBe(1);
      owners.add([...served][0] as string);
    }
    // Twelve products over sixteen partitions and three nodes: more than one owner serves them.
    expect(owners.size).toBeGreaterThan(1);
    const view = await get(entry.baseUrl, `/v1/stock/${products[0]}/wh-1`);
    expect(view.body).toMatchObject({ on_hand: 1000, reserved: 3 });
  }, 60_000);

  it("snapshots every node's changed partitions when an operator asks any node", async () => {
    const changed = await database.query<{ partitions: number }>(
      'SELECT count(DISTINCT partition)::int AS partitions FROM ledger_wal',
    );
    const answer = await post(node(ids[2] as string).baseUrl, '/v1/admin/snapshot', {});
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ partitions: changed[0]?.partitions });
    const snapshotted = await database.query<{ partitions: number }>(
      'SELECT count(DISTINCT partition)::int AS partitions FROM ledger_snapshots',
    );
    expect(snapshotted[0]?.partitions).toBe(changed[0]?.partitions);
  }, 60_000);

  it('lists every stock key on any node, in order, page after page', async () => {
    const expected = [...products].sort();
    for (const via of live()) {
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let page = 0; page < 20; page += 1) {
        const query = cursor === undefined ? 'limit=5' : `limit=5&after=${cursor}`;
        const answer = await get(via.baseUrl, `/v1/stock?${query}`);
        expect(answer.status).toBe(200);
        const body = answer.body as {
          items: { product_id: string; warehouse_id: string; on_hand: number }[];
          next: string | null;
        };
        expect(body.items.length).toBeLessThanOrEqual(5);
        seen.push(...body.items.map((item) => item.product_id));
        cursor = body.next ?? undefined;
        if (cursor === undefined) break;
      }
      // Only this test's products exist in its journal.
      expect(seen).toEqual(expected);
    }
    const one = await get(node(ids[1] as string).baseUrl, `/v1/stock?product_id=${products[3]}`);
    expect(one.status).toBe(200);
    expect(
      (one.body as { items: { product_id: string }[] }).items.map((item) => item.product_id),
    ).toEqual([products[3]]);
  }, 60_000);

  it("follows a key's changes in the live feed of a node that does not own it", async () => {
    const [watcherId] = ids as [string];
    const watcher = node(watcherId);
    const product = await eventually(10_000, async () => {
      for (const candidate of products) {
        const read = await get(watcher.baseUrl, `/v1/stock/${candidate}/wh-1`);
        if (servedBy(read) !== watcherId) return candidate;
      }
      throw new Error('every product is owned by the watching node');
    });
    const socket = new WebSocket(`ws://127.0.0.1:${watcher.port}/v1/stream`);
    const messages: { available?: number; version?: number }[] = [];
    socket.on('message', (data) =>
      messages.push(JSON.parse(String(data)) as { available: number }),
    );
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    try {
      socket.send(JSON.stringify({ subscribe: [{ product_id: product, warehouse_id: 'wh-1' }] }));
      await eventually(10_000, async () => expect(messages.length).toBeGreaterThan(0));
      const start = messages[0]?.available as number;
      // Changes made on the owner, at once and later: every one reaches the watching node.
      for (let step = 1; step <= 3; step += 1) {
        const owner = live().find((each) => each !== watcher) as LedgerProcess;
        const key = newKey('feed');
        const answer = await reserve(owner, product, key);
        expect(answer.status).toBe(200);
        const reservationId = (answer.body as { reservation_id: string }).reservation_id;
        holds.push({ product, key, reservationId });
        await eventually(10_000, async () =>
          expect(messages.map((message) => message.available)).toContain(start - step),
        );
        await sleep(step * 700);
      }
    } finally {
      socket.close();
    }
  }, 60_000);

  it('places and confirms a cart whose lines live on different nodes, all or nothing', async () => {
    const [entryId] = ids as [string];
    const owners = new Map<string, string>();
    for (const product of products) {
      const read = await get(node(entryId).baseUrl, `/v1/stock/${product}/wh-1`);
      owners.set(product, servedBy(read) as string);
    }
    // The first products of two different owners.
    const [first, second] = [...owners].filter(
      ([, owner], index, all) => all.findIndex(([, other]) => other === owner) === index,
    ) as [[string, string], [string, string]];
    expect(first[1]).not.toBe(second[1]);
    const lines = [first[0], second[0]].map((product) => ({
      product_id: product,
      warehouse_id: 'wh-1',
      quantity: 2,
    }));
    const stockOf = async (product: string) => {
      const { on_hand, reserved } = (await get(node(entryId).baseUrl, `/v1/stock/${product}/wh-1`))
        .body as { on_hand: number; reserved: number };
      return { on_hand, reserved };
    };
    const before = await Promise.all([first[0], second[0]].map(stockOf));
    // Too much of one line: nothing is held anywhere.
    const refused = await post(node(entryId).baseUrl, '/v1/carts', {
      idempotency_key: newKey('cart'),
      lines: [lines[0], { ...lines[1], quantity: 1000 }],
    });
    expect(refused.status).toBe(409);
    expect(await Promise.all([first[0], second[0]].map(stockOf))).toEqual(before);
    const placed = await post(node(entryId).baseUrl, '/v1/carts', {
      idempotency_key: newKey('cart'),
      lines,
    });
    expect(placed.status).toBe(200);
    const cartId = (placed.body as { cart_id: string }).cart_id;
    const confirmed = await post(node(entryId).baseUrl, `/v1/carts/${cartId}/confirm`, {});
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toMatchObject({ status: 'CONFIRMED' });
    const after = await Promise.all([first[0], second[0]].map(stockOf));
    after.forEach((stock, index) => {
      expect(stock.on_hand).toBe((before[index] as { on_hand: number }).on_hand - 2);
      expect(stock.reserved).toBe((before[index] as { reserved: number }).reserved);
    });
  }, 60_000);

  it('restarts every node in turn, as a rolling update does, without an error', async () => {
    const statuses = new Map<number, number>();
    const refusals: string[] = [];
    let moving: string | undefined;
    let running = true;
    // Reserves on every product through the nodes up and staying, while each node in turn
    // leaves and comes back.
    const load = (async () => {
      for (let round = 0; running; round += 1) {
        const steady = ids.filter((id) => id !== moving && nodes.has(id)).map(node);
        await Promise.all(
          products.map(async (product, index) => {
            const via = steady[(round + index) % steady.length] as LedgerProcess;
            const key = newKey('rolling');
            const answer = await reserve(via, product, key);
            statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
            if (answer.status !== 200 && refusals.length < 5) refusals.push(answer.text);
            if (answer.status === 200) {
              const reservationId = (answer.body as { reservation_id: string }).reservation_id;
              holds.push({ product, key, reservationId });
            }
          }),
        );
      }
    })();
    for (const movingId of ids) {
      const steadyIds = ids.filter((id) => id !== movingId);
      moving = movingId;
      await sleep(300);
      expect(await node(movingId).stop()).toBe(0);
      nodes.delete(movingId);
      await eventually(20_000, async () => {
        const seen = await cluster(steadyIds[0] as string);
        expect(seen.nodes.reduce((sum, each) => sum + each.partitions, 0)).toBe(partitions);
        expect(seen.nodes.map((each) => each.node_id).sort()).toEqual([...steadyIds].sort());
      });
      await start(movingId);
      await eventually(20_000, async () => {
        const seen = await cluster(movingId);
        const own = seen.nodes.find((each) => each.node_id === movingId)?.partitions ?? 0;
        expect(own).toBeGreaterThan(4);
        expect(seen.nodes.reduce((sum, each) => sum + each.partitions, 0)).toBe(partitions);
      });
      moving = undefined;
    }
    await sleep(500);
    running = false;
    await load;
    expect({ statuses: Object.fromEntries(statuses), refusals }).toEqual({
      statuses: { 200: statuses.get(200) },
      refusals: [],
    });
    expect(statuses.get(200)).toBeGreaterThan(products.length * 12);
  }, 150_000);

  it('after kill -9 of an owner, the others take its partitions over with nothing lost', async () => {
    const product = products[0] as string;
    const first = await reserve(node(ids[0] as string), product, newKey('probe'));
    const victim = servedBy(first) as string;
    holds.push({
      product,
      key: '',
      reservationId: (first.body as { reservation_id: string }).reservation_id,
    });
    await node(victim).kill();
    nodes.delete(victim);
    const survivor = live()[0] as LedgerProcess;
    const after = await eventually(30_000, async () => {
      const read = await get(survivor.baseUrl, `/v1/stock/${product}/wh-1`);
      expect(read.status).toBe(200);
      return read;
    });
    expect(servedBy(after)).not.toBe(victim);
    await expectEveryHoldKept(survivor);
  }, 90_000);

  it('a frozen owner loses its partitions, and once woken never answers from stale memory', async () => {
    const [frozenId, otherId] = [...nodes.keys()] as [string, string];
    const frozen = node(frozenId);
    const other = node(otherId);
    const mine = await eventually(10_000, async () => {
      for (const product of products) {
        const read = await get(other.baseUrl, `/v1/stock/${product}/wh-1`);
        if (servedBy(read) === frozenId) return product;
      }
      throw new Error('no product owned by the node to freeze');
    });
    frozen.child.kill('SIGSTOP');
    // The other node takes the frozen one's partitions once their leases run out.
    const taken = await eventually(30_000, async () => {
      const read = await get(other.baseUrl, `/v1/stock/${mine}/wh-1`);
      expect(read.status).toBe(200);
      expect(servedBy(read)).toBe(otherId);
      return read.body as { on_hand: number };
    });
    const changed = await post(other.baseUrl, '/v1/stock/adjust', {
      product_id: mine,
      warehouse_id: 'wh-1',
      delta: 7,
      reason: 'while the owner was frozen',
      idempotency_key: newKey('frozen'),
    });
    expect(changed.status).toBe(200);
    frozen.child.kill('SIGCONT');
    // Woken: every answer about the product is the new owner's truth or a 503, never the old.
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const read = await get(frozen.baseUrl, `/v1/stock/${mine}/wh-1`);
      if (read.status === 200) expect(read.body).toMatchObject({ on_hand: taken.on_hand + 7 });
      else expect(read.status).toBe(503);
      await sleep(50);
    }
    await expectEveryHoldKept(other);
  }, 90_000);

  it("publishes every record's events once and in order, each partition from its owner alone", async () => {
    const [ownerId, otherId] = [...nodes.keys()] as [string, string];
    await eventually(30_000, async () => {
      expect((await get(node(otherId).baseUrl, '/health/ready')).status).toBe(200);
      expect((await get(node(ownerId).baseUrl, '/health/ready')).status).toBe(200);
    });
    await waitForStreamToCatchUp(sharedNatsUrl, stream, database, 30_000);
    const product = await eventually(10_000, async () => {
      for (const candidate of products) {
        const read = await get(node(otherId).baseUrl, `/v1/stock/${candidate}/wh-1`);
        if (servedBy(read) === ownerId) return candidate;
      }
      throw new Error('no product owned by the first node');
    });
    const before = await Promise.all([ownerId, otherId].map((id) => publishedBy(id)));
    for (let index = 0; index < 20; index += 1) {
      const key = newKey('events');
      const answer = await reserve(node(otherId), product, key);
      expect(answer.status).toBe(200);
      holds.push({
        product,
        key,
        reservationId: (answer.body as { reservation_id: string }).reservation_id,
      });
    }
    await waitForStreamToCatchUp(sharedNatsUrl, stream, database, 30_000);
    // The owner published the product's twenty holds (its counters follow within a second).
    await eventually(10_000, async () => {
      expect((await publishedBy(ownerId)) - (before[0] as number)).toBeGreaterThanOrEqual(20);
    });
    await sleep(1_000);
    // The node that took the requests published none of them.
    expect(await publishedBy(otherId)).toBe(before[1]);
    const problems = streamProblems(
      await journalEntries(database),
      await readStream(sharedNatsUrl, stream),
    );
    expect(problems).toEqual([]);
  }, 90_000);

  /** Events a node's publisher had JetStream acknowledge since it started. */
  async function publishedBy(id: string): Promise<number> {
    const metrics = (await get(node(id).baseUrl, '/metrics')).text;
    const line = /^ledger_event_publisher_published_total (\d+)/m.exec(metrics);
    return Number(line?.[1] ?? 0);
  }

  /**
   * An answer other than 503 `unavailable`: while the survivors take a dead owner's partitions
   * over (a lease runs out, a recovery), a partition between owners answers 503 and nothing is
   * done; the contract says retry, and so does this.
   */
  const settled = (call: () => Promise<JsonResponse>): Promise<JsonResponse> =>
    eventually(20_000, async () => {
      const answer = await call();
      expect(answer.status, answer.text).not.toBe(503);
      return answer;
    });

  /** Every hold acknowledged so far is still there, and a retry answers it again. */
  async function expectEveryHoldKept(via: LedgerProcess): Promise<void> {
    for (const hold of holds) {
      const read = await settled(() => get(via.baseUrl, `/v1/reservations/${hold.reservationId}`));
      expect(read.status).toBe(200);
      expect(read.body).toMatchObject({ status: 'PENDING', product_id: hold.product });
      if (hold.key === '') continue;
      const again = await settled(() => reserve(via, hold.product, hold.key));
      expect(again.status).toBe(200);
      expect((again.body as { reservation_id: string }).reservation_id).toBe(hold.reservationId);
    }
    const reserved = new Map<string, number>();
    for (const hold of holds) reserved.set(hold.product, (reserved.get(hold.product) ?? 0) + 1);
    for (const [product, count] of reserved) {
      const read = await settled(() => get(via.baseUrl, `/v1/stock/${product}/wh-1`));
      expect(read.body).toMatchObject({ reserved: count });
    }
  }
});
