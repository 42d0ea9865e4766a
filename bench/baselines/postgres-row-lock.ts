// Baseline (a): the conventional durable design. Every reserve is ONE call of a plpgsql function
// that inserts the reservation (the unique idempotency key settles replays) and takes the stock
// with a conditional UPDATE on the stock row, in one transaction committed with
// synchronous_commit=on: the row lock on a hot key is held from the UPDATE until the commit's
// WAL flush, so reserves on one key go through one at a time. Confirm and release are likewise
// ONE call each of `finish`, which locks the reservation row and then updates the stock row.
// DATABASE_URL names a scratch database (the bench creates and drops it); the schema is created
// here at start.
import pg from 'pg';
import {
  errorAnswer,
  finishAnswer,
  reservationBody,
  serveBaseline,
  stockBody,
  type Answer,
  type FinishRequest,
  type ReservationBody,
  type ReserveRequest,
} from '../lib/baseline-http.js';

/** Connections to Postgres; more than the 2 cores can use, fewer than the 64 HTTP clients. */
const poolSize = 16;

const schema = `
CREATE TABLE IF NOT EXISTS stock (
  product_id text NOT NULL,
  warehouse_id text NOT NULL,
  on_hand bigint NOT NULL,
  reserved bigint NOT NULL DEFAULT 0,
  version bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (product_id, warehouse_id),
  CHECK (reserved >= 0 AND reserved <= on_hand)
);
CREATE TABLE IF NOT EXISTS reservations (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  idempotency_key text NOT NULL UNIQUE,
  product_id text NOT NULL,
  warehouse_id text NOT NULL,
  quantity integer NOT NULL,
  status text NOT NULL DEFAULT 'PENDING',
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION reserve(p text, w text, q integer, k text, ttl integer)
RETURNS TABLE (outcome text, reservation json, available bigint) LANGUAGE plpgsql AS $$
DECLARE
  new_id uuid;
  left_over bigint;
BEGIN
  INSERT INTO reservations (idempotency_key, product_id, warehouse_id, quantity, expires_at)
  VALUES (k, p, w, q, now() + make_interval(secs => ttl))
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING id INTO new_id;
  IF new_id IS NULL THEN
    RETURN QUERY SELECT 'replayed', row_to_json(r), NULL::bigint
      FROM reservations r WHERE r.idempotency_key = k;
    RETURN;
  END IF;
  -- Last, so that the hot row's lock is held for as short a time as this design allows.
  UPDATE stock s SET reserved = s.reserved + q, version = s.version + 1
  WHERE s.product_id = p AND s.warehouse_id = w AND s.on_hand - s.reserved >= q;
  IF NOT FOUND THEN
    DELETE FROM reservations WHERE id = new_id;
    SELECT s.on_hand - s.reserved INTO left_over
      FROM stock s WHERE s.product_id = p AND s.warehouse_id = w;
    RETURN QUERY SELECT CASE WHEN left_over IS NULL THEN 'not_found' ELSE 'insufficient' END,
      NULL::json, left_over;
    RETURN;
  END IF;
  RETURN QUERY SELECT 'ok', row_to_json(r), NULL::bigint FROM reservations r WHERE r.id = new_id;
END
$$;
-- Moves a PENDING reservation to target (CONFIRMED or RELEASED) and answers it with moved = true;
-- any other status is answered as it is, for the caller to map to 200 or 409. A hold found past
-- expires_at expires instead (its quantity goes back), as the ledger does, so a late confirm
-- never sells it. No row: the id is unknown.
CREATE OR REPLACE FUNCTION finish(r uuid, target text)
RETURNS TABLE (moved boolean, reservation json) LANGUAGE plpgsql AS $$
DECLARE
  held reservations%ROWTYPE;
BEGIN
  SELECT * INTO held FROM reservations WHERE id = r FOR UPDATE;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF held.status <> 'PENDING' THEN
    RETURN QUERY SELECT false, row_to_json(held);
    RETURN;
  END IF;
  IF held.expires_at <= now() THEN
    target := 'EXPIRED';
  END IF;
  UPDATE stock s
  SET on_hand = s.on_hand - CASE WHEN target = 'CONFIRMED' THEN held.quantity ELSE 0 END,
    reserved = s.reserved - held.quantity, version = s.version + 1
  WHERE s.product_id = held.product_id AND s.warehouse_id = held.warehouse_id;
  UPDATE reservations SET status = target WHERE id = r RETURNING * INTO held;
  RETURN QUERY SELECT target <> 'EXPIRED', row_to_json(held);
END
$$;
`;

