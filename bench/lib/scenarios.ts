// The flash-sale scenarios the load generator runs against every system, and the rule each one's
// end state must obey. Pure data and arithmetic: the generator's worker threads and the driver
// both import it, so the load and its check cannot drift apart.

export type ScenarioName =
  'hot-sku' | 'many-sku' | 'lifecycle' | 'many-sku-lifecycle' | 'sold-out' | 'flash-crowd' | 'cart';

export const scenarioNames: readonly ScenarioName[] = [
  'hot-sku',
  'many-sku',
  'lifecycle',
  'many-sku-lifecycle',
  'sold-out',
  'flash-crowd',
  'cart',
];

export interface StockKey {
  readonly productId: string;
  readonly warehouseId: string;
}

export interface Scenario {
  readonly name: ScenarioName;
  readonly summary: string;
  /**
   * Stock keys of the scenario: the load spreads reserves uniformly over them (1: every request
   * hits the same key); in cart, key 0 is the hot key and the others the catalogue.
   */
  readonly keyCount: number;
  /** Units each key is stocked with before the load. */
  readonly stockPerKey: number;
  /** After a successful reserve: the share of holds confirmed (the rest are released). */
  readonly confirmShare: number;
  /** Whether reserves are followed by a confirm or release (lifecycle). */
  readonly checkout: boolean;
  /** Whether 409 insufficient_stock is an expected answer (the key sells out mid-run). */
  readonly sellsOut: boolean;
  /**
   * Whether 503 `overloaded` with a `retry-after` header is an expected answer (the server sheds
   * load), after which the virtual user waits as told (with jitter) before asking again.
   */
  readonly shedsLoad: boolean;
  /**
   * Whether every connection is opened (one GET /health/live) before the load starts, so that
   * the crowd arrives at once on open keep-alive connections, as from a shop's backends' pools,
   * and the kernel's listen backlog (SYN retries after 1 s, 3 s) stays out of the latencies.
   */
  readonly connectsFirst: boolean;
  /**
   * Whether the run starts with the warm-up. sold-out has none: the sale itself (the rush, the
   * moment the stock runs out, the refusals after) is what is measured.
   */
  readonly warmsUp: boolean;
  /** cart: every request is one POST /v1/carts of this many lines (drawn per cart); else null. */
  readonly cartLines: { readonly min: number; readonly max: number } | null;
}

/** The largest delta one adjust accepts: a run never gets near using it up. */
export const unlimitedStock = 1_000_000_000;
const manySkuKeys = 10_000;
/** Share of lifecycle holds that are confirmed; the others are released. */
const lifecycleConfirmShare = 0.8;
/** Lines per cart, drawn uniformly per request: one on the hot key, the others in the catalogue. */
const cartLines = { min: 3, max: 5 } as const;
/** issue 13's flash crowd: 10,000 units for 1,000 or 5,000 connections. */
export const flashCrowdStockDefault = 10_000;

export interface ScenarioSettings {
  /**
   * Units of the one key in sold-out; sized so that every system sells out within a default
   * run (the Postgres row lock, the slowest, takes about 10 s).
   */
  readonly soldOutStock: number;
  /** Units of the one key in flash-crowd (default 10,000: issue 13's sale). */
  readonly flashCrowdStock?: number;
}

export function scenario(name: ScenarioName, settings: ScenarioSettings): Scenario {
  const base = {
    confirmShare: 0,
    checkout: false,
    sellsOut: false,
    shedsLoad: false,
    connectsFirst: false,
    warmsUp: true,
    cartLines: null,
  };
  switch (name) {
    case 'hot-sku':
      return {
        ...base,
        name,
        summary: 'every request reserves 1 unit of the same stock key',
        keyCount: 1,
        stockPerKey: unlimitedStock,
      };
    case 'many-sku':
      return {
        ...base,
        name,
        summary: `reserves of 1 unit spread uniformly over ${manySkuKeys} stock keys`,
        keyCount: manySkuKeys,
        stockPerKey: unlimitedStock,
      };
    case 'lifecycle':
      return {
        ...base,
        name,
        summary:
          `reserve 1 unit of the hot key, then confirm (${lifecycleConfirmShare * 100}%) ` +
          'or release the hold, on the same connection',
        keyCount: 1,
        stockPerKey: unlimitedStock,
        confirmShare: lifecycleConfirmShare,
        checkout: true,
      };
    case 'many-sku-lifecycle':
      return {
        ...base,
        name,
        summary:
          `reserve 1 unit of a key drawn uniformly from ${manySkuKeys}, then confirm ` +
          `(${lifecycleConfirmShare * 100}%) or release the hold, on the same connection: ` +
          'a catalogue whose keys each hold a hold or none at a time',
        keyCount: manySkuKeys,
        stockPerKey: unlimitedStock,
        confirmShare: lifecycleConfirmShare,
        checkout: true,
      };
    case 'sold-out':
      return {
        ...base,
        name,
        summary:
          `the hot key holds ${settings.soldOutStock} units; reserves of 1 unit go on after ` +
          'it sells out (409 insufficient_stock expected); no warm-up: the whole sale is measured',
        keyCount: 1,
        stockPerKey: settings.soldOutStock,
        sellsOut: true,
        warmsUp: false,
      };
    case 'flash-crowd': {
      const stock = settings.flashCrowdStock ?? flashCrowdStockDefault;
      return {
        ...base,
        name,
        summary:
          `the hot key holds ${stock} units and every connection reserves ` +
          '1 unit of it; 409 insufficient_stock once sold out and 503 overloaded with ' +
          'retry-after are expected, and after a 503 the virtual user waits retry-after ' +
          'seconds times 1 to 2 (jitter) before its next reserve; every connection is open ' +
          'before the crowd arrives; no warm-up',
        keyCount: 1,
        stockPerKey: stock,
        sellsOut: true,
        shedsLoad: true,
        connectsFirst: true,
        warmsUp: false,
      };
    }
    case 'cart':
      return {
        ...base,
        name,
        summary:
          `every request is one cart (POST /v1/carts, all or nothing) of ${cartLines.min}` +
          `-${cartLines.max} lines of 1 unit: one on the hot key, the others drawn uniformly ` +
          `from ${manySkuKeys} keys of distinct products (so most carts span partitions)`,
        keyCount: 1 + manySkuKeys,
        stockPerKey: unlimitedStock,
        cartLines,
      };
  }
}

