// bench/cpu-profile-summary.ts --under on a hand-made profile: a sample counts under a function
// when the function is anywhere on its stack, a file narrows a name to one script, and "any of
// them" counts a sample under several only once.
import { describe, expect, it } from 'vitest';
import {
  parseFrameMatch,
  underShares,
  type CpuProfile,
  type ProfileNode,
} from '../../../bench/lib/profile-under.js';

function node(id: number, functionName: string, file: string, children: number[] = []) {
  const frame = { functionName, url: `file:///src/${file}`, lineNumber: 0 };
  return { id, callFrame: frame, children } satisfies ProfileNode;
}

// root → replay → applyReserved → set (split-map)
//               → retire (partition-state) → retire (stock-actor) → delete (split-map)
//                                          → pushHold
//      → (garbage collector)
const profile: CpuProfile = {
  nodes: [
    node(1, '(root)', '', [2, 9]),
    node(2, 'replay', 'partition-state.ts', [3, 5]),
    node(3, 'applyReserved', 'stock-actor.ts', [4]),
    node(4, 'set', 'split-map.ts'),
    node(5, 'retire', 'partition-state.ts', [6, 8]),
    node(6, 'retire', 'stock-actor.ts', [7]),
    node(7, 'delete', 'split-map.ts'),
    node(8, 'pushHold', 'retained-holds.ts'),
    node(9, '(garbage collector)', ''),
  ],
  // 10 samples: 2 in replay itself, 3 in set, 2 in delete, 2 in pushHold, 1 in GC.
  samples: [2, 2, 4, 4, 4, 7, 7, 8, 8, 9],
  startTime: 0,
  endTime: 10_000,
  timeDeltas: Array.from({ length: 10 }, () => 1_000),
};

describe('--under', () => {
  it('counts every sample with the function on its stack, callees included', () => {
    const wanted = ['applyReserved', 'retire@stock-actor', 'pushHold', 'retire', 'replay'];
    const shares = underShares(profile, wanted.map(parseFrameMatch));
    // retire unqualified: both retires, counted once per sample (the stock actor's is inside).
    expect(shares.each).toStrictEqual([3, 2, 2, 4, 9]);
    expect(shares.any).toBe(9);
  });

  it('counts a sample under two of them once in "any"', () => {
    const shares = underShares(
      profile,
      ['retire@partition-state', 'pushHold'].map(parseFrameMatch),
    );
    expect(shares.each).toStrictEqual([4, 2]);
    expect(shares.any).toBe(4);
  });

  it('finds nothing for a name on no stack, or a file it is not in', () => {
    const shares = underShares(profile, ['hashText', 'pushHold@hold.ts'].map(parseFrameMatch));
    expect(shares.each).toStrictEqual([0, 0]);
    expect(shares.any).toBe(0);
  });

  it('refuses an empty name or file', () => {
    expect(() => parseFrameMatch('@stock-actor')).toThrow(/NAME or NAME@FILE/);
    expect(() => parseFrameMatch('retire@')).toThrow(/NAME or NAME@FILE/);
    expect(parseFrameMatch('retire@stock-actor')).toStrictEqual({
      text: 'retire@stock-actor',
      functionName: 'retire',
      file: 'stock-actor',
    });
  });
});
