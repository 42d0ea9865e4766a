// Proves the pure half of the journal's ownership lease: which re-claim sights give the journal
// back, which mean it is lost for good and which are worth another try, and that the back-off
// between tries doubles and stays within its bounds (the lease itself: journal-ownership.test.ts).
import { describe, expect, it } from 'vitest';
import {
  reclaimDelayMs,
  reclaimVerdict,
  type ReclaimSight,
} from '../../../src/persistence/journal-owner.js';
import { journalReclaimDelayMsMax, journalReclaimDelayMsMin } from '../../../src/limits.js';

describe('reclaimVerdict', () => {
  const cases: [sight: ReclaimSight, verdict: ReturnType<typeof reclaimVerdict>, why: string][] = [
    [{ claimed: true, epoch: '7' }, 'owned', 'the lock with our epoch: nobody owned it in between'],
    [{ claimed: true, epoch: '8' }, 'taken', 'the lock, but another ledger claimed it meanwhile'],
    [{ claimed: true, epoch: undefined }, 'taken', 'the lock, but no epoch to vouch for memory'],
    [{ claimed: false, holder: 'another' }, 'taken', "another ledger's session holds the lock"],
    [
      { claimed: false, holder: 'ours' },
      'retry',
      'our old session holds it until Postgres ends it',
    ],
    [{ claimed: false, holder: 'nobody' }, 'retry', 'the lock was let go between looks'],
  ];

  it.each(cases)('sees %o as %s: %s', (sight, verdict) => {
    expect(reclaimVerdict(sight, '7')).toBe(verdict);
  });
});

describe('reclaimDelayMs', () => {
  it('starts at the minimum and doubles', () => {
    expect(reclaimDelayMs(0)).toBe(journalReclaimDelayMsMin);
    expect(reclaimDelayMs(1)).toBe(
      Math.min(2 * journalReclaimDelayMsMin, journalReclaimDelayMsMax),
    );
  });

  it('never exceeds the ceiling, however many attempts failed', () => {
    for (const attempt of [5, 10, 30, 1_000, Number.MAX_SAFE_INTEGER]) {
      const delay = reclaimDelayMs(attempt);
      expect(delay).toBeLessThanOrEqual(journalReclaimDelayMsMax);
      expect(delay).toBeGreaterThanOrEqual(journalReclaimDelayMsMin);
    }
    expect(reclaimDelayMs(1_000)).toBe(journalReclaimDelayMsMax);
  });
});
