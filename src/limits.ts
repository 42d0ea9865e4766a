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
/**
 * WAL rows read per statement during recovery. Rows stream (binary COPY), so memory does not grow
 * with it; it keeps each statement far within the journal connection's statement timeout.
 */
export const recoveryPageRows = 100_000;
/**
 * Heap blocks of the WAL table read per statement when many partitions are recovered from lsn 1
 * in one pass (about 60 rows a block, 32 MiB): as a page of rows above, far within the statement
 * timeout. A page's rows are replayed partition by partition once it is read, so larger pages
 * replay with fewer switches between partitions (each switch leaves the CPU's caches cold).
 */
export const recoveryPageBlocks = 4_000;
/**
 * A snapshot larger than this is written in parts of this size, one statement each: a hot
 * partition's snapshot (41.8 MB for 380,000 pending holds) written in one statement put all its
 * bytes in Postgres's WAL at once, and the group commits behind them waited for them (the longest
 * 28-71 ms, against 8-10 ms in parts: bench/micro/snapshot-write-commits.ts).
 */
export const snapshotPartBytes = 1 << 20;
/** Expiries applied per sweep: one sweep never stalls a shard's mailbox for long. */
export const expiriesPerSweepMax = 10_000;
/** How long shutdown waits for in-flight requests before stopping the shards anyway. */
export const drainTimeoutMs = 10_000;
/** A shard that does not answer a ping this fast is not ready. */
export const pingTimeoutMs = 2_000;
/** Back-off ceilings: reloading partitions after a failed write; restarting a dead worker. */
export const journalRetryDelayMsMax = 2_000;
export const workerRestartDelayMsMax = 5_000;
/** Partitions a cluster node hands over per tick at most (a joiner takes its share gradually). */
export const clusterReleaseMax = 16;
/**
 * A request on a node of a cluster gets this long, from its arrival, to be answered: a command
 * for a partition moving between nodes (a clean hand-over) waits for its next owner within it,
 * trying again every `clusterMoveRetryMs`, and a forward carries what is left of it to the owner
 * (which does not start a command whose time is up). Past it: 503 `unavailable`.
 */
export const clusterRequestBudgetMs = 5_000;
export const clusterMoveRetryMs = 25;
/**
 * A forward that reached no one is sent again for this long at most: enough for the nodes to
 * learn where a partition went when its owner left cleanly (it tells them at once); a dead
 * owner's partitions answer 503 then until its lease runs out.
 */
export const clusterUnreachableWaitMs = 1_000;
/**
 * A node with live-feed subscribers tells the others every `feedInterestEveryMs` (at once when
 * the first one comes); a node sends its stock changes while it heard so within
 * `feedInterestHeldMs`. A subscribed key is read again `feedInterestReachMs` after subscribing,
 * by when the others have heard.
 */
export const feedInterestEveryMs = 1_000;
export const feedInterestHeldMs = 5_000;
export const feedInterestReachMs = 2_000;
/** A cluster's hand-over of partitions to or from a shard: recovering them can take minutes. */
export const handOverTimeoutMs = 600_000;

function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`limits.ts: ${message}`);
}

check(adjustDeltaMax <= onHandMax, 'one adjustment must fit within on_hand');
check(onHandMax * 2 < Number.MAX_SAFE_INTEGER, 'on_hand + delta must stay a safe integer');
check(recoveryPageRows > 0 && expiriesPerSweepMax > 0, 'page and sweep sizes must be positive');
check(pingTimeoutMs < drainTimeoutMs, 'a readiness ping must be quicker than a drain');

/** Stock views one page of the stock listing holds at most (API.md: 1..1000), and by default. */
export const stockPageItemsMax = 1000;
export const stockPageItemsDefault = 100;

check(
  0 < stockPageItemsDefault && stockPageItemsDefault <= stockPageItemsMax,
  'the default page must be a page',
);

