// Every message that crosses the router <-> shard thread boundary, typed in one place.
// Commands and replies travel in batches, msgpack-encoded; system messages are rare and go as
// plain structured-clone objects. Replies are values (an outcome), never rendered text: the
// HTTP thread renders each exactly once, and nothing parses its own output back.
import { Packr } from 'msgpackr';
import { merged, type Command, type Outcome, type RetentionPolicy } from '../actors/index.js';

/** One command for one partition, correlated by `id` (unique per shard channel). */
export interface ShardRequest {
  readonly id: number;
  readonly partition: number;
  readonly command: Command;
}

/** Why the shard did nothing: its journal cannot take work now, or it is at a bound. */
export interface ShardFailure {
  readonly ok: false;
  readonly code: 'unavailable' | 'overloaded';
  readonly message?: string;
  /**
   * The retry-after header's seconds, when the refusal knows better than 1 (a shed reserve or
   * cart: queue-admission.ts). Not part of the body.
   */
  readonly retryAfterSeconds?: number;
}

export type ShardOutcome = Outcome | ShardFailure;

/** A group commit as traced: its start and end (epoch ms, fractional) and its rows. */
export type CommitTiming = readonly [startedMs: number, endedMs: number, rows: number];

export interface ShardReply {
  readonly id: number;
  readonly outcome: ShardOutcome;
  /**
   * The group commit that made the reply's records durable, only while tracing is on (the
   * HTTP thread draws it as a span) and only for replies that waited for one.
   */
  readonly commit?: CommitTiming;
  /** In a cluster: the node that owns the partition and answered (a forwarded command). */
  readonly servedBy?: string;
  /**
   * In a cluster: refused before anything was applied because the partition is moving between
   * nodes; the router sends it again once the partition has its next owner.
   */
  readonly moved?: true;
  /**
   * With `moved`: the forward reached no one (nobody listens on the owner's subject: it just
   * left, or it died). Sent again only briefly: a node that left is replaced at once, a dead one
   * only when its lease runs out, and its partitions' requests get 503 meanwhile.
   */
  readonly unreachable?: true;
}

export function failure(
  id: number,
  code: ShardFailure['code'],
  message?: string,
  retryAfterSeconds?: number,
): { readonly id: number; readonly outcome: ShardFailure } {
  // No `message: undefined` property: every reply crosses the thread boundary as it is.
  const outcome: ShardFailure =
    message === undefined ? { ok: false, code } : { ok: false, code, message };
  return {
    id,
    outcome: retryAfterSeconds === undefined ? outcome : merged(outcome, { retryAfterSeconds }),
  };
}

export interface ShardWorkerData {
  readonly shard: number;
  readonly partitions: readonly number[];
  /** The journal's partitions, all shards' (recovery reads many of them in one pass). */
  readonly partitionCount: number;
  readonly databaseUrl: string;
  readonly retention: RetentionPolicy;
  readonly walBatchRecordsMax: number;
  /** Group commits in flight at most, each on a connection of its own. */
  readonly commitsInFlight: number;
  readonly snapshotEveryRecords: number;
  readonly expirySweepMs: number;
  /** Requests the channel lets be in flight at once: the reply gate's bound. */
  readonly inflightMax: number;
  readonly logLevel: string;
  /** Tracing is on: replies carry the timing of the group commit they waited for. */
  readonly traceCommits: boolean;
  /** LEDGER_TIMELINE_FILE: the prefix of this thread's timeline file; undefined: off. */
  readonly timelineFile?: string;
  /**
   * LEDGER_SHARD_YOUNG_GENERATION_MB: the thread's young generation (the worker's
   * resourceLimits), read by the channel that starts it; undefined: V8's default.
   */
  readonly youngGenerationMb?: number;
  /**
   * In a cluster: this node's id (its writes are fenced by it) and the leases the shard starts
   * with, [partition, epoch]; `partitions` is then ignored. Partitions come and go later by
   * `adopt` and `drop`.
   */
  readonly cluster?: { readonly node: string; readonly leases: readonly Lease[] };
}

/** A partition's lease as a shard holds it: [partition, fencing epoch]. */
export type Lease = readonly [partition: number, epoch: number];

