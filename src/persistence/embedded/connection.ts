// Where and as whom the ledger reaches its embedded Postgres: the cluster is set up with these,
// the admin connection uses them and the handle's URL names them.
export const databaseName = 'ledger';
export const superuser = 'postgres';
export const host = '127.0.0.1';
