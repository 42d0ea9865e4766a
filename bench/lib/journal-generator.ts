// A realistic journal, made by driving real PartitionStates with a mix of adjusts, reserves,
// confirms, releases and expiries over many keys, deterministically (a fixed seed). Records come
// out one at a time, encoded as the journal stores them, so a caller can keep them all (the
// replay micro-bench) or write them out in chunks and keep only the live states (the restart
// bench, where 10 million payloads held at once would not fit a bounded memory).
import {
  PartitionState,
  type JournalRecord,
  type RetentionPolicy,
} from '../../src/actors/index.js';
import { encodeRecord } from '../../src/persistence/record-codec.js';
import { partitionOf } from '../../src/router/partition-hash.js';
import { mintReservationId } from '../../src/router/reservation-id.js';

/** Hold lifetime: with 1 ms between records, holds finished late in the FIFO are due. */
const ttlSeconds = 60;
/** Record time of the first record: a fixed instant, so every run makes the same journal. */
const startMsDefault = 1_763_900_000_000;

export interface JournalGeneratorOptions {
  readonly partitions: number;
  /** Records to make; at least one adjust per key is always made first. */
  readonly recordCount: number;
  readonly keyCount: number;
  readonly retention: RetentionPolicy;
  /**
   * After those records, one more key (`hotProductId`) stocked with this many units and as many
   * reserves of one unit: a flash sale's hot key after a kill -9, every hold still pending.
   */
  readonly hotHolds?: number;
  /** When the hot key's holds are made (an hour's TTL): now, so that none is due while used. */
  readonly hotAtMs?: number;
}

/** The hot key's product (`hotHolds`). */
export const hotProductId = 'hot-sku';
/** The hot key's holds live an hour. */
const hotTtlSeconds = 3600;

/** One journal record: its partition, its lsn there (from 1), and its encoded payload. */
export interface GeneratedRecord {
  readonly partition: number;
  readonly lsn: number;
  readonly payload: Buffer;
}

interface GeneratedKey {
  readonly productId: string;
  readonly warehouseId: string;
  readonly partition: number;
}

/** A small deterministic generator (mulberry32), so every run replays the same journal. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function productIdOf(index: number): string {
  return `sku-${String(index).padStart(6, '0')}`;
}

export const generatedWarehouseId = 'wh-1';

/**
 * The journal's records in order, and the live states they came from: after the last record,
 * `live` holds what a replay of the journal must rebuild. `types` counts records by type.
 */
export class JournalGenerator {
  readonly live: PartitionState[];
  readonly types = new Map<string, number>();
  readonly keys: readonly GeneratedKey[];
  private readonly lsns: number[];
  private readonly pending: string[][];
  private readonly pendingHead: number[];
  private readonly next = random(42);
  private nowMs = startMsDefault;
  private sequence = 0;
  private readonly made: GeneratedRecord[] = [];
  private readonly steps: Generator<void>;

  constructor(private readonly options: JournalGeneratorOptions) {
    const { partitions, retention, keyCount } = options;
    this.live = Array.from({ length: partitions }, (_, p) => new PartitionState(p, retention));
    this.lsns = new Array<number>(partitions).fill(0);
    this.pending = this.live.map((): string[] => []);
    this.pendingHead = new Array<number>(partitions).fill(0);
    this.keys = Array.from({ length: keyCount }, (_, index) => {
      const productId = productIdOf(index);
      return {
        productId,
        warehouseId: generatedWarehouseId,
        partition: partitionOf(productId, partitions),
      };
    });
    this.steps = this.run();
  }

  /** Records made so far. */
  get recordsMade(): number {
    return this.sequence;
  }

  /** The next records, at most `count`; an empty list once the journal is complete. */
  take(count: number): GeneratedRecord[] {
    while (this.made.length < count && this.steps.next().done !== true);
    return this.made.splice(0, count);
  }

  private *run(): Generator<void> {
    for (const key of this.keys) {
      this.adjust(key, 50, false);
      yield;
    }
    while (this.sequence < this.options.recordCount) {
      this.step();
      yield;
    }
    const hotHolds = this.options.hotHolds ?? 0;
    if (hotHolds === 0) return;
    const { partitions, hotAtMs } = this.options;
    const hot = {
      productId: hotProductId,
      warehouseId: generatedWarehouseId,
      partition: partitionOf(hotProductId, partitions),
    };
    this.nowMs = Math.max(this.nowMs, hotAtMs ?? this.nowMs);
    this.adjust(hot, hotHolds, false);
    for (let index = 0; index < hotHolds; index += 1) {
      // A thousand holds a millisecond: as fast as a sale makes them, never past a due time.
      if (index % 1000 === 999) this.nowMs += 1;
      this.hotReserve(hot, index);
      yield;
    }
  }