/** Movements one page of a key's history holds at most (1..1000), and by default. */
export const movementPageItemsMax = 1000;
export const movementPageItemsDefault = 100;
/** Connections the history reads may use at once (a pool of their own, beside the shards'). */
export const historyConnectionsMax = 4;
/** A history read that takes longer is cancelled (503): a page is an index range scan. */
export const historyStatementTimeoutMs = 5_000;
/** Day tables of the movement history created ahead of today. */
export const historyDaysAhead = 7;
/** How often whole days of history older than the retention are dropped (and days created). */
export const historyMaintenanceIntervalMs = 3_600_000;
/**
 * The most a partition create or drop waits for its lock on ledger_movements: group commits
 * queue behind a waiting exclusive lock, so this bounds how long they can be held up.
 */
export const historyLockTimeoutMs = 100;
/** WAL rows one trim DELETE removes at most (a short statement; the next batch follows). */
export const walTrimBatchRows = 10_000;

check(
  0 < movementPageItemsDefault && movementPageItemsDefault <= movementPageItemsMax,
  'the default history page must be a page',
);

/** Stock keys one live-feed socket may watch. */
export const feedSubscriptionsPerSocketMax = 100;
/** Bytes queued to one live-feed socket before it is dropped as too slow (never unbounded). */
export const feedBackpressureBytesMax = 256 * 1024;
/** Largest message a live-feed client may send. */
export const feedMessageBytesMax = 16 * 1024;

/** Verified bearer tokens remembered (until their exp) so the hot path skips signature checks. */
export const authCacheEntriesMax = 10_000;
/** Clock skew allowed when checking a token's exp and nbf. */
export const authClockToleranceSeconds = 5;
/** Clients with a rate-limit bucket at once. */
export const rateLimitClientsMax = 100_000;
/** How long a forced snapshot of every partition may take before the request fails. */
export const snapshotTimeoutMs = 120_000;

/** Events handed to NATS and not yet acknowledged, at most: the publisher's memory bound. */
export const eventsInflightMax = 4096;
/** Journal rows the event publisher reads per query (spread over the partitions behind). */
export const eventsPageRowsMax = 1024;
/** A publish not acknowledged this fast fails the round: reconnect, resume from the cursors. */
export const eventsPublishTimeoutMs = 5_000;
/** The publisher reads the journal's heads this often by itself, so no record is stranded. */
export const eventsPollIntervalMs = 1_000;
/** Cursors are saved this often: a crash re-publishes at most this much (deduplicated). */
export const eventsCursorSaveIntervalMs = 100;
/** Back-off ceiling between NATS connection attempts and after failed publish rounds. */
export const eventsRetryDelayMsMax = 2_000;
/** How long stopping waits for the publisher to settle what is in flight and save cursors. */
export const eventsStopTimeoutMs = eventsPublishTimeoutMs + 3_000;

check(eventsPageRowsMax <= eventsInflightMax, 'one page of events must fit in flight');
check(eventsStopTimeoutMs > eventsPublishTimeoutMs, 'stopping must outlast a publish timeout');
/** How often an idle shard checks that its journal connection still answers. */
export const journalCheckMs = 5_000;

// ---- The shard's queues. Each is bounded; the shard refuses work (503 overloaded) before one
// ---- would pass its bound, and asserts that none ever does.

/** The largest LEDGER_SHARD_INFLIGHT_MAX accepted: requests in flight per shard. */
export const shardInflightCeiling = 1_000_000;
/**
 * The largest LEDGER_SHARD_QUEUE_DELAY_MS accepted: the longest a reserve may be let wait in a
 * shard's queue before new ones are shed (503 overloaded on the HTTP thread).
 */
export const shardQueueDelayMsCeiling = 60_000;
/**
 * Busy milliseconds a shard's drain rate is measured over before it is updated: long enough to
 * span several group commits, short enough to follow a crowd's arrival within a few windows.
 */
export const drainRateWindowMs = 100;
/**
 * A batch of the HTTP thread's (commands to a shard, forwards to other nodes: turn-batch.ts)
 * leaves once it holds this many, or its first item has waited `turnBatchWaitMsMax`, without
 * waiting for the end of the thread's turn. Under a crowd that keeps thousands of sockets
 * readable, libuv runs up to 48 polls of 1,024 events before it ends a turn (seconds at a few
 * tens of µs each): a batch left for the turn's end sat unsent that long, the shard idle, and
 * everything behind it shed as overloaded.
 */
