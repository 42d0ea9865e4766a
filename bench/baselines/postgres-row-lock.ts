// Baseline (a): the conventional durable design. Every reserve is ONE call of a plpgsql function
// that inserts the reservation (the unique idempotency key settles replays) and takes the stock
// with a conditional UPDATE on the stock row, in one transaction committed with
// synchronous_commit=on: the row lock on a hot key is held from the UPDATE until the commit's
// WAL flush, so reserves on one key go through one at a time. Confirm and release are likewise
// ONE call each of `finish`, which locks the reservation row and then updates the stock row.
// A cart is ONE call of `reserve_cart`, one transaction: it inserts the cart (its idempotency
// key unique: a taken key answers the stored cart) and one reservation per stock key (lines on
// one key arrive summed), then locks every line's stock row in key order (so two carts never
// wait on each other in a cycle), checks them all, and updates them all, or, if any is short,
// deletes the cart and its holds again; every row lock is held until the commit's WAL flush.
// DATABASE_URL names a scratch database (the bench creates and drops it); the schema is created
// here at start.
import pg from 'pg';
import { cartBody, replayedCart, shortCart } from '../lib/baseline-cart.js';
import {
  errorAnswer,
  finishAnswer,
  reservationBody,
  serveBaseline,
  stockBody,
  type Answer,
  type CartRequest,
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
  -- A reserve's own key; NULL for a cart's hold (the cart has the key).
  idempotency_key text UNIQUE,
  product_id text NOT NULL,
  warehouse_id text NOT NULL,
  quantity integer NOT NULL,
  status text NOT NULL DEFAULT 'PENDING',
  expires_at timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  cart_id uuid,
  line integer,
  buyer_id text,
  reference text
);
CREATE INDEX IF NOT EXISTS reservations_cart ON reservations (cart_id) WHERE cart_id IS NOT NULL;
-- request: the request as sent, compared on a replay of the key (baseline-cart.ts).
CREATE TABLE IF NOT EXISTS carts (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  idempotency_key text NOT NULL UNIQUE,
  request text NOT NULL,
  buyer_id text,
  reference text,
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
-- The cart stored under idempotency key k and its holds' ids in line order; no row if none.
CREATE OR REPLACE FUNCTION stored_cart(k text, how text)
RETURNS TABLE (outcome text, cart json, holds json, short json) LANGUAGE sql AS $$
  SELECT how, row_to_json(c),
    (SELECT json_agg(json_build_object('id', r.id, 'line', r.line) ORDER BY r.line)
      FROM reservations r WHERE r.cart_id = c.id),
    NULL::json
  FROM carts c WHERE c.idempotency_key = k
$$;
-- One cart, all or nothing: one row per stock key (ps, ws: the key, qs: its summed units, ls:
-- its first line). Answers 'replayed' or 'ok' with the stored cart, or 'insufficient' with
-- short = [{hold: position in the arrays, available}] (0 for a key never stocked). As reserve
-- does, it writes the cart and its holds before taking any stock row lock, so that the locks
-- (the hot key's among them) are held for as short a time as this design allows; a short cart
-- deletes them again in the same transaction, so only a cart that got every line binds its key.
CREATE OR REPLACE FUNCTION reserve_cart(k text, fp text, ps text[], ws text[], qs integer[],
  ls integer[], ttl integer, buyer text, ref text)
RETURNS TABLE (outcome text, cart json, holds json, short json) LANGUAGE plpgsql AS $$
DECLARE
  new_cart json;
  new_holds json;
  missing json;
BEGIN
  INSERT INTO carts (idempotency_key, request, buyer_id, reference, expires_at)
  VALUES (k, fp, buyer, ref, now() + make_interval(secs => ttl))
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING row_to_json(carts.*) INTO new_cart;
  IF new_cart IS NULL THEN
    RETURN QUERY SELECT * FROM stored_cart(k, 'replayed');
    RETURN;
  END IF;
  WITH inserted AS (
    INSERT INTO reservations
      (product_id, warehouse_id, quantity, expires_at, cart_id, line, buyer_id, reference)
    SELECT l.p, l.w, l.q, now() + make_interval(secs => ttl), (new_cart->>'id')::uuid, l.line,
      buyer, ref
    FROM unnest(ps, ws, qs, ls) AS l(p, w, q, line)
    RETURNING id, line)
  SELECT json_agg(json_build_object('id', i.id, 'line', i.line) ORDER BY i.line)
    INTO new_holds FROM inserted i;
  -- Every line's stock row, locked in key order (LockRows sits above the Sort), so two carts
  -- never wait on each other in a cycle; then every line checked against the locked rows.
  PERFORM 1 FROM stock s JOIN unnest(ps, ws) AS l(p, w)
    ON s.product_id = l.p AND s.warehouse_id = l.w
    ORDER BY s.product_id, s.warehouse_id FOR UPDATE OF s;
  SELECT json_agg(json_build_object('hold', l.n - 1,
      'available', coalesce(s.on_hand - s.reserved, 0)) ORDER BY l.n)
    INTO missing
    FROM unnest(ps, ws, qs) WITH ORDINALITY AS l(p, w, q, n)
    LEFT JOIN stock s ON s.product_id = l.p AND s.warehouse_id = l.w
    WHERE coalesce(s.on_hand - s.reserved, 0) < l.q;
  IF missing IS NOT NULL THEN
    DELETE FROM reservations WHERE cart_id = (new_cart->>'id')::uuid;
    DELETE FROM carts WHERE id = (new_cart->>'id')::uuid;
    RETURN QUERY SELECT 'insufficient', NULL::json, NULL::json, missing;
    RETURN;
  END IF;
  UPDATE stock s SET reserved = s.reserved + l.q, version = s.version + 1
  FROM unnest(ps, ws, qs) AS l(p, w, q)
  WHERE s.product_id = l.p AND s.warehouse_id = l.w;
  RETURN QUERY SELECT 'ok', new_cart, new_holds, NULL::json;
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
type StoredReservation = Omit<ReservationBody, 'reservation_id'> & {
  readonly id: string;
  readonly cart_id: string | null;
  readonly buyer_id: string | null;
  readonly reference: string | null;
};

/** A carts row as row_to_json gives it. */
interface StoredCart {
  readonly id: string;
  readonly request: string;
  readonly created_at: string;
  readonly expires_at: string;
}

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
  ...(stored.cart_id === null ? {} : { cart_id: stored.cart_id }),
  ...(stored.buyer_id === null ? {} : { buyer_id: stored.buyer_id }),
  ...(stored.reference === null ? {} : { reference: stored.reference }),
});

