// Proves the stock gauge's key set stays bounded and follows the heat: the most changed keys
// are shown with their latest value, and a key that cools down gives way to a hotter one.
import { describe, expect, it } from 'vitest';
import { HotKeys } from '../../../src/observability/hot-keys.js';

describe('HotKeys', () => {
  it('shows the N most changed keys with their latest available units', () => {
    const hot = new HotKeys(2);
    for (let change = 0; change < 5; change += 1) hot.observe('a', 'w', 100 - change);
    for (let change = 0; change < 3; change += 1) hot.observe('b', 'w', 50 - change);
    hot.observe('c', 'w', 7);
    expect(hot.top()).toEqual([
      { productId: 'a', warehouseId: 'w', available: 96 },
      { productId: 'b', warehouseId: 'w', available: 48 },
    ]);
  });

  it('keeps a bounded table under a flood of distinct keys, and a new hot key rises to the top', () => {
    const hot = new HotKeys(3);
    for (let key = 0; key < 100_000; key += 1) hot.observe(`k${key}`, 'w', key);
    expect(hot.top()).toHaveLength(3);
    for (let change = 0; change < 50; change += 1) hot.observe('flash', 'w', 1000 - change);
    expect(hot.top()[0]).toEqual({ productId: 'flash', warehouseId: 'w', available: 951 });
    expect((hot as unknown as { entries: Map<string, unknown> }).entries.size).toBeLessThanOrEqual(
      16,
    );
  });
});
