// How many cores this process may use: the CPUs it may run on, and no more than the CPU quota of
// its cgroup (a container's CPU limit). Node 20's libuv counts the CPUs alone
// (`os.availableParallelism()`), so in a container limited to 2 CPUs on a 16-core host it says 16:
// the ledger would start 16 shard threads to share two CPUs' time, and never see that it is on
// two cores. Here the quota is read as Linux keeps it: cgroup v2's `cpu.max` ("max" or "quota
// period", in microseconds), cgroup v1's `cpu.cfs_quota_us` (-1: none) and `cpu.cfs_period_us`,
// in the process's own cgroup and each one above it (a parent's limit holds for its children);
// the least is the quota. A fraction of a CPU counts down, as newer libuv and Rust's standard
// library count it. Anything missing or unreadable is no quota.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, posix } from 'node:path';

/** Where cgroup v1 mounts the cpu controller, by distribution. */
const v1Mounts = ['sys/fs/cgroup/cpu', 'sys/fs/cgroup/cpu,cpuacct', 'sys/fs/cgroup/cpuacct,cpu'];

/** Cores for `cpus` CPUs under a quota of `quota` CPUs (undefined: none): at least 1. */
export function coresFor(cpus: number, quota: number | undefined): number {
  const usable = Math.max(1, Math.floor(cpus));
  if (quota === undefined) return usable;
  return Math.max(1, Math.min(usable, Math.floor(quota)));
}

/** The cores this process may use (see above). */
export function usableCores(): number {
  return coresFor(availableParallelism(), cgroupCpuQuota());
}

/**
 * The CPU quota of this process's cgroup and those above it, in CPUs (fractional), the least of
 * them; undefined if none is set or none can be read. `root` is `/` but for tests.
 */
export function cgroupCpuQuota(root = '/'): number | undefined {
  const membership = readText(join(root, 'proc/self/cgroup'));
  if (membership === undefined) return undefined;
  const quotas: number[] = [];
  for (const line of membership.split('\n')) {
    const match = /^(\d+):([^:]*):(\/.*)$/.exec(line.trim());
    if (match === null) continue;
    const [, hierarchy, controllers, path] = match as unknown as [string, string, string, string];
    if (hierarchy === '0' && controllers === '') {
      for (const dir of selfAndAbove(path)) {
        const quota = v2Quota(readText(join(root, 'sys/fs/cgroup', dir, 'cpu.max')));
        if (quota !== undefined) quotas.push(quota);
      }
    } else if (controllers.split(',').includes('cpu')) {
      for (const mount of v1Mounts) {
        for (const dir of selfAndAbove(path)) {
          const at = join(root, mount, dir);
          const quota = v1Quota(
            readText(join(at, 'cpu.cfs_quota_us')),
            readText(join(at, 'cpu.cfs_period_us')),
          );
          if (quota !== undefined) quotas.push(quota);
        }
      }
    }
  }
  return quotas.length === 0 ? undefined : Math.min(...quotas);
}

/**
 * The cgroup's path and each one above it up to `/`. In a container the path may be the host's
 * (a cgroup namespace not in use) while the container's own cgroup is mounted at the root: `/`
 * then finds it.
 */
function selfAndAbove(path: string): string[] {
  const dirs: string[] = [];
  for (let dir = posix.normalize(path); ; dir = posix.dirname(dir)) {
    dirs.push(dir);
    if (dir === '/') return dirs;
  }
}

/** `cpu.max`: "max PERIOD" (none) or "QUOTA PERIOD". */
function v2Quota(text: string | undefined): number | undefined {
  const [quota, period] = text?.trim().split(' ') ?? [];
  return quotaOf(quota, period);
}

function v1Quota(quota: string | undefined, period: string | undefined): number | undefined {
  return quotaOf(quota?.trim(), period?.trim());
}

/** CPUs from a quota and a period in µs, each written as a whole number (-1, "max": none). */
function quotaOf(quota: string | undefined, period: string | undefined): number | undefined {
  if (!/^\d+$/.test(quota ?? '') || !/^\d+$/.test(period ?? '')) return undefined;
  const [quotaUs, periodUs] = [Number(quota), Number(period)];
  return quotaUs > 0 && periodUs > 0 ? quotaUs / periodUs : undefined;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
