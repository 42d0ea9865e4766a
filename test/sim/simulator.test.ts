// Proves the durability core from the inside, deterministically: the simulator (test/sim) runs
// the real Shard against an in-memory journal that fails, stalls, reorders and loses writes, a
// virtual clock, and crashes at any step, checking after every step that no reply left before
// what it saw was durable, that every acknowledged change survives exactly once, that the model
// agrees and that the invariants hold; and that one seed always gives one trace, byte for byte.
// With 2 or 3 group commits in flight, a later write lands while an earlier one fails or is lost
// in a crash: the runs must have met such a gap in the journal (gapsFound).
// SIM_SEED=n replays one seed; SIM_SEED_FROM=n moves the range; SOAK_SIM_SECONDS sets the budget.
import { describe, expect, it } from 'vitest';
import { report, timeoutFor } from '../helpers/soak.js';
import { runSeeds, seedLoopFromEnvironment } from './seed-runs.js';
import { Simulation } from './simulator.js';

const loop = seedLoopFromEnvironment(25);
const { firstSeed, onlySeed, budgetSeconds, steps: stepsPerSeed } = loop;
const make = (seed: number, keepTrace: boolean) => new Simulation(seed, keepTrace);

describe('the deterministic simulator of the durability core', () => {
  it('gives the same trace for the same seed, byte for byte', async () => {
    const seed = onlySeed ?? 7;
    const first = new Simulation(seed, true);
    const second = new Simulation(seed, true);
    const a = await first.run(stepsPerSeed);
    const b = await second.run(stepsPerSeed);
    expect(second.traceLines.join('\n')).toBe(first.traceLines.join('\n'));
    expect(b.traceHash).toBe(a.traceHash);
    // A different seed is a different run.
    const other = await new Simulation(seed + 1, false).run(stepsPerSeed);
    expect(other.traceHash).not.toBe(a.traceHash);
  });

  it(
    'finds every reply durable, every acknowledged change kept and the model agreeing',
    async () => {
      // A failure throws SimulationFailure: its message has the seed and the replay command.
      const { seeds, seconds, totals } = await runSeeds(make, loop);
      const perSecond = {
        seedsPerSecond: seeds / seconds,
        stepsPerSecond: (totals.steps ?? 0) / seconds,
      };
      report({
        test: `simulator (seeds from ${firstSeed})`,
        seconds,
        counts: { seeds, ...totals, ...perSecond },
      });
      expect(seeds).toBeGreaterThan(0);
      // The runs did exercise what they check (summed over all seeds).
      if (onlySeed === undefined) {
        const exercised = [
          'acknowledged',
          'crashes',
          'writeFailures',
          'expiredBySweep',
          'gapsFound',
        ];
        for (const name of exercised) {
          expect(totals[name], name).toBeGreaterThan(0);
        }
      }
    },
    timeoutFor(budgetSeconds * 1000),
  );
});