/** A stock key's durable state after a change: what the live feed and read view show. */
export type StockChange = [
  productId: string,
  warehouseId: string,
  onHand: number,
  reserved: number,
  version: number,
  /** Units in transit toward the key; left out when 0 (most keys never see a transfer). */
  incoming?: number,
  /** 1: the key has named lots, whose view only its shard has; left out otherwise. */
  lots?: 1,
];

/** A key's change with its incoming and lots flag, each only when it has them. */
export function stockChangeOf(
  productId: string,
  warehouseId: string,
  counts: readonly [onHand: number, reserved: number, version: number, incoming: number],
  lots: boolean,
): StockChange {
  const [onHand, reserved, version, incoming] = counts;
  const change: StockChange = [productId, warehouseId, onHand, reserved, version];
  if (incoming !== 0 || lots) change.push(incoming);
  if (lots) change.push(1);
  return change;
}

/**
 * Sent after each group commit: how far each touched partition's journal is now durable (the
 * event publisher's wake-up) and the latest durable state of each changed stock key.
 */
export interface DurableChanges {
  /** Flattened pairs: partition, lsn, partition, lsn, ... */
  readonly durableLsns: number[];
  readonly stock: StockChange[];
  /**
   * Until when the durable state of this shard's keys answers a stock read exactly: no hold
   * pending in the journal expires before it (Infinity: none is pending). At and after it, a
   * read goes to the shard, which expires what is due first.
   */
  readonly readableUntilMs: number;
}

export interface RecoveryStats {
  readonly partitions: number;
  readonly snapshots: number;
  readonly records: number;
  readonly durationMs: number;
  /** The shard thread's own CPU time from its birth (boot, modules) to ready, where Linux says. */
  readonly cpuMs?: number;
}

export type ToShard =
  | { readonly kind: 'requests'; readonly payload: Uint8Array }
  | { readonly kind: 'ping'; readonly id: number }
  | { readonly kind: 'metrics'; readonly id: number }
  | { readonly kind: 'snapshot'; readonly id: number }
  | { readonly kind: 'in-doubt'; readonly id: number }
  /** A cluster hands partitions over to this shard: recover them, then serve them. */
  | { readonly kind: 'adopt'; readonly id: number; readonly leases: readonly Lease[] }
  /** A cluster takes partitions away (`handOver`: after their writes end and a snapshot). */
  | {
      readonly kind: 'drop';
      readonly id: number;
      readonly partitions: readonly number[];
      readonly handOver: boolean;
    }
  | { readonly kind: 'stop' };

export type FromShard =
  /**
   * Replies, and the durable changes told just before them (a group commit's: its replies come
   * out right after its changes), taken first: a reply must find its change in the read view.
   * One message a commit, not two: a message costs the two threads 12–15 µs of CPU
   * (bench/micro/post-message.ts).
   */
  | { readonly kind: 'replies'; readonly payload: Uint8Array; readonly changes?: DurableChanges }
  /** Durable changes with no reply to go with them (expiries, a read bound that moved). */
  | { readonly kind: 'durable'; readonly changes: DurableChanges }
  /** After a recovery: every stock key of those partitions, as the journal holds it. */
  | {
      readonly kind: 'census';
      readonly partitions: readonly number[];
      readonly payload: Uint8Array;
      readonly readableUntilMs: number;
    }
  | { readonly kind: 'ready'; readonly recovery: RecoveryStats }
  | { readonly kind: 'pong'; readonly id: number; readonly journalWritable: boolean }
  | { readonly kind: 'metrics'; readonly id: number; readonly metrics: unknown }
  | { readonly kind: 'snapshot-done'; readonly id: number; readonly partitions: number }
  /** Carts whose holds here have been in doubt for a while: the resolver asks their homes. */
  | { readonly kind: 'in-doubt'; readonly id: number; readonly carts: readonly CartInDoubt[] }
  | { readonly kind: 'adopted'; readonly id: number; readonly recovery: RecoveryStats }
  | { readonly kind: 'dropped'; readonly id: number }
  | { readonly kind: 'stopped' }
  /** The thread is about to die of an assertion; `invariant` if a stock invariant broke. */
  | { readonly kind: 'fatal'; readonly message: string; readonly invariant: boolean };

export type SystemRequestKind = 'ping' | 'metrics' | 'snapshot' | 'in-doubt';

/**
 * A cart with prepared holds in `partition` and no decision known there; with `attempt`, a cart
 * whose holds there are pinned by that confirm attempt, awaiting its decision.
 */