/** A reservations row as row_to_json gives it: the ledger's body, with `id` for the id. */
type StoredReservation = Omit<ReservationBody, 'reservation_id'> & { readonly id: string };

// synchronous_commit=on for every connection: a reply is sent only after the commit's WAL flush.
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: poolSize,
  options: '-c synchronous_commit=on',
});
await pool.query(schema);

function reservationAnswer(stored: StoredReservation, request: ReserveRequest, replayed: boolean) {
  if (
    stored.product_id !== request.productId ||
    stored.warehouse_id !== request.warehouseId ||
    stored.quantity !== request.quantity
  ) {
    return errorAnswer(422, 'idempotency_key_reused', 'same key, different request');
  }
  const body = {
    ...reservationBody(request, stored.id, Date.parse(stored.created_at)),
    expires_at: new Date(stored.expires_at).toISOString(),
  };
  return { status: 200, body, replayed };
}

async function reserve(request: ReserveRequest): Promise<Answer> {
  const result = await pool.query<{
    outcome: string;
    reservation: StoredReservation | null;
    available: string | null;
  }>('SELECT * FROM reserve($1, $2, $3, $4, $5)', [
    request.productId,
    request.warehouseId,
    request.quantity,
    request.idempotencyKey,
    request.ttlSeconds,
  ]);
  const row = result.rows[0];
  if (row === undefined) throw new Error('reserve() returned no row');
  if (row.outcome === 'not_found') return errorAnswer(404, 'not_found', 'unknown stock key');
  if (row.outcome === 'insufficient' || row.reservation === null) {
    return errorAnswer(409, 'insufficient_stock', 'not enough available', {
      available: Number(row.available),
    });
  }
  return reservationAnswer(row.reservation, request, row.outcome === 'replayed');
}

/** The ledger's body for a stored reservation, in its current status. */
const storedBody = (stored: StoredReservation): ReservationBody => ({
  reservation_id: stored.id,
  status: stored.status,
  product_id: stored.product_id,
  warehouse_id: stored.warehouse_id,
  quantity: stored.quantity,
  expires_at: new Date(stored.expires_at).toISOString(),
  created_at: new Date(stored.created_at).toISOString(),
});

async function finish({ reservationId, target }: FinishRequest): Promise<Answer> {
  const result = await pool.query<{ moved: boolean; reservation: StoredReservation }>(
    'SELECT * FROM finish($1, $2)',
    [reservationId, target],
  );
  const row = result.rows[0];
  return finishAnswer(target, row && storedBody(row.reservation), row?.moved ?? false);
}

interface StockRow {
  on_hand: string;
  reserved: string;
  version: string;
}

const stockAnswer = (productId: string, warehouseId: string, row: StockRow): Answer => ({
  status: 200,
  body: stockBody(
    productId,
    warehouseId,
    Number(row.on_hand),
    Number(row.reserved),
    Number(row.version),
  ),
});

serveBaseline('postgres-row-lock', {
  reserve,
  finish,
  async adjust({ productId, warehouseId, delta }) {
    try {
      const result = await pool.query<StockRow>(
        `INSERT INTO stock (product_id, warehouse_id, on_hand, version) VALUES ($1, $2, $3, 1)
         ON CONFLICT (product_id, warehouse_id) DO UPDATE
         SET on_hand = stock.on_hand + EXCLUDED.on_hand, version = stock.version + 1
         RETURNING on_hand, reserved, version`,
        [productId, warehouseId, delta],
      );
      const row = result.rows[0];
      if (row === undefined) throw new Error('adjust returned no row');
      return stockAnswer(productId, warehouseId, row);
    } catch (error) {
      // 23514: check_violation, the stock would go below reserved or 0.
      if ((error as { code?: string }).code !== '23514') throw error;
      return errorAnswer(409, 'insufficient_stock', 'on_hand would go below reserved or 0');
    }
  },
  async readStock(productId, warehouseId) {
    const result = await pool.query<StockRow>(
      'SELECT on_hand, reserved, version FROM stock WHERE product_id = $1 AND warehouse_id = $2',
      [productId, warehouseId],
    );
    const row = result.rows[0];
    if (row === undefined) return errorAnswer(404, 'not_found', 'unknown stock key');
    return stockAnswer(productId, warehouseId, row);
  },
  close: () => pool.end(),
});
