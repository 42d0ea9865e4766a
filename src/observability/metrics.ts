// The main thread's metrics, and /metrics: this registry merged with each shard worker's.
import client from 'prom-client';
import { rateLimitClientsMax } from '../limits.js';
import { HotKeys } from './hot-keys.js';
import { TalliedHistogram } from './tallied-histogram.js';

export interface IngressMetrics {
  readonly registry: client.Registry;
  /** Reserve requests answered by result: the count of `reservationSeconds`'s series, when read. */
  readonly reservationAttempts: client.Counter<'result'>;
  readonly reservationSeconds: TalliedHistogram;
  /** Carts placed through the coordinator, by result and scope (single or cross partition). */
  readonly cartAttempts: client.Counter<'result' | 'scope'>;
  readonly cartSeconds: TalliedHistogram;
  /** Lines of stock imports, by result (ok or the error code the line alone would have had). */
  readonly importLines: client.Counter<'result'>;
  /** Movement history pages read from the journal, by result (ok, unavailable). */
  readonly historyQueries: client.Counter<'result'>;
  readonly historyQuerySeconds: client.Histogram;
  /** Day tables of the movement history dropped for being older than the retention. */
  readonly historyPartitionsDropped: client.Counter;
  readonly availableStock: client.Gauge<'product_id' | 'warehouse_id'>;
  /** Fed with every durable stock change; the gauge shows its top N at each scrape. */
  readonly hotKeys: HotKeys;
  readonly oversellIncidents: client.Counter;
  readonly shardQueueDepth: client.Gauge<'shard'>;
  readonly rateLimitClients: client.Gauge;
}

export function createIngressMetrics(
  queueDepths: () => readonly number[],
  hotKeysShown: number,
  /** Clients the rate limiter keeps a token bucket for (0 while it is off). */
  rateLimitClients: () => number = () => 0,
): IngressMetrics {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const hotKeys = new HotKeys(hotKeysShown);
  // Observed on every reserve answered: counted in arrays, read by prom-client when scraped.
  const reservationSeconds = new TalliedHistogram({
    name: 'inventory_reservation_duration_seconds',
    help: 'Time from a reserve request to its answer',
    labelName: 'result',
    buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.12, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return {
    registry,
    hotKeys,
    reservationAttempts: new client.Counter({
      name: 'inventory_reservation_attempts_total',
      help: 'Reserve requests answered, by result (ok or the error code)',
      labelNames: ['result'],
      registers: [registry],
      collect() {
        this.reset();
        for (const series of reservationSeconds.allSeries()) {
          this.inc({ result: series.label }, series.count);
        }
      },
    }),
    reservationSeconds,
    cartAttempts: new client.Counter({
      name: 'inventory_cart_attempts_total',
      help:
        'Carts that reached placement, by result (ok or the error code) and scope: single ' +
        '(one partition, one atomic turn) or cross (two-phase over several partitions)',
      labelNames: ['result', 'scope'],
      registers: [registry],
    }),
    cartSeconds: new TalliedHistogram({
      name: 'inventory_cart_duration_seconds',
      help: 'Time from a POST /v1/carts request to its answer, by result (refusals too)',
      labelName: 'result',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.12, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    ...importMetrics(registry),
    ...historyMetrics(registry),
    availableStock: new client.Gauge({
      name: 'inventory_available_stock',
      help: 'Available units of the N most frequently changed stock keys (durable values)',
      labelNames: ['product_id', 'warehouse_id'],
      registers: [registry],
      collect() {
        // Keys that cooled down leave the set, so their series disappear instead of going stale.
        this.reset();
        for (const key of hotKeys.top()) {
          this.set({ product_id: key.productId, warehouse_id: key.warehouseId }, key.available);
        }
      },
    }),
    oversellIncidents: new client.Counter({
      name: 'inventory_oversell_incidents_total',
      help: 'Invariant violations (reserved > on_hand or negative stock) caught; must stay 0',
      registers: [registry],
    }),
    ...admissionMetrics(registry, queueDepths, rateLimitClients),
  };
}

/** How full the ways in are: each shard's queue, and the rate limit's table of clients. */
function admissionMetrics(
  registry: client.Registry,
  queueDepths: () => readonly number[],
  rateLimitClients: () => number,
): Pick<IngressMetrics, 'shardQueueDepth' | 'rateLimitClients'> {
  return {
    shardQueueDepth: new client.Gauge({
      name: 'ledger_shard_queue_depth',
      help: 'Requests sent to a shard and not yet answered',
      labelNames: ['shard'],
      registers: [registry],
      collect() {
        queueDepths().forEach((depth, shard) => this.set({ shard: String(shard) }, depth));
      },
    }),
    rateLimitClients: new client.Gauge({
      name: 'ledger_rate_limit_clients',
      help:
        'Clients with a token bucket of the rate limit (idle ones are dropped; at its bound of ' +
        `${rateLimitClientsMax} the oldest bucket goes, and its client starts again with a full one)`,
      registers: [registry],
      collect() {
        this.set(rateLimitClients());
      },
    }),
  };
}

function importMetrics(registry: client.Registry): Pick<IngressMetrics, 'importLines'> {
  return {
    importLines: new client.Counter({
      name: 'inventory_stock_import_lines_total',
      help: 'Lines of POST /v1/stock/import, by result (ok or the error code of the line)',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}

function historyMetrics(
  registry: client.Registry,
): Pick<IngressMetrics, 'historyQueries' | 'historyQuerySeconds' | 'historyPartitionsDropped'> {
  return {
    historyQueries: new client.Counter({
      name: 'ledger_history_queries_total',
      help: 'Movement history pages read from the journal, by result (ok or unavailable)',
      labelNames: ['result'],
      registers: [registry],
    }),
    historyQuerySeconds: new client.Histogram({
      name: 'ledger_history_query_duration_seconds',
      help: 'Time one movement history page took to read from the journal',
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    historyPartitionsDropped: new client.Counter({
      name: 'ledger_history_partitions_dropped_total',
      help: 'Day tables of the movement history dropped for being older than the retention',
      registers: [registry],
    }),
  };
}

/** Merges the ingress registry with the shard workers' (as prom-client's cluster mode does). */
export async function renderMetrics(
  registry: client.Registry,
  workers: readonly unknown[],
): Promise<string> {
  const own = await registry.getMetricsAsJSON();
  const merged = client.AggregatorRegistry.aggregate([
    own,
    ...workers,
  ] as client.MetricObjectWithValues<client.MetricValue<string>>[][]);
  return merged.metrics();
}
