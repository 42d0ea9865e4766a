// The load: autocannon POSTing /v1/reserve on one stock key, every request with a new idempotency
// key. Each connection remembers the key it has in flight (pipelining 1), so the keys whose
// answers autocannon never read, because it closes its connections when time is up, are known
// and can be resolved afterwards; that is what makes an exact reserved-count check possible.
import { withAuth } from './auth.js';
import { randomBytes } from 'node:crypto';
import autocannon, { type Client, type Instance, type Result } from 'autocannon';
import { LatencyHistogram, type LatencySummary } from './latency-histogram.js';
import { reserveBody, type StockKey } from './ledger-api.js';

/** autocannon gives up on a request after this long and counts a timeout (its default). */
const requestTimeoutSeconds = 10;
const progressEverySeconds = 5;

/** Issues idempotency keys and remembers which were sent and not yet answered. */
export class IdempotencyKeys {
  // 16..128 printable characters (API.md); a per-run prefix keeps reruns on one journal distinct.
  private readonly prefix = `hot-sku-${randomBytes(4).toString('hex')}-`;
  private issued = 0;
  private readonly unanswered = new Set<string>();

  next(): string {
    this.issued += 1;
    const key = `${this.prefix}${this.issued.toString(36).padStart(8, '0')}`;
    this.unanswered.add(key);
    return key;
  }

  answered(key: string): void {
    this.unanswered.delete(key);
  }

  get issuedCount(): number {
    return this.issued;
  }

  /** Keys sent whose answer was never read; the set stays small (about one per connection). */
  unansweredKeys(): string[] {
    return [...this.unanswered];
  }
}

export interface PhaseOptions {
  readonly baseUrl: string;
  readonly stockKey: StockKey;
  readonly keys: IdempotencyKeys;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly label: string;
  /** Receives a function that ends the phase early (used on Ctrl-C). */
  readonly onStarted?: (stop: () => void) => void;
}

export interface PhaseResult {
  readonly autocannon: Result;
  /** Answers read, by HTTP status, counted by the bench itself (autocannon counts the same). */
  readonly statusCounts: Record<string, number>;
  readonly latency: LatencySummary;
  readonly wallSeconds: number;
  /** Answers read in each second of the phase, to see stalls that a mean hides. */
  readonly perSecond: readonly number[];
}

const jsonHeaders = { 'content-type': 'application/json' };

/** Collects answers per second and prints a progress line every few seconds. */
function perSecondAnswers(label: string, instance: Instance): number[] {
  const perSecond: number[] = [];
  instance.on('tick', (tick: unknown) => {
    perSecond.push((tick as { counter?: number }).counter ?? 0);
    if (perSecond.length % progressEverySeconds === 0) {
      const last = perSecond.slice(-progressEverySeconds);
      const rate = last.reduce((sum, value) => sum + value, 0) / last.length;
      process.stdout.write(`  ${label}: ${perSecond.length} s, ${Math.round(rate)} answers/s\n`);
    }
  });
  return perSecond;
}

export function runPhase(options: PhaseOptions): Promise<PhaseResult> {
  const statusCounts: Record<string, number> = {};
  const latency = new LatencyHistogram();
  const setupClient = (client: Client): void => {
    let inFlight = '';
    // Each connection gets its own request list: autocannon's default list is one object shared
    // by all connections, and a shared body would mix up which key is in flight where.
    client.setRequests([
      {
        method: 'POST',
        path: '/v1/reserve',
        headers: withAuth(jsonHeaders),
        setupRequest: (request) => {
          inFlight = options.keys.next();
          return { ...request, body: reserveBody(options.stockKey, inFlight) };
        },
      },
    ]);
    client.on('response', (statusCode: number, _bytes: number, responseTimeMs: number) => {
      options.keys.answered(inFlight);
      statusCounts[statusCode] = (statusCounts[statusCode] ?? 0) + 1;
      latency.record(responseTimeMs);
    });
  };
  const startedMs = performance.now();
  let perSecond: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.baseUrl,
        connections: options.connections,
        duration: options.durationSeconds,
        pipelining: 1,
        timeout: requestTimeoutSeconds,
        method: 'POST',
        headers: withAuth(jsonHeaders),
        setupClient,
      },
      (error, result) => {
        if (error) {
          reject(error);
          return;
        }
        const wallSeconds = (performance.now() - startedMs) / 1000;
        const summary = latency.summary();
        // autocannon emits one last tick, with a zero count, as it stops.
        const seconds = perSecond.slice(0, options.durationSeconds);
        resolve({
          autocannon: result,
          statusCounts,
          latency: summary,
          wallSeconds,
          perSecond: seconds,
        });
      },
    );
    perSecond = perSecondAnswers(options.label, instance);
    options.onStarted?.(() => instance.stop());
  });
}