export const turnBatchMax = 128;
export const turnBatchWaitMsMax = 10;
/** While a shard sheds reserves, one warning line at most this often says how many it refused. */
export const shedLogEveryMs = 10_000;
/**
 * uWebSockets.js closes an HTTP connection idle 10 s (its HTTP_IDLE_TIMEOUT_S, fixed), checked
 * on a 4 s tick: one idle 8 s may already be closed. A client that waits longer than this between
 * two requests may find its kept-alive connection gone.
 */
export const httpIdleSecondsMin = 8;
/**
 * The longest retry-after a shed answer gives, whole seconds. It grows with the crowd turned
 * away (queue-admission.ts), but a client waiting it out, even twice over (with jitter), must
 * come back on its open connection, before `httpIdleSecondsMin`: flash-crowd bench runs with
 * 10 and 4 here lost 26 and 41 requests ("other side closed"). It also rests on a drain rate of
 * the last moments, which a cold shard underestimates.
 */
export const shedRetryAfterSecondsMax = 3;
/** The largest LEDGER_WAL_BATCH_RECORDS_MAX accepted: rows in one group commit. */
export const walBatchRecordsCeiling = 65_536;
/**
 * The largest LEDGER_COMMITS_IN_FLIGHT accepted: group commits a shard may have in flight, each
 * on a Postgres connection of its own (so a node holds shards x (this + 1) connections, the one
 * more for snapshots). Beyond a few, commits only queue in Postgres (its WAL flush is one).
 */
export const commitsInFlightCeiling = 4;
/**
 * Journal rows appended and not yet written, per shard. Every request in flight adds at most one
 * row and a sweep at most `expiriesPerSweepMax`; beyond it commands are refused and sweeps wait,
 * so a stalled journal cannot grow memory without end.
 */
export const walPendingRecordsMax = shardInflightCeiling + 4 * expiriesPerSweepMax;
/**
 * Entries of one shard's expiry schedule. Entries of finished holds are dropped by compaction
 * once they are half the schedule, so this bounds pending holds too: reserves beyond it are
 * refused (503 overloaded). Recovery schedules every recovered hold whatever the count.
 */
export const expiryEntriesMax = 16_000_000;
/** Stale schedule entries tolerated before a compaction is considered. */
export const expiryCompactionSlack = 1_024;
/**
 * Entries a compaction pass filters with each entry scheduled or finished while it runs (whole
 * buckets, so a step may take a bucket's more): a pass over a million entries takes 250 steps.
 */
export const expiryCompactionStepEntries = 4_096;
/** System round trips (ping, metrics, snapshot) waiting on one shard at once. */
export const shardSystemRequestsMax = 256;

check(drainRateWindowMs > 0 && drainRateWindowMs < shedLogEveryMs, 'a drain window is short');
check(
  shedRetryAfterSecondsMax >= 1 && 2 * shedRetryAfterSecondsMax < httpIdleSecondsMin,
  'a shed answer says to retry after 1 s or more, and within half the idle timeout',
);
check(
  walPendingRecordsMax >= shardInflightCeiling + 2 * expiriesPerSweepMax,
  'a full set of in-flight requests and two sweeps must fit in the pending rows',
);
check(walBatchRecordsCeiling <= walPendingRecordsMax, 'a batch must fit in the pending rows');
check(expiryEntriesMax > 2 * expiryCompactionSlack, 'the schedule must outgrow its slack');

/**
 * The journal's ownership lease (src/persistence/journal-owner.ts). Postgres probes the lock's
 * session with TCP keepalives and frees the lock of a ledger that vanished (its machine died, the
 * network was cut) after idle + interval × count seconds; a waiting ledger may then take it.
 */
export const journalOwnerKeepaliveIdleSeconds = 10;
export const journalOwnerKeepaliveIntervalSeconds = 5;
export const journalOwnerKeepaliveCount = 3;
/** The ledger asks its ownership connection this often whether it still answers... */
export const journalOwnerProbeMs = 2_000;
/** ...and takes it for lost (fencing itself) when a probe or re-claim query takes longer. */
export const journalOwnerQueryTimeoutMs = 5_000;
/** Re-claiming a lost lock: the first retry's delay, doubling up to the ceiling. */
export const journalReclaimDelayMsMin = 50;
export const journalReclaimDelayMsMax = 2_000;

