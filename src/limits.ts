// Every fixed bound of the ledger in one place (configurable ones live in config.ts). The
// relations between them are checked when this module loads, so a bad edit fails at start.

/** Largest |delta| of one stock adjustment. */
export const adjustDeltaMax = 1_000_000_000;
/** Largest on_hand of a stock key: far below 2^53, so every sum of quantities stays exact. */
export const onHandMax = 1_000_000_000_000;
/** Longest adjustment reason, in characters. */
export const reasonLengthMax = 500;
/** Partitions a reservation id can name (its first 16 bits). */
export const partitionsMax = 0x10000;
/** Stock keys that get an inventory_available_stock series (bounded label cardinality). */
export const availableStockKeysMax = 1_000;
/** WAL rows read per query during recovery: bounds recovery memory. */
export const recoveryPageRows = 10_000;
/** Expiries applied per sweep: one sweep never stalls a shard's mailbox for long. */
export const expiriesPerSweepMax = 10_000;
/** How long shutdown waits for in-flight requests before stopping the shards anyway. */
export const drainTimeoutMs = 10_000;
/** A shard that does not answer a ping this fast is not ready. */
export const pingTimeoutMs = 2_000;
/** Back-off ceilings: reloading partitions after a failed write; restarting a dead worker. */
export const journalRetryDelayMsMax = 2_000;
export const workerRestartDelayMsMax = 5_000;

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`limits.ts: ${message}`);
}

check(adjustDeltaMax <= onHandMax, 'one adjustment must fit within on_hand');
check(onHandMax * 2 < Number.MAX_SAFE_INTEGER, 'on_hand + delta must stay a safe integer');
check(recoveryPageRows > 0 && expiriesPerSweepMax > 0, 'page and sweep sizes must be positive');
check(pingTimeoutMs < drainTimeoutMs, 'a readiness ping must be quicker than a drain');

/** Stock keys one live-feed socket may watch. */
export const feedSubscriptionsPerSocketMax = 100;
/** Bytes queued to one live-feed socket before it is dropped as too slow (never unbounded). */
export const feedBackpressureBytesMax = 256 * 1024;
/** Largest message a live-feed client may send. */
export const feedMessageBytesMax = 16 * 1024;
