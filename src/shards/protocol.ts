// Every message that crosses the router <-> shard thread boundary, typed in one place.
// Commands and replies travel in batches, msgpack-encoded; system messages are rare and go as
// plain structured-clone objects.
import { Packr } from 'msgpackr';
import type { Command, RetentionPolicy } from '../actors/index.js';

/** One command for one partition, correlated by `id` (unique per shard host). */
export interface ShardRequest {
  readonly id: number;
  readonly partition: number;
  readonly command: Command;
}

/** The HTTP answer, fully formed by the shard so the ingress thread only writes it out. */
export interface ShardReply {
  readonly id: number;
  readonly status: number;
  readonly body: string;
  /** True when an earlier identical request's answer is being repeated (idempotent replay). */
  readonly replayed: boolean;
}

export interface ShardWorkerData {
  readonly shard: number;
  readonly partitions: readonly number[];
  readonly databaseUrl: string;
  readonly retention: RetentionPolicy;
  readonly walBatchRecordsMax: number;
  readonly snapshotEveryRecords: number;
  readonly expirySweepMs: number;
  readonly logLevel: string;
}

/** A stock key's state after a durable change: what the live feed shows. */
export type StockChange = [
  productId: string,
  warehouseId: string,
  available: number,
  version: number,
];

/**
 * Sent after each group commit: how far each touched partition's journal is now durable (the
 * event publisher's wake-up) and the latest durable state of each changed stock key.
 */
export interface DurableChanges {
  /** Flattened pairs: partition, lsn, partition, lsn, ... */
  readonly durableLsns: number[];
  readonly stock: StockChange[];
}

export interface RecoveryStats {
  readonly partitions: number;
  readonly snapshots: number;
  readonly records: number;
  readonly durationMs: number;
}

export type ToShard =
  | { readonly kind: 'requests'; readonly payload: Uint8Array }
  | { readonly kind: 'ping'; readonly id: number }
  | { readonly kind: 'metrics'; readonly id: number }
  | { readonly kind: 'snapshot'; readonly id: number }
  | { readonly kind: 'stop' };

export type FromShard =
  | { readonly kind: 'replies'; readonly payload: Uint8Array }
  | { readonly kind: 'durable'; readonly changes: DurableChanges }
  | { readonly kind: 'ready'; readonly recovery: RecoveryStats }
  | { readonly kind: 'pong'; readonly id: number; readonly journalWritable: boolean }
  | { readonly kind: 'metrics'; readonly id: number; readonly metrics: unknown }
  | { readonly kind: 'snapshot-done'; readonly id: number; readonly partitions: number }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'fatal'; readonly message: string };

// Batches of the same few shapes: msgpackr records make them compact and quick to decode. Each
// message carries its own record definitions, so a restarted worker needs no shared state.
const packr = new Packr({ useRecords: true, moreTypes: false });

/**
 * Packs a batch into its own right-sized buffer, to be transferred (not copied) to the other
 * thread. msgpackr returns views into a buffer it shares across all its encoders; posting such a
 * view would copy the whole shared buffer (megabytes after a large snapshot) on every batch.
 */
export function encodeBatch(items: readonly ShardRequest[] | readonly ShardReply[]): Uint8Array {
  return new Uint8Array(packr.pack(items));
}

export function decodeRequests(payload: Uint8Array): ShardRequest[] {
  return packr.unpack(payload) as ShardRequest[];
}

export function decodeReplies(payload: Uint8Array): ShardReply[] {
  return packr.unpack(payload) as ShardReply[];
}
