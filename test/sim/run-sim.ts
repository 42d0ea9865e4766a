// Runs the simulator of the durability core from the command line (options: seed-runs.ts).
//   npx tsx test/sim/run-sim.ts --seed 123 [--steps 600] [--trace]   replay one seed
//   npx tsx test/sim/run-sim.ts --seconds 120 [--steps 600] [--from 1]  seeds for a while
import { seedCli } from './seed-runs.js';
import { Simulation } from './simulator.js';

seedCli((seed, keepTrace) => new Simulation(seed, keepTrace));
