// Proves the shedding rule of queue-admission.ts: nothing is shed when it is off or below the
// floor; beyond it, a reserve is shed exactly when Little's law says it would wait longer than
// the bound plus two cycles. And the drain rate and cycle count busy time only. A shed answer's
// retry-after is the backlog (in flight and turned away lately) over the drain rate, in whole
// seconds within its range, never shorter for a bigger backlog (fast-check); the turned-away
// tally counts the second under way and the R before it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DrainRate,
  retryAfterSeconds,
  sheds,
  TurnedAway,
  type AdmissionRule,
} from '../../../src/shards/queue-admission.js';
import { drainRateWindowMs, shedRetryAfterSecondsMax } from '../../../src/limits.js';
import { runOptions } from '../../helpers/fc-options.js';

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

  it('forgets what a replaced thread showed: unknown again, then measured afresh', () => {
    const rate = new DrainRate();
    rate.busyFrom(0);
    rate.answered(1000, 100);
    expect(rate.perSecond).toBe(10_000);
    expect(rate.cycleMs).toBe(100);
    rate.answered(5, 150); // half a window, counted toward the next
    rate.forget();
    expect(rate.perSecond).toBe(0);
    expect(rate.cycleMs).toBe(0);
    // Unknown: the floor bounds the first wave, whatever the old thread drained.
    expect(sheds({ inFlight: 512, drainPerSecond: rate.perSecond, cycleMs: 0 }, rule)).toBe(true);
    rate.busyFrom(1000);
    rate.answered(50, 1100);
    expect(rate.perSecond).toBe(500); // the 5 answers from before were not kept
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

describe('retryAfterSeconds', () => {
  it('is 1 while the drain rate is not known, whatever the backlog', () => {
    expect(retryAfterSeconds({ inFlight: 5000, drainPerSecond: 0, cycleMs: 0 }, 100_000)).toBe(1);
  });

  it('is the time to serve what is in flight and what was turned away, rounded up', () => {
    const state = { inFlight: 1000, drainPerSecond: 5000, cycleMs: 30 };
    // 1,000 + 4,000 at 5,000 a second: exactly 1 s. One more is past it: come back in 2.
    expect(retryAfterSeconds(state, 4000)).toBe(1);
    expect(retryAfterSeconds(state, 4001)).toBe(2);
    expect(retryAfterSeconds(state, 14_000)).toBe(3);
    // A short queue still says 1, never 0.
    expect(retryAfterSeconds({ ...state, inFlight: 1 }, 0)).toBe(1);
  });

  it('sends a crowd too big to predict back after the longest retry-after, no later', () => {
    const state = { inFlight: 8000, drainPerSecond: 100, cycleMs: 500 };
    expect(retryAfterSeconds(state, 1_000_000)).toBe(shedRetryAfterSecondsMax);
  });

  it('is whole seconds within range and never shorter for a bigger backlog', () => {
    const state = fc.record({
      inFlight: fc.integer({ min: 0, max: 1_000_000 }),
      drainPerSecond: fc.oneof(fc.constant(0), fc.double({ min: 0.001, max: 1e7, noNaN: true })),
      cycleMs: fc.double({ min: 0, max: 10_000, noNaN: true }),
    });
    const count = fc.integer({ min: 0, max: 10_000_000 });
    fc.assert(
      fc.property(state, count, count, (queue, turnedAway, more) => {
        const seconds = retryAfterSeconds(queue, turnedAway);
        expect(Number.isInteger(seconds)).toBe(true);
        expect(seconds).toBeGreaterThanOrEqual(1);
        expect(seconds).toBeLessThanOrEqual(shedRetryAfterSecondsMax);
        expect(retryAfterSeconds(queue, turnedAway + more)).toBeGreaterThanOrEqual(seconds);
        const deeper = { ...queue, inFlight: queue.inFlight + more };
        expect(retryAfterSeconds(deeper, turnedAway)).toBeGreaterThanOrEqual(seconds);
      }),
      runOptions(500),
    );
  });
});

describe('TurnedAway', () => {
  it('counts the second under way and the given number of seconds before it', () => {
    const tally = new TurnedAway();
    tally.add(500); // second 0
    tally.add(1500); // second 1
    tally.add(1600);
    tally.add(3999); // second 3
    expect(tally.within(0, 3999)).toBe(1);
    expect(tally.within(1, 3999)).toBe(1);
    expect(tally.within(2, 3999)).toBe(3);
    expect(tally.within(3, 3999)).toBe(4);
    expect(tally.within(2, 4000)).toBe(1); // second 4: seconds 2..4
  });

  it('forgets a second once the ring comes round to it again', () => {
    const tally = new TurnedAway();
    tally.add(0);
    const lap = (shedRetryAfterSecondsMax + 1) * 1000;
    tally.add(lap); // the same slot, a lap later
    expect(tally.within(shedRetryAfterSecondsMax, lap)).toBe(1);
    // Asked for more seconds than it keeps: what it keeps.
    expect(tally.within(1000, lap)).toBe(1);
  });

  it('agrees with a plain list of refusal times (fast-check)', () => {
    const times = fc.array(fc.integer({ min: 0, max: 60_000 }), { maxLength: 200 });
    fc.assert(
      fc.property(times, fc.integer({ min: 0, max: shedRetryAfterSecondsMax }), (at, span) => {
        const sorted = [...at].sort((a, b) => a - b);
        const tally = new TurnedAway();
        for (const ms of sorted) tally.add(ms);
        const nowMs = sorted.at(-1) ?? 0;
        const now = Math.floor(nowMs / 1000);
        const expected = sorted.filter((ms) => Math.floor(ms / 1000) >= now - span).length;
        expect(tally.within(span, nowMs)).toBe(expected);
      }),
      runOptions(300),
    );
  });
});
