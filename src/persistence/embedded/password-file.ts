// The superuser's password file beside the cluster: read it, or create it before the first initdb.
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from './error-code.js';

/**
 * The superuser password, random per data directory and kept (0600, root-only) beside `pg/`, so
 * that other local users cannot log in on the TCP port. It is written before initdb, so a cluster
 * never exists without its password on disk.
 */
export async function readOrCreatePassword(dataDir: string, initialised: boolean): Promise<string> {
  const file = path.join(dataDir, 'pg-password');
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    if (errorCode(error) !== 'ENOENT') throw error;
  }
  if (initialised) {
    throw new Error(`embedded postgres: cluster exists but ${file} (its password) is missing`);
  }
  const password = randomBytes(24).toString('hex');
  await writeFile(`${file}.tmp`, `${password}\n`, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
  return password;
}
