// The bench's verdicts are claims the README repeats ("oversell 0", "check OK", "median of 3"),
// so the arithmetic behind them is tested like product code.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { floorTargetsOf, median, ratiosOf, type Median } from '../../../bench/lib/report.js';
import type { SystemRun } from '../../../bench/lib/run-system.js';
import { cartAnswerMatches } from '../../../bench/lib/load-worker.js';
import { resolveUnknown } from '../../../bench/lib/state-check.js';
import {
  drawCartKeys,
  emptyTallies,
  expectedStock,
  oversellOf,
  scenario,
  stockKeyAt,
} from '../../../bench/lib/scenarios.js';

describe('the end-state rule', () => {
  it('expects every acknowledged hold to be held until its confirm or release', () => {
    const tallies = emptyTallies(2);
    tallies.reserved[1] = 10;
    tallies.confirmed[1] = 6;
    tallies.released[1] = 3;
    expect(expectedStock(100, tallies, 1)).toEqual({ onHand: 94, reserved: 1 });
    expect(expectedStock(100, tallies, 0)).toEqual({ onHand: 100, reserved: 0 });
  });

  it('counts units acknowledged beyond the stock, from the clients and from the server', () => {
    const tallies = emptyTallies(1);
    tallies.reserved[0] = 20;
    expect(oversellOf(20, tallies, 0, { onHand: 20, reserved: 20 })).toBe(0);
    // 21 acknowledged reserves of 1 unit for 20 units: one oversold, whatever the server says.
    tallies.reserved[0] = 21;
    expect(oversellOf(20, tallies, 0, { onHand: 20, reserved: 20 })).toBe(1);
    // The server holding or having sold more than it was given is an oversell too.
    tallies.reserved[0] = 20;
    expect(oversellOf(20, tallies, 0, { onHand: 18, reserved: 19 })).toBe(1);
  });

  it('stocks the sold-out key with the given units and measures it without a warm-up', () => {
    const soldOut = scenario('sold-out', { soldOutStock: 1234 });
    expect(soldOut).toMatchObject({ keyCount: 1, stockPerKey: 1234, sellsOut: true });
    expect(soldOut.warmsUp).toBe(false);
    expect(scenario('many-sku', { soldOutStock: 1 }).keyCount).toBe(10_000);
  });
});

