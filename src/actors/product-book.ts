// What a partition knows per product (hash v2 puts every warehouse of a product in one
// partition): its settings, its stock keys (allocation, product stock) and, for purchase limits,
// each buyer's recent holds. Derived from the journal's records like everything else here.
import { assert } from './assert.js';
import type { Reservation, StockActor } from './stock-actor.js';
import type { ProductSettings, ProductStockView } from './types.js';

/** The window a limit counts over when none was set: one day. */
export const limitWindowSecondsDefault = 86_400;

export const defaultSettings: ProductSettings = {
  maxPerBuyer: null,
  limitWindowSeconds: limitWindowSecondsDefault,
  warehousePriority: null,
  lowStockThreshold: null,
};

/** What a product without counted buyers shows (never written: see `buyerHolds`). */
const noBuyers: ReadonlyMap<string, Reservation[]> = new Map();
const noKeys: readonly StockActor[] = [];
/** Up to this many keys, finding one by warehouse scans them (cheaper than a map's hashing). */
export const keysScannedMax = 8;

/**
 * What only a product with settings or counted buyers needs (most have neither).
 */
class ProductRules {
  settings: ProductSettings = defaultSettings;
  /**
   * Buyer id -> their holds of this product that may still count toward a limit. Holds leave when
   * released or expired, or once older than the window (pruned when that buyer is counted).
   */
  buyerHolds: Map<string, Reservation[]> | undefined = undefined;
  /** Every counted hold in the order made: the oldest leave once past the window. */
  recent: Reservation[] | undefined = undefined;
  recentHead = 0;
}

/**
 * Most products have one or a few keys and never a purchase limit, and a million of them would
 * each cost their own entry: so a product of a few keys and nothing else has none (its keys stand
 * for it in the partition's `KeyIndex`), settings and buyers live in a part made only when set or
 * counted, and the keys' array holds exactly its keys while small (a pushed-to array grows by 16
 * slots). bench/micro/idle-key-heap.ts measures it.
 */
export class Product {
  /** Only for a product in many warehouses (see `keyIn`). */
  private byWarehouse: Map<string, StockActor> | undefined = undefined;
  private rules: ProductRules | undefined = undefined;

  /** `keys` is the product's keys as they are: shared, never written in place while small. */
  constructor(
    readonly productId: string,
    private keyList: readonly StockActor[] | undefined = undefined,
  ) {}

  get settings(): ProductSettings {
    return this.rules?.settings ?? defaultSettings;
  }

  set settings(settings: ProductSettings) {
    // Settings equal to the defaults (a snapshot's decoded copy, say) are the defaults.
    const kept = sameSettings(settings, defaultSettings) ? defaultSettings : settings;
    if (kept !== defaultSettings || this.rules !== undefined) {
      (this.rules ??= new ProductRules()).settings = kept;
    }
  }

  /** Stock keys in the order they were made. */
  get keys(): readonly StockActor[] {
    return this.keyList ?? noKeys;
  }

  addKey(actor: StockActor): void {
    const keys = this.keyList;
    // Exactly sized while small (a copy per key made, which is rare); pushed to once many.
    if (keys === undefined) this.keyList = [actor];
    else if (keys.length < keysScannedMax) this.keyList = keys.concat(actor);
    else (keys as StockActor[]).push(actor);
    this.byWarehouse?.set(actor.warehouseId, actor);
  }

  /** The product's key in the warehouse: a scan of a few keys, a map beyond that. */
  keyIn(warehouseId: string): StockActor | undefined {
    const keys = this.keyList;
    if (keys === undefined) return undefined;
    if (keys.length > keysScannedMax) {
      this.byWarehouse ??= new Map(keys.map((actor) => [actor.warehouseId, actor]));
      return this.byWarehouse.get(warehouseId);
    }
    for (const actor of keys) if (actor.warehouseId === warehouseId) return actor;
    return undefined;
  }

  get buyers(): ReadonlyMap<string, Reservation[]> {
    return this.rules?.buyerHolds ?? noBuyers;
  }

  /**
   * Whether a hold of this buyer may be counted: a buyer already counted, or room for one more
   * (`buyersMax` bounds the memory one product's limit may take).
   */
  admits(buyerId: string, buyersMax: number): boolean {
    return this.buyers.has(buyerId) || this.buyers.size < buyersMax;
  }

