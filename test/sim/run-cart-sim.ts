// Runs the cart simulator from the command line (options: seed-runs.ts).
//   npx tsx test/sim/run-cart-sim.ts --seed 123 [--steps 600] [--trace]   replay one seed
//   npx tsx test/sim/run-cart-sim.ts --seconds 120 [--steps 600] [--from 1]  seeds for a while
import { CartSimulation } from './cart-simulator.js';
import { seedCli } from './seed-runs.js';

seedCli((seed, keepTrace) => new CartSimulation(seed, keepTrace));
