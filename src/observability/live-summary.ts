// The live page's numbers (GET /v1/ui/summary), computed on the HTTP thread only when asked: the
// rate and p99 of reserves and carts over about the last minute (from the HTTP thread's own
// histograms), the journal's flush p99 over the same window (from the shards' histograms) and
// requests in flight, the event publisher's lag, the hot keys and which of them are sold out.
// Nothing here runs per request: a reserve only ever touches the histograms it already fed.
import {
  summaryReuseMs,
  summarySampleSpacingMs,
  summarySamplesMax,
  summaryWindowMinMs,
  summaryWindowMs,
} from '../limits.js';
import {
  ReadingWindow,
  bucketsOf,
  countOf,
  difference,
  quantileOf,
  type Buckets,
  type MetricJson,
  type Reading,
} from './histogram-window.js';
import type { IngressMetrics } from './metrics.js';

export interface EventLag {
  readonly connected: boolean;
  readonly lagRecords: number;
  readonly lagSeconds: number;
}

export interface SummarySources {
  /** The two histograms are only read (`get`), as prom-client reads any metric. */
  readonly metrics: {
    readonly reservationSeconds: Pick<IngressMetrics['reservationSeconds'], 'get'>;
    readonly cartSeconds: Pick<IngressMetrics['cartSeconds'], 'get'>;
    readonly hotKeys: IngressMetrics['hotKeys'];
  };
  /** Every shard's registry as prom-client JSON (the shards that answered). */
  readonly shardMetrics: () => Promise<readonly unknown[]>;
  /** Requests sent to each shard and not yet answered. */
  readonly queueDepths: () => readonly number[];
  /** Undefined when event publishing is off. */
  readonly events: () => EventLag | undefined;
  readonly now: () => number;
}

const reserveHistogram = 'inventory_reservation_duration_seconds';
const cartHistogram = 'inventory_cart_duration_seconds';
const flushHistogram = 'ledger_journal_flush_duration_seconds';

interface Rate {
  readonly requests: number | null;
  readonly per_second: number | null;
  readonly p99_seconds: number | null;
}

const unknownRate: Rate = { requests: null, per_second: null, p99_seconds: null };

/** Six decimals: microseconds for durations, plenty for rates. */
const rounded = (value: number): number => Math.round(value * 1e6) / 1e6;

export class LiveSummary {
  private readonly window: ReadingWindow;
  /** The last summary (or the one being computed) and when it was asked for. */
  private latest: { readonly askedAtMs: number; readonly json: Promise<string> } | undefined;

  constructor(
    private readonly sources: SummarySources,
    startMs: number,
  ) {
    this.window = new ReadingWindow(startMs, {
      windowMs: summaryWindowMs,
      spacingMs: summarySampleSpacingMs,
      windowMinMs: summaryWindowMinMs,
      readingsMax: summarySamplesMax,
    });
  }

  /** The summary's JSON body: the last one again if it is recent (or still being computed). */
  json(): Promise<string> {
    const askedAtMs = this.sources.now();
    if (this.latest !== undefined && askedAtMs - this.latest.askedAtMs < summaryReuseMs) {
      return this.latest.json;
    }
    const json = this.compute();
    this.latest = { askedAtMs, json };
    // A failed one is not answered again: the next request computes anew.
    json.catch(() => {
      if (this.latest?.json === json) this.latest = undefined;
    });
    return json;
  }

  private async compute(): Promise<string> {
    const now = await this.read();
    const baseline = this.window.baselineFor(now);
    const windowSeconds = baseline === undefined ? null : (now.atMs - baseline.atMs) / 1000;
    const rate = (name: string): Rate => {
      const later = now.histograms.get(name) ?? new Map<number, number>();
      const delta =
        baseline === undefined
          ? undefined
          : difference(later, baseline.histograms.get(name) ?? new Map());
      return rateOf(delta, windowSeconds);
    };
    const hot = this.sources.metrics.hotKeys.top().map((key) => ({
      product_id: key.productId,
      warehouse_id: key.warehouseId,
      available: key.available,
    }));
    const events = this.sources.events();
    const flush = rate(flushHistogram);
    return JSON.stringify({
      at: new Date(now.atMs).toISOString(),
      window_seconds: windowSeconds === null ? null : rounded(windowSeconds),
      reserve: rate(reserveHistogram),
      carts: rate(cartHistogram),
      journal: {
        in_flight: this.sources.queueDepths().reduce((sum, depth) => sum + depth, 0),
        flushes: flush.requests,
        flush_p99_seconds: flush.p99_seconds,
      },
      events:
        events === undefined
          ? null
          : {
              connected: events.connected,
              lag_records: events.lagRecords,
              lag_seconds: rounded(events.lagSeconds),
            },
      hot_keys: hot,
      sold_out: hot
        .filter((key) => key.available <= 0)
        .map(({ product_id, warehouse_id }) => ({ product_id, warehouse_id })),
    });
  }

  /** The three histograms now: two of this thread, the journal's summed over the shards. */
  private async read(): Promise<Reading> {
    const { reservationSeconds, cartSeconds } = this.sources.metrics;
    const [reserve, cart, shards] = await Promise.all([
      reservationSeconds.get(),
      cartSeconds.get(),
      this.sources.shardMetrics(),
    ]);
    const own = [reserve, cart] as unknown as MetricJson[];
    const fromShards = (shards as readonly (readonly MetricJson[])[]).flat();
    return {
      atMs: this.sources.now(),
      histograms: new Map([
        [reserveHistogram, bucketsOf(own, reserveHistogram)],
        [cartHistogram, bucketsOf(own, cartHistogram)],
        [flushHistogram, bucketsOf(fromShards, flushHistogram)],
      ]),
    };
  }
}

function rateOf(delta: Buckets | undefined, windowSeconds: number | null): Rate {
  if (delta === undefined || windowSeconds === null) return unknownRate;
  const requests = countOf(delta);
  const p99 = quantileOf(delta, 0.99);
  return {
    requests,
    per_second: rounded(requests / windowSeconds),
    p99_seconds: p99 === undefined ? null : rounded(p99),
  };
}
