// Proves the simulator has teeth: each planted bug in test/sim/mutations (applied to a throw-away
// copy of src/ and test/) must make the simulator fail within its budget. A simulator that grew
// lenient, or a check that stopped checking, shows up here as a mutation that survives.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { report } from '../helpers/soak.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the simulator against planted bugs', () => {
  it('catches every mutation in test/sim/mutations', () => {
    const startedMs = performance.now();
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'test/sim/run-mutations.ts', '--seconds', '60'],
      { cwd: root, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 },
    );
    const rows = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { mutation: string; caught: boolean; seeds: number });
    report({
      test: 'simulator mutations',
      seconds: (performance.now() - startedMs) / 1000,
      counts: Object.fromEntries(rows.map((row) => [row.mutation, row.seeds])),
    });
    expect(rows.length, run.stderr).toBeGreaterThanOrEqual(19);
    for (const row of rows) expect(row.caught, `${row.mutation} went unnoticed`).toBe(true);
    expect(run.status, run.stdout).toBe(0);
  }, 600_000);
});
