// Proves docs/openapi.json is what a ledger with the default settings serves at GET /openapi.json,
// and what `ledger openapi` (npm run docs:openapi) writes: a route, field or error code changed
// without regenerating the file fails here, with the command that mends it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDatabase, type TestDatabase } from '../helpers/database.js';
import { get } from '../helpers/http.js';
import { startLedger, type LedgerProcess } from '../helpers/ledger-process.js';
import { havePostgres } from '../helpers/services.js';

const cli = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));
const checkedIn = readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8');
const mend = 'docs/openapi.json is stale: run `npm run docs:openapi` and commit it';

function printed(): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    // The ledger's defaults: no setting of the environment this test runs in leaks in.
    const child = spawn(process.execPath, [cli, 'openapi'], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe.runIf(await havePostgres())('docs/openapi.json', () => {
  let database: TestDatabase;
  let ledger: LedgerProcess;

  beforeAll(async () => {
    database = await createDatabase();
    ledger = await startLedger({ env: { DATABASE_URL: database.url } });
  });

  afterAll(async () => {
    await ledger?.stop();
    await database?.drop();
  });

  it('is the document the server serves with its default settings', async () => {
    const served = await get(ledger.baseUrl, '/openapi.json');
    expect(served.status).toBe(200);
    expect(JSON.parse(checkedIn), mend).toEqual(served.body);
  });

  it('is what `ledger openapi` prints, byte for byte', async () => {
    const { code, out } = await printed();
    expect(code).toBe(0);
    expect(out === checkedIn, mend).toBe(true);
  });
});
