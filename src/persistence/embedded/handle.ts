// What a started embedded Postgres hands back: its URL and port, and a stop() that waits until the
// postmaster is gone.
import { databaseName, host, superuser } from './connection.js';
import { isOurPostmaster, signal, stopPostmaster } from './postmaster.js';

export interface EmbeddedPostgresHandle {
  /** postgres://... connection string to the `ledger` database (created if missing), host 127.0.0.1 */
  readonly url: string;
  readonly port: number;
  /** Stops the server (fast shutdown) and waits until it has exited. Idempotent. */
  stop(): Promise<void>;
}

export function handleFor(
  port: number,
  pid: number,
  password: string,
  pgDirReal: string,
  log: (m: string) => void,
): EmbeddedPostgresHandle {
  // Best effort only, since SIGKILL skips it: if the process exits without stop() (process.exit
  // after a fatal error), ask the postmaster for a fast shutdown instead of leaving an orphan.
  // Synchronous, as 'exit' handlers must be; the next start copes with whatever it leaves.
  const onExit = (): void => {
    if (isOurPostmaster(pid, pgDirReal)) signal(pid, 'SIGINT');
  };
  process.on('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stopOnce = async (): Promise<void> => {
    await stopPostmaster(pid, pgDirReal, log);
    process.removeListener('exit', onExit);
    log(`embedded postgres: stopped (pid ${pid})`);
  };
  return {
    url: `postgres://${superuser}:${password}@${host}:${port}/${databaseName}`,
    port,
    stop(): Promise<void> {
      // A failed stop may be retried; a successful one is remembered.
      stopping ??= stopOnce().catch((error: unknown) => {
        stopping = undefined;
        throw error;
      });
      return stopping;
    },
  };
}