check(
  journalOwnerProbeMs + journalOwnerQueryTimeoutMs <
    (journalOwnerKeepaliveIdleSeconds +
      journalOwnerKeepaliveIntervalSeconds * journalOwnerKeepaliveCount) *
      1000,
  'a ledger cut off from its journal must fence itself before Postgres frees its lock',
);
check(
  0 < journalReclaimDelayMsMin && journalReclaimDelayMsMin <= journalReclaimDelayMsMax,
  're-claim back-off bounds must be positive and ordered',
);

/** Connections the health listener holds at once; more are refused when accepted. */
export const healthConnectionsMax = 64;
/** Largest request head the health listener parses (node's own default is 16 KiB). */
export const healthHeaderBytesMax = 8 * 1024;
/** A health client has this long to send its request head (slow-loris bound). */
export const healthHeadersTimeoutMs = 10_000;
/** ...and this long for its whole request. */
export const healthRequestTimeoutMs = 15_000;
/** An idle kept-alive health connection is closed after this long. */
export const healthKeepAliveTimeoutMs = 5_000;
/** A health connection with no traffic either way for this long is closed (slow readers too). */
export const healthSocketIdleMs = 30_000;

check(
  healthHeadersTimeoutMs <= healthRequestTimeoutMs,
  'node:http refuses a head timeout longer than the request timeout',
);
check(
  pingTimeoutMs < healthSocketIdleMs,
  'a readiness check (shard pings) must answer before its connection counts as idle',
);

// ---- Moving a hash v1 journal to hash v2 (`ledger migrate-partitions`).

/**
 * Reservation routes (id -> partition) the migration may write and a ledger loads into memory
 * (about 100 bytes each, a fraction of the hold each one points at). The migration refuses,
 * changing nothing, rather than write more; a start refuses a table holding more.
 */
export const reservationRoutesMax = 10_000_000;
/** Route rows per INSERT and per page read at start. */
export const reservationRoutesPageRows = 10_000;
/**
 * How long the migration waits for the journal's ownership lock. It runs offline: a lock held
 * longer than a dead ledger's keepalive takes to free it means a ledger is running.
 */
export const migrationClaimWaitMs = 3_000;

check(reservationRoutesPageRows > 0, 'route pages must hold rows');
check(reservationRoutesPageRows <= reservationRoutesMax, 'a page of routes must fit the bound');

/**
 * A cart's holds prepared in a partition (or pinned there by a cart confirm attempt) stay in
 * doubt until the home's decision is known. A coordinator decides within milliseconds; holds in
 * doubt for this long have lost theirs (it died, or a message was lost), and the resolver asks
 * the cart's home, which aborts if it has not decided.
 */
export const cartInDoubtAfterMs = 5_000;
/** A pinned hold the expiry sweep meets is looked at again this much later. */
export const pinnedRecheckMs = 1_000;
/** How often the resolver asks every shard for carts in doubt. */
export const cartResolveIntervalMs = 1_000;
/** Carts one shard names per answer to the resolver (the rest come at the next round). */
export const cartsInDoubtPerAnswerMax = 1_000;
/**
 * Holds one cart may make: lines (at most 100, configurable up to this) each split over a few
 * warehouses. Its records go to the journal in one write, so this also bounds one write's size.
 */
export const cartHoldsMax = 1_000;
/** Lines of one cart, at most (the configurable bound may only be lower). */
export const cartLinesCeiling = 1_000;

check(cartHoldsMax < walBatchRecordsCeiling, "a cart's records must fit one write");

/**
 * Buyers one product counts toward its purchase limit at once (each with its holds of the
 * window). Measured by bench/micro/buyer-limits.ts: about 160 bytes of heap a buyer with one
 * hold, beyond the hold itself, so a million buyers cost about 150 MiB of the product's shard.
 */
