// What the simulators (the durability core's, the carts', the leases') share around a run: its
// trace and first failure, the run loop, the failure that names its seed and how to replay it,
// the seed loop within a time budget, and the command line. A simulator is anything that runs
// from a seed and keeps a trace.
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { knob, soak } from '../helpers/soak.js';
import { show } from './sim-support.js';

export interface SeededResult {
  readonly seed: number;
  readonly steps: number;
  readonly traceHash: string;
  readonly counts: Readonly<Record<string, number>>;
}

export interface SeededRun {
  run(steps: number): Promise<SeededResult>;
  readonly traceLines: readonly string[];
}

export type MakeRun = (seed: number, keepTrace: boolean) => SeededRun;

/** Which simulator failed, and where its test and command line are. */
export interface SimulatorName {
  readonly label: string;
  readonly testFile: string;
  readonly cliFile: string;
}

export class SimulationFailure extends Error {
  override readonly name = 'SimulationFailure';
  constructor(
    simulator: SimulatorName,
    readonly seed: number,
    readonly step: number,
    readonly reason: string,
    readonly traceTail: readonly string[],
  ) {
    super(
      `${simulator.label} seed ${seed} failed at step ${step}: ${reason}\n` +
        `replay: SIM_SEED=${seed} npx vitest run ${simulator.testFile}\n` +
        `   or: npx tsx ${simulator.cliFile} --seed ${seed} --trace\n` +
        `last steps:\n  ${traceTail.join('\n  ')}`,
    );
  }
}

/** Trace lines kept unless the whole trace is asked for (a replay with --trace). */
const traceLinesKept = 200_000;

/** One simulated run's trace, its first failure, and the step it is at. */
export class SimLog {
  private readonly lines: string[] = [];
  /** The first failure: the run stops after the step it happened in. */
  failure: string | undefined;
  /** The step the simulator is at: numbers the trace lines and the failure. */
  step = 0;

  constructor(
    private readonly simulator: SimulatorName,
    readonly seed: number,
    private readonly keepAll: boolean,
    /** The trace lines a failure shows. */
    private readonly tailLines = 40,
  ) {}

  get traceLines(): readonly string[] {
    return this.lines;
  }

  note(line: string): void {
    if (this.keepAll || this.lines.length < traceLinesKept) this.lines.push(`${this.step} ${line}`);
  }

  /** Records the first failure (later ones follow from it). */
  fail(reason: string): void {
    if (this.failure !== undefined) return;
    this.failure = reason;
    this.note(`FAILURE: ${reason}`);
  }

  /** Same seed, same steps, same trace: the hash shows a run is deterministic. */
  traceHash(): string {
    return createHash('sha256').update(this.lines.join('\n')).digest('hex');
  }

  /** The failure, if any, as a SimulationFailure naming the seed and its replay. */
  throwIfFailed(): void {
    if (this.failure === undefined) return;
    const tail = this.lines.slice(-this.tailLines);
    throw new SimulationFailure(this.simulator, this.seed, this.step, this.failure, tail);
  }
}

/**
 * The run every simulator makes: `start`, then up to `steps` steps while nothing has failed,
 * then `finish`; an unhandled rejection meanwhile fails the run. Throws SimulationFailure, else
 * gives the run's result: its `counts` (their `steps` the steps taken) and its trace's hash.
 */
export async function runSteps(
  log: SimLog,
  steps: number,
  phases: {
    readonly start: () => Promise<void>;
    readonly step: () => Promise<void>;
    readonly finish: () => Promise<void>;
    readonly counts: () => Readonly<Record<string, number>>;
  },
): Promise<SeededResult> {
  const onRejection = (reason: unknown): void => log.fail(`unhandled rejection: ${show(reason)}`);
  process.on('unhandledRejection', onRejection);
  try {
    await phases.start();
    for (let step = 0; step < steps && log.failure === undefined; step += 1) await phases.step();
    await phases.finish();
    log.throwIfFailed();
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  const counts = phases.counts();
  return { seed: log.seed, steps: counts.steps ?? 0, traceHash: log.traceHash(), counts };
}

export interface SeedLoop {
  readonly firstSeed: number;
  /** SIM_SEED: that one seed only, whatever the budget. */
  readonly onlySeed: number | undefined;
  readonly budgetSeconds: number;
  readonly steps: number;
}

/**
 * The seeds a test runs: SIM_SEED replays one; SIM_SEED_FROM moves the range (a soak starts at
 * random); SOAK_SIM_SECONDS sets the budget and SIM_STEPS the steps of each seed.
 */
export function seedLoopFromEnvironment(defaultBudgetSeconds: number): SeedLoop {
  const from = process.env.SIM_SEED_FROM;
  const only = process.env.SIM_SEED;
  return {
    firstSeed: from !== undefined ? Number(from) : soak ? Math.floor(Math.random() * 2 ** 31) : 1,
    onlySeed: only === undefined ? undefined : Number(only),
    budgetSeconds: knob('SOAK_SIM_SECONDS', defaultBudgetSeconds, 600),
    steps: knob('SIM_STEPS', 600, 1500),
  };
}

/** Runs seeds from `firstSeed` while the budget lasts; a failure throws SimulationFailure. */
export async function runSeeds(
  make: MakeRun,
  loop: SeedLoop,
): Promise<{ seeds: number; seconds: number; totals: Record<string, number> }> {
  const startedMs = performance.now();
  const totals: Record<string, number> = {};
  let seeds = 0;
  let seed = loop.onlySeed ?? loop.firstSeed;
  const more = (): boolean =>
    loop.onlySeed !== undefined
      ? seeds < 1
      : performance.now() - startedMs < loop.budgetSeconds * 1000;
  for (; more(); seed += 1) {
    const result = await make(seed, false).run(loop.steps);
    seeds += 1;
    for (const [name, count] of Object.entries(result.counts)) {
      totals[name] = (totals[name] ?? 0) + count;
    }
  }
  return { seeds, seconds: (performance.now() - startedMs) / 1000, totals };
}

/**
 * The command line of a simulator:
 *   --seed 123 [--steps 600] [--trace]     replay one seed (the trace on stdout)
 *   --seconds 120 [--steps 600] [--from 1]  seeds for a while; prints seeds/s and steps/s
 * Exits 1 at the first failing seed, printing its replay command.
 */
export function seedCli(make: MakeRun): void {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      seconds: { type: 'string', default: '10' },
      steps: { type: 'string', default: '600' },
      from: { type: 'string', default: '1' },
      trace: { type: 'boolean', default: false },
    },
  });
  const steps = Number(values.steps);
  const main = async (): Promise<void> => {
    if (values.seed !== undefined) {
      const simulation = make(Number(values.seed), values.trace);
      const result = await simulation.run(steps).finally(() => {
        if (values.trace) process.stdout.write(`${simulation.traceLines.join('\n')}\n`);
      });
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const loop = {
      firstSeed: Number(values.from),
      onlySeed: undefined,
      budgetSeconds: Number(values.seconds),
      steps,
    };
    const { seeds, seconds, totals } = await runSeeds(make, loop);
    const stepsRun = totals.steps ?? 0;
    const rates = { seedsPerSecond: seeds / seconds, stepsPerSecond: stepsRun / seconds };
    process.stdout.write(
      `${JSON.stringify({ seeds, steps: stepsRun, seconds, ...rates, totals })}\n`,
    );
  };
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof SimulationFailure ? error.message : String(error)}\n`);
    process.exit(1);
  });
}
