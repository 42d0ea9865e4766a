// Finding the real Postgres the tests talk to. With LEDGER_REQUIRE_SERVICES=1 (CI) a missing
// service fails the suite; otherwise the tests that need it are skipped.
import pg from 'pg';

export const adminDatabaseUrl =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export const servicesRequired = process.env.LEDGER_REQUIRE_SERVICES === '1';

export async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({
    connectionString: adminDatabaseUrl,
    connectionTimeoutMillis: 3000,
  });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch (error) {
    if (servicesRequired) throw new Error(`Postgres is required but unreachable: ${String(error)}`);
    return false;
  }
}

/** Top-level await in a test file: `describe.runIf(await havePostgres())(...)`. */
export const havePostgres = postgresReachable;
