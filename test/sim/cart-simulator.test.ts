// Proves carts across partitions are all or nothing under crashes, from one seed at a time.
// The cart simulator runs the real Shard, CartCoordinator and CartResolver against a faulty
// in-memory journal and kill -9 at any step: every 200 was durable when sent, every cart ever
// attempted is entirely there or not at all once resolved, and one seed gives one trace.
// SIM_SEED=n replays one seed; SIM_SEED_FROM=n moves the range; SOAK_SIM_SECONDS sets the budget.
import { describe, expect, it } from 'vitest';
import { knob, report, soak, timeoutFor } from '../helpers/soak.js';
import { CartSimulation } from './cart-simulator.js';

const budgetSeconds = knob('SOAK_SIM_SECONDS', 15, 600);
const stepsPerSeed = knob('SIM_STEPS', 600, 1500);
const onlySeed = process.env.SIM_SEED;
const firstSeed =
  process.env.SIM_SEED_FROM !== undefined
    ? Number(process.env.SIM_SEED_FROM)
    : soak
      ? Math.floor(Math.random() * 2 ** 31)
      : 1;

describe('the deterministic cart simulator', () => {
  it('gives the same trace for the same seed, byte for byte', async () => {
    const seed = onlySeed === undefined ? 2 : Number(onlySeed);
    const first = new CartSimulation(seed, true);
    const second = new CartSimulation(seed, true);
    const a = await first.run(stepsPerSeed).catch(() => undefined);
    const b = await second.run(stepsPerSeed).catch(() => undefined);
    expect(second.traceLines.join('\n')).toBe(first.traceLines.join('\n'));
    expect(b?.traceHash).toBe(a?.traceHash);
  });

  it(
    'finds every acknowledged cart durable and every cart entirely there or not at all',
    async () => {
      const startedMs = performance.now();
      const totals: Record<string, number> = {};
      let seeds = 0;
      for (
        let seed = onlySeed !== undefined ? Number(onlySeed) : firstSeed;
        onlySeed !== undefined ? seeds < 1 : performance.now() - startedMs < budgetSeconds * 1000;
        seed += 1
      ) {
        // A failure throws CartSimulationFailure: its message has the seed and the replay command.
        const result = await new CartSimulation(seed, false).run(stepsPerSeed);
        seeds += 1;
        for (const [name, count] of Object.entries(result.counts)) {
          totals[name] = (totals[name] ?? 0) + count;
        }
      }
      const seconds = (performance.now() - startedMs) / 1000;
      report({
        test: `cart simulator (seeds from ${firstSeed})`,
        seconds,
        counts: { seeds, ...totals, seedsPerSecond: seeds / seconds },
      });
      expect(seeds).toBeGreaterThan(0);
      if (onlySeed === undefined) {
        for (const name of [
          'acknowledged',
          'crossPartition',
          'crashes',
          'resolutions',
          'aborted',
        ]) {
          expect(totals[name], name).toBeGreaterThan(0);
        }
      }
    },
    timeoutFor(budgetSeconds * 1000),
  );
});
