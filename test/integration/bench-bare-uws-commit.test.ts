// The bench's durable floor (bench/baselines/bare-uws-commit.ts), run as the bench runs it, over
// a socket, on the real Postgres, on its HTTP thread, behind a hop to a commit thread, and behind
// the hop with the ledger's journal statement (with movements and without): a reserve is answered
// once its row has committed, a burst's rows all land, each its own lsn, a malformed body is
// refused without a row, and a lost connection fails the reserves after it (500) while the
// server keeps serving. With movements every reserve is also one in the ledger's history.
import { fileURLToPath } from 'node:url';
import { unpack } from 'msgpackr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServerChild, type LedgerChild } from '../../bench/lib/ledger-child.js';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { havePostgres } from '../helpers/services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface FloorRow {
  readonly lsn: string;
  readonly row: Buffer;
}

const floorRows = 'SELECT lsn::text AS lsn, row FROM floor_wal ORDER BY floor_wal.lsn';
const journalRows =
  'SELECT lsn::text AS lsn, payload AS row FROM ledger_wal ORDER BY ledger_wal.lsn';

/** How each way of running it stores a request: JSON on the HTTP thread, msgpack behind a hop. */
const modes = [
  {
    name: 'on its HTTP thread',
    hop: '0',
    journal: '',
    rows: floorRows,
    decode: (row: Buffer) => JSON.parse(row.toString()),
  },
  {
    name: 'behind a hop to a commit thread',
    hop: '1',
    journal: '',
    rows: floorRows,
    decode: (row: Buffer) => unpack(row),
  },
  {
    name: "behind the hop, with the ledger's journal statement",
    hop: '1',
    journal: 'wal',
    rows: journalRows,
    decode: (row: Buffer) => unpack(row),
  },
  {
    name: "behind the hop, with the ledger's journal statement and movements",
    hop: '1',
    journal: 'history',
    rows: journalRows,
    decode: (row: Buffer) => unpack(row),
  },
] as const;

const reserveBody = (key: string) => ({
  product_id: 'sku-1',
  warehouse_id: 'wh-1',
  quantity: 2,
  idempotency_key: key,
  ttl_seconds: 60,
});

