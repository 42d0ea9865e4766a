// Proves the shedding rule of queue-admission.ts: nothing is shed when it is off or below the
// floor; beyond it, a reserve is shed exactly when Little's law says it would wait longer than
// the bound. And the drain rate counts busy time only, rises at once and falls by halves.
import { describe, expect, it } from 'vitest';
import { DrainRate, sheds, type AdmissionRule } from '../../../src/shards/queue-admission.js';
import { drainRateWindowMs } from '../../../src/limits.js';

const rule: AdmissionRule = { queueDelayMs: 100, floor: 512 };

describe('sheds', () => {
  it('never sheds when the bound is 0 (off)', () => {
    const off = { ...rule, queueDelayMs: 0 };
    expect(sheds({ inFlight: 1_000_000, drainPerSecond: 0 }, off)).toBe(false);
  });

  it('never sheds below the floor, even before the drain rate is known', () => {
    expect(sheds({ inFlight: 511, drainPerSecond: 0 }, rule)).toBe(false);
    expect(sheds({ inFlight: 512, drainPerSecond: 0 }, rule)).toBe(true);
  });

  it('sheds exactly when in flight / drain rate passes the bound', () => {
    // 10,000 a second for 100 ms is 1,000 requests of queue.
    expect(sheds({ inFlight: 1000, drainPerSecond: 10_000 }, rule)).toBe(false);
    expect(sheds({ inFlight: 1001, drainPerSecond: 10_000 }, rule)).toBe(true);
    expect(sheds({ inFlight: 600, drainPerSecond: 5000 }, rule)).toBe(true);
    expect(sheds({ inFlight: 600, drainPerSecond: 6000 }, rule)).toBe(false);
  });
});

describe('DrainRate', () => {
  it('is 0 until a window of busy time has passed', () => {
    const rate = new DrainRate();
    rate.busyFrom(0);
    rate.answered(50, drainRateWindowMs - 1);
    expect(rate.perSecond).toBe(0);
    rate.answered(50, drainRateWindowMs);
    expect(rate.perSecond).toBe((100 * 1000) / drainRateWindowMs);
  });

  it('does not count idle time: a send to an idle shard starts the clock again', () => {
    const rate = new DrainRate();
    rate.busyFrom(0);
    rate.answered(10, 50);
    // Idle for ten seconds, then busy again for 50 ms.
    rate.busyFrom(10_050);
    rate.answered(10, 10_100);
    expect(rate.perSecond).toBe((20 * 1000) / 100);
  });

  it('takes a faster window at once and moves half way to a slower one', () => {
    const rate = new DrainRate();
    rate.busyFrom(0);
    rate.answered(100, 100); // 1,000 a second
    rate.answered(300, 200); // 3,000 a second
    expect(rate.perSecond).toBe(3000);
    rate.answered(100, 300); // 1,000 a second
    expect(rate.perSecond).toBe(2000);
  });
});
