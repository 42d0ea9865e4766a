// Proves the postmaster's pid is read from the first line of postmaster.pid, and that a missing or
// unreadable pid gives none (so nothing is signalled): on pid files written to a temp directory.
// And which processes count as our postmaster (the only ones ever signalled), on real processes
// whose command line names postgres: one serving the data directory, and the server this process
// started even after its directory was deleted; not another process's, nor one that is not
// postgres.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  isOurPostmaster,
  readPostmasterPid,
} from '../../../../src/persistence/embedded/postmaster.js';

let pgDir = '';

beforeEach(async () => {
  pgDir = await mkdtemp(path.join(tmpdir(), 'ledger-postmaster-pid-'));
});

afterEach(async () => {
  await rm(pgDir, { recursive: true, force: true });
});

async function withPidFile(content: string): Promise<number | undefined> {
  await writeFile(path.join(pgDir, 'postmaster.pid'), content);
  return readPostmasterPid(pgDir);
}

describe('readPostmasterPid', () => {
  it('reads the pid on the first line of a postmaster.pid as Postgres writes it', async () => {
    const content = `4242\n${pgDir}\n1700000000\n54321\n\n127.0.0.1\n  1234567  7\nready   \n`;
    expect(await withPidFile(content)).toBe(4242);
  });

  it('gives none when there is no postmaster.pid', async () => {
    expect(await readPostmasterPid(pgDir)).toBeUndefined();
  });

  it('gives none for an empty, non-numeric, zero, negative or fractional first line', async () => {
    for (const content of ['', '\n4242\n', 'abc\n', '0\n', '-5\n', '12.5\n']) {
      expect(await withPidFile(content), JSON.stringify(content)).toBeUndefined();
    }
  });
});

const idle = 'setInterval(() => {}, 1000)';

/** Waits until the process has exec'd: its command line is its own, no longer a copy of ours. */
async function execed(pid: number, word: string): Promise<void> {
  for (let tries = 0; tries < 200; tries += 1) {
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      // Not readable yet (or gone): tried again below.
    }
    if (cmdline.includes(word)) return;
    await sleep(10);
  }
  throw new Error(`process ${pid} never showed ${word} in its command line`);
}

describe.runIf(process.platform === 'linux')('isOurPostmaster', () => {
  let directory = '';
  let child: ChildProcess | undefined;
  let stranger: number | undefined;

  beforeEach(async () => {
    directory = await realpath(await mkdtemp(path.join(tmpdir(), 'ledger-postmaster-cwd-')));
  });

  afterEach(async () => {
    child?.kill('SIGKILL');
    child = undefined;
    if (stranger !== undefined) process.kill(stranger, 'SIGKILL');
    stranger = undefined;
    await rm(directory, { recursive: true, force: true });
  });

  it('knows its own postgres child by its directory, and still once the directory is deleted', async () => {
    child = spawn(process.execPath, ['-e', idle, 'postgres'], { cwd: directory, stdio: 'ignore' });
    const pid = child.pid as number;
    await execed(pid, 'postgres');
    expect(isOurPostmaster(pid, directory)).toBe(true);
    await rm(directory, { recursive: true, force: true });
    // Its working directory now reads "<directory> (deleted)": recognised as our child.
    expect(isOurPostmaster(pid, directory)).toBe(true);
  });

  it('does not take a child whose command line does not name postgres', async () => {
    child = spawn(process.execPath, ['-e', idle, 'other'], { cwd: directory, stdio: 'ignore' });
    const pid = child.pid as number;
    await execed(pid, 'other');
    expect(isOurPostmaster(pid, directory)).toBe(false);
  });

  it("knows another process's postgres only by the directory it serves", async () => {
    // Started by a shell that exits at once: the process is not this one's child.
    const script = `"${process.execPath}" -e '${idle}' postgres >/dev/null 2>&1 & echo $!`;
    stranger = Number(execFileSync('sh', ['-c', script], { cwd: directory, encoding: 'utf8' }));
    await execed(stranger, 'postgres');
    expect(isOurPostmaster(stranger, directory)).toBe(true);
    expect(isOurPostmaster(stranger, tmpdir())).toBe(false);
  });
});
