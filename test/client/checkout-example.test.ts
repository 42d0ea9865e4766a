// Proves examples/checkout.ts runs against a real ledger: it confirms one cart and handles the
// short one as insufficient stock, run exactly as its header says (npx tsx, LEDGER_URL).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { useLedger } from '../helpers/ledger-fixture.js';
import { havePostgres } from '../helpers/services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe.runIf(await havePostgres())('the checkout example', () => {
  const fixture = useLedger();

  it('confirms a cart and reports the short one', async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['node_modules/tsx/dist/cli.mjs', 'examples/checkout.ts'],
      { cwd: root, env: { ...process.env, LEDGER_URL: fixture.ledger.baseUrl }, timeout: 30_000 },
    );
    expect(stdout).toMatch(/-1: CONFIRMED/);
    expect(stdout).toMatch(/-2: not enough stock .*"requested":5,"available":1/);
    expect(stdout).toMatch(/mug-\w+: on_hand 3, available 3/);
  });
});
