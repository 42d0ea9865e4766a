// Baseline (c): the HTTP ceiling of the box. uWebSockets.js reads and JSON.parses each reserve
// body (the shared validation included) and answers a fixed reservation-shaped 200: no state, no
// I/O. Whatever the ledger does beyond this costs throughput; nothing behind HTTP can beat it.
import { randomUUID } from 'node:crypto';
import { reservationBody, serveBaseline, stockBody } from '../lib/baseline-http.js';

const reservationId = randomUUID();
const startedMs = Date.now();

serveBaseline('bare-uws', {
  reserve: (request) => ({ status: 200, body: reservationBody(request, reservationId, startedMs) }),
  adjust: (request) => ({
    status: 200,
    body: stockBody(request.productId, request.warehouseId, request.delta, 0, 1),
  }),
  readStock: (productId, warehouseId) => ({
    status: 200,
    body: stockBody(productId, warehouseId, 0, 0, 0),
  }),
  close: () => Promise.resolve(),
});