  /**
   * Units the buyer holds toward the limit at `nowMs`: PENDING holds' quantity and CONFIRMED
   * ones' sold units, of holds made within the window. A pure read: holds leave only by records
   * (`addHold`'s window, `dropHold`), so a recovered partition keeps exactly what the live one
   * kept (a read that pruned would leave the live buyers fewer than replay's).
   */
  heldBy(buyerId: string, nowMs: number): number {
    const holds = this.rules?.buyerHolds?.get(buyerId);
    if (holds === undefined) return 0;
    const oldestMs = nowMs - this.settings.limitWindowSeconds * 1000;
    let held = 0;
    for (const hold of holds) {
      if (hold.createdAtMs <= oldestMs || !counts(hold)) continue;
      held += hold.status === 'CONFIRMED' ? hold.confirmedQuantity : hold.quantity;
    }
    return held;
  }

  /**
   * A hold of a buyer was made (live, replayed or restored); holds made before the window of
   * `hold.createdAtMs` are dropped first, so the memory follows the window, not all time.
   */
  addHold(hold: Reservation): void {
    assert(hold.buyerId !== '', 'a buyer hold without a buyer');
    const rules = (this.rules ??= new ProductRules());
    this.dropBefore(rules, hold.createdAtMs - rules.settings.limitWindowSeconds * 1000);
    const buyers = (rules.buyerHolds ??= new Map());
    const holds = buyers.get(hold.buyerId);
    if (holds === undefined) buyers.set(hold.buyerId, [hold]);
    else holds.push(hold);
    (rules.recent ??= []).push(hold);
  }

  private dropBefore(rules: ProductRules, oldestMs: number): void {
    const recent = rules.recent;
    if (recent === undefined) return;
    while (rules.recentHead < recent.length) {
      const hold = recent[rules.recentHead] as Reservation;
      if (hold.createdAtMs > oldestMs) break;
      this.dropHold(hold);
      rules.recentHead += 1;
    }
    if (rules.recentHead > 1024 && rules.recentHead * 2 > recent.length) {
      rules.recent = recent.slice(rules.recentHead);
      rules.recentHead = 0;
    }
  }

  /** A buyer's hold was released or expired: it no longer counts. */
  dropHold(hold: Reservation): void {
    const buyers = this.rules?.buyerHolds;
    const holds = buyers?.get(hold.buyerId);
    if (buyers === undefined || holds === undefined) return;
    const index = holds.indexOf(hold);
    if (index >= 0) holds.splice(index, 1);
    if (holds.length === 0) buyers.delete(hold.buyerId);
  }

  stockView(): ProductStockView {
    let onHand = 0;
    let reserved = 0;
    let incoming = 0;
    const warehouses = this.keys.map((actor) => actor.stockView());
    warehouses.sort((a, b) => compareText(a.warehouseId, b.warehouseId));
    for (const view of warehouses) {
      onHand += view.onHand;
      reserved += view.reserved;
      incoming += view.incoming ?? 0;
    }
    return {
      productId: this.productId,
      onHand,
      reserved,
      available: onHand - reserved,
      ...(incoming === 0 ? {} : { incoming }),
      warehouses,
    };
  }
}

const counts = (hold: Reservation): boolean =>
  hold.status === 'PENDING' || hold.status === 'CONFIRMED';

/** Code-unit order, as the contract's "in warehouse_id order" (not the locale's). */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Applies a settings change: a field named keeps the new value, null clears it. */
export function mergeSettings(
  current: ProductSettings,
  changes: Partial<ProductSettings>,
): ProductSettings {
  const window = changes.limitWindowSeconds;
  return {
    maxPerBuyer: changes.maxPerBuyer === undefined ? current.maxPerBuyer : changes.maxPerBuyer,
    limitWindowSeconds:
      window === undefined
        ? current.limitWindowSeconds
        : (window as number | null) === null
          ? limitWindowSecondsDefault
          : window,
    warehousePriority:
      changes.warehousePriority === undefined
        ? current.warehousePriority
        : changes.warehousePriority,
    lowStockThreshold:
      changes.lowStockThreshold === undefined
        ? current.lowStockThreshold
        : changes.lowStockThreshold,
  };
}

export function sameSettings(a: ProductSettings, b: ProductSettings): boolean {
  const priorityA = a.warehousePriority?.join('\u0000') ?? null;
  const priorityB = b.warehousePriority?.join('\u0000') ?? null;
  return (
    a.maxPerBuyer === b.maxPerBuyer &&
    a.limitWindowSeconds === b.limitWindowSeconds &&
    priorityA === priorityB &&
    a.lowStockThreshold === b.lowStockThreshold
  );
}
