// The flash-sale scenarios the load generator runs against every system, and the rule each one's
// end state must obey. Pure data and arithmetic: the generator's worker threads and the driver
// both import it, so the load and its check cannot drift apart.

export type ScenarioName = 'hot-sku' | 'many-sku' | 'lifecycle' | 'sold-out';

export const scenarioNames: readonly ScenarioName[] = [
  'hot-sku',
  'many-sku',
  'lifecycle',
  'sold-out',
];

export interface StockKey {
  readonly productId: string;
  readonly warehouseId: string;
}

export interface Scenario {
  readonly name: ScenarioName;
  readonly summary: string;
  /** Stock keys the load spreads over (uniformly); 1 means every request hits the same key. */
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
   * Whether the run starts with the warm-up. sold-out has none: the sale itself (the rush, the
   * moment the stock runs out, the refusals after) is what is measured.
   */
  readonly warmsUp: boolean;
}

/** The largest delta one adjust accepts: a run never gets near using it up. */
export const unlimitedStock = 1_000_000_000;
const manySkuKeys = 10_000;
/** Share of lifecycle holds that are confirmed; the others are released. */
const lifecycleConfirmShare = 0.8;

export interface ScenarioSettings {
  /**
   * Units of the one key in sold-out; sized so that every system sells out within a default
   * run (the Postgres row lock, the slowest, takes about 10 s).
   */
  readonly soldOutStock: number;
}

export function scenario(name: ScenarioName, settings: ScenarioSettings): Scenario {
  const base = { confirmShare: 0, checkout: false, sellsOut: false, warmsUp: true };
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
  }
}

/** Key i of a scenario; the same names for every system so their results compare key by key. */
export function stockKeyAt(scenarioName: ScenarioName, index: number): StockKey {
  if (scenarioName === 'many-sku') {
    return { productId: `sku-${String(index).padStart(5, '0')}`, warehouseId: 'bench-wh' };
  }
  return { productId: 'hot-sku', warehouseId: 'bench-wh' };
}

/** What the load saw succeed, per key (index = key index). */
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
