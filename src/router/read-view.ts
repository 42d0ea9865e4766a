// The durable read view: the HTTP thread's copy of every stock key's durable state, kept from
// what the shards tell it (each recovery's census, each group commit's changes). A stock read is
// answered from it at once, on the HTTP thread: never from state that is not durable, never
// waiting on a shard, and synchronously, so pipelined reads are answered in order (uWS closes a
// connection when a request arrives behind an answer still pending). Durable state is exact for
// a read only while no hold pending in the journal is due: each shard says until when that is,
// and after it the view declines, so the read goes to the shard, which expires what is due.
import type { StockView } from '../actors/index.js';
import type { StockChange } from '../shards/index.js';

/** on_hand, reserved, version: a key's durable state, as small as it can be kept. */
type Durable = [onHand: number, reserved: number, version: number];

const keyOf = (productId: string, warehouseId: string): string =>
  `${productId}\u0000${warehouseId}`;

export class StockReadView {
  private readonly stock = new Map<string, Durable>();
  /** Partitions whose census arrived: a key missing from one of them was never stocked. */
  private readonly loaded: boolean[];
  /** Per partition: until when its shard's durable state answers reads exactly. */
  private readonly readableUntilMs: number[];

  constructor(partitions: number) {
    this.loaded = new Array<boolean>(partitions).fill(false);
    this.readableUntilMs = new Array<number>(partitions).fill(Number.NEGATIVE_INFINITY);
  }

  /** What a shard said about its partitions: until when their durable state reads exactly. */
  readableUntil(partitions: readonly number[], untilMs: number): void {
    for (const partition of partitions) this.readableUntilMs[partition] = untilMs;
  }

  get size(): number {
    return this.stock.size;
  }

  /** A recovery's census: every key those partitions hold. */
  load(
    partitions: readonly number[],
    stock: readonly StockChange[],
    readableUntilMs: number,
  ): void {
    this.apply(stock);
    for (const partition of partitions) this.loaded[partition] = true;
    this.readableUntil(partitions, readableUntilMs);
  }

  /** Durable changes; a key's version only moves forward (a late message cannot undo one). */
  apply(changes: readonly StockChange[]): void {
    for (const [productId, warehouseId, onHand, reserved, version] of changes) {
      const key = keyOf(productId, warehouseId);
      const known = this.stock.get(key);
      if (known === undefined) this.stock.set(key, [onHand, reserved, version]);
      else if (version >= known[2]) {
        known[0] = onHand;
        known[1] = reserved;
        known[2] = version;
      }
    }
  }

  /**
   * The key's durable view at `nowMs`; undefined if never stocked; 'ask-shard' before the
   * partition's census, or when a hold may be due (only the shard can answer exactly then).
   */
  read(
    partition: number,
    productId: string,
    warehouseId: string,
    nowMs: number,
  ): StockView | undefined | 'ask-shard' {
    if (this.loaded[partition] !== true) return 'ask-shard';
    if (nowMs >= (this.readableUntilMs[partition] as number)) return 'ask-shard';
    const known = this.stock.get(keyOf(productId, warehouseId));
    if (known === undefined) return undefined;
    const [onHand, reserved, version] = known;
    return { productId, warehouseId, onHand, reserved, available: onHand - reserved, version };
  }
}
