// isoTime (src/iso-time.ts) writes every time as Date#toISOString does, checked against it over
// Date's whole range, fractions, negative and six-digit years, days crossed in any order (its
// remembered day must never leak into another day's time), and the values Date refuses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isoTime } from '../../src/iso-time.js';
import { runOptions } from '../helpers/fc-options.js';

const timeAbsMax = 8.64e15;
const dayMs = 86_400_000;

function expectSameAsDate(ms: number): void {
  expect(isoTime(ms)).toBe(new Date(ms).toISOString());
}

describe('isoTime', () => {
  it('writes any whole time in range as toISOString does', () => {
    fc.assert(
      fc.property(fc.integer({ min: -timeAbsMax, max: timeAbsMax }), expectSameAsDate),
      runOptions(2000),
    );
  });

  it('cuts fractions toward zero as Date does, negative times too', () => {
    fc.assert(
      fc.property(
        fc.double({ min: -timeAbsMax, max: timeAbsMax, noNaN: true, noDefaultInfinity: true }),
        expectSameAsDate,
      ),
      runOptions(2000),
    );
  });

  it('keeps each day its own when times jump between days and back', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            day: fc.integer({ min: -3, max: 3 }),
            offset: fc.integer({ min: -1, max: dayMs }),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        (steps) => {
          const base = Date.UTC(2026, 11, 5);
          for (const { day, offset } of steps) expectSameAsDate(base + day * dayMs + offset);
        },
      ),
      runOptions(200),
    );
  });

  it('writes the edges of a day, of the epoch and of the range exactly', () => {
    const midnight = Date.UTC(2026, 11, 5);
    for (const ms of [
      0,
      -0,
      -1,
      1,
      0.5,
      -0.5,
      -1.5,
      midnight - 1,
      midnight,
      midnight + dayMs - 1,
      Date.UTC(2024, 1, 29, 23, 59, 59, 999),
      Date.UTC(-1, 0, 1),
      Date.UTC(10_000, 0, 1),
      -62_198_755_200_000, // year -0001, as toISOString writes it: -000001
      timeAbsMax,
      -timeAbsMax,
    ]) {
      expectSameAsDate(ms);
    }
  });

  it('throws the RangeError Date throws for what no Date can hold', () => {
    for (const ms of [Number.NaN, Infinity, -Infinity, timeAbsMax + 1, -timeAbsMax - 1]) {
      expect(() => new Date(ms).toISOString()).toThrow(RangeError);
      expect(() => isoTime(ms)).toThrow(RangeError);
    }
  });
});
