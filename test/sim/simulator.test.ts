// Proves the durability core from the inside, deterministically: the simulator (test/sim) runs
// the real Shard against an in-memory journal that fails, stalls, reorders and loses writes, a
// virtual clock, and crashes at any step, checking after every step that no reply left before
// what it saw was durable, that every acknowledged change survives exactly once, that the model
// agrees and that the invariants hold; and that one seed always gives one trace, byte for byte.
// SIM_SEED=n replays one seed; SIM_SEED_FROM=n moves the range; SOAK_SIM_SECONDS sets the budget.
import { describe, expect, it } from 'vitest';
import { knob, report, soak, timeoutFor } from '../helpers/soak.js';
import { Simulation } from './simulator.js';

const budgetSeconds = knob('SOAK_SIM_SECONDS', 25, 600);
const stepsPerSeed = knob('SIM_STEPS', 600, 1500);
const onlySeed = process.env.SIM_SEED;
const firstSeed =
  process.env.SIM_SEED_FROM !== undefined
    ? Number(process.env.SIM_SEED_FROM)
    : soak
      ? Math.floor(Math.random() * 2 ** 31)
      : 1;

describe('the deterministic simulator of the durability core', () => {
  it('gives the same trace for the same seed, byte for byte', async () => {
    const seed = onlySeed === undefined ? 7 : Number(onlySeed);
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
      const startedMs = performance.now();
      const totals: Record<string, number> = {};
      let seeds = 0;
      const seedList = onlySeed !== undefined ? [Number(onlySeed)] : undefined;
      for (
        let seed = seedList?.[0] ?? firstSeed;
        seedList !== undefined
          ? seeds < seedList.length
          : performance.now() - startedMs < budgetSeconds * 1000;
        seed += 1
      ) {
        // A failure throws SimulationFailure: its message has the seed and the replay command.
        const result = await new Simulation(seed, false).run(stepsPerSeed);
        seeds += 1;
        for (const [name, count] of Object.entries(result.counts)) {
          totals[name] = (totals[name] ?? 0) + count;
        }
      }
      const seconds = (performance.now() - startedMs) / 1000;
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
        for (const name of ['acknowledged', 'crashes', 'writeFailures', 'expiredBySweep']) {
          expect(totals[name], name).toBeGreaterThan(0);
        }
      }
    },
    timeoutFor(budgetSeconds * 1000),
  );
});
