// Proves the password file is created once (0600, random hex) before initdb, read back as is
// afterwards, and refused when a cluster exists without it: on a real temp directory.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readOrCreatePassword } from '../../../../src/persistence/embedded/password-file.js';

let dataDir = '';

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'ledger-pg-password-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('readOrCreatePassword', () => {
  it('creates a random 48-hex-digit password readable only by its owner when there is none', async () => {
    const password = await readOrCreatePassword(dataDir, false);
    expect(password).toMatch(/^[0-9a-f]{48}$/);
    const file = path.join(dataDir, 'pg-password');
    expect(await readFile(file, 'utf8')).toBe(`${password}\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('returns the same password on every later start, whether or not the cluster exists', async () => {
    const created = await readOrCreatePassword(dataDir, false);
    expect(await readOrCreatePassword(dataDir, false)).toBe(created);
    expect(await readOrCreatePassword(dataDir, true)).toBe(created);
  });

  it('gives each data directory its own password', async () => {
    const otherDir = await mkdtemp(path.join(tmpdir(), 'ledger-pg-password-'));
    try {
      const first = await readOrCreatePassword(dataDir, false);
      expect(await readOrCreatePassword(otherDir, false)).not.toBe(first);
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it('reads a password written by hand without its surrounding whitespace', async () => {
    await writeFile(path.join(dataDir, 'pg-password'), '  s3cret \n');
    expect(await readOrCreatePassword(dataDir, true)).toBe('s3cret');
  });

  it('refuses to invent a password for a cluster that already exists', async () => {
    await expect(readOrCreatePassword(dataDir, true)).rejects.toThrow(
      /cluster exists but .*pg-password \(its password\) is missing/,
    );
  });
});
