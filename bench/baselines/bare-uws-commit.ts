// Baseline (d): the floor of a durable answer on this box. bare-uws's fixed replies, each sent
// only once a row for its request has committed to Postgres (synchronous_commit=on), in group
// commits as the ledger makes them: what arrived in a turn is written by one INSERT, one row a
// request, one commit in flight on one connection, and what arrived meanwhile goes in the next
// (bench/lib/floor-commit.ts). No stock, no actors, no journal encoding: what is left of the
// ledger's work is HTTP and the durable write. It is the floor to read a durable design against
// on the same box: what a target asks once HTTP and the commit are paid for, and no more.
// By default all of it runs on the HTTP thread, and a row is the request's body as JSON (a
// little more than the ledger's 90-byte journal record). BARE_UWS_COMMIT_HOP=1 (the bench's
// bare-uws-commit-hop) puts the commit on a thread of its own behind the ledger's kind of hop:
// the requests of a turn go to it in one msgpack message, each becomes a msgpack row there, and
// the committed ids come back in one message per commit. The ledger also writes the movement
// history, so its tables grow more per answer than either's. BARE_UWS_COMMIT_JOURNAL=history (the
// bench's bare-uws-commit-journal, with the hop) commits with the ledger's own journal statement
// instead, each request a movement of its stock key: the design's floor with the history in it;
// BARE_UWS_COMMIT_JOURNAL=wal (bare-uws-commit-wal) the same statement with no movement in it.
// DATABASE_URL names a scratch database (the bench creates and drops it); the table is made here.
import { Worker } from 'node:worker_threads';
import { Packr } from 'msgpackr';
import {
  fixedFinish,
  reservationBody,
  serveBaseline,
  statelessStock,
  workerBootCode,
} from '../lib/baseline-http.js';
import { FloorCommit, journalModeOf } from '../lib/floor-commit.js';

const reservationId = '00000000-0000-4000-8000-000000000000';
const startedMs = Date.now();

/** Resolves once a row for `request` is durable. */
type Durable = (request: object) => Promise<void>;

const journal = journalModeOf(process.env.BARE_UWS_COMMIT_JOURNAL);

async function onThisThread(): Promise<{ durable: Durable; close: () => Promise<void> }> {
  const floor = await FloorCommit.open(process.env.DATABASE_URL, journal);
  const durable: Durable = (request) =>
    new Promise((resolve, reject) => {
      floor.add(Buffer.from(JSON.stringify(request)), request, (error) =>
        error === undefined ? resolve() : reject(error),
      );
    });
  return { durable, close: () => floor.close() };
}

async function behindAHop(): Promise<{ durable: Durable; close: () => Promise<void> }> {
  const packr = new Packr();
  const moduleUrl = new URL('./floor-commit-worker.ts', import.meta.url).href;
  const worker = new Worker(workerBootCode(moduleUrl), {
    eval: true,
    workerData: { databaseUrl: process.env.DATABASE_URL, journal },
  });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  const waiting = new Map<number, { resolve: () => void; reject: (error: unknown) => void }>();
  let batch: [number, object][] = [];
  let nextId = 1;
  // A thread that fails or ends later (its connection lost, say) fails what waits on it and
  // every request after, each answered 500: the server keeps serving, as the ledger does.
  let broken: Error | undefined;
  const breakWith = (error: Error): void => {
    broken ??= error;
    for (const each of waiting.values()) each.reject(broken);
    waiting.clear();
  };
  worker.on('error', breakWith);
  const exited = new Promise<void>((resolve) =>
    worker.once('exit', (code) => {
      breakWith(new Error(`the commit thread ended (exit code ${code})`));
      resolve();
    }),
  );
  worker.on('message', (payload: Uint8Array) => {
    const [committed, failed] = packr.unpack(payload) as [number[], number[]];
    for (const id of committed) {
      waiting.get(id)?.resolve();
      waiting.delete(id);
    }
    for (const id of failed) {
      waiting.get(id)?.reject(new Error('the commit failed'));
      waiting.delete(id);
    }
  });
  const send = (): void => {
    // Its own buffer, as the ledger's batches (see floor-commit-worker.ts).
    const payload = new Uint8Array(packr.pack(batch));
    batch = [];
    if (broken === undefined) worker.postMessage(payload, [payload.buffer as ArrayBuffer]);
  };
  const durable: Durable = (request) =>
    new Promise((resolve, reject) => {
      if (broken !== undefined) {
        reject(broken);
        return;
      }
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      batch.push([id, request]);
      if (batch.length === 1) setImmediate(send);
    });
  const close = async (): Promise<void> => {
    if (broken === undefined) worker.postMessage('stop');
    await exited;
  };
  return { durable, close };
}

const { durable, close } =
  process.env.BARE_UWS_COMMIT_HOP === '1' ? await behindAHop() : await onThisThread();

const finished = fixedFinish('bare-uws-commit', startedMs);

serveBaseline('bare-uws-commit', {
  async reserve(request) {
    await durable(request);
    return { status: 200, body: reservationBody(request, reservationId, startedMs) };
  },
  cart: () => ({
    status: 501,
    body: { error: { code: 'not_implemented', message: 'bare-uws-commit has no carts' } },
  }),
  async finish(request) {
    await durable(request);
    return { status: 200, body: finished(request.reservationId, request.target) };
  },
  async adjust(request) {
    await durable(request);
    return statelessStock.adjustAnswer(request);
  },
  readStock: statelessStock.readStock,
  close,
});
