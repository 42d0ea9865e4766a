// The bench's --ledger-nice and --postgres-nice: the flags' range, every thread of a process
// reniced (one made by a worker included), and the backends of one database reniced on the real
// Postgres (this machine's: its backends' nice values are read from /proc) and no other's.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { parseBenchArguments, UsageError } from '../../bench/lib/args.js';
import { reniceBackends, reniceThreads } from '../../bench/lib/priorities.js';
import { createScratchDatabase } from '../../bench/lib/scratch-database.js';
import { statField } from '../../src/observability/thread-cpu.js';
import { adminDatabaseUrl, havePostgres } from '../helpers/services.js';

/** A thread's nice value: field 19 of its stat line. */
const niceOf = (statPath: string): number | undefined =>
  statField(readFileSync(statPath, 'utf8'), 19);

const threadNices = (pid: number): (number | undefined)[] =>
  readdirSync(`/proc/${pid}/task`).map((thread) => niceOf(`/proc/${pid}/task/${thread}/stat`));

describe('--ledger-nice and --postgres-nice', () => {
  it('are off unless given, and take an integer from -20 to 19', () => {
    const options = parseBenchArguments([]);
    expect(options?.ledgerNice).toBeUndefined();
    expect(options?.postgresNice).toBeUndefined();
    const given = parseBenchArguments(['--ledger-nice=-5', '--postgres-nice', '19']);
    expect(given?.ledgerNice).toBe(-5);
    expect(given?.postgresNice).toBe(19);
    for (const bad of ['20', '-21', '1.5', 'high', '']) {
      expect(() => parseBenchArguments([`--ledger-nice=${bad}`])).toThrow(UsageError);
      expect(() => parseBenchArguments([`--postgres-nice=${bad}`])).toThrow(UsageError);
    }
  });

  it("renices every thread of a process, a worker's included", async () => {
    const script = `
      const { Worker } = require('node:worker_threads');
      new Worker('setInterval(() => {}, 1000)', { eval: true }).on('online', () => console.log('up'));
      setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await once(child.stdout, 'data');
      const pid = child.pid ?? 0;
      expect(threadNices(pid).every((nice) => nice === 0)).toBe(true);
      const threads = reniceThreads(pid, 7);
      const nices = threadNices(pid);
      expect(threads).toBe(nices.length);
      expect(nices.length).toBeGreaterThan(2);
      expect(nices.every((nice) => nice === 7)).toBe(true);
    } finally {
      child.kill();
    }
  });
});

describe.runIf(await havePostgres())('--postgres-nice on Postgres', () => {
  it("renices the backends of the ledger's database and no other's", async () => {
    const database = await createScratchDatabase(adminDatabaseUrl);
    const clients = [database.url, database.url, adminDatabaseUrl].map(
      (url) => new pg.Client({ connectionString: url }),
    );
    try {
      for (const client of clients) await client.connect();
      const pids = await Promise.all(
        clients.map(async (client) => {
          const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          return rows[0]?.pid ?? 0;
        }),
      );
      expect(await reniceBackends(database.url, 6)).toBe(2);
      expect(pids.map((pid) => niceOf(`/proc/${pid}/stat`))).toEqual([6, 6, 0]);
    } finally {
      for (const client of clients) await client.end();
      await database.drop();
    }
  });
});
