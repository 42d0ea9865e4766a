// Proves data survives restarts, stop() leaves no postmaster and an orphan is stopped: real pg.
// The orphan is made by dropping a started handle without stop(), as a SIGKILLed ledger would;
// each case runs the real Postgres binaries on its own temp data dir.
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  startEmbeddedPostgres,
  type EmbeddedPostgresHandle,
} from '../../src/persistence/embedded/index.js';

const dataDirs: string[] = [];
const handles: EmbeddedPostgresHandle[] = [];

async function freshDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'ledger-embedded-pg-'));
  dataDirs.push(dir);
  return dir;
}

async function start(dataDir: string, logLines: string[]): Promise<EmbeddedPostgresHandle> {
  const handle = await startEmbeddedPostgres({ dataDir, log: (line) => logLines.push(line) });
  handles.push(handle);
  return handle;
}

async function query(url: string, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

function postmasterPid(dataDir: string): number | undefined {
  const file = path.join(dataDir, 'pg', 'postmaster.pid');
  if (!existsSync(file)) return undefined;
  return Number(readFileSync(file, 'utf8').split('\n', 1)[0]);
}

/** Running = present in /proc and not a zombie (an exited child its parent has not reaped yet). */
function isRunning(pid: number): boolean {
  const file = `/proc/${pid}/stat`;
  if (!existsSync(file)) return false;
  const stat = readFileSync(file, 'utf8');
  const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return state !== 'Z' && state !== 'X';
}

/** Pids of live processes working in `dir`: the postmaster and all its children chdir there. */
function processesIn(dir: string): number[] {
  const target = realpathSync(dir);
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map(Number)
    .filter((pid) => {
      try {
        return readlinkSync(`/proc/${pid}/cwd`) === target && isRunning(pid);
      } catch (error) {
        // ENOENT: it exited since /proc was listed. EACCES: a process we may not inspect (PID 1
        // in a sandbox); the postgres processes we start are always readable to us.
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EACCES') return false;
        throw error;
      }
    });
}

function expectNothingRunning(dataDir: string, pids: number[]): void {
  expect(postmasterPid(dataDir)).toBeUndefined();
  for (const pid of pids) expect(isRunning(pid), `postmaster ${pid} still running`).toBe(false);
  expect(processesIn(path.join(dataDir, 'pg'))).toEqual([]);
}

afterAll(async () => {
  // Stop everything even if a test failed half-way; stop() is idempotent and a no-op for a
  // postmaster that is already gone. Report failures only after every directory is removed.
  const stops = await Promise.allSettled(handles.map((handle) => handle.stop()));
  await Promise.all(dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  for (const result of stops) {
    if (result.status === 'rejected') throw result.reason;
  }
});

describe('embedded Postgres', () => {
  it('keeps rows across a stop and a restart on the same data dir and leaves nothing running', async () => {
    const dataDir = await freshDataDir();
    const logLines: string[] = [];
    const first = await start(dataDir, logLines);
    expect(first.url).toMatch(/^postgres:\/\/[^@]+@127\.0\.0\.1:\d+\/ledger$/);
    expect(first.port).not.toBe(5432);
    const firstPid = postmasterPid(dataDir);
    expect(firstPid).toBeDefined();
    const listen = await query(first.url, 'SHOW listen_addresses');
    expect(listen.rows[0]).toEqual({ listen_addresses: '127.0.0.1' });
    await query(first.url, 'CREATE TABLE item (sku text PRIMARY KEY, on_hand int NOT NULL)');
    await query(first.url, "INSERT INTO item VALUES ('apple', 7)");
    await first.stop();
    await first.stop();
    expectNothingRunning(dataDir, [firstPid ?? 0]);

    const second = await start(dataDir, logLines);
    const secondPid = postmasterPid(dataDir);
    const rows = await query(second.url, 'SELECT sku, on_hand FROM item');
    expect(rows.rows).toEqual([{ sku: 'apple', on_hand: 7 }]);
    await second.stop();
    expectNothingRunning(dataDir, [firstPid ?? 0, secondPid ?? 0]);
    expect(logLines.filter((line) => line.includes('initialised'))).toHaveLength(1);
  });

  it('stops an orphaned postmaster left by a dead parent, then comes up with the data', async () => {
    const dataDir = await freshDataDir();
    const logLines: string[] = [];
    const orphaned = await start(dataDir, logLines);
    await query(orphaned.url, 'CREATE TABLE item (sku text PRIMARY KEY, on_hand int NOT NULL)');
    await query(orphaned.url, "INSERT INTO item VALUES ('pear', 3)");
    const orphanPid = postmasterPid(dataDir);
    expect(orphanPid).toBeDefined();
    // The parent "dies": its handle is never stopped, so this postmaster keeps running and keeps
    // postmaster.pid, exactly what a SIGKILLed ledger leaves behind.
    expect(isRunning(orphanPid ?? 0)).toBe(true);
    expect(processesIn(path.join(dataDir, 'pg')).length).toBeGreaterThan(1);

    const recovered = await start(dataDir, logLines);
    expect(isRunning(orphanPid ?? 0)).toBe(false);
    expect(logLines.some((line) => line.includes(`orphaned postmaster pid ${orphanPid}`))).toBe(
      true,
    );
    const recoveredPid = postmasterPid(dataDir);
    expect(recoveredPid).not.toBe(orphanPid);
    const rows = await query(recovered.url, 'SELECT sku, on_hand FROM item');
    expect(rows.rows).toEqual([{ sku: 'pear', on_hand: 3 }]);
    await recovered.stop();
    expectNothingRunning(dataDir, [orphanPid ?? 0, recoveredPid ?? 0]);
  });
});
