// The part of autocannon 9's API that bench/events-lag.ts uses (the flash-sale bench has its own
// generator). The package ships no types; this declares only what is called, checked against
// node_modules/autocannon/README.md and lib/run.js.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events';

  export interface RequestTemplate {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
  }

  export interface Request extends RequestTemplate {
    /** Called each time the request is built (once per request sent); returns what to send. */
    setupRequest?: (request: RequestTemplate, context: Record<string, unknown>) => RequestTemplate;
  }

  /** One connection. With pipelining 1 it has at most one request in flight. */
  export interface Client extends EventEmitter {
    setRequests(requests: Request[]): void;
    on(
      event: 'response',
      listener: (statusCode: number, responseBytes: number, responseTimeMs: number) => void,
    ): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
  }

  export interface Options {
    url: string;
    connections?: number;
    duration?: number;
    pipelining?: number;
    timeout?: number;
    method?: string;
    headers?: Record<string, string>;
    body?: string;
    setupClient?: (client: Client) => void;
  }

  /** hdr-histogram-percentiles-obj: latency in ms, requests in requests per second. */
  export interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p50: number;
    p90: number;
    p99: number;
    p99_9: number;
  }

  export interface Result {
    duration: number;
    samples: number;
    errors: number;
    timeouts: number;
    mismatches: number;
    non2xx: number;
    resets: number;
    statusCodeStats: Record<string, { count: number }>;
    latency: Histogram;
    requests: Histogram & { sent: number };
    throughput: Histogram;
  }

  export interface Instance extends EventEmitter {
    stop(): void;
  }

  function autocannon(
    options: Options,
    callback: (error: Error | null, result: Result) => void,
  ): Instance;

  export default autocannon;
}
