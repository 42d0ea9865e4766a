// The `ledger` database inside the cluster, created on the first start.
import pg from 'pg';
import { databaseName, host, superuser } from './connection.js';

export async function ensureDatabase(port: number, password: string, log: (m: string) => void) {
  const client = new pg.Client({ host, port, user: superuser, password, database: 'postgres' });
  // A connection error after connect() would otherwise be an uncaught 'error' event.
  client.on('error', (error) => log(`embedded postgres: admin connection error: ${error.message}`));
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      databaseName,
    ]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(databaseName)}`);
      log(`embedded postgres: created database ${databaseName}`);
    }
  } finally {
    await client.end();
  }
}