export const buyersPerProductMax = 1_000_000;

/**
 * Transfers in transit one partition keeps at most. They are never forgotten while in transit
 * (retention applies only once received or cancelled), so this bounds them: beyond it a new
 * transfer in transit is refused with 503 overloaded until some arrive or are cancelled.
 */
export const transfersInTransitMax = 100_000;

/**
 * Lots one stock key keeps at most. A lot is never forgotten (its expires_on may never change,
 * so its id may not be re-used with another date), so this bounds a key's lot book: beyond it a
 * new lot is refused with 422 (`lot.lot_id`, or `quantity` for a transfer bringing one).
 */
export const lotsPerKeyMax = 1000;

// ---- Stock imports (POST /v1/stock/import): one NDJSON file, its lines applied one by one.

/** The largest LEDGER_IMPORT_BYTES_MAX accepted: a file is held whole in memory while it runs. */
export const importBytesCeiling = 64 * 1024 * 1024;
/** The largest LEDGER_IMPORT_LINES_MAX accepted: the answer holds one result per line. */
export const importLinesCeiling = 100_000;
/**
 * Lines of one import sent to shards and not yet answered. Enough to fill a group commit per
 * shard; far below a shard's default in-flight bound (8192), so checkout traffic keeps room.
 */
export const importLinesInFlightMax = 128;
/**
 * A line refused at dispatch because its shard is at its in-flight bound (nothing was done) is
 * sent again after a wait, starting here and doubling up to the ceiling...
 */
export const importRetryDelayMsMin = 5;
export const importRetryDelayMsMax = 200;
/**
 * ...for at most this long over the whole import. After that, a line refused so is answered in
 * its result with 503 `overloaded` at once, and the import goes on with the next lines.
 */
export const importOverloadedWaitMsMax = 30_000;

check(importLinesInFlightMax <= shardInflightCeiling, 'an import cannot outrun a shard bound');
check(
  0 < importRetryDelayMsMin && importRetryDelayMsMin <= importRetryDelayMsMax,
  'import retry back-off bounds must be positive and ordered',
);
check(
  importRetryDelayMsMax < importOverloadedWaitMsMax,
  'an import must be able to wait for an overloaded shard more than once',
);

/** Spans wait at most this long before they are exported in a batch (tracing, when on). */
export const traceExportDelayMs = 1000;

/** The live page's summary (GET /v1/ui/summary) covers about this much recent time. */
export const summaryWindowMs = 60_000;
/**
 * Samples of the cumulative histograms the summary keeps, taken only when it is asked for and
 * at least this far apart: however often pages poll, a window holds a bounded number of them.
 */
export const summarySampleSpacingMs = 5_000;
export const summarySamplesMax = Math.ceil(summaryWindowMs / summarySampleSpacingMs) + 1;
/**
 * A summary computed less than this long ago is answered again: however many pages poll, the
 * HTTP thread computes (and asks the shards for their histograms) at most once per this time.
 */
export const summaryReuseMs = 1_000;
/** A window shorter than this says too little: the summary shows no rate until it has more. */
export const summaryWindowMinMs = 1_000;

check(
  summaryWindowMinMs < summarySampleSpacingMs && summarySampleSpacingMs < summaryWindowMs,
  'a summary window must hold several samples',
);

/**
 * How long one slice of a snapshot may stop its shard (snapshots are captured and encoded a
 * slice at a time between turns: src/shards/snapshot-slicer.ts), and the values one slice may
 * capture at most whatever the clock says.
 */
export const snapshotSliceMs = 0.5;
export const snapshotSliceUnitsMax = 1_000_000;
/**
 * An expiry or lot write-off sweep stops after this long (in batches of `sweepBatch`) and goes
 * on in the next turn, so a storm of due holds never stops a shard for long at once.
 */
export const sweepSliceMs = 1;
export const sweepBatch = 128;

/**
 * Timeline events one thread keeps in memory between two appends to its file (about a second):
 * far above what a thread records in a second under load (commits, GCs, reply batches), so only
 * a stuck disk reaches it; events past it are counted and the file says how many went missing.
 */
export const timelineEventsBufferedMax = 200_000;
