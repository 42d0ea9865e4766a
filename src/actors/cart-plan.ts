// Plans one partition's lines of a cart, all or nothing, without changing anything: lines summed
// per stock key and per product, purchase limits per product, then stock (explicit warehouses
// first, then allocation over the product's keys). The partition applies a plan only whole.
import type { Product } from './product-book.js';
import { compareText } from './product-book.js';
import type { StockActor } from './stock-actor.js';
import type { CartLine } from './types.js';

export interface PlannedHold {
  readonly line: number;
  readonly actor: StockActor;
  readonly quantity: number;
}

type DetailLine = Readonly<Record<string, string | number>>;

export type CartPlan =
  | { readonly ok: true; readonly holds: readonly PlannedHold[] }
  | {
      readonly ok: false;
      readonly code: 'overloaded' | 'validation_failed';
      readonly lines?: undefined;
    }
  | {
      readonly ok: false;
      readonly code: 'insufficient_stock' | 'purchase_limit_exceeded';
      readonly lines: readonly DetailLine[];
    };

export interface PlanContext {
  readonly buyersMax: number;
  readonly holdsMax: number;
  readonly product: (productId: string) => Product | undefined;
  readonly actor: (productId: string, warehouseId: string) => StockActor | undefined;
  readonly buyerId: string;
  readonly nowMs: number;
  /** When the cart's holds would expire: lots that stop being sellable before do not count. */
  readonly holdEndMs: number;
}

/** Lines naming one stock key (or one product, warehouse '' = allocate), summed. */
interface SummedLine {
  readonly index: number;
  readonly productId: string;
  readonly warehouseId: string;
  quantity: number;
}

export function planCart(lines: readonly CartLine[], context: PlanContext): CartPlan {
  const summed = sumLines(lines);
  const overLimit = limitLines(summed, context);
  if (overLimit === 'full') return { ok: false, code: 'overloaded' };
  if (overLimit.length > 0) return { ok: false, code: 'purchase_limit_exceeded', lines: overLimit };
  const used = new Map<StockActor, number>();
  const holds: PlannedHold[] = [];
  const short: DetailLine[] = [];
  // Explicit warehouses first, then allocation, each in order of first appearance.
  for (const line of summed) {
    if (line.warehouseId !== '') takeKey(line, context, used, holds, short);
  }
  for (const line of summed) {
    if (line.warehouseId === '') allocate(line, context, used, holds, short);
  }
  if (short.length > 0) {
    short.sort((a, b) => (a.index as number) - (b.index as number));
    return { ok: false, code: 'insufficient_stock', lines: short };
  }
  if (holds.length > context.holdsMax) return { ok: false, code: 'validation_failed' };
  holds.sort((a, b) => a.line - b.line);
  return { ok: true, holds };
}

function sumLines(lines: readonly CartLine[]): SummedLine[] {
  const byKey = new Map<string, SummedLine>();
  const summed: SummedLine[] = [];
  for (const line of lines) {
    const key = `${line.productId}\u0000${line.warehouseId}`;
    const earlier = byKey.get(key);
    if (earlier !== undefined) {
      earlier.quantity += line.quantity;
      continue;
    }
    const entry: SummedLine = { ...line };
    byKey.set(key, entry);
    summed.push(entry);
  }
  return summed;
}

/** Products whose buyer would go over `max_per_buyer` with every line of the product counted. */
function limitLines(summed: readonly SummedLine[], context: PlanContext): DetailLine[] | 'full' {
  if (context.buyerId === '') return [];
  const requested = new Map<string, { index: number; quantity: number }>();
  for (const line of summed) {
    const entry = requested.get(line.productId);
    if (entry === undefined) requested.set(line.productId, { ...line });
    else entry.index = Math.min(entry.index, line.index);
    if (entry !== undefined) entry.quantity += line.quantity;
  }
  const over: DetailLine[] = [];
  for (const [productId, { index, quantity }] of requested) {
    const product = context.product(productId);
    const limit = product?.settings.maxPerBuyer ?? null;
    if (product === undefined || limit === null) continue;
    if (!product.admits(context.buyerId, context.buyersMax)) return 'full';
    const held = product.heldBy(context.buyerId, context.nowMs);
    if (held + quantity > limit) {
      over.push({ index, product_id: productId, requested: quantity, limit, held });
    }
  }
  return over.sort((a, b) => (a.index as number) - (b.index as number));
}

function availableOf(
  actor: StockActor,
  used: ReadonlyMap<StockActor, number>,
  holdEndMs: number,
): number {
  return actor.availableUntil(holdEndMs) - (used.get(actor) ?? 0);
}

function takeKey(
  line: SummedLine,
  context: PlanContext,
  used: Map<StockActor, number>,
  holds: PlannedHold[],
  short: DetailLine[],
): void {
  const actor = context.actor(line.productId, line.warehouseId);
  const available = actor === undefined ? 0 : availableOf(actor, used, context.holdEndMs);
  if (actor === undefined || available < line.quantity) {
    short.push({
      index: line.index,
      product_id: line.productId,
      warehouse_id: line.warehouseId,
      requested: line.quantity,
      available,
    });
    return;
  }
  used.set(actor, (used.get(actor) ?? 0) + line.quantity);
  holds.push({ line: line.index, actor, quantity: line.quantity });
}

/**
 * Over the product's keys with units left: its warehouse_priority first (in that order), then
 * the rest most available first, ties by warehouse id. A line may be split over several keys.
 */
function allocate(
  line: SummedLine,
  context: PlanContext,
  used: Map<StockActor, number>,
  holds: PlannedHold[],
  short: DetailLine[],
): void {
  const product = context.product(line.productId);
  const order = allocationOrder(product, used, context.holdEndMs);
  let total = 0;
  for (const actor of order) total += availableOf(actor, used, context.holdEndMs);
  if (total < line.quantity) {
    short.push({
      index: line.index,
      product_id: line.productId,
      requested: line.quantity,
      available: total,
    });
    return;
  }
  let remaining = line.quantity;
  for (const actor of order) {
    if (remaining === 0) break;
    const taken = Math.min(remaining, availableOf(actor, used, context.holdEndMs));
    used.set(actor, (used.get(actor) ?? 0) + taken);
    holds.push({ line: line.index, actor, quantity: taken });
    remaining -= taken;
  }
}

function allocationOrder(
  product: Product | undefined,
  used: ReadonlyMap<StockActor, number>,
  holdEndMs: number,
): StockActor[] {
  if (product === undefined) return [];
  const candidates = product.keys.filter((actor) => availableOf(actor, used, holdEndMs) > 0);
  const rank = new Map<string, number>();
  product.settings.warehousePriority?.forEach((warehouse, position) =>
    rank.set(warehouse, position),
  );
  return candidates.sort((a, b) => {
    const rankA = rank.get(a.warehouseId) ?? Number.POSITIVE_INFINITY;
    const rankB = rank.get(b.warehouseId) ?? Number.POSITIVE_INFINITY;
    if (rankA !== rankB) return rankA < rankB ? -1 : 1;
    const more = availableOf(b, used, holdEndMs) - availableOf(a, used, holdEndMs);
    return more !== 0 ? more : compareText(a.warehouseId, b.warehouseId);
  });
}
