// A fresh database per test file (unique name), dropped afterwards.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate, openLayout } from '../../src/persistence/index.js';
import { partitionHashVersion } from '../../src/router/index.js';
import { adminDatabaseUrl } from './services.js';

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  query<T extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

export async function createDatabase(prefix = 'ledger_test'): Promise<TestDatabase> {
  const name = `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminDatabaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${name}`;
  return databaseAt(name, url.toString(), async () => {
    const client = new pg.Client({ connectionString: adminDatabaseUrl });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.end();
  });
}

/** A database that exists at `url` (a test's own Postgres, say); `drop` undoes it, if anything. */
export function databaseAt(
  name: string,
  url: string,
  drop: () => Promise<void> = () => Promise.resolve(),
): TestDatabase {
  return {
    name,
    url,
    async query<T extends pg.QueryResultRow>(sql: string, values?: unknown[]): Promise<T[]> {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query<T>(sql, values)).rows;
      } finally {
        await client.end();
      }
    },
    drop,
  };
}

/** Migrates `database` and lays its journal out in `partitions`, as a ledger's first start does. */
export async function layOutJournal(database: TestDatabase, partitions: number): Promise<void> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    await migrate(client);
    await openLayout(client, { partitions, hashVersion: partitionHashVersion }, true);
  } finally {
    await client.end();
  }
}
