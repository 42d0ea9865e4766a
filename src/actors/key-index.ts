// A partition's stock keys, found by product: one map entry per product, whose value is the key
// itself while the product has one key and nothing else (most of a large catalogue), an exactly
// sized array of its keys while it has a few and nothing else, and the product's entry (settings,
// buyers, many keys) once it has more. The ids an actor keeps are this index's own strings: one
// product id string per product, shared with the map's key, and one warehouse id string per
// warehouse of the partition. bench/micro/idle-key-heap.ts measures it.
import { assert } from './assert.js';
import { Product, keysScannedMax } from './product-book.js';
import { StockActor } from './stock-actor.js';

type Entry = StockActor | readonly StockActor[] | Product;

export class KeyIndex {
  private readonly byProduct = new Map<string, Entry>();
  /** Every warehouse id of the partition, once: the string its keys share. */
  private readonly warehouses = new Map<string, string>();
  private keyCount = 0;

  get size(): number {
    return this.keyCount;
  }

  get(productId: string, warehouseId: string): StockActor | undefined {
    const entry = this.byProduct.get(productId);
    if (entry instanceof StockActor) return entry.warehouseId === warehouseId ? entry : undefined;
    if (entry instanceof Product) return entry.keyIn(warehouseId);
    if (entry === undefined) return undefined;
    for (const actor of entry) if (actor.warehouseId === warehouseId) return actor;
    return undefined;
  }

  /** The product's entry if it has one (settings, buyers or many keys). */
  product(productId: string): Product | undefined {
    const entry = this.byProduct.get(productId);
    return entry instanceof Product ? entry : undefined;
  }

  /**
   * The product with its keys, for reads and allocation: a product of a few keys and nothing else
   * gets a passing entry, not kept (what is written to it is lost, so writers use `productOf`).
   */
  productView(productId: string): Product | undefined {
    const entry = this.byProduct.get(productId);
    if (entry === undefined || entry instanceof Product) return entry;
    return new Product(productId, entry instanceof StockActor ? [entry] : entry);
  }

  /** The product's entry, made (and kept) on first use. */
  productOf(productId: string): Product {
    const entry = this.byProduct.get(productId);
    if (entry instanceof Product) return entry;
    const keys = entry === undefined ? undefined : entry instanceof StockActor ? [entry] : entry;
    const product = new Product(keys?.[0]?.productId ?? ownCopy(productId), keys);
    // Setting an existing key keeps its place: the keys' order stays the order they were made.
    this.byProduct.set(product.productId, product);
    return product;
  }

  /** Adds a new key (live, replayed or restored); it takes the index's strings for its ids. */
  register(actor: StockActor): void {
    assert(
      this.get(actor.productId, actor.warehouseId) === undefined,
      'stock key registered twice',
    );
    const entry = this.byProduct.get(actor.productId);
    const first =
      entry instanceof StockActor ? entry : entry instanceof Product ? entry : entry?.[0];
    actor.shareIds(first?.productId ?? ownCopy(actor.productId), this.warehouse(actor.warehouseId));
    if (entry === undefined) this.byProduct.set(actor.productId, actor);
    else if (entry instanceof StockActor) this.byProduct.set(actor.productId, [entry, actor]);
    else if (entry instanceof Product || entry.length >= keysScannedMax) {
      this.productOf(actor.productId).addKey(actor);
    } else this.byProduct.set(actor.productId, entry.concat(actor)); // exactly sized
    this.keyCount += 1;
  }

  /** Every key, product by product in the order products came, each product's in key order. */
  *actors(): Generator<StockActor, undefined> {
    for (const entry of this.byProduct.values()) {
      if (entry instanceof StockActor) yield entry;
      else yield* entry instanceof Product ? entry.keys : entry;
    }
    return undefined;
  }

  /** The products that have an entry of their own. */
  *products(): Generator<Product, undefined> {
    for (const entry of this.byProduct.values()) if (entry instanceof Product) yield entry;
    return undefined;
  }

  private warehouse(warehouseId: string): string {
    let own = this.warehouses.get(warehouseId);
    if (own === undefined) {
      own = ownCopy(warehouseId);
      this.warehouses.set(own, own);
    }
    return own;
  }
}

/**
 * A flat string of its own: an id from the wire may be a slice of a whole decoded batch, which
 * the key would then keep alive. Made once per product and per warehouse.
 */
function ownCopy(id: string): string {
  return Buffer.from(id, 'utf8').toString('utf8');
}

/**
 * The keys as a read-only map by `StockActor.stockKey`, for callers that walk or look up keys by
 * that name (snapshots, checks, tests); the partition itself finds keys through `KeyIndex.get`.
 */
export class StockKeyMap implements ReadonlyMap<string, StockActor> {
  constructor(private readonly index: KeyIndex) {}

  get size(): number {
    return this.index.size;
  }

  get(key: string): StockActor | undefined {
    const separator = key.indexOf('\u0000');
    if (separator < 0) return undefined;
    return this.index.get(key.slice(0, separator), key.slice(separator + 1));
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  values(): IterableIterator<StockActor> {
    return this.index.actors();
  }

  *keys(): IterableIterator<string> {
    for (const actor of this.index.actors()) yield actor.stockKey;
  }

  *entries(): IterableIterator<[string, StockActor]> {
    for (const actor of this.index.actors()) yield [actor.stockKey, actor];
  }

  [Symbol.iterator](): IterableIterator<[string, StockActor]> {
    return this.entries();
  }

  forEach(
    callback: (value: StockActor, key: string, map: ReadonlyMap<string, StockActor>) => void,
  ): void {
    for (const actor of this.index.actors()) callback(actor, actor.stockKey, this);
  }
}
