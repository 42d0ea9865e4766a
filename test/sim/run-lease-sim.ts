// Runs the lease simulator from the command line (options: seed-runs.ts).
//   npx tsx test/sim/run-lease-sim.ts --seed 123 [--steps 600] [--trace]   replay one seed
//   npx tsx test/sim/run-lease-sim.ts --seconds 120 [--steps 600] [--from 1]  seeds for a while
import { LeaseSimulation } from './lease-simulator.js';
import { seedCli } from './seed-runs.js';

seedCli((seed, keepTrace) => new LeaseSimulation(seed, keepTrace));
