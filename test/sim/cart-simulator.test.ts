// Proves carts across partitions are all or nothing under crashes, from one seed at a time.
// The cart simulator runs the real Shard, CartCoordinator and CartResolver against a faulty
// in-memory journal and kill -9 at any step: every 200 was durable when sent, every cart ever
// attempted is entirely there or not at all once resolved, and one seed gives one trace.
// SIM_SEED=n replays one seed; SIM_SEED_FROM=n moves the range; SOAK_SIM_SECONDS sets the budget.
import { describe, expect, it } from 'vitest';
import { report, timeoutFor } from '../helpers/soak.js';
import { runSeeds, seedLoopFromEnvironment } from './seed-runs.js';
import { CartSimulation } from './cart-simulator.js';

const loop = seedLoopFromEnvironment(15);
const { firstSeed, onlySeed, budgetSeconds, steps: stepsPerSeed } = loop;
const make = (seed: number, keepTrace: boolean) => new CartSimulation(seed, keepTrace);

describe('the deterministic cart simulator', () => {
  it('gives the same trace for the same seed, byte for byte', async () => {
    const seed = onlySeed ?? 2;
    const first = new CartSimulation(seed, true);
    const second = new CartSimulation(seed, true);
    const a = await first.run(stepsPerSeed);
    const b = await second.run(stepsPerSeed);
    expect(second.traceLines.join('\n')).toBe(first.traceLines.join('\n'));
    expect(b.traceHash).toBe(a.traceHash);
  });

  it(
    'finds every acknowledged cart durable and every cart entirely there or not at all',
    async () => {
      // A failure throws SimulationFailure: its message has the seed and the replay command.
      const { seeds, seconds, totals } = await runSeeds(make, loop);
      const perSecond = {
        seedsPerSecond: seeds / seconds,
        stepsPerSecond: (totals.steps ?? 0) / seconds,
      };
      report({
        test: `cart simulator (seeds from ${firstSeed})`,
        seconds,
        counts: { seeds, ...totals, ...perSecond },
      });
      expect(seeds).toBeGreaterThan(0);
      if (onlySeed === undefined) {
        for (const name of [
          'acknowledged',
          'crossPartition',
          'crashes',
          'resolutions',
          'aborted',
          'cartConfirms',
          'confirmsDecided',
          'confirmsAborted',
          'transfers',
          'keysWithLots',
          'lotWriteOffs',
        ]) {
          expect(totals[name], name).toBeGreaterThan(0);
        }
      }
    },
    timeoutFor(budgetSeconds * 1000),
  );
});
