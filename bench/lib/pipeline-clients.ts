// Closed-loop in-process clients of the ledger's Router: each sends a reserve of 1 unit (a fresh
// idempotency key each time), waits for its reply, and sends the next, as a keep-alive HTTP
// connection of the flash-sale bench does, but with no HTTP and no load generator in between.
// Every reserve started in the measured window is timed (dispatch to reply, µs) into an HDR
// histogram, as bench/lib/load-worker.ts does for HTTP requests.
import type * as hdr from 'hdr-histogram-js';
import type { Router, RoutableCommand } from '../../src/router/index.js';
import type { ShardReply } from '../../src/shards/index.js';
import { newHistogram } from './load-worker.js';

export interface StockKey {
  readonly productId: string;
  readonly warehouseId: string;
}

export interface ClientTally {
  /** Reserves answered ok over the whole run (warm-up included): what the stock must show. */
  okTotal: number;
  /** Answered in the measured window: ok, and everything else by its code. */
  okInWindow: number;
  readonly refusedInWindow: Record<string, number>;
  readonly histogram: hdr.Histogram;
}

export interface ClientOptions {
  readonly router: Router;
  readonly clients: number;
  readonly keys: readonly StockKey[];
  readonly ttlSeconds: number;
  /** A 503 overloaded is retried after this long (the HTTP clients honour retry-after: 1 s). */
  readonly shedWaitMs: number;
}

export interface ClientRun {
  readonly tally: ClientTally;
  /** Starts timing: replies to reserves sent from now on are counted and timed. */
  measure(): void;
  /** Stops timing; the clients finish the reserve in hand and stop. Resolves when all did. */
  stop(): Promise<void>;
}

const tracePrefix = `bench${process.pid.toString(16).padStart(8, '0')}`.slice(0, 16);

/** Starts the clients at once; they run until `stop`. */
export function startClients(options: ClientOptions): ClientRun {
  const { router, clients, keys, ttlSeconds, shedWaitMs } = options;
  const tally: ClientTally = {
    okTotal: 0,
    okInWindow: 0,
    refusedInWindow: {},
    histogram: newHistogram(),
  };
  const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  let sequence = 0;
  let measuring = false;
  let stopping = false;
  let running = clients;
  let allStopped: () => void = () => undefined;
  const stopped = new Promise<void>((resolve) => (allStopped = resolve));
  const command = (): RoutableCommand => {
    sequence += 1;
    const key = keys.length === 1 ? keys[0] : keys[Math.floor(Math.random() * keys.length)];
    return {
      kind: 'reserve',
      ...(key as StockKey),
      quantity: 1,
      idempotencyKey: `${run}-${sequence}`,
      ttlSeconds,
      requesterId: '',
      traceId: `${tracePrefix}${sequence.toString(16).padStart(16, '0')}`,
    };
  };
  const issue = (): void => {
    if (stopping) {
      running -= 1;
      if (running === 0) allStopped();
      return;
    }
    const timed = measuring;
    const startedMs = performance.now();
    router.dispatch(command(), (reply) => answered(reply, timed, startedMs));
  };
  const answered = (reply: ShardReply, timed: boolean, startedMs: number): void => {
    const outcome = reply.outcome;
    const ok = outcome.ok;
    if (ok) tally.okTotal += 1;
    if (timed && measuring) {
      const micros = Math.max(1, Math.round((performance.now() - startedMs) * 1000));
      tally.histogram.recordValue(micros);
      if (ok) tally.okInWindow += 1;
      else tally.refusedInWindow[outcome.code] = (tally.refusedInWindow[outcome.code] ?? 0) + 1;
    }
    // A refusal answered at once must not recurse; a shed one waits as an HTTP client would.
    if (!ok && outcome.code === 'overloaded') setTimeout(issue, shedWaitMs * (1 + Math.random()));
    else if (!ok) setImmediate(issue);
    else issue();
  };
  for (let client = 0; client < clients; client += 1) issue();
  return {
    tally,
    measure: () => (measuring = true),
    stop: () => {
      measuring = false;
      stopping = true;
      return stopped;
    },
  };
}
