// The durable floor's group commit (bench/baselines/bare-uws-commit.ts): rows wait for the next
// commit; one commit is in flight at a time on one connection; what arrives meanwhile goes in
// the next. Each row is answered once the INSERT that carried it has committed
// (synchronous_commit=on). Used on the HTTP thread itself, or on a thread of its own behind a
// hop like the ledger's (floor-commit-worker.ts).
//
// With `journal`, each commit is the ledger's own journal statement instead (JournalStore.append
// on the ledger's tables, made by its migrations): the rows go into ledger_wal, and with
// `history` a row whose request names a stock key is also a movement of that key, so the key's
// movements of a commit share one row of the movement history, as a hot key's do in the ledger.
// What the journal's rows and the history in the commit cost a design that does nothing else
// (bare-uws-commit-wal and bare-uws-commit-journal in the bench's systems).
import pg from 'pg';
import { JournalStore, keepBackendHeap, migrate } from '../../src/persistence/index.js';
import type { WalRow } from '../../src/persistence/journal-connection.js';

/**
 * How a floor commits with the ledger's journal statement: the WAL rows alone, or each row of a
 * request that names a stock key a movement in the history as well.
 */
export type JournalMode = 'wal' | 'history';

/** BARE_UWS_COMMIT_JOURNAL as a mode: unset or empty for the floor's own table. */
export function journalModeOf(text: string | undefined): JournalMode | undefined {
  if (text === undefined || text === '') return undefined;
  if (text === 'wal' || text === 'history') return text;
  throw new Error(`BARE_UWS_COMMIT_JOURNAL must be wal or history, not ${text}`);
}

/** The stock key a row's movement is written under (`history` only). */
interface FloorKey {
  readonly productId: string;
  readonly warehouseId: string;
}

interface Waiting {
  readonly row: Uint8Array;
  readonly key: FloorKey | undefined;
  readonly done: (error: unknown) => void;
}

/** The stock key a request names (a reserve's or an adjust's); none for a confirm or release. */
function keyOf(request: unknown): FloorKey | undefined {
  const { productId, warehouseId } = request as { productId?: unknown; warehouseId?: unknown };
  if (typeof productId !== 'string' || typeof warehouseId !== 'string') return undefined;
  return { productId, warehouseId };
}

/** The ledger's journal writes a partition's rows; the floor has one. */
const floorPartition = 0;

export class FloorCommit {
  private pending: Waiting[] = [];
  private writing = false;
  private nextLsn = 1;
  /** The connection failed (its backend ended, say): every row from then on fails at once. */
  private broken: unknown = undefined;

  private constructor(
    private readonly client: pg.Client,
    /** The ledger's journal statement, on its tables; undefined: the floor's own table. */
    private readonly journal: JournalStore | undefined,
    /** Each row of a request that names a stock key is a movement of that key. */
    private readonly movements: boolean,
  ) {
    // Without a listener a lost connection's error would end the whole server.
    client.on('error', (error) => (this.broken ??= error));
  }

  /** Connects to `databaseUrl` and makes the floor's table, or with `journal` the ledger's. */
  static async open(databaseUrl: string | undefined, journal?: JournalMode): Promise<FloorCommit> {
    const client = new pg.Client({
      connectionString: databaseUrl,
      options: '-c synchronous_commit=on',
    });
    await client.connect();
    // As the ledger's journal connections do: its backend keeps its heap between commits.
    await keepBackendHeap(client);
    if (journal !== undefined) {
      await migrate(client);
      return new FloorCommit(client, new JournalStore(client), journal === 'history');
    }
    await client.query(
      'CREATE TABLE IF NOT EXISTS floor_wal (lsn bigint PRIMARY KEY, row bytea NOT NULL)',
    );
    return new FloorCommit(client, undefined, false);
  }

  /**
   * `done` is called once `row` (the bytes of `request`) is durable (with no error) or its commit
   * failed. With movements, the stock key `request` names is the one its movement is under.
   */
  add(row: Uint8Array, request: unknown, done: (error: unknown) => void): void {
    if (this.broken !== undefined) {
      done(this.broken);
      return;
    }
    const key = this.movements ? keyOf(request) : undefined;
    this.pending.push({ row, key, done });
    // A commit starts after the current turn, with everything the turn added.
    if (this.pending.length === 1 && !this.writing) setImmediate(() => void this.writeAll());
  }

  close(): Promise<void> {
    return this.client.end();
  }

  /** Writes what is pending, batch after batch, until nothing is. */
  private async writeAll(): Promise<void> {
    this.writing = true;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      const lsns = batch.map(() => this.nextLsn++);
      let failure: unknown = undefined;
      try {
        if (this.journal !== undefined) await this.journal.append(walRows(batch, lsns));
        else {
          await this.client.query({
            name: 'floor-append',
            text: 'INSERT INTO floor_wal (lsn, row) SELECT * FROM unnest($1::bigint[], $2::bytea[])',
            values: [lsns, batch.map((waiting) => waiting.row)],
          });
        }
      } catch (error) {
        failure = error ?? new Error('commit failed');
      }
      for (const waiting of batch) waiting.done(failure);
    }
    this.writing = false;
  }
}

/**
 * The batch as the ledger's WAL rows: each a movement of its key (the key's version its lsn, its
 * reserved units counting up), written with the row as the ledger writes a record's. Each object
 * is a literal of one shape, as the shard makes its rows (shard.ts, `walRow`): built by spreads,
 * each row went through V8's slow paths, a cost of the floor's own that the ledger does not pay
 * and that was read as the history's (bench/README.md, "What the history costs the floor").
 */
function walRows(batch: readonly Waiting[], lsns: readonly number[]): WalRow[] {
  const atMs = Date.now();
  const rows = new Array<WalRow>(batch.length);
  for (let index = 0; index < batch.length; index += 1) {
    const { row, key } = batch[index] as Waiting;
    const lsn = lsns[index] as number;
    rows[index] =
      key === undefined
        ? { partition: floorPartition, lsn, payload: row }
        : {
            partition: floorPartition,
            lsn,
            payload: row,
            movement: {
              productId: key.productId,
              warehouseId: key.warehouseId,
              version: lsn,
              atMs,
              onHand: 0,
              reserved: lsn,
              incoming: 0,
              subject: '',
            },
          };
  }
  return rows;
}
