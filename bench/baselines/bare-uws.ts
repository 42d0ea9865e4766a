// Baseline (c): the HTTP ceiling of the box. uWebSockets.js reads and JSON.parses each body (the
// shared validation included) and answers a fixed 200 of the right shape (for a cart: its lines
// summed per key, every hold with one fixed id): no state, no I/O.
// Whatever the ledger does beyond this costs throughput; nothing behind HTTP can beat it.
// BARE_UWS_THREADS=N (default 1) runs N uWS apps in N worker threads on one port, to measure
// whether more HTTP acceptor threads pay off on this box.
import { randomUUID } from 'node:crypto';
import { cartBody } from '../lib/baseline-cart.js';
import {
  fixedFinish,
  httpThreadsMax,
  reservationBody,
  serveBaseline,
  statelessStock,
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
const finished = fixedFinish('bare-uws', startedMs);

serveBaseline(
  'bare-uws',
  {
    reserve: (request) => ({
      status: 200,
      body: reservationBody(request, reservationId, startedMs),
    }),
    // A cart of the request's lines (summed per key), every hold with the same fixed id.
    cart: (request) => ({
      status: 200,
      body: cartBody(
        request,
        { id: reservationId, createdMs: startedMs, expiresMs: startedMs + 600_000 },
        request.holds.map(() => reservationId),
      ),
    }),
    finish: ({ reservationId: id, target }) => ({ status: 200, body: finished(id, target) }),
    adjust: statelessStock.adjustAnswer,
    readStock: statelessStock.readStock,
    close: () => Promise.resolve(),
  },
  { threads: threadsFromEnvironment(process.env.BARE_UWS_THREADS), moduleUrl: import.meta.url },
);
