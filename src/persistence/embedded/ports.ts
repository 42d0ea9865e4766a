// A free TCP port on the embedded server's host, for a start without a configured port.
import { createServer } from 'node:net';
import { host } from './connection.js';

/**
 * Binds port 0 and releases it again. Someone else may take the port before Postgres binds it;
 * the caller retries with another (see startServer in cluster.ts).
 */
export async function pickFreePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
  });
  if (address === null || typeof address === 'string') {
    throw new Error('embedded postgres: could not read the picked port');
  }
  return address.port;
}