export interface CartInDoubt {
  readonly partition: number;
  readonly cartId: string;
  readonly attempt?: string;
}

/**
 * The shapes (keys, in order) of the objects the hot path sends most: a reserve, a confirm and a
 * release, their answers, and the refusals under load. Both threads know them from this module,
 * so a batch names each by a number. Any other shape (or the same keys in another order) is
 * defined in the message that holds it, as every shape once was: correct, only slower. That
 * cost each message a record definition per shape and, on the receiving side, a reader made
 * afresh per shape and message (msgpackr compiles one with `new Function` once a shape is read
 * three times): decoding a batch of 8 reserves, about what the hot shard gets a message, took
 * 11.5 µs against 2.7 µs with the shapes known (`npx tsx bench/micro/hot-paths.ts`, 2-vCPU AMD
 * EPYC). test/unit/shard-protocol.test.ts checks the hot path's messages, made as the ledger
 * makes them, have only these shapes.
 */
export const batchShapes: readonly (readonly string[])[] = [
  // A request, and a reserve as the router sends it (the validator's, with the id it mints).
  ['id', 'partition', 'command'],
  [
    'kind',
    'productId',
    'warehouseId',
    'quantity',
    'idempotencyKey',
    'ttlSeconds',
    'requesterId',
    'traceId',
    'reservationId',
  ],
  // A confirm or a release, anonymous.
  ['kind', 'reservationId', 'traceId'],
  // A reply, a hold's answer and the hold.
  ['id', 'outcome'],
  ['ok', 'reservation', 'replayed'],
  ['ok', 'reservation'],
  ['reservationId', 'status', 'productId', 'warehouseId', 'quantity', 'expiresAtMs', 'createdAtMs'],
  // ... and confirmed.
  [
    'reservationId',
    'status',
    'productId',
    'warehouseId',
    'quantity',
    'expiresAtMs',
    'createdAtMs',
    'confirmedQuantity',
  ],
  // Refusals: sold out, and the shard's own under load.
  ['ok', 'code', 'details'],
  ['available'],
  ['ok', 'code'],
  ['ok', 'code', 'message'],
  ['ok', 'code', 'message', 'retryAfterSeconds'],
];

/**
 * A batch codec: one per thread (this module's), and one more per test that plays the other
 * thread. Its encoder and decoder are apart, so that a message decoded never leaves a shape of
 * its own where the next one encoded would see it.
 */
export function batchCodec(): {
  encode(items: readonly unknown[]): Uint8Array;
  decode(payload: Uint8Array): unknown[];
} {
  // Each its own copy of the shapes: msgpackr keeps its readers on them.
  const codecPackr = () =>
    new Packr({
      useRecords: true,
      moreTypes: false,
      structures: batchShapes.map((keys) => [...keys]),
      maxSharedStructures: batchShapes.length,
      // Never add a shape at run time: the other thread would not know it.
      shouldShareStructure: () => false,
    });
  const packer = codecPackr();
  const unpacker = codecPackr();
  return {
    // Its own right-sized buffer, to be transferred (not copied) to the other thread. msgpackr
    // returns views into a buffer it shares across all its encoders; posting such a view would
    // copy the whole shared buffer (megabytes after a large snapshot) on every batch.
    encode: (items) => new Uint8Array(packer.pack(items)),
    decode: (payload) => unpacker.unpack(payload) as unknown[],
  };
}

const codec = batchCodec();
/** Censuses: arrays of tuples, no records. */
const packr = new Packr({ useRecords: false, moreTypes: false });

/** Packs a batch into its own buffer, to be transferred to the other thread. */
export function encodeBatch(items: readonly ShardRequest[] | readonly ShardReply[]): Uint8Array {
  return codec.encode(items);
}

export function decodeRequests(payload: Uint8Array): ShardRequest[] {
  return codec.decode(payload) as ShardRequest[];
}

export function decodeReplies(payload: Uint8Array): ShardReply[] {
  return codec.decode(payload) as ShardReply[];
}

/** A census can hold every key of a large catalogue: packed once, transferred, not cloned. */
export function encodeCensus(stock: readonly StockChange[]): Uint8Array {
  return new Uint8Array(packr.pack(stock));
}

export function decodeCensus(payload: Uint8Array): StockChange[] {
  return packr.unpack(payload) as StockChange[];
}