describe('the cart scenario', () => {
  const cart = scenario('cart', { soldOutStock: 1 });

  it('draws 3 to 5 lines, exactly one on the hot key, the others in the catalogue', () => {
    let seed = 7;
    const random = (): number => {
      seed = (seed * 48271) % 2147483647;
      return seed / 2147483647;
    };
    const sizes = new Set<number>();
    for (let draw = 0; draw < 1000; draw += 1) {
      const keys = drawCartKeys(cart, random);
      sizes.add(keys.length);
      expect(keys.filter((key) => key === 0)).toHaveLength(1);
      for (const key of keys) expect(key >= 0 && key < cart.keyCount).toBe(true);
    }
    expect([...sizes].sort()).toEqual([3, 4, 5]);
    expect(stockKeyAt('cart', 0)).toEqual(stockKeyAt('hot-sku', 0));
    expect(stockKeyAt('cart', 1)).toEqual(stockKeyAt('many-sku', 0));
    expect(stockKeyAt('cart', 10_000)).toEqual(stockKeyAt('many-sku', 9999));
  });

  it('accepts a 200 only when its holds add up to the units asked per key', () => {
    const hold = (line: number, keyIndex: number, quantity: number) => ({
      line,
      reservation_id: `r${line}`,
      ...((key) => ({ product_id: key.productId, warehouse_id: key.warehouseId }))(
        stockKeyAt('cart', keyIndex),
      ),
      quantity,
      status: 'PENDING',
    });
    const answer = (holds: unknown[]) => JSON.stringify({ cart_id: 'c', status: 'PENDING', holds });
    // Lines 1 and 2 name the same key: one hold of 2 units, on the first of them.
    const keys = [0, 5, 5];
    expect(cartAnswerMatches(answer([hold(0, 0, 1), hold(1, 5, 2)]), cart, keys)).toBe(true);
    expect(cartAnswerMatches(answer([hold(0, 0, 1), hold(1, 5, 1)]), cart, keys)).toBe(false);
    expect(cartAnswerMatches(answer([hold(0, 0, 1)]), cart, [0, 5])).toBe(false);
    expect(cartAnswerMatches(answer([hold(3, 0, 1)]), cart, [0])).toBe(false);
    expect(cartAnswerMatches('{"error":{}}', cart, [0])).toBe(false);
  });

  it('replays a cart whose answer was lost and counts its lines when it took effect', async () => {
    const paths: string[] = [];
    const server = createServer((request, response) => {
      paths.push(request.url ?? '');
      response.setHeader('content-type', 'application/json');
      request.resume();
      request.on('end', () => response.end('{"status":"PENDING"}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const tallies = emptyTallies(cart.keyCount);
      const lost = { operation: 'cart' as const, keyIndexes: [0, 7, 7], body: '{}', error: 'x' };
      const replay = await resolveUnknown(`http://127.0.0.1:${port}`, cart, [lost], tallies);
      expect(replay).toMatchObject({ unknown: 1, applied: 1, failed: {} });
      expect(paths).toEqual(['/v1/carts']);
      expect([tallies.reserved[0], tallies.reserved[7], tallies.reserved[1]]).toEqual([1, 2, 0]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('medians and ratios', () => {
  /** Hot-SKU runs of each system at these rates: run 1, 2, ... in order. */
  const hotRuns = (rates: Partial<Record<SystemRun['system'], number[]>>): SystemRun[] =>
    Object.entries(rates).flatMap(([system, perRun]) =>
      (perRun ?? []).map(
        (rate, index) =>
          ({ system, scenario: 'hot-sku', run: index + 1, requestsPerSecond: rate }) as SystemRun,
      ),
    );

  it('takes the middle value, or the mean of the two middle ones, ignoring failed runs', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([null, 5, undefined])).toBe(5);
    expect(median([])).toBeNull();
  });

  it('divides the ledger by each baseline within the same run', () => {
    const ratios = ratiosOf(hotRuns({ ledger: [100, 90, 120], 'bare-uws': [200, 100, 400] }));
    expect(ratios).toEqual([
      {
        scenario: 'hot-sku',
        baseline: 'bare-uws',
        perRun: [0.5, 0.9, 0.3],
        median: 0.5,
        target: 0.4,
      },
    ]);
  });

  it("takes each durable floor that ran as if it were the ledger, against the same runs' baselines", () => {
    const runs = hotRuns({
      ledger: [100, 120],
      'bare-uws-commit-hop': [150, 170],
      'redis-lua': [100, 100],
      'postgres-row-lock': [10, 10],
    });
    const medians = [
      { scenario: 'hot-sku', system: 'ledger', p99Ms: 14 },
      { scenario: 'hot-sku', system: 'bare-uws-commit-hop', p99Ms: 9.5 },
    ] as Median[];
    const floors = floorTargetsOf({ connections: 64 }, runs, medians);
    // bare-uws-commit did not run: it has no row. The ledger is a baseline like any other here,
    // but has no target of its own.
    expect(floors.map((floor) => floor.system)).toEqual(['bare-uws-commit-hop']);
    expect(floors[0]?.targets).toEqual([
      {
        kind: 'redis-lua',
        name: 'hot-sku: bare-uws-commit-hop / redis-lua req/s',
        measured: 1.6,
        target: '≥ 1.5',
        met: true,
      },
      {
        kind: 'postgres-row-lock',
        name: 'hot-sku: bare-uws-commit-hop / postgres-row-lock req/s',
        measured: 16,
        target: '≥ 15',
        met: true,
      },
      {
        kind: 'p99',
        name: 'hot-sku: bare-uws-commit-hop p99 at 64 connections (ms)',
        measured: 9.5,
        target: '≤ 10',
        met: true,
      },
    ]);
    // The p99 target is asked at 64 connections only.
    const crowd = floorTargetsOf({ connections: 1000 }, runs, medians);
    expect(crowd[0]?.targets.map((target) => target.kind)).toEqual([
      'redis-lua',
      'postgres-row-lock',
    ]);
  });
});
