// Proves the shedding rule of queue-admission.ts: nothing is shed when it is off or below the
// floor; beyond it, a reserve is shed exactly when Little's law says it would wait longer than
// the bound plus two cycles. And the drain rate and cycle count busy time only.
import { describe, expect, it } from 'vitest';
import { DrainRate, sheds, type AdmissionRule } from '../../../src/shards/queue-admission.js';
import { drainRateWindowMs } from '../../../src/limits.js';

const rule: AdmissionRule = { queueDelayMs: 100, floor: 512 };

describe('sheds', () => {
  it('never sheds when the bound is 0 (off)', () => {
    const off = { ...rule, queueDelayMs: 0 };
    expect(sheds({ inFlight: 1_000_000, drainPerSecond: 0, cycleMs: 0 }, off)).toBe(false);
  });

  it('never sheds below the floor, even before the drain rate is known', () => {
    expect(sheds({ inFlight: 511, drainPerSecond: 0, cycleMs: 0 }, rule)).toBe(false);
    expect(sheds({ inFlight: 512, drainPerSecond: 0, cycleMs: 0 }, rule)).toBe(true);
  });

  it('sheds exactly when in flight / drain rate passes the bound plus two cycles', () => {
    // 10,000 a second for 100 ms + two 5 ms cycles is 1,100 requests of queue.
    const fast = { drainPerSecond: 10_000, cycleMs: 5 };
    expect(sheds({ ...fast, inFlight: 1100 }, rule)).toBe(false);
    expect(sheds({ ...fast, inFlight: 1101 }, rule)).toBe(true);
    expect(sheds({ inFlight: 600, drainPerSecond: 5000, cycleMs: 0 }, rule)).toBe(true);
    expect(sheds({ inFlight: 600, drainPerSecond: 6000, cycleMs: 0 }, rule)).toBe(false);
  });

  it('lets a slow cycle fill bigger batches instead of holding the shard at the floor', () => {
    // A commit every 200 ms of 500 of the 1,000 in flight (the others wait for the next): 2,500
    // a second, each waiting two cycles. Without the cycles this would shed (1,000 / 2,500 s =
    // 400 ms > 100 ms) and hold the shard at the floor, committing fewer each cycle.
    expect(sheds({ inFlight: 1000, drainPerSecond: 2500, cycleMs: 200 }, rule)).toBe(false);
    expect(sheds({ inFlight: 1251, drainPerSecond: 2500, cycleMs: 200 }, rule)).toBe(true);
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

  it('measures the cycle as busy time per batch of answers', () => {
    const rate = new DrainRate();
    rate.busyFrom(0);
    rate.answered(10, 20);
    rate.answered(10, 40);
    rate.answered(10, 60);
    rate.answered(10, 80);
    rate.answered(10, 100);
    expect(rate.cycleMs).toBe(20);
    // A longer cycle moves it half way; a shorter one is taken at once.
    for (let at = 140; at <= 200; at += 60) rate.answered(60, at);
    expect(rate.cycleMs).toBe(35);
    for (let at = 210; at <= 300; at += 10) rate.answered(10, at);
    expect(rate.cycleMs).toBe(10);
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
