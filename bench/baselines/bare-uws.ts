// Baseline (c): the HTTP ceiling of the box. uWebSockets.js reads and JSON.parses each body (the
// shared validation included) and answers a fixed 200 of the right shape: no state, no I/O.
// Whatever the ledger does beyond this costs throughput; nothing behind HTTP can beat it.
// BARE_UWS_THREADS=N (default 1) runs N uWS apps in N worker threads on one port, to measure
// whether more HTTP acceptor threads pay off on this box.
import { randomUUID } from 'node:crypto';
import {
  httpThreadsMax,
  reservationBody,
  serveBaseline,
  stockBody,
  type ReservationBody,
} from '../lib/baseline-http.js';

const reservationId = randomUUID();
const startedMs = Date.now();

function threadsFromEnvironment(value: string | undefined): number {
  if (value === undefined || value === '') return 1;
  const threads = Number(value);
  if (!/^[0-9]+$/.test(value) || threads < 1 || threads > httpThreadsMax) {
    process.stderr.write(
      `BARE_UWS_THREADS must be an integer 1..${httpThreadsMax}, got "${value}"\n`,
    );
    process.exit(2);
  }
  return threads;
}

/** What confirm/release answer for any well-formed id: a hold of 1 on a fixed key. */
const finished: ReservationBody = reservationBody(
  {
    productId: 'bare-uws',
    warehouseId: 'bare-uws',
    quantity: 1,
    idempotencyKey: 'bare-uws-fixed-reply',
    ttlSeconds: 600,
  },
  reservationId,
  startedMs,
);

serveBaseline(
  'bare-uws',
  {
    reserve: (request) => ({
      status: 200,
      body: reservationBody(request, reservationId, startedMs),
    }),
    finish: ({ reservationId: id, target }) => ({
      status: 200,
      body: { ...finished, reservation_id: id, status: target },
    }),
    adjust: (request) => ({
      status: 200,
      body: stockBody(request.productId, request.warehouseId, request.delta, 0, 1),
    }),
    readStock: (productId, warehouseId) => ({
      status: 200,
      body: stockBody(productId, warehouseId, 0, 0, 0),
    }),
    close: () => Promise.resolve(),
  },
  { threads: threadsFromEnvironment(process.env.BARE_UWS_THREADS), moduleUrl: import.meta.url },
);
