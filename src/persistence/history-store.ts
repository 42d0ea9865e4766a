// Reads a stock key's movement history from the journal's ledger_movements (written in the same
// statement as the WAL rows, journal-store.ts), newest first, a page at a time, on a small pool
// of its own: history reads never share a connection with a shard's group commits.
import pg from 'pg';
import {
  assert,
  isMovement,
  movementOf,
  type Movement,
  type MovementCounts,
} from '../actors/index.js';
import { movementsPerRowMax, unpackLater, type LaterMovement } from './movement-rows.js';
import { decodeRecord } from './record-codec.js';

export interface MovementPage {
  readonly movements: readonly Movement[];
  /** The version to read before for the page after; undefined on the last page. */
  readonly nextBefore: number | undefined;
}

export interface HistoryStoreOptions {
  /** Connections at most: reads wait for one beyond (pg's pool queue). */
  readonly connectionsMax: number;
  /** A read that takes longer is cancelled by Postgres (and answered 503). */
  readonly statementTimeoutMs: number;
  readonly onError: (error: Error) => void;
}

interface MovementRow {
  readonly on_hand: string;
  readonly reserved: string;
  readonly incoming: string;
  readonly subject: string | null;
  readonly payload: Buffer;
  /**
   * The key's movements after the row's first in the same group commit (movement-rows.ts); left
   * out (null) of rows past those the page can need.
   */
  readonly later: Buffer | null;
  readonly later_count: number;
}

/** A movement from its row: the record's bytes, the counts after it and the caller. */
export function movementOfRow(
  payload: Uint8Array,
  counts: MovementCounts,
  subject: string | null,
): Movement {
  const record = decodeRecord(payload);
  if (!isMovement(record)) {
    throw new Error(`a movement row holds a ${record.type} record, which changes no stock key`);
  }
  return movementOf(record, counts, subject ?? '');
}

/** The row's own movement: its columns and record bytes. */
function firstMovementOf(row: MovementRow): Movement {
  const counts = {
    onHand: Number(row.on_hand),
    reserved: Number(row.reserved),
    incoming: Number(row.incoming),
  };
  return movementOfRow(row.payload, counts, row.subject);
}

export class HistoryStore {
  constructor(private readonly pool: pg.Pool) {}

  static open(databaseUrl: string, options: HistoryStoreOptions): HistoryStore {
    const pool = new pg.Pool({
      connectionString: databaseUrl,
      max: options.connectionsMax,
      statement_timeout: options.statementTimeoutMs,
      // One plan for the page query, made once per connection: with a table per day (90 and
      // more) planning it again for every page would cost more than running it.
      options: '-c plan_cache_mode=force_generic_plan',
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
    });
    pool.on('error', options.onError);
    return new HistoryStore(pool);
  }

  /**
   * The key's movements with a version below `beforeVersion` (all, when undefined), newest
   * first, `limit` at most. The index (product_id, warehouse_id, version DESC) of each day's
   * table gives its rows in order; Postgres merges the days (Merge Append) and stops at the
   * limit, so a page costs about the same whether the key has ten movements or ten million.
   *
   * A row holds a run of the key's movements and its version is the run's first; runs never
   * overlap. So the rows whose first is below `beforeVersion` hold every movement below it, and
   * `limit + 1` of them hold more than `limit` movements whenever the key has that many: the
   * page is the newest `limit` of what they hold below `beforeVersion`; one more says a page
   * follows. Only the first row can hold movements at or above `beforeVersion` (fewer than
   * `movementsPerRowMax`), so rows after the first `limit + movementsPerRowMax` movements are
   * never needed: their packed movements are not read (nor sent), and no record is decoded
   * beyond the page's.
   */
  async page(
    productId: string,
    warehouseId: string,
    beforeVersion: number | undefined,
    limit: number,
  ): Promise<MovementPage> {
    const before = beforeVersion ?? Number.MAX_SAFE_INTEGER;
    const result = await this.pool.query<MovementRow>({
      name: 'ledger-movements-page',
      text: `SELECT on_hand, reserved, incoming, subject, payload, later_count,
                    CASE WHEN coalesce(sum(1 + later_count) OVER newer, 0) < $5 THEN later END
                      AS later
             FROM (SELECT * FROM ledger_movements
                   WHERE product_id = $1 AND warehouse_id = $2 AND version < $3
                   ORDER BY version DESC LIMIT $4) AS rows
             WINDOW newer AS (ORDER BY version DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
             ORDER BY version DESC`,
      values: [productId, warehouseId, before, limit + 1, limit + 1 + movementsPerRowMax],
    });
    const found: Movement[] = [];
    for (const row of result.rows) {
      if (found.length > limit) break;
      // Newest first: a row's packed movements in reverse, then its own (below the cursor, as
      // the query's WHERE has it). Only the first row can hold packed ones at or above it.
      if (row.later_count > 0) {
        assert(row.later !== null, 'a movement row the page needed came without its later ones');
        const later = unpackLater(row.later);
        for (let index = later.length - 1; index >= 0 && found.length <= limit; index -= 1) {
          const [payload, onHand, reserved, incoming, subject] = later[index] as LaterMovement;
          const movement = movementOfRow(payload, { onHand, reserved, incoming }, subject);
          if (movement.version < before) found.push(movement);
        }
      }
      if (found.length <= limit) found.push(firstMovementOf(row));
    }
    const movements = found.slice(0, limit);
    const last = movements[movements.length - 1];
    const more = found.length > limit && last !== undefined;
    return { movements, nextBefore: more ? last.version : undefined };
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
