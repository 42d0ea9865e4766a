// Baseline (d): the floor of a durable answer on this box. bare-uws's fixed replies, each sent
// only once a row for its request has committed to Postgres (synchronous_commit=on), in group
// commits as the ledger makes them: what arrived in a turn is written by one INSERT, one row a
// request, one commit in flight on one connection, and what arrived meanwhile goes in the next.
// No stock, no actors, no thread hop, no journal encoding: what is left of the ledger's work is
// HTTP and the durable write, all on one thread. It is the floor to read a durable design
// against on the same box: what a target asks once HTTP and the commit are paid for, and no more.
// A row is a bigint key and the request's body as JSON (a little more than the ledger's 90-byte
// journal record); the ledger also writes the movement history, so its tables grow more per
// answer than these.
// DATABASE_URL names a scratch database (the bench creates and drops it); the table is made here.
import pg from 'pg';
import {
  reservationBody,
  serveBaseline,
  statelessStock,
  type ReservationBody,
} from '../lib/baseline-http.js';

const reservationId = '00000000-0000-4000-8000-000000000000';
const startedMs = Date.now();

const client = new pg.Client({
  connectionString: process.env.DATABASE_URL,
  options: '-c synchronous_commit=on',
});
await client.connect();
await client.query('CREATE TABLE IF NOT EXISTS floor_wal (lsn bigint PRIMARY KEY, row bytea)');

interface Waiting {
  readonly row: Buffer;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** Rows waiting for the next commit; one commit is in flight at a time. */
let pending: Waiting[] = [];
let writing = false;
let nextLsn = 1;

/** Writes what is pending, batch after batch, until nothing is. */
async function writeAll(): Promise<void> {
  writing = true;
  while (pending.length > 0) {
    const batch = pending;
    pending = [];
    const lsns = batch.map(() => nextLsn++);
    try {
      await client.query({
        name: 'floor-append',
        text: 'INSERT INTO floor_wal (lsn, row) SELECT * FROM unnest($1::bigint[], $2::bytea[])',
        values: [lsns, batch.map((waiting) => waiting.row)],
      });
      for (const waiting of batch) waiting.resolve();
    } catch (error) {
      for (const waiting of batch) waiting.reject(error);
    }
  }
  writing = false;
}

/** Resolves once `row` is durable; a commit starts after the current turn, with its batch. */
function durable(row: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    pending.push({ row, resolve, reject });
    if (pending.length === 1 && !writing) setImmediate(() => void writeAll());
  });
}

const rowOf = (request: object): Buffer => Buffer.from(JSON.stringify(request));

const finished = (id: string, status: string): ReservationBody => ({
  ...reservationBody(
    {
      productId: 'bare-uws-commit',
      warehouseId: 'bare-uws-commit',
      quantity: 1,
      idempotencyKey: 'bare-uws-commit-fixed-reply',
      ttlSeconds: 600,
    },
    id,
    startedMs,
  ),
  status,
});

serveBaseline('bare-uws-commit', {
  async reserve(request) {
    await durable(rowOf(request));
    return { status: 200, body: reservationBody(request, reservationId, startedMs) };
  },
  cart: () => ({
    status: 501,
    body: { error: { code: 'not_implemented', message: 'bare-uws-commit has no carts' } },
  }),
  async finish({ reservationId: id, target }) {
    await durable(rowOf({ id, target }));
    return { status: 200, body: finished(id, target) };
  },
  async adjust(request) {
    await durable(rowOf(request));
    return statelessStock.adjustAnswer(request);
  },
  readStock: statelessStock.readStock,
  close: () => client.end(),
});
