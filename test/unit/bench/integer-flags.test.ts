// The micro-benchmarks' integer flags (bench/lib/args.ts, parseIntegerFlags): defaults, bounds,
// and a refusal for what is not a flag of theirs.
import { describe, expect, it } from 'vitest';
import { parseIntegerFlags, UsageError } from '../../../bench/lib/args.js';

const flags = {
  rounds: { defaultValue: 5, min: 1, max: 100 },
  'quiet-keys': { defaultValue: 8192, min: 1, max: 10_000_000 },
};

describe('parseIntegerFlags', () => {
  it('gives each flag its value, or its default when absent', () => {
    expect(parseIntegerFlags(flags, [])).toEqual({ rounds: 5, 'quiet-keys': 8192 });
    expect(parseIntegerFlags(flags, ['--quiet-keys', '64', '--rounds=3'])).toEqual({
      rounds: 3,
      'quiet-keys': 64,
    });
  });

  it('refuses a value out of bounds or not an integer, and a flag it does not know', () => {
    for (const bad of [
      ['--rounds', '0'],
      ['--rounds', '101'],
      ['--quiet-keys', '1e3'],
    ]) {
      expect(() => parseIntegerFlags(flags, bad)).toThrow(UsageError);
    }
    expect(() => parseIntegerFlags(flags, ['--keys', '1'])).toThrow(/keys/);
  });
});
