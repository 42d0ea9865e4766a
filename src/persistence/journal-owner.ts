// Ownership of the journal as a supervised lease. One ledger owns a journal at a time by holding
// a session advisory lock on a connection of its own. That connection can be lost (Postgres
// restarts, the session is killed, the network is cut), and the lock with it, which a waiting
// ledger may then take. So the lease is watched: a lost connection makes the ledger stop
// answering from memory at once (another owner may be making it stale), and the lock is
// re-claimed with a bounded back-off. If another ledger holds the lock, or has held it since
// (the ownership epoch moved), this ledger has lost the journal for good.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import {
  journalOwnerKeepaliveCount,
  journalOwnerKeepaliveIdleSeconds,
  journalOwnerKeepaliveIntervalSeconds,
  journalOwnerProbeMs,
  journalOwnerQueryTimeoutMs,
  journalReclaimDelayMsMax,
  journalReclaimDelayMsMin,
} from '../limits.js';
import { JournalLayoutError } from './journal-meta.js';

/** The advisory lock's key ('LOWN'), held for the ledger's lifetime on its own connection. */
export const ownerLockId = 0x4c4f574e;

/**
 * owned: the lock is held, memory is the journal's truth. lost-reclaiming: the lock's connection
 * is gone; nothing is answered from memory until the lock is back. taken-by-another: another
 * ledger owns (or owned meanwhile) the journal; this one must never serve again.
 */
export type JournalOwnerState = 'owned' | 'lost-reclaiming' | 'taken-by-another';

/** What one re-claim attempt saw of the lock. */
export interface ReclaimSight {
  readonly claimed: boolean;
  /** With the lock: the ownership epoch the journal records now. */
  readonly epoch?: string | undefined;
  /** Without it: whose session holds it (`ours`: an old session Postgres has not yet ended). */
  readonly holder?: 'ours' | 'another' | 'nobody';
}

export type ReclaimVerdict = 'owned' | 'retry' | 'taken';

/**
 * The lock with our epoch still recorded: nobody owned the journal in between, memory is still
 * its truth. The lock with another epoch, or held by another ledger's session: lost for good.
 * Held by one of our own old sessions, or by nobody we can see (it was just let go): try again.
 */
export function reclaimVerdict(sight: ReclaimSight, ourEpoch: string): ReclaimVerdict {
  if (sight.claimed) return sight.epoch === ourEpoch ? 'owned' : 'taken';
  return sight.holder === 'another' ? 'taken' : 'retry';
}

/** The pause before re-claim attempt `attempt` (0 is the first): doubling, capped. */
export function reclaimDelayMs(attempt: number): number {
  return Math.min(journalReclaimDelayMsMax, journalReclaimDelayMsMin * 2 ** Math.min(attempt, 20));
}

export interface JournalOwnerOptions {
  /** A new, not yet connected client to the journal's database. */
  readonly newClient: () => pg.Client;
  readonly log: (
    level: 'info' | 'warn' | 'error',
    fields: Record<string, unknown>,
    message: string,
  ) => void;
  /** Called once, when the journal turns out to be another ledger's: the caller must stop. */
  readonly taken: () => void;
}

export class JournalOwner {
  private stateNow: JournalOwnerState = 'owned';
  /** Set by `supervise`; until then a lost connection fails start-up's own queries. */
  private epoch: string | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private probing = false;
  private released = false;

  private constructor(
    private readonly options: JournalOwnerOptions,
    private client: pg.Client | undefined,
    /** Every session of this lease carries it, so a re-claim can tell its own old ones. */
    private readonly session: string,
  ) {
    if (client !== undefined) this.watch(client);
  }

