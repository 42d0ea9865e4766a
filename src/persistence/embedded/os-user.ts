// The `postgres` OS user that runs the server when the ledger runs as root, and the directory
// permissions that user needs to reach and own the data directory.
import { execFile } from 'node:child_process';
import { chmod, chown, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { superuser } from './connection.js';

const execFileAsync = promisify(execFile);

export interface Owner {
  uid: number;
  gid: number;
}

async function lookUpPostgresUser(): Promise<Owner> {
  const [uid, gid] = await Promise.all([
    execFileAsync('id', ['-u', superuser]),
    execFileAsync('id', ['-g', superuser]),
  ]);
  return { uid: Number.parseInt(uid.stdout, 10), gid: Number.parseInt(gid.stdout, 10) };
}

/**
 * Postgres refuses to run as root, so as root the package runs initdb and postgres as the
 * `postgres` user (looked up with `id`, created with groupadd/useradd by `createPostgresUser`
 * only during initialise()). We need that uid before initialise, to prepare the directories, and
 * on a warm start too, so we create the user here the same way the package would.
 * Returns undefined when not root: then Postgres runs as the current user.
 */
export async function postgresOwner(log: (m: string) => void): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    return await lookUpPostgresUser();
  } catch (error) {
    log(`embedded postgres: no '${superuser}' user (${String(error)}); creating it`);
  }
  await execFileAsync('groupadd', [superuser]);
  await execFileAsync('useradd', ['-g', superuser, superuser]);
  return lookUpPostgresUser();
}

/** Search (x) permission as the spawned server gets it: libuv drops supplementary groups. */
export function searchableBy(mode: number, uid: number, gid: number, owner: Owner): boolean {
  if (uid === owner.uid) return (mode & 0o100) !== 0;
  if (gid === owner.gid) return (mode & 0o010) !== 0;
  return (mode & 0o001) !== 0;
}

/**
 * As root, the `postgres` user must be able to reach `${dataDir}/pg` and own it. The data dir is
 * the ledger's, so it gets o+x if it lacks it (a mkdtemp directory is 0700); directories above it
 * are not ours to change, so an unreachable one is an error naming it.
 */
export async function prepareDirectories(
  dataDir: string,
  pgDir: string,
  owner: Owner | undefined,
  log: (m: string) => void,
): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  await mkdir(pgDir, { recursive: true, mode: 0o700 });
  if (owner === undefined) return;
  for (let dir = path.dirname(dataDir); ; dir = path.dirname(dir)) {
    const info = await stat(dir);
    if (!searchableBy(info.mode, info.uid, info.gid, owner)) {
      throw new Error(`embedded postgres: user ${superuser} cannot enter ${dir} (no x permission)`);
    }
    if (dir === path.dirname(dir)) break;
  }
  const dataInfo = await stat(dataDir);
  if (!searchableBy(dataInfo.mode, dataInfo.uid, dataInfo.gid, owner)) {
    await chmod(dataDir, (dataInfo.mode & 0o7777) | 0o001);
    log(`embedded postgres: added o+x to ${dataDir} so user ${superuser} can reach ${pgDir}`);
  }
  const pgInfo = await stat(pgDir);
  if (pgInfo.uid === owner.uid) return;
  if ((await readdir(pgDir)).length > 0) {
    throw new Error(
      `embedded postgres: ${pgDir} is owned by uid ${pgInfo.uid}, not ${superuser} ` +
        `(uid ${owner.uid}); chown -R it before starting`,
    );
  }
  await chown(pgDir, owner.uid, owner.gid);
}