describe.runIf(await havePostgres()).each(modes)('bare-uws-commit, $name', (mode) => {
  let server: LedgerChild | undefined;
  let database: TestDatabase | undefined;

  beforeAll(async () => {
    database = await createDatabase('bench_floor');
    const url = database.url;
    server = await startServerChild({
      name: 'bare-uws-commit',
      root,
      args: ['--import', 'tsx', 'bench/baselines/bare-uws-commit.ts'],
      env: {
        PATH: process.env.PATH ?? '',
        HOST: '127.0.0.1',
        PORT: '0',
        DATABASE_URL: url,
        BARE_UWS_COMMIT_HOP: mode.hop,
        BARE_UWS_COMMIT_JOURNAL: mode.journal,
      },
      execArgv: [],
      onSpawned: () => undefined,
    });
  });

  afterAll(async () => {
    await server?.stop();
    await database?.drop();
  });

  const rows = () => (database as TestDatabase).query<FloorRow>(mode.rows);

  const post = (path: string, body: unknown) =>
    fetch(`${(server as LedgerChild).baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('answers a reserve as the ledger does, once its row is in the table', async () => {
    const response = await post('/v1/reserve', reserveBody('floor-key-0000000001'));
    expect(response.status).toBe(200);
    const answer = (await response.json()) as Record<string, unknown>;
    expect(answer).toMatchObject({
      status: 'PENDING',
      product_id: 'sku-1',
      warehouse_id: 'wh-1',
      quantity: 2,
    });
    const written = await rows();
    expect(written).toHaveLength(1);
    expect(mode.decode(written[0]?.row ?? Buffer.from('{}'))).toMatchObject({
      productId: 'sku-1',
      idempotencyKey: 'floor-key-0000000001',
    });
  });

  it('writes every request of a burst, each row its own lsn', async () => {
    const keys = Array.from(
      { length: 40 },
      (_, index) => `floor-burst-${String(index).padStart(8, '0')}`,
    );
    const answers = await Promise.all(keys.map((key) => post('/v1/reserve', reserveBody(key))));
    expect(answers.map((answer) => answer.status)).toEqual(keys.map(() => 200));
    const written = await rows();
    expect(written).toHaveLength(41);
    expect(new Set(written.map((row) => row.lsn)).size).toBe(41);
    const burstKeys = written
      .slice(1)
      .map((row) => (mode.decode(row.row) as { idempotencyKey: string }).idempotencyKey);
    expect(burstKeys.sort()).toEqual([...keys].sort());
  });

  it('writes every row whole while other commits come and go (waves sent 2 ms apart)', async () => {
    const before = (await rows()).length;
    const waves = Array.from({ length: 12 }, (_, wave) =>
      Array.from(
        { length: 25 },
        (_, index) => `floor-wave-${wave}-${String(index).padStart(6, '0')}`,
      ),
    );
    const answers: Promise<Response>[] = [];
    for (const keys of waves) {
      for (const key of keys) answers.push(post('/v1/reserve', reserveBody(key)));
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect((await Promise.all(answers)).every((answer) => answer.status === 200)).toBe(true);
    const written = (await rows()).slice(before);
    const keys = written.map(
      (row) => (mode.decode(row.row) as { idempotencyKey?: string }).idempotencyKey,
    );
    expect(keys.sort()).toEqual(waves.flat().sort());
  });

  it('refuses a malformed reserve with a 4xx in the error format, and writes nothing', async () => {
    const response = await post('/v1/reserve', '{"product_id": ');
    expect(response.status).toBe(400);
    const answer = (await response.json()) as { error?: { code?: string } };
    expect(typeof answer.error?.code).toBe('string');
    expect(await rows()).toHaveLength(41 + 12 * 25);
  });

  // Only where it commits with the ledger's journal statement (its tables exist there alone).
  if (mode.journal !== '') {
    it('writes a movement per reserve with movements, and none without', async () => {
      const movements = await (database as TestDatabase).query<{
        product_id: string;
        warehouse_id: string;
        version: string;
        later_count: number;
      }>(
        'SELECT product_id, warehouse_id, version::text AS version, later_count ' +
          'FROM ledger_movements ORDER BY version',
      );
      const written = await rows();
      // A row's movements are its first and `later_count` more: one a reserve, none missing.
      const counted = movements.reduce((sum, row) => sum + 1 + Number(row.later_count), 0);
      if (mode.journal === 'wal') {
        expect(counted).toBe(0);
        return;
      }
      expect(counted).toBe(written.length);
      const keys = new Set(movements.map((row) => `${row.product_id}/${row.warehouse_id}`));
      expect([...keys]).toEqual(['sku-1/wh-1']);
      // The burst's 40 went in fewer commits than reserves: a commit's movements share a row.
      expect(movements.length).toBeLessThan(written.length);
      expect(movements.map((row) => row.version)).toContain(written[0]?.lsn);
    });
  }

  // Last: it leaves this server without its connection.
  it('answers 500 once its connection is gone, and keeps serving', async () => {
    await (database as TestDatabase).query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity ' +
        'WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    for (const key of ['floor-lost-0000000001', 'floor-lost-0000000002']) {
      const response = await post('/v1/reserve', reserveBody(key));
      expect(response.status).toBe(500);
      const answer = (await response.json()) as { error?: { code?: string } };
      expect(answer.error?.code).toBe('internal');
    }
    const stock = await fetch(`${(server as LedgerChild).baseUrl}/v1/stock/sku-1/wh-1`);
    expect(stock.status).toBe(200);
    expect(() => process.kill((server as LedgerChild).pid, 0)).not.toThrow();
  });
});