  /**
   * Claims the journal, waiting up to `waitMs` for another ledger's lock (the lock of a ledger
   * whose machine died is freed after the keepalive time), then refusing to start.
   */
  static async claim(
    options: JournalOwnerOptions,
    waitMs: number,
    onWait: () => void,
  ): Promise<JournalOwner> {
    const session = `ledger-owner-${randomBytes(8).toString('hex')}`;
    const client = options.newClient();
    client.on('error', () => undefined); // A failure reaches the query that is waiting.
    try {
      await client.connect();
      await prepareSession(client, session);
      await claimJournal(client, waitMs, onWait);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return new JournalOwner(options, client, session);
  }

  get state(): JournalOwnerState {
    return this.stateNow;
  }

  /** Whether this ledger is known to own its journal: only then may it answer from memory. */
  get owned(): boolean {
    return this.stateNow === 'owned';
  }

  /** The lock's connection, for start-up work under the lock (migrations, layout). */
  get connection(): pg.ClientBase {
    if (this.client === undefined) throw new Error('the journal ownership connection was lost');
    return this.client;
  }

  /** After migrations: records a new ownership epoch and starts watching the lease. */
  async supervise(): Promise<void> {
    const result = await this.connection.query<{ epoch: string }>(
      `INSERT INTO ledger_owner (singleton, epoch) VALUES (true, 1)
       ON CONFLICT (singleton) DO UPDATE SET epoch = ledger_owner.epoch + 1
       RETURNING epoch::text AS epoch`,
    );
    this.epoch = result.rows[0]?.epoch;
    this.probeTimer = setInterval(this.probe, journalOwnerProbeMs);
    this.probeTimer.unref();
  }

  /** At shutdown: stops watching and lets the lock go. */
  async release(): Promise<void> {
    this.released = true;
    clearInterval(this.probeTimer);
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private watch(client: pg.Client): void {
    client.on('error', (error) => this.lost(client, error.message));
    client.on('end', () => this.lost(client, 'the connection ended'));
  }

  /** A silently cut connection is noticed here, before Postgres frees its lock for another. */
  private readonly probe = (): void => {
    const client = this.client;
    if (client === undefined || this.probing) return;
    this.probing = true;
    withTimeout(client.query('SELECT 1'), 'probe')
      .catch((error: unknown) => this.lost(client, `probe failed: ${String(error)}`))
      .finally(() => (this.probing = false));
  };

  private lost(client: pg.Client, reason: string): void {
    if (client !== this.client || this.released) return;
    this.client = undefined;
    void client.end().catch(() => undefined);
    const epoch = this.epoch;
    if (epoch === undefined) return;
    this.stateNow = 'lost-reclaiming';
    this.options.log(
      'error',
      { reason },
      'journal ownership lost; refusing commands and reads until it is re-claimed',
    );
    void this.reclaim(epoch);
  }

  private async reclaim(epoch: string): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, reclaimDelayMs(attempt)));
      if (this.released) return;
      const verdict = await this.attempt(epoch).catch((error: unknown) => {
        this.options.log('warn', { attempt, err: String(error) }, 're-claiming the journal failed');
        return 'retry' as const;
      });
      if (this.released) return;
      if (verdict === 'retry') continue;
      if (verdict === 'owned') {
        this.stateNow = 'owned';
        this.options.log('info', { attempts: attempt + 1, epoch }, 'journal ownership re-claimed');
      } else {
        this.stateNow = 'taken-by-another';
        this.options.log(
          'error',
          { epoch },
          'journal ownership taken by another ledger; this ledger must not serve it again',
        );
        this.options.taken();
      }
      return;
    }
  }

  /** One attempt on a new connection, which is kept only if the lease is ours again. */
  private async attempt(epoch: string): Promise<ReclaimVerdict> {
    const client = this.options.newClient();
    client.on('error', () => undefined); // A failure reaches the query that is waiting.
    let kept = false;
    try {
      const verdict = reclaimVerdict(
        await withTimeout(look(client, this.session), 're-claim'),
        epoch,
      );
      if (verdict === 'owned' && !this.released) {
        this.client = client;
        this.watch(client);
        kept = true;
      }
      return verdict;
    } finally {
      if (!kept) void client.end().catch(() => undefined);
    }
  }
}

/** Names the session and has Postgres probe it, so a vanished ledger's lock is freed. */
async function prepareSession(client: pg.ClientBase, session: string): Promise<void> {
  await client.query(
    `SELECT set_config('application_name', $1, false),
            set_config('tcp_keepalives_idle', $2, false),
            set_config('tcp_keepalives_interval', $3, false),
            set_config('tcp_keepalives_count', $4, false)`,
    [
      session,
      String(journalOwnerKeepaliveIdleSeconds),
      String(journalOwnerKeepaliveIntervalSeconds),
      String(journalOwnerKeepaliveCount),
    ],
  );
}

async function tryLock(client: pg.ClientBase): Promise<boolean> {
  const result = await client.query<{ claimed: boolean }>(
    'SELECT pg_try_advisory_lock($1) AS claimed',
    [ownerLockId],
  );
  return result.rows[0]?.claimed === true;
}

/**
 * Takes the ownership lock on `client`, waiting up to `waitMs` for another holder to let go
 * (JournalLayoutError after that). A ledger holds it through JournalOwner; an offline tool such
 * as `ledger migrate-partitions` holds it on its own connection for its run.
 */
export async function claimJournal(
  client: pg.ClientBase,
  waitMs: number,
  onWait: () => void,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (let attempt = 0; !(await tryLock(client)); attempt += 1) {
    if (Date.now() >= deadline) {
      throw new JournalLayoutError(
        'another ledger is running on this journal (its advisory lock is held); refusing to start',
      );
    }
    if (attempt === 0) onWait();
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Connects, tries the lock, and looks at the epoch (with it) or at its holder (without). */
async function look(client: pg.Client, session: string): Promise<ReclaimSight> {
  await client.connect();
  await prepareSession(client, session);
  if (await tryLock(client)) {
    const result = await client.query<{ epoch: string }>(
      'SELECT epoch::text AS epoch FROM ledger_owner',
    );
    return { claimed: true, epoch: result.rows[0]?.epoch };
  }
  const result = await client.query<{ session: string }>(
    `SELECT a.application_name AS session
     FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0 AND l.objid = $1
       AND l.objsubid = 1
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [ownerLockId],
  );
  const holder = result.rows[0]?.session;
  if (holder === undefined) return { claimed: false, holder: 'nobody' };
  return { claimed: false, holder: holder === session ? 'ours' : 'another' };
}

/** Bounds a query of the ownership lease: a connection that stops answering counts as lost. */
function withTimeout<T>(work: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} took over ${journalOwnerQueryTimeoutMs} ms`)),
      journalOwnerQueryTimeoutMs,
    );
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