interface CartRow {
  outcome: 'ok' | 'replayed' | 'insufficient';
  cart: StoredCart | null;
  holds: { id: string; line: number }[] | null;
  short: { hold: number; available: number }[] | null;
}

async function cart(request: CartRequest): Promise<Answer> {
  const { holds } = request;
  const result = await pool.query<CartRow>(
    'SELECT * FROM reserve_cart($1, $2, $3::text[], $4::text[], $5::integer[], $6::integer[], ' +
      '$7, $8, $9)',
    [
      request.idempotencyKey,
      request.fingerprint,
      holds.map((hold) => hold.productId),
      holds.map((hold) => hold.warehouseId),
      holds.map((hold) => hold.quantity),
      holds.map((hold) => hold.line),
      request.ttlSeconds,
      request.buyerId ?? null,
      request.reference ?? null,
    ],
  );
  const row = result.rows[0];
  if (row === undefined) throw new Error('reserve_cart() returned no row');
  if (row.outcome === 'insufficient') return shortCart(request, row.short ?? []);
  if (row.cart === null) throw new Error(`reserve_cart() answered ${row.outcome} without a cart`);
  const stored = row.cart;
  const body = cartBody(
    request,
    {
      id: stored.id,
      createdMs: Date.parse(stored.created_at),
      expiresMs: Date.parse(stored.expires_at),
    },
    (row.holds ?? []).map((hold) => hold.id),
  );
  if (row.outcome === 'replayed') return replayedCart(request, stored.request, body);
  return { status: 200, body };
}

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
  cart,
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
