// The durable read view: the HTTP thread's copy of every stock key's durable state, kept from
// what the shards tell it (each recovery's census, each group commit's changes). A stock read is
// answered from it at once, on the HTTP thread: never from state that is not durable, never
// waiting on a shard, and synchronously, so pipelined reads are answered in order (uWS closes a
// connection when a request arrives behind an answer still pending).
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

  constructor(partitions: number) {
    this.loaded = new Array<boolean>(partitions).fill(false);
  }

  get size(): number {
    return this.stock.size;
  }

  /** A recovery's census: every key those partitions hold. */
  load(partitions: readonly number[], stock: readonly StockChange[]): void {
    this.apply(stock);
    for (const partition of partitions) this.loaded[partition] = true;
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

  /** The key's durable view; undefined if never stocked; 'not-loaded' before its census. */
  read(
    partition: number,
    productId: string,
    warehouseId: string,
  ): StockView | undefined | 'not-loaded' {
    if (this.loaded[partition] !== true) return 'not-loaded';
    const known = this.stock.get(keyOf(productId, warehouseId));
    if (known === undefined) return undefined;
    const [onHand, reserved, version] = known;
    return { productId, warehouseId, onHand, reserved, available: onHand - reserved, version };
  }
}
