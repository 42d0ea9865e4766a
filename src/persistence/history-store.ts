// Reads a stock key's movement history from the journal's ledger_movements (written in the same
// statement as the WAL rows, journal-store.ts), newest first, a page at a time, on a small pool
// of its own: history reads never share a connection with a shard's group commits.
import pg from 'pg';
import { isMovement, movementOf, type Movement, type MovementCounts } from '../actors/index.js';
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
  readonly version: string;
  readonly on_hand: string;
  readonly reserved: string;
  readonly incoming: string;
  readonly subject: string | null;
  readonly payload: Buffer;
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
   */
  async page(
    productId: string,
    warehouseId: string,
    beforeVersion: number | undefined,
    limit: number,
  ): Promise<MovementPage> {
    const result = await this.pool.query<MovementRow>({
      name: 'ledger-movements-page',
      text: `SELECT version, on_hand, reserved, incoming, subject, payload
             FROM ledger_movements
             WHERE product_id = $1 AND warehouse_id = $2 AND version < $3
             ORDER BY version DESC LIMIT $4`,
      // One row more than asked tells whether a page follows.
      values: [productId, warehouseId, beforeVersion ?? Number.MAX_SAFE_INTEGER, limit + 1],
    });
    const rows = result.rows.slice(0, limit);
    const movements = rows.map((row) =>
      movementOfRow(
        row.payload,
        {
          onHand: Number(row.on_hand),
          reserved: Number(row.reserved),
          incoming: Number(row.incoming),
        },
        row.subject,
      ),
    );
    const last = movements[movements.length - 1];
    const more = result.rows.length > limit && last !== undefined;
    return { movements, nextBefore: more ? last.version : undefined };
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
