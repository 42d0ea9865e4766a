// Proves the read view's listing pages against a plain model (every key, sorted by product then
// warehouse with ordinary comparisons): under random changes over many partitions, in batches
// small (inserted) and large (merged), every page is the model's page, and paging to the end
// visits every key once, in order, including keys that arrived after the cursor meanwhile.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StockReadView, type StockKey } from '../../src/router/read-view.js';
import type { StockChange } from '../../src/shards/index.js';
import { runOptions } from '../helpers/fc-options.js';

const partitions = 64;
const forever = Number.POSITIVE_INFINITY;

// Few characters, short ids: many shared prefixes ('a' and 'a.', 'a' and 'a-b').
const id = fc.string({
  unit: fc.constantFrom('a', 'b', 'A', '.', '-', '0'),
  minLength: 1,
  maxLength: 3,
});
const key = fc.record({ productId: id, warehouseId: id });
const batch = fc.oneof(
  { weight: 3, arbitrary: fc.array(key, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.array(key, { minLength: 65, maxLength: 200 }) },
);

const compare = (a: StockKey, b: StockKey): number => {
  if (a.productId !== b.productId) return a.productId < b.productId ? -1 : 1;
  if (a.warehouseId !== b.warehouseId) return a.warehouseId < b.warehouseId ? -1 : 1;
  return 0;
};
const name = (k: StockKey): string => `${k.productId}/${k.warehouseId}`;
const change = (k: StockKey): StockChange => [k.productId, k.warehouseId, 1, 0, 1];

/** The model: every key once, in order. */
class Keys {
  private readonly known = new Map<string, StockKey>();
  add(keys: readonly StockKey[]): void {
    for (const k of keys) this.known.set(name(k), k);
  }
  page(productId: string | undefined, after: StockKey | undefined, limit: number) {
    const matching = [...this.known.values()]
      .filter((k) => productId === undefined || k.productId === productId)
      .filter((k) => after === undefined || compare(k, after) > 0)
      .sort(compare);
    return { keys: matching.slice(0, limit).map(name), more: matching.length > limit };
  }
}

function pageOf(
  view: StockReadView,
  productId: string | undefined,
  after: StockKey | undefined,
  limit: number,
) {
  const page = view.page({ productId, after, limit }, 0);
  if (page === 'not-loaded') throw new Error('every partition was loaded');
  return {
    keys: page.entries.map((entry) => name(entry.key)),
    more: page.more,
    entries: page.entries,
  };
}

describe('the read view listing', () => {
  it('answers every page as the model does', () => {
    fc.assert(
      fc.property(
        fc.array(batch, { minLength: 1, maxLength: 8 }),
        fc.array(
          fc.record({
            product: fc.option(id),
            after: fc.option(key),
            limit: fc.integer({ min: 1, max: 40 }),
          }),
          { minLength: 1, maxLength: 10 },
        ),
        (batches, queries) => {
          const view = new StockReadView(partitions);
          const model = new Keys();
          const [census = [], ...changes] = batches;
          view.load(
            Array.from({ length: partitions }, (_, p) => p),
            census.map(change),
            forever,
          );
          model.add(census);
          for (const keys of changes) {
            view.apply(keys.map(change));
            model.add(keys);
          }
          for (const { product, after, limit } of queries) {
            const productId = product ?? undefined;
            const page = pageOf(view, productId, after ?? undefined, limit);
            expect({ keys: page.keys, more: page.more }).toEqual(
              model.page(productId, after ?? undefined, limit),
            );
          }
        },
      ),
      runOptions(300),
    );
  });

  it('visits every key once, in order, when paging while keys arrive', () => {
    fc.assert(
      fc.property(
        fc.array(key, { maxLength: 300 }),
        fc.array(batch, { maxLength: 10 }),
        fc.option(id),
        fc.integer({ min: 1, max: 25 }),
        (census, arriving, product, limit) => {
          const productId = product ?? undefined;
          const view = new StockReadView(partitions);
          view.load(
            Array.from({ length: partitions }, (_, p) => p),
            census.map(change),
            forever,
          );
          const mustSee = new Set(
            census.filter((k) => productId === undefined || k.productId === productId).map(name),
          );
          const seen: StockKey[] = [];
          let after: StockKey | undefined;
          for (let round = 0; ; round += 1) {
            const page = pageOf(view, productId, after, limit);
            seen.push(...page.entries.map((entry) => entry.key));
            if (!page.more) break;
            after = page.entries[page.entries.length - 1]?.key;
            // Keys arriving after the cursor must be seen too.
            const keys = arriving[round] ?? [];
            view.apply(keys.map(change));
            for (const k of keys) {
              const matches = productId === undefined || k.productId === productId;
              if (matches && after !== undefined && compare(k, after) > 0) mustSee.add(name(k));
            }
          }
          for (let index = 1; index < seen.length; index += 1) {
            expect(compare(seen[index - 1] as StockKey, seen[index] as StockKey)).toBeLessThan(0);
          }
          const names = new Set(seen.map(name));
          for (const expected of mustSee) expect(names).toContain(expected);
        },
      ),
      runOptions(300),
    );
  });
});
