// Proves the postmaster's pid is read from the first line of postmaster.pid, and that a missing or
// unreadable pid gives none (so nothing is signalled): on pid files written to a temp directory.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readPostmasterPid } from '../../../../src/persistence/embedded/postmaster.js';

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
