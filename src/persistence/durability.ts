// What an acknowledgement's durability rests on in Postgres, and the one part of it the journal
// can set for itself.
//
// The ledger answers a change once its group commit has returned. That commit is on disk only if
// the connection waits for its WAL flush: `synchronous_commit` must not be `off` there (`local`,
// `on`, `remote_write` and `remote_apply` all wait for the local flush; the last three also for
// a synchronous standby, the operator's choice). A database or role set to `off` would make every
// acknowledgement a promise a crash can break, so the journal's own connections raise it to `on`
// (`commitDurably`), whatever the default. `fsync` and `full_page_writes` are the server's and no
// connection can change them: with either off a crash of Postgres's machine can lose or corrupt
// committed WAL, and the ledger says so at start (`durabilityProblems`), loudly, without refusing
// to run (test machines turn fsync off on purpose).
import type pg from 'pg';

/** The settings, as one connection sees them. */
export interface DurabilitySettings {
  readonly fsync: string;
  readonly fullPageWrites: string;
  readonly synchronousCommit: string;
}

export async function durabilitySettings(client: pg.ClientBase): Promise<DurabilitySettings> {
  const { rows } = await client.query<{ fsync: string; fpw: string; sync: string }>(
    `SELECT current_setting('fsync') AS fsync, current_setting('full_page_writes') AS fpw,
       current_setting('synchronous_commit') AS sync`,
  );
  const row = rows[0];
  return {
    fsync: row?.fsync ?? 'unknown',
    fullPageWrites: row?.fpw ?? 'unknown',
    synchronousCommit: row?.sync ?? 'unknown',
  };
}

/**
 * Makes this connection's commits wait for their WAL flush: `synchronous_commit` from `off` to
 * `on` for the session, any other value kept. Answers the value its commits now run with.
 */
export async function commitDurably(client: pg.ClientBase): Promise<string> {
  const { synchronousCommit } = await durabilitySettings(client);
  if (synchronousCommit !== 'off') return synchronousCommit;
  await client.query('SET synchronous_commit = on');
  return (await durabilitySettings(client)).synchronousCommit;
}

export interface DurabilityProblem {
  readonly level: 'error' | 'warn';
  readonly message: string;
}

/** What to tell the operator of the settings a connection of the ledger's found. */
export function durabilityProblems(settings: DurabilitySettings): DurabilityProblem[] {
  const problems: DurabilityProblem[] = [];
  if (settings.fsync !== 'on') {
    problems.push({
      level: 'error',
      message:
        'Postgres runs with fsync=off: a crash of its machine can lose changes the ledger ' +
        'acknowledged, or corrupt the journal; turn fsync on for anything but a test',
    });
  }
  if (settings.fullPageWrites !== 'on') {
    problems.push({
      level: 'error',
      message:
        'Postgres runs with full_page_writes=off: a crash of its machine can leave torn pages ' +
        'in the journal; turn it on unless the file system rules torn pages out',
    });
  }
  if (settings.synchronousCommit === 'off') {
    problems.push({
      level: 'warn',
      message:
        "this database's synchronous_commit is off: the journal's connections set it on for " +
        'themselves, so acknowledgements still wait for the commit to be on disk',
    });
  }
  return problems;
}