/** What one answer counts as in the tables: a cart is one request of several lines. */
export function rateUnit(name: ScenarioName): string {
  return name === 'cart' ? 'carts/s' : 'req/s';
}

const hotKey: StockKey = { productId: 'hot-sku', warehouseId: 'bench-wh' };
const catalogueKey = (index: number): StockKey => ({
  productId: `sku-${String(index).padStart(5, '0')}`,
  warehouseId: 'bench-wh',
});

/**
 * Key i of a scenario; the same names for every system so their results compare key by key.
 * many-sku-lifecycle's keys are many-sku's.
 * cart's key 0 is hot-sku's key and its keys 1..10,000 are many-sku's: one product per key, so
 * the ledger (which hashes by product id) spreads a cart's lines over its partitions.
 */
export function stockKeyAt(scenarioName: ScenarioName, index: number): StockKey {
  if (scenarioName === 'many-sku' || scenarioName === 'many-sku-lifecycle') {
    return catalogueKey(index);
  }
  if (scenarioName === 'cart' && index > 0) return catalogueKey(index - 1);
  return hotKey;
}

/**
 * The key indexes of one cart's lines (one unit each), drawn with `random` in [0, 1): the hot
 * key (index 0) at a random position, the other lines uniformly from the catalogue (indexes
 * 1..keyCount-1). Two lines may name the same catalogue key; the server sums them.
 */
export function drawCartKeys(scenario: Scenario, random: () => number): number[] {
  const { min, max } = scenario.cartLines ?? { min: 1, max: 1 };
  const count = min + Math.floor(random() * (max - min + 1));
  const hotAt = Math.floor(random() * count);
  const catalogue = scenario.keyCount - 1;
  return Array.from({ length: count }, (_, line) =>
    line === hotAt ? 0 : 1 + Math.floor(random() * catalogue),
  );
}

/**
 * What the load saw succeed, per key (index = key index), in units: every line of an
 * acknowledged cart counts as one reserve of its key.
 */
export interface KeyTallies {
  readonly reserved: Float64Array;
  readonly confirmed: Float64Array;
  readonly released: Float64Array;
}

export function emptyTallies(keyCount: number): KeyTallies {
  return {
    reserved: new Float64Array(keyCount),
    confirmed: new Float64Array(keyCount),
    released: new Float64Array(keyCount),
  };
}

export function addTallies(into: KeyTallies, from: KeyTallies): void {
  for (let index = 0; index < into.reserved.length; index += 1) {
    into.reserved[index] = (into.reserved[index] ?? 0) + (from.reserved[index] ?? 0);
    into.confirmed[index] = (into.confirmed[index] ?? 0) + (from.confirmed[index] ?? 0);
    into.released[index] = (into.released[index] ?? 0) + (from.released[index] ?? 0);
  }
}

export interface StockReading {
  readonly onHand: number;
  readonly reserved: number;
}

/**
 * What the stock of one key must read after the run, from the acknowledged operations alone
 * (every quantity is 1): each acknowledged reserve holds a unit until its acknowledged confirm
 * (which also takes it off on_hand) or release.
 */
export function expectedStock(stock: number, tallies: KeyTallies, index: number): StockReading {
  const reserved = tallies.reserved[index] ?? 0;
  const confirmed = tallies.confirmed[index] ?? 0;
  const released = tallies.released[index] ?? 0;
  return { onHand: stock - confirmed, reserved: reserved - confirmed - released };
}

/**
 * Units acknowledged beyond the stock put in: the oversell the product promises never happens.
 * Counted from the clients' side (acknowledged reserves, every quantity 1) and from the server's
 * (what it says is held or sold), and the larger is reported.
 */
export function oversellOf(stock: number, tallies: KeyTallies, index: number, read: StockReading) {
  const acknowledged = tallies.reserved[index] ?? 0;
  const held = read.reserved + (stock - read.onHand);
  return Math.max(0, acknowledged - stock, held - stock);
}
