// The durable read view: the HTTP thread's copy of every stock key's durable state, kept from
// what the shards tell it (each recovery's census, each group commit's changes). A stock read is
// answered from it at once, on the HTTP thread: never from state that is not durable, never
// waiting on a shard, and synchronously, so pipelined reads are answered in order (uWS closes a
// connection when a request arrives behind an answer still pending). Durable state is exact for
// a read only while no hold pending in the journal is due: each shard says until when that is,
// and after it the view declines, so the read goes to the shard, which expires what is due.
// The keys are also kept in order, so a listing finds its page without a scan of every key.
import { merged, type StockView } from '../actors/index.js';
import type { StockChange } from '../shards/index.js';
import { partitionOf } from './partition-hash.js';
import { SortedKeys } from './sorted-keys.js';

/** on_hand, reserved, version: a key's durable state, as small as it can be kept. */
type Durable = [onHand: number, reserved: number, version: number, incoming: number];

/** NUL sorts below every id character: the keys' string order is (product, warehouse) order. */
const separator = '\u0000';

const keyOf = (productId: string, warehouseId: string): string =>
  `${productId}${separator}${warehouseId}`;

export interface StockKey {
  readonly productId: string;
  readonly warehouseId: string;
}

/** A page of the stock listing, in (product_id, warehouse_id) order. */
export interface StockPageQuery {
  /** Only this product's keys; undefined: every product's. */
  readonly productId: string | undefined;
  /** The page starts after this key; undefined: at the first. */
  readonly after: StockKey | undefined;
  readonly limit: number;
}

/** A key of a page: its exact durable view, or undefined when only its shard can answer. */
export interface PageEntry {
  readonly partition: number;
  readonly key: StockKey;
  readonly stock: StockView | undefined;
}

export interface ViewPage {
  readonly entries: readonly PageEntry[];
  /** Keys the query matches follow this page's last one. */
  readonly more: boolean;
}

export class StockReadView {
  private readonly stock = new Map<string, Durable>();
  /** Keys with named lots: their view (with its lots) only their shard has. */
  private readonly lotKeys = new Set<string>();
  /** The same keys in order, for listings. */
  private readonly ordered = new SortedKeys();
  /** Partitions whose census arrived: a key missing from one of them was never stocked. */
  private readonly loaded: boolean[];
  private loadedCount = 0;
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
    for (const partition of partitions) {
      if (this.loaded[partition] !== true) this.loadedCount += 1;
      this.loaded[partition] = true;
    }
    this.readableUntil(partitions, readableUntilMs);
  }

  /** Durable changes; a key's version only moves forward (a late message cannot undo one). */
  apply(changes: readonly StockChange[]): void {
    let added: string[] | undefined;
    for (const change of changes) {
      const [productId, warehouseId, onHand, reserved, version, incoming = 0, lots] = change;
      const key = keyOf(productId, warehouseId);
      if (lots === 1) this.lotKeys.add(key);
      const known = this.stock.get(key);
      if (known === undefined) {
        this.stock.set(key, [onHand, reserved, version, incoming]);
        (added ??= []).push(key);
      } else if (version >= known[2]) {
        known[0] = onHand;
        known[1] = reserved;
        known[2] = version;
        known[3] = incoming;
      }
    }
    if (added !== undefined) this.ordered.addAll(added);
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
    if (!this.exact(partition, nowMs)) return 'ask-shard';
    const key = keyOf(productId, warehouseId);
    const known = this.stock.get(key);
    if (known === undefined) return undefined;
    if (this.lotKeys.has(key)) return 'ask-shard';
    return viewOf(productId, warehouseId, known);
  }

  /**
   * The keys of a listing's page, each with its durable view where that is exact at `nowMs`.
   * 'not-loaded' while a partition the page could draw from has not sent its census: the view
   * cannot know that partition's keys yet.
   */
  page(query: StockPageQuery, nowMs: number): ViewPage | 'not-loaded' {
    const { productId } = query;
    if (
      productId === undefined ? this.loadedCount < this.loaded.length : !this.loadedOf(productId)
    ) {
      return 'not-loaded';
    }
    return this.pageOf(query, nowMs, undefined);
  }

  /**
   * A node of a cluster: the page of the keys of the partitions it serves now (`served`), each
   * loaded by its census; keys of partitions it no longer serves are passed over.
   */
  servedPage(query: StockPageQuery, nowMs: number, served: (partition: number) => boolean) {
    return this.pageOf(query, nowMs, served);
  }

  private pageOf(
    query: StockPageQuery,
    nowMs: number,
    served: ((partition: number) => boolean) | undefined,
  ): ViewPage {
    const partitions = this.loaded.length;
    const { productId, after, limit } = query;
    const prefix = productId === undefined ? '' : `${productId}${separator}`;
    let from = after === undefined ? '' : keyOf(after.productId, after.warehouseId);
    // After the cursor if it is past the product's first key, else from that first key.
    let exclusive = from !== '' && from >= prefix;
    if (!exclusive) from = prefix;
    const entries: PageEntry[] = [];
    let lastProduct = '';
    let partition = 0;
    let more = true;
    // Alone, one range is the page; on a node of a cluster, keys of partitions served elsewhere
    // are passed over, so ranges are read until the page is full or the keys end.
    while (entries.length < limit && more) {
      const range = this.ordered.range(from, exclusive, prefix, limit - entries.length);
      more = range.more;
      for (const key of range.keys) {
        const cut = key.indexOf(separator);
        const product = key.slice(0, cut);
        // A product's keys are adjacent: its partition is hashed once per page.
        if (product !== lastProduct) partition = partitionOf(product, partitions);
        lastProduct = product;
        if (served !== undefined && !served(partition)) continue;
        const warehouse = key.slice(cut + 1);
        const known = this.stock.get(key) as Durable;
        const exact = this.exact(partition, nowMs) && !this.lotKeys.has(key);
        const stock = exact ? viewOf(product, warehouse, known) : undefined;
        entries.push({ partition, key: { productId: product, warehouseId: warehouse }, stock });
      }
      const last = range.keys[range.keys.length - 1];
      if (last === undefined) break;
      from = last;
      exclusive = true;
    }
    return { entries, more };
  }

  private loadedOf(productId: string): boolean {
    return this.loaded[partitionOf(productId, this.loaded.length)] === true;
  }

  private exact(partition: number, nowMs: number): boolean {
    return this.loaded[partition] === true && nowMs < (this.readableUntilMs[partition] as number);
  }
}

function viewOf(productId: string, warehouseId: string, known: Durable): StockView {
  const [onHand, reserved, version, incoming] = known;
  const view = { productId, warehouseId, onHand, reserved, available: onHand - reserved, version };
  return incoming === 0 ? view : merged(view, { incoming });
}
