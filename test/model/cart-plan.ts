// The cart rules of the team's choices (notes/cart-choices.md) that need no ledger state, kept
// pure so they read as the rules: lines summed per stock key or product, explicit lines before
// allocated ones, a product's units allocated over its warehouses, short lines named.
import type { CartLine, ShortLineDetails } from './reference-ledger.js';

/** A stock key as a cart sees it: what it could still hold. */
export interface KeyAvailability {
  readonly productId: string;
  readonly warehouseId: string;
  readonly available: number;
}

/** One hold a cart would make; `line` is the first line it serves. */
export interface PlannedHold {
  readonly line: number;
  readonly productId: string;
  readonly warehouseId: string;
  readonly quantity: number;
}

export type CartPlan =
  | { readonly ok: true; readonly holds: readonly PlannedHold[] }
  | { readonly ok: false; readonly short: readonly ShortLineDetails[] };

/** Lines summed into one request: per stock key, or per product for lines without warehouse. */
interface LineGroup {
  readonly index: number;
  readonly productId: string;
  readonly warehouseId: string | undefined;
  requested: number;
}

const nameOf = (productId: string, warehouseId: string): string =>
  `${productId}\u0000${warehouseId}`;

/**
 * The lines summed: those naming a warehouse first, then those that do not, each kind in order
 * of first appearance (the choices: explicit lines are checked and taken first).
 */
export function groupLines(lines: readonly CartLine[]): LineGroup[] {
  const explicit = new Map<string, LineGroup>();
  const allocated = new Map<string, LineGroup>();
  lines.forEach((line, index) => {
    const { productId, warehouseId, quantity } = line;
    const table = warehouseId === undefined ? allocated : explicit;
    const name = warehouseId === undefined ? productId : nameOf(productId, warehouseId);
    const group = table.get(name);
    if (group === undefined) {
      table.set(name, { index, productId, warehouseId, requested: quantity });
    } else {
      group.requested += quantity;
    }
  });
  return [...explicit.values(), ...allocated.values()];
}

/** Units asked of each product over all its lines, at the index of its first line. */
export function productTotals(
  lines: readonly CartLine[],
): { index: number; productId: string; requested: number }[] {
  const totals = new Map<string, { index: number; productId: string; requested: number }>();
  lines.forEach(({ productId, quantity }, index) => {
    const total = totals.get(productId);
    if (total === undefined) totals.set(productId, { index, productId, requested: quantity });
    else total.requested += quantity;
  });
  return [...totals.values()];
}

/**
 * The order a line without warehouse takes units in: the warehouses of `priority` that are
 * offered, in list order, then the others most available first, ties by warehouse_id.
 */
export function allocationOrder<T extends { warehouseId: string; available: number }>(
  warehouses: readonly T[],
  priority: readonly string[] | null,
): T[] {
  const listed = [...new Set(priority ?? [])];
  const first = listed.flatMap((id) => warehouses.filter((w) => w.warehouseId === id));
  const rest = warehouses
    .filter((w) => !listed.includes(w.warehouseId))
    .sort((a, b) =>
      a.available !== b.available
        ? b.available - a.available
        : a.warehouseId < b.warehouseId
          ? -1
          : 1,
    );
  return [...first, ...rest];
}

/**
 * The holds a cart makes, all or nothing: every group is judged against what the earlier groups
 * of the cart took (a short group takes nothing). Holds come in order of line, then as allocated.
 */
export function planCart(
  lines: readonly CartLine[],
  keys: readonly KeyAvailability[],
  priorityOf: (productId: string) => readonly string[] | null,
): CartPlan {
  const available = new Map(keys.map((k) => [nameOf(k.productId, k.warehouseId), k.available]));
  const holds: PlannedHold[] = [];
  const short: ShortLineDetails[] = [];
  for (const group of groupLines(lines)) {
    if (group.warehouseId !== undefined) {
      take(group, group.warehouseId, available, holds, short);
      continue;
    }
    const warehouses = keys
      .filter((k) => k.productId === group.productId)
      .map(({ productId, warehouseId }) => ({
        warehouseId,
        available: available.get(nameOf(productId, warehouseId)) ?? 0,
      }));
    allocate(group, warehouses, priorityOf(group.productId), available, holds, short);
  }
  // The team's choice: short lines in the order of their index in the request.
  if (short.length > 0) return { ok: false, short: short.sort((a, b) => a.index - b.index) };
  // Array.prototype.sort is stable: a split line keeps its allocation order.
  return { ok: true, holds: holds.sort((a, b) => a.line - b.line) };
}

/** Takes a group's units from the one stock key it names, if it has them. */
function take(
  group: LineGroup,
  warehouseId: string,
  available: Map<string, number>,
  holds: PlannedHold[],
  short: ShortLineDetails[],
): void {
  const { index, productId, requested } = group;
  const name = nameOf(productId, warehouseId);
  // A key never stocked is a short line with nothing available, not a 404.
  const have = available.get(name) ?? 0;
  if (requested > have) {
    short.push({
      index,
      product_id: productId,
      warehouse_id: warehouseId,
      requested,
      available: have,
    });
    return;
  }
  available.set(name, have - requested);
  holds.push({ line: index, productId, warehouseId, quantity: requested });
}

/** Takes a product's units from its warehouses in allocation order until the group is covered. */
function allocate(
  group: LineGroup,
  warehouses: readonly { warehouseId: string; available: number }[],
  priority: readonly string[] | null,
  available: Map<string, number>,
  holds: PlannedHold[],
  short: ShortLineDetails[],
): void {
  const total = warehouses.reduce((sum, w) => sum + w.available, 0);
  const { index, productId, requested } = group;
  if (requested > total) {
    short.push({ index, product_id: productId, requested, available: total });
    return;
  }
  let remaining = requested;
  const offered = warehouses.filter((w) => w.available > 0);
  for (const { warehouseId, available: have } of allocationOrder(offered, priority)) {
    if (remaining === 0) break;
    const quantity = Math.min(have, remaining);
    holds.push({ line: index, productId, warehouseId, quantity });
    available.set(nameOf(productId, warehouseId), have - quantity);
    remaining -= quantity;
  }
}