  private hotReserve(key: GeneratedKey, index: number): void {
    const state = this.live[key.partition] as PartitionState;
    const command = {
      kind: 'reserve',
      productId: key.productId,
      warehouseId: key.warehouseId,
      quantity: 1,
      idempotencyKey: `hot-checkout-${index}`,
      ttlSeconds: hotTtlSeconds,
      reservationId: mintReservationId(key.partition),
      requesterId: `buyer-${index % 100_000}`,
      traceId: '',
    } as const;
    const result = state.apply(command, this.nowMs);
    if (result.record === undefined) throw new Error(`hot reserve ${index} refused`);
    this.keep(key.partition, result.record);
  }

  private keep(partition: number, record: JournalRecord | undefined): void {
    if (record === undefined) return;
    const lsn = (this.lsns[partition] as number) + 1;
    this.lsns[partition] = lsn;
    this.made.push({ partition, lsn, payload: Buffer.from(encodeRecord(record)) });
    this.types.set(record.type, (this.types.get(record.type) ?? 0) + 1);
    this.sequence += 1;
  }

  private adjust(key: GeneratedKey, delta: number, keyed: boolean): void {
    const state = this.live[key.partition] as PartitionState;
    const idempotencyKey = keyed ? `restock-${this.sequence}` : '';
    const { productId, warehouseId } = key;
    const command = { kind: 'adjust', productId, warehouseId, delta, reason: 'restock' } as const;
    const full = { ...command, idempotencyKey, actorId: 'admin-1', traceId: '' };
    this.keep(key.partition, state.apply(full, this.nowMs).record);
  }

  private step(): void {
    this.nowMs += 1;
    const roll = this.next();
    const keyCount = this.options.keyCount;
    const key = this.keys[Math.floor(this.next() * keyCount)] as GeneratedKey;
    if (roll < 0.05) this.adjust(key, 20, roll < 0.025);
    else if (roll < 0.55) this.reserve(key);
    else if (roll < 0.65) this.expireOldest(key.partition);
    else this.finishNewest(key.partition, roll < 0.93 ? 'confirm' : 'release');
  }

  private reserve(key: GeneratedKey): void {
    const state = this.live[key.partition] as PartitionState;
    const reservationId = mintReservationId(key.partition);
    const result = state.apply(
      {
        kind: 'reserve',
        productId: key.productId,
        warehouseId: key.warehouseId,
        quantity: 1 + Math.floor(this.next() * 3),
        idempotencyKey: `checkout-${this.sequence}`,
        ttlSeconds,
        reservationId,
        requesterId: `user-${Math.floor(this.next() * 100_000)}`,
        traceId: '',
      },
      this.nowMs,
    );
    if (result.record === undefined) this.adjust(key, 100, false);
    else (this.pending[key.partition] as string[]).push(reservationId);
    this.keep(key.partition, result.record);
  }

  /** The expiry sweep: the oldest hold of the partition expires if it is due. */
  private expireOldest(partition: number): void {
    const state = this.live[partition] as PartitionState;
    const head = this.pendingHead[partition] as number;
    const reservationId = (this.pending[partition] as string[])[head];
    if (reservationId === undefined) return;
    const expired = state.expire(reservationId, this.nowMs);
    if (expired === undefined && state.pendingHold(reservationId) !== undefined) return;
    this.pendingHead[partition] = head + 1;
    this.keep(partition, expired?.record);
  }

  /** Most holds are confirmed or released soon after they were made: the newest goes. */
  private finishNewest(partition: number, kind: 'confirm' | 'release'): void {
    const state = this.live[partition] as PartitionState;
    const queue = this.pending[partition] as string[];
    if (queue.length <= (this.pendingHead[partition] as number)) return;
    const reservationId = queue.pop() as string;
    this.keep(partition, state.apply({ kind, reservationId, traceId: '' }, this.nowMs).record);
  }
}
