// Runs the cart simulator from the command line.
//   npx tsx test/sim/run-cart-sim.ts --seed 123 [--steps 600] [--trace]   replay one seed
//   npx tsx test/sim/run-cart-sim.ts --seconds 120 [--steps 600] [--from 1]  seeds for a while
// Prints seeds/s and steps/s; exits 1 at the first failing seed, printing its replay command.
import { parseArgs } from 'node:util';
import { CartSimulation, CartSimulationFailure } from './cart-simulator.js';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seconds: { type: 'string' },
    steps: { type: 'string', default: '600' },
    from: { type: 'string', default: '1' },
    trace: { type: 'boolean', default: false },
  },
});
const steps = Number(values.steps);

async function one(seed: number, keepTrace: boolean): Promise<number> {
  const simulation = new CartSimulation(seed, keepTrace);
  try {
    const result = await simulation.run(steps);
    if (keepTrace) process.stdout.write(`${simulation.traceLines.join('\n')}\n`);
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return result.steps;
  } catch (error) {
    if (keepTrace) process.stdout.write(`${simulation.traceLines.join('\n')}\n`);
    throw error;
  }
}

async function main(): Promise<void> {
  if (values.seed !== undefined) {
    await one(Number(values.seed), values.trace);
    return;
  }
  const seconds = Number(values.seconds ?? '10');
  const startedMs = performance.now();
  let seeds = 0;
  let totalSteps = 0;
  for (let seed = Number(values.from); performance.now() - startedMs < seconds * 1000; seed += 1) {
    const simulation = new CartSimulation(seed, false);
    const result = await simulation.run(steps);
    seeds += 1;
    totalSteps += result.steps;
  }
  const elapsed = (performance.now() - startedMs) / 1000;
  process.stdout.write(
    `${JSON.stringify({ seeds, steps: totalSteps, seconds: elapsed, seedsPerSecond: seeds / elapsed, stepsPerSecond: totalSteps / elapsed })}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(
    `${error instanceof CartSimulationFailure ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
