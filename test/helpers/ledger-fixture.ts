// The usual setup of an integration test file: a fresh database and one real ledger on it for
// the whole file, stopped and dropped afterwards. Call inside a describe block.
import { afterAll, beforeAll } from 'vitest';
import { createDatabase, type TestDatabase } from './database.js';
import { startLedger, type LedgerProcess } from './ledger-process.js';

export interface LedgerFixture {
  readonly database: TestDatabase;
  readonly ledger: LedgerProcess;
}

export function useLedger(env: Record<string, string> = {}): LedgerFixture {
  let database: TestDatabase | undefined;
  let ledger: LedgerProcess | undefined;
  beforeAll(async () => {
    database = await createDatabase();
    ledger = await startLedger({ env: { DATABASE_URL: database.url, ...env } });
  });
  afterAll(async () => {
    await ledger?.stop();
    await database?.drop();
  });
  const missing = (what: string): never => {
    throw new Error(`${what} is not started: use the fixture inside a test`);
  };
  return {
    get database() {
      return database ?? missing('the test database');
    },
    get ledger() {
      return ledger ?? missing('the ledger');
    },
  };
}

/**
 * The setup of a crash test: a fresh database for the file, and `start()` for each ledger the
 * test runs on it (one after another, as a kill -9 and restart do), with `env` beside its
 * database. The last one started is stopped and the database dropped afterwards. Call inside a
 * describe block.
 */
export function useRestartableLedger(): {
  start(env?: Record<string, string>): Promise<LedgerProcess>;
} {
  let database: TestDatabase | undefined;
  let ledger: LedgerProcess | undefined;
  beforeAll(async () => {
    database = await createDatabase();
  });
  afterAll(async () => {
    await ledger?.stop();
    await database?.drop();
  });
  return {
    async start(env = {}) {
      if (database === undefined) throw new Error('start() the ledger inside a test');
      ledger = await startLedger({ env: { DATABASE_URL: database.url, ...env } });
      return ledger;
    },
  };
}
