// A memory cgroup made for a test, with a limit, as a container runtime makes one for a container:
// cgroup v1's memory controller (/sys/fs/cgroup/memory) or v2's (/sys/fs/cgroup with memory among
// its controllers). Making one takes root; where this process may not, there is none
// (`makeMemoryCgroup` gives undefined and the test says why it did not run).
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface MemoryCgroup {
  readonly dir: string;
  /** Put before a command: it joins the cgroup, then execs the command in it. */
  readonly launcher: readonly string[];
  /** Removes the cgroup (every process in it must have ended). */
  remove(): void;
}

let made = 0;

function limitFile(): { readonly base: string; readonly file: string } | undefined {
  const v1 = '/sys/fs/cgroup/memory';
  if (existsSync(join(v1, 'memory.limit_in_bytes'))) {
    return { base: v1, file: 'memory.limit_in_bytes' };
  }
  const v2 = '/sys/fs/cgroup';
  const controllers = join(v2, 'cgroup.subtree_control');
  if (
    existsSync(controllers) &&
    readFileSync(controllers, 'utf8').split(/\s+/).includes('memory')
  ) {
    return { base: v2, file: 'memory.max' };
  }
  return undefined;
}

/** A new cgroup whose processes may use `limitBytes` of memory; undefined if none can be made. */
export function makeMemoryCgroup(limitBytes: number): MemoryCgroup | undefined {
  const where = limitFile();
  if (where === undefined) return undefined;
  made += 1;
  const dir = join(where.base, `ledger-test-${process.pid}-${made}`);
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
    launcher: ['sh', '-c', `echo $$ > ${procs} && exec "$@"`, 'sh'],
    remove: () => rmdirSync(dir),
  };
}
