// `--ledger-nice N` and `--postgres-nice M`: an experiment in who gets a core first on a box
// whose cores the load generator, the ledger and Postgres share. Once the scenario is stocked,
// every thread of the ledger's process gets nice N (a thread made later inherits its maker's),
// and the Postgres backends connected to the ledger's database (its journal and snapshot
// connections) nice M. They end with the run: the ledger stops, and its backends with it, so
// nothing outlives the run. Linux keeps a nice value per thread; os.setPriority on a thread's id
// sets that thread's alone. A negative value needs root (or CAP_SYS_NICE). The backends must run
// on this machine: a pid that names another local process is refused, never reniced.
import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import { processTicks } from './machine.js';
import { withAdmin } from './scratch-database.js';

/** Sets a thread's or process's nice value; false if it is gone meanwhile. */
function renice(id: number, nice: number): boolean {
  try {
    setPriority(id, nice);
    return true;
  } catch (error) {
    if ((error as { info?: { code?: string } }).info?.code === 'ESRCH') return false;
    throw error;
  }
}

/** Sets every thread of a process to `nice`; answers how many threads it set. */
export function reniceThreads(pid: number, nice: number): number {
  const threads = readdirSync(`/proc/${pid}/task`).map(Number);
  return threads.filter((thread) => renice(thread, nice)).length;
}

/**
 * The backends connected to the database of `databaseUrl` now (but the one asking), each a
 * postgres process of this machine (`what` names the caller in the error otherwise).
 */
export async function databaseBackends(databaseUrl: string, what: string): Promise<number[]> {
  const pids = await withAdmin(databaseUrl, async (client) => {
    const { rows } = await client.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    return rows.map((row) => row.pid);
  });
  for (const pid of pids) {
    // No name: a backend gone meanwhile, skipped by the caller as any other.
    const command = processTicks(pid)?.name;
    if (command !== undefined && command !== 'postgres') {
      throw new Error(`${what}: backend ${pid} is not a postgres process of this machine`);
    }
  }
  return pids;
}

/** Sets every backend connected to the database of `databaseUrl` (but this one) to `nice`. */
export async function reniceBackends(databaseUrl: string, nice: number): Promise<number> {
  const pids = await databaseBackends(databaseUrl, '--postgres-nice');
  return pids.filter((pid) => renice(pid, nice)).length;
}
