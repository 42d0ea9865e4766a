// Reservation routes (ledger_reservation_routes): ids whose embedded partition no longer holds
// them, since `ledger migrate-partitions` moved their stock key. Written once by the migration,
// loaded by the ledger at start, deleted once the ledger has forgotten the hold (until_ms).
import type pg from 'pg';
import { reservationRoutesMax, reservationRoutesPageRows } from '../limits.js';
import { JournalLayoutError } from './journal-meta.js';

export interface ReservationRoute {
  readonly reservationId: string;
  readonly partition: number;
  /** Epoch ms after which the ledger no longer retains the hold: the route can go. */
  readonly untilMs: number;
}

/** Replaces every route with these, in pages (the caller holds the transaction). */
export async function replaceReservationRoutes(
  client: pg.ClientBase,
  routes: readonly ReservationRoute[],
): Promise<void> {
  await client.query('DELETE FROM ledger_reservation_routes');
  for (let start = 0; start < routes.length; start += reservationRoutesPageRows) {
    const page = routes.slice(start, start + reservationRoutesPageRows);
    await client.query(
      `INSERT INTO ledger_reservation_routes (reservation_id, partition, until_ms)
       SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])`,
      [
        page.map((route) => route.reservationId),
        page.map((route) => route.partition),
        page.map((route) => route.untilMs),
      ],
    );
  }
}

/**
 * Deletes the routes whose holds the ledger has forgotten by `nowMs` and returns the others,
 * id -> partition. Read in pages, in id order, up to `reservationRoutesMax` (beyond it: refused,
 * since the migration never writes more).
 */
export async function loadReservationRoutes(
  client: pg.ClientBase,
  nowMs: number,
): Promise<Map<string, number>> {
  await client.query('DELETE FROM ledger_reservation_routes WHERE until_ms < $1', [nowMs]);
  const routes = new Map<string, number>();
  let after = '';
  for (;;) {
    const result = await client.query<{ reservation_id: string; partition: number }>(
      `SELECT reservation_id, partition FROM ledger_reservation_routes
       WHERE reservation_id > $1 ORDER BY reservation_id LIMIT ${reservationRoutesPageRows}`,
      [after],
    );
    for (const row of result.rows) routes.set(row.reservation_id, row.partition);
    if (routes.size > reservationRoutesMax) {
      throw new JournalLayoutError(
        `more than ${reservationRoutesMax} reservation routes; refusing to start`,
      );
    }
    const last = result.rows[result.rows.length - 1];
    if (last === undefined || result.rows.length < reservationRoutesPageRows) return routes;
    after = last.reservation_id;
  }
}
