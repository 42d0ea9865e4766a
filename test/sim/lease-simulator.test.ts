// Proves a cluster's fencing from the inside, deterministically: two or three nodes (the real
// Shard each) race for the same partitions over one in-memory journal fenced by an in-memory
// lease table; nodes pause past their leases and wake up writing under their old epochs, others
// take over, processes crash. After every reply and at the end it checks that every acknowledged
// change is durable and kept once, that the journal is a history the model allows (no oversell
// across owners), that no idempotency key gets two reservations, that no write under a lost lease
// lands, that a read sees every change acknowledged before it was routed, and that a
// partition a node holds after healing answers (lease-simulator.ts).
// SIM_SEED=n replays one seed; SIM_SEED_FROM=n moves the range; SOAK_SIM_SECONDS sets the budget.
import { describe, expect, it } from 'vitest';
import { report, timeoutFor } from '../helpers/soak.js';
import { LeaseSimulation } from './lease-simulator.js';
import { runSeeds, seedLoopFromEnvironment } from './seed-runs.js';

const loop = seedLoopFromEnvironment(8);
const { firstSeed, onlySeed, budgetSeconds, steps: stepsPerSeed } = loop;
const make = (seed: number, keepTrace: boolean) => new LeaseSimulation(seed, keepTrace);

describe('the lease simulator: nodes racing for the same partitions', () => {
  it('gives the same trace for the same seed, byte for byte', async () => {
    const seed = onlySeed ?? 7;
    const first = new LeaseSimulation(seed, true);
    const second = new LeaseSimulation(seed, true);
    const a = await first.run(stepsPerSeed);
    const b = await second.run(stepsPerSeed);
    expect(second.traceLines.join('\n')).toBe(first.traceLines.join('\n'));
    expect(b.traceHash).toBe(a.traceHash);
    const other = await new LeaseSimulation(seed + 1, false).run(stepsPerSeed);
    expect(other.traceHash).not.toBe(a.traceHash);
  });

  it('keeps serving a partition taken again while rows of its old lease were pending', async () => {
    // Seed 189: a node paused with rows queued, lost the lease, took it again at a newer epoch
    // on waking, then its queued rows were refused (old epoch) and it stopped serving the
    // partition it held: out of service until the lease was lost.
    const result = await new LeaseSimulation(189, false).run(600);
    expect(result.counts.fencedWrites).toBeGreaterThan(0);
  });

  it('fails without the fence: the checks see what it protects', async () => {
    // Without it, the journal's unique (partition, lsn) still refuses a stale owner's clashing
    // writes, but a stale owner's write that lands after the new owner recovered is acknowledged
    // and missing from the new owner's memory: a read routed to it afterwards misses it. Seed 22
    // is the one of seeds 1..120 whose run shows it (11 was, before a recovery of several
    // partitions read them in one pass, which changed every run's course).
    const unfenced = new LeaseSimulation(22, false, false);
    await expect(unfenced.run(600)).rejects.toThrow(/stale read/);
  });

  it(
    'never acknowledges what a lost lease wrote, loses nothing acknowledged, never oversells',
    async () => {
      // A failure throws SimulationFailure: its message has the seed and the replay command.
      const { seeds, seconds, totals } = await runSeeds(make, loop);
      report({
        test: `lease simulator (seeds from ${firstSeed})`,
        seconds,
        counts: { seeds, ...totals, seedsPerSecond: seeds / seconds },
      });
      expect(seeds).toBeGreaterThan(0);
      // The runs did exercise what they check (summed over all seeds).
      if (onlySeed === undefined) {
        for (const name of ['acknowledged', 'takes', 'leasesLost', 'fencedWrites', 'crashes']) {
          expect(totals[name], name).toBeGreaterThan(0);
        }
      }
    },
    timeoutFor(budgetSeconds * 1000),
  );
});
