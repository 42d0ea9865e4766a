// The cores the ledger counts: the CPUs, and no more than a container's CPU limit, read from
// fixture trees laid out as Linux lays out /proc/self/cgroup and the cgroup files.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cgroupCpuQuota, coresFor, usableCores } from '../../src/cores.js';

const roots: string[] = [];

/** A tree of files (path relative to the root → content). */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'cores-'));
  roots.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe('cgroupCpuQuota', () => {
  it('reads cgroup v2 cpu.max in a container (its own cgroup at the root)', () => {
    const root = tree({
      'proc/self/cgroup': '0::/\n',
      'sys/fs/cgroup/cpu.max': '200000 100000\n',
    });
    expect(cgroupCpuQuota(root)).toBe(2);
  });

  it('takes the least quota of the cgroup and those above it (v2)', () => {
    const root = tree({
      'proc/self/cgroup': '0::/kubepods/pod1/ledger\n',
      'sys/fs/cgroup/kubepods/pod1/ledger/cpu.max': '400000 100000\n',
      'sys/fs/cgroup/kubepods/pod1/cpu.max': '150000 100000\n',
      'sys/fs/cgroup/kubepods/cpu.max': 'max 100000\n',
      'sys/fs/cgroup/cpu.max': 'max 100000\n',
    });
    expect(cgroupCpuQuota(root)).toBe(1.5);
  });

  it('finds no quota where cpu.max says max, or where nothing can be read', () => {
    expect(
      cgroupCpuQuota(
        tree({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': 'max 100000\n' }),
      ),
    ).toBeUndefined();
    expect(cgroupCpuQuota(tree({ 'proc/self/cgroup': '0::/user.slice\n' }))).toBeUndefined();
    expect(cgroupCpuQuota(tree({}))).toBeUndefined();
    // Text that is not a quota is none, not a guess.
    const odd = tree({ 'proc/self/cgroup': '0::/\n', 'sys/fs/cgroup/cpu.max': '2 cpus\n' });
    expect(cgroupCpuQuota(odd)).toBeUndefined();
  });

  it('reads cgroup v1 cfs quota and period, -1 being none', () => {
    const limited = tree({
      'proc/self/cgroup': '12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/\n',
      'sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '250000\n',
      'sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    expect(cgroupCpuQuota(limited)).toBe(2.5);
    const unlimited = tree({
      'proc/self/cgroup': '3:cpu:/\n',
      'sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n',
      'sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n',
    });
    expect(cgroupCpuQuota(unlimited)).toBeUndefined();
  });

  it("finds a container's own v1 cgroup mounted at the root when the path is the host's", () => {
    const root = tree({
      'proc/self/cgroup': '4:cpu,cpuacct:/docker/abc\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '100000\n',
      'sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us': '100000\n',
    });
    expect(cgroupCpuQuota(root)).toBe(1);
  });
});

describe('coresFor', () => {
  it('is the CPUs without a quota, else no more than the whole CPUs of the quota, at least 1', () => {
    expect(coresFor(16, undefined)).toBe(16);
    expect(coresFor(16, 2)).toBe(2);
    expect(coresFor(16, 2.5)).toBe(2);
    expect(coresFor(2, 8)).toBe(2);
    expect(coresFor(16, 0.5)).toBe(1);
    expect(coresFor(0, undefined)).toBe(1);
  });

  it('on this machine: its CPUs, or fewer under its own quota', () => {
    const cores = usableCores();
    expect(cores).toBe(coresFor(availableParallelism(), cgroupCpuQuota()));
    expect(cores).toBeGreaterThanOrEqual(1);
    expect(cores).toBeLessThanOrEqual(Math.max(availableParallelism(), 1));
  });
});
