// A memory cgroup with a limit, as a container runtime makes one for a container, for a test or a
// bench run (`npm run bench -- --ledger-memory-mb N`): cgroup v1's memory controller
// (/sys/fs/cgroup/memory) or v2's (/sys/fs/cgroup with memory among its controllers). Making one
// takes root; where this process may not, there is none (`makeMemoryCgroup` gives undefined).
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readOrUndefined } from './machine.js';

export interface MemoryCgroup {
  readonly dir: string;
  /** Put before a command: it joins the cgroup, then execs the command in it. */
  readonly launcher: readonly string[];
  /** Processes the kernel killed in it for want of memory so far; undefined if it does not say. */
  oomKills(): number | undefined;
  /**
   * The most memory charged to it so far (its processes' and the page cache they filled), in
   * bytes; undefined if the kernel does not say (v2 before Linux 5.19).
   */
  peakBytes(): number | undefined;
  /** Removes the cgroup (every process in it must have ended). */
  remove(): void;
}

let made = 0;

interface Layout {
  readonly base: string;
  readonly file: string;
  /** Where the kernel counts its OOM kills (`oom_kill N`): v1's oom_control, v2's events. */
  readonly events: string;
  /** Its peak usage: v1's max_usage_in_bytes, v2's peak. */
  readonly peak: string;
}

function limitFile(): Layout | undefined {
  const v1 = '/sys/fs/cgroup/memory';
  if (existsSync(join(v1, 'memory.limit_in_bytes'))) {
    return {
      base: v1,
      file: 'memory.limit_in_bytes',
      events: 'memory.oom_control',
      peak: 'memory.max_usage_in_bytes',
    };
  }
  const v2 = '/sys/fs/cgroup';
  const controllers = join(v2, 'cgroup.subtree_control');
  if (
    existsSync(controllers) &&
    readFileSync(controllers, 'utf8').split(/\s+/).includes('memory')
  ) {
    return { base: v2, file: 'memory.max', events: 'memory.events', peak: 'memory.peak' };
  }
  return undefined;
}

/** A new cgroup whose processes may use `limitBytes` of memory; undefined if none can be made. */
export function makeMemoryCgroup(limitBytes: number): MemoryCgroup | undefined {
  const where = limitFile();
  if (where === undefined) return undefined;
  made += 1;
  const dir = join(where.base, `ledger-limit-${process.pid}-${made}`);
  try {
    mkdirSync(dir);
  } catch {
    return undefined;
  }
  try {
    writeFileSync(join(dir, where.file), String(limitBytes));
  } catch {
    rmdirSync(dir);
    return undefined;
  }
  const procs = join(dir, 'cgroup.procs');
  return {
    dir,
    launcher: ['sh', '-c', `echo $$ > '${procs}' && exec "$@"`, 'sh'],
    oomKills: () => {
      const match = /^oom_kill (\d+)$/m.exec(readOrUndefined(join(dir, where.events)) ?? '');
      return match?.[1] === undefined ? undefined : Number(match[1]);
    },
    peakBytes: () => {
      const text = (readOrUndefined(join(dir, where.peak)) ?? '').trim();
      return /^\d+$/.test(text) ? Number(text) : undefined;
    },
    remove: () => rmdirSync(dir),
  };
}
