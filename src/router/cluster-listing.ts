// The stock listing on a node of a cluster: every node's read view holds the keys of the
// partitions it serves, so a page is asked of every live node (each answers the page of its own
// partitions, after the same cursor) and the answers are merged in (product, warehouse) order.
// A page is answered only when the nodes' partitions together cover the whole journal: a
// partition without an owner for the moment would silently leave its keys out.
import type { StockView } from '../actors/index.js';
import type { StockKey } from './read-view.js';
import type { StockListing, StockListingRefusal } from './stock-listing.js';

/** One node's page: its keys in order, whether more follow, and the partitions it served. */
export type NodePage =
  | {
      readonly ok: true;
      readonly items: readonly StockView[];
      readonly more: boolean;
      readonly served: readonly number[];
    }
  | StockListingRefusal;

/** The order of the view's keys (a NUL between product and warehouse sorts below any id). */
const orderOf = (item: StockView): string => `${item.productId}\u0000${item.warehouseId}`;

/**
 * The merged page of `limit` keys, or 'uncovered' when some partition was served by no node, or
 * the first refusal a node gave.
 */
export function mergePages(
  pages: readonly NodePage[],
  limit: number,
  partitions: number,
): StockListing | 'uncovered' {
  const covered = new Set<number>();
  const items: StockView[] = [];
  let more = false;
  for (const page of pages) {
    if (!page.ok) return page;
    for (const partition of page.served) covered.add(partition);
    items.push(...page.items);
    more ||= page.more;
  }
  if (covered.size < partitions) return 'uncovered';
  const ordered = items
    .map((item) => [orderOf(item), item] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, item]) => item);
  const page = ordered.slice(0, limit);
  const last = page[page.length - 1];
  const next: StockKey | undefined =
    (more || ordered.length > limit) && last !== undefined
      ? { productId: last.productId, warehouseId: last.warehouseId }
      : undefined;
  return { ok: true, items: page, next };
}
