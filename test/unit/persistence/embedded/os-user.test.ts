// Proves the search-permission check uses exactly one class of mode bits (owner, else group, else
// other), as the postgres server gets it without supplementary groups: on fixed modes and ids.
import { describe, expect, it } from 'vitest';
import { searchableBy } from '../../../../src/persistence/embedded/os-user.js';

const postgres = { uid: 101, gid: 102 };

describe('searchableBy', () => {
  it('uses only the owner bit for a directory the postgres user owns', () => {
    expect(searchableBy(0o700, 101, 0, postgres)).toBe(true);
    expect(searchableBy(0o077, 101, 102, postgres)).toBe(false);
  });

  it('uses only the group bit for a directory of the postgres group owned by someone else', () => {
    expect(searchableBy(0o010, 0, 102, postgres)).toBe(true);
    expect(searchableBy(0o701, 0, 102, postgres)).toBe(false);
  });

  it('uses only the other bit for a directory of another user and group', () => {
    expect(searchableBy(0o001, 0, 0, postgres)).toBe(true);
    expect(searchableBy(0o770, 0, 0, postgres)).toBe(false);
  });

  it('ignores read and write bits: a 0755 directory is searchable, a 0666 one is not', () => {
    expect(searchableBy(0o40755, 0, 0, postgres)).toBe(true);
    expect(searchableBy(0o40666, 0, 0, postgres)).toBe(false);
  });
});
