// The bench's verdicts are claims the README repeats ("oversell 0", "check OK", "median of 3"),
// so the arithmetic behind them is tested like product code.
import { describe, expect, it } from 'vitest';
import { median, ratiosOf } from '../../../bench/lib/report.js';
import type { SystemRun } from '../../../bench/lib/run-system.js';
import { emptyTallies, expectedStock, oversellOf, scenario } from '../../../bench/lib/scenarios.js';

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

describe('medians and ratios', () => {
  it('takes the middle value, or the mean of the two middle ones, ignoring failed runs', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([null, 5, undefined])).toBe(5);
    expect(median([])).toBeNull();
  });

  it('divides the ledger by each baseline within the same run', () => {
    const run = (system: SystemRun['system'], runNumber: number, rate: number) =>
      ({ system, scenario: 'hot-sku', run: runNumber, requestsPerSecond: rate }) as SystemRun;
    const ratios = ratiosOf([
      run('ledger', 1, 100),
      run('bare-uws', 1, 200),
      run('ledger', 2, 90),
      run('bare-uws', 2, 100),
      run('ledger', 3, 120),
      run('bare-uws', 3, 400),
    ]);
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
});
