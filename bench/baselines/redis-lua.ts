// Baseline (b): Redis + Lua, the usual "fast" answer. One EVALSHA per reserve checks the
// idempotency key, checks and takes the stock, and stores the reservation, atomically in Redis.
// NOT DURABLE: the bench runs it against a Redis without persistence (or whatever REDIS_URL
// points at); an acknowledged reservation can vanish with the Redis process.
// Confirm and release are one EVALSHA each too, and so is a cart: one script checks every line's
// stock key (lines on one key arrive summed), and only if all can be held takes them all and
// records the holds and the cart's idempotency key. Keys live under a per-run prefix
// (REDIS_PREFIX): one hash per stock key and three more (reserves' and carts' idempotency keys,
// reservations), deleted on stop. The
// finish script reaches the stock hash named in the reservation, a key it is not passed: fine on
// one Redis, not on a cluster.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { cartBody, replayedCart, shortCart, type CartBody } from '../lib/baseline-cart.js';
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

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.REDIS_PREFIX ?? `baseline-${randomUUID()}`;
const stockKeyPrefix = `${prefix}:stock:`;
const stockKey = (productId: string, warehouseId: string): string =>
  `${stockKeyPrefix}${productId}/${warehouseId}`;
const idempotencyHash = `${prefix}:idempotency`;
const reservationsHash = `${prefix}:reservations`;
const cartsHash = `${prefix}:carts`;

// KEYS: stock hash, idempotency hash, reservations hash.
// ARGV: quantity, idempotency key, reservation id, reservation JSON.
// Returns {'replayed', json}, {'insufficient', available}, {'not_found'} or {'ok', json}.
const reserveScript = `
local existing = redis.call('HGET', KEYS[2], ARGV[2])
if existing then
  return {'replayed', redis.call('HGET', KEYS[3], existing)}
end
local stock = redis.call('HMGET', KEYS[1], 'on_hand', 'reserved')
if not stock[1] then return {'not_found'} end
local quantity = tonumber(ARGV[1])
local available = tonumber(stock[1]) - tonumber(stock[2])
if available < quantity then return {'insufficient', tostring(available)} end
redis.call('HINCRBY', KEYS[1], 'reserved', quantity)
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
return {'ok', ARGV[4]}
`;

// KEYS: carts hash (idempotency key -> stored cart), reservations hash, then the stock hash of
// each hold. ARGV: the cart's idempotency key, the stored cart JSON, then for hold i (1-based)
// ARGV[3i] its quantity, ARGV[3i+1] its reservation id, ARGV[3i+2] its reservation JSON.
// Returns {'replayed', stored cart}, {'ok'}, or {'insufficient', hold, available, ...} with the
// 0-based position of every short hold (available 0 for a key never stocked).
const cartScript = `
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then return {'replayed', existing} end
local holds = #KEYS - 2
local answer = {'insufficient'}
for i = 1, holds do
  local stock = redis.call('HMGET', KEYS[i + 2], 'on_hand', 'reserved')
  local available = 0
  if stock[1] then available = tonumber(stock[1]) - tonumber(stock[2]) end
  if available < tonumber(ARGV[3 * i]) then
    answer[#answer + 1] = tostring(i - 1)
    answer[#answer + 1] = tostring(available)
  end
end
if #answer > 1 then return answer end
for i = 1, holds do
  redis.call('HINCRBY', KEYS[i + 2], 'reserved', ARGV[3 * i])
  redis.call('HINCRBY', KEYS[i + 2], 'version', 1)
  redis.call('HSET', KEYS[2], ARGV[3 * i + 1], ARGV[3 * i + 2])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'ok'}
`;

// KEYS: stock hash. ARGV: delta. Returns {on_hand, reserved, version} or {'insufficient'}.
const adjustScript = `
local stock = redis.call('HMGET', KEYS[1], 'on_hand', 'reserved')
local onHand = tonumber(stock[1] or '0') + tonumber(ARGV[1])
local reserved = tonumber(stock[2] or '0')
if onHand < 0 or onHand < reserved then return {'insufficient'} end
redis.call('HSET', KEYS[1], 'on_hand', onHand, 'reserved', reserved)
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
return {tostring(onHand), tostring(reserved), tostring(version)}
`;

// KEYS: reservations hash. ARGV: reservation id, target status, now as toISOString() writes it,
// stock key prefix. Returns {} for an unknown id, else {moved, reservation JSON}: a PENDING hold
// moves to the target, or expires if due (its quantity goes back, as in the ledger); any other
// status is answered as it is. expires_at and now are both fixed-width ISO 8601 UTC strings,
// so comparing them as strings compares the times.
const finishScript = `
local stored = redis.call('HGET', KEYS[1], ARGV[1])
if not stored then return {} end
local reservation = cjson.decode(stored)
if reservation.status ~= 'PENDING' then return {'0', stored} end
local target = ARGV[2]
if reservation.expires_at <= ARGV[3] then target = 'EXPIRED' end
local stock = ARGV[4] .. reservation.product_id .. '/' .. reservation.warehouse_id
redis.call('HINCRBY', stock, 'reserved', -reservation.quantity)
if target == 'CONFIRMED' then redis.call('HINCRBY', stock, 'on_hand', -reservation.quantity) end
redis.call('HINCRBY', stock, 'version', 1)
reservation.status = target
local updated = cjson.encode(reservation)
redis.call('HSET', KEYS[1], ARGV[1], updated)
if target == 'EXPIRED' then return {'0', updated} end
return {'1', updated}
`;

const redis = new Redis(redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 1 });
const reserveSha = (await redis.script('LOAD', reserveScript)) as string;
const adjustSha = (await redis.script('LOAD', adjustScript)) as string;
const finishSha = (await redis.script('LOAD', finishScript)) as string;
const cartSha = (await redis.script('LOAD', cartScript)) as string;

const sameRequest = (stored: ReservationBody, request: ReserveRequest): boolean =>
  stored.product_id === request.productId &&
  stored.warehouse_id === request.warehouseId &&
  stored.quantity === request.quantity;

/** The ledger's field order (cjson writes a table's fields in no particular order). */
const orderedBody = (stored: ReservationBody): ReservationBody => ({
  reservation_id: stored.reservation_id,
  status: stored.status,
  product_id: stored.product_id,
  warehouse_id: stored.warehouse_id,
  quantity: stored.quantity,
  expires_at: stored.expires_at,
  created_at: stored.created_at,
  ...(stored.cart_id === undefined ? {} : { cart_id: stored.cart_id }),
  ...(stored.buyer_id === undefined ? {} : { buyer_id: stored.buyer_id }),
  ...(stored.reference === undefined ? {} : { reference: stored.reference }),
});

async function reserve(request: ReserveRequest): Promise<Answer> {
  const reservation = reservationBody(request, randomUUID(), Date.now());
  const keys = [stockKey(request.productId, request.warehouseId), idempotencyHash];
  const result = (await redis.evalsha(
    reserveSha,
    3,
    ...keys,
    reservationsHash,
    request.quantity,
    request.idempotencyKey,
    reservation.reservation_id,
    JSON.stringify(reservation),
  )) as string[];
  const [outcome, value] = result;
  if (outcome === 'ok') return { status: 200, body: reservation };
  if (outcome === 'not_found') return errorAnswer(404, 'not_found', 'unknown stock key');
  if (outcome === 'insufficient') {
    return errorAnswer(409, 'insufficient_stock', 'not enough available', {
      available: Number(value),
    });
  }
  const stored = JSON.parse(value ?? '{}') as ReservationBody;
  if (!sameRequest(stored, request)) {
    return errorAnswer(422, 'idempotency_key_reused', 'same key, different request');
  }
  // The ledger replays the answer first sent, PENDING, whatever happened to the hold since.
  return { status: 200, body: orderedBody({ ...stored, status: 'PENDING' }), replayed: true };
}

/** What the carts hash keeps per idempotency key: the request as sent and the first answer. */
interface StoredCart {
  readonly request: string;
  readonly body: CartBody;
}

async function cart(request: CartRequest): Promise<Answer> {
  const nowMs = Date.now();
  const ids = request.holds.map(() => randomUUID());
  const created = {
    id: randomUUID(),
    createdMs: nowMs,
    expiresMs: nowMs + request.ttlSeconds * 1000,
  };
  const body = cartBody(request, created, ids);
  const stored: StoredCart = { request: request.fingerprint, body };
  const holdArguments = body.holds.flatMap((hold) => {
    const reservation: ReservationBody = {
      ...reservationBody(
        {
          ...request,
          productId: hold.product_id,
          warehouseId: hold.warehouse_id,
          quantity: hold.quantity,
        },
        hold.reservation_id,
        nowMs,
      ),
      cart_id: created.id,
      ...(request.buyerId === undefined ? {} : { buyer_id: request.buyerId }),
      ...(request.reference === undefined ? {} : { reference: request.reference }),
    };
    return [hold.quantity, hold.reservation_id, JSON.stringify(reservation)];
  });
  const stockKeys = request.holds.map((hold) => stockKey(hold.productId, hold.warehouseId));
  const result = (await redis.evalsha(
    cartSha,
    2 + stockKeys.length,
    cartsHash,
    reservationsHash,
    ...stockKeys,
    request.idempotencyKey,
    JSON.stringify(stored),
    ...holdArguments,
  )) as string[];
  const [outcome, ...rest] = result;
  if (outcome === 'ok') return { status: 200, body };
  if (outcome === 'replayed') {
    const first = JSON.parse(rest[0] ?? '{}') as StoredCart;
    return replayedCart(request, first.request, first.body);
  }
  const shorts = [];
  for (let at = 0; at + 1 < rest.length; at += 2) {
    shorts.push({ hold: Number(rest[at]), available: Number(rest[at + 1]) });
  }
  return shortCart(request, shorts);
}

async function finish({ reservationId, target }: FinishRequest): Promise<Answer> {
  const result = (await redis.evalsha(
    finishSha,
    1,
    reservationsHash,
    reservationId,
    target,
    new Date().toISOString(),
    stockKeyPrefix,
  )) as string[];
  const [moved, json] = result;
  const reservation = json === undefined ? undefined : orderedBody(JSON.parse(json));
  return finishAnswer(target, reservation, moved === '1');
}

serveBaseline('redis-lua', {
  reserve,
  cart,
  finish,
  async adjust(request) {
    const key = stockKey(request.productId, request.warehouseId);
    const result = (await redis.evalsha(adjustSha, 1, key, request.delta)) as string[];
    if (result[0] === 'insufficient') {
      return errorAnswer(409, 'insufficient_stock', 'on_hand would go below reserved or 0');
    }
    const [onHand, reserved, version] = result.map(Number);
    const { productId, warehouseId } = request;
    return { status: 200, body: stockBody(productId, warehouseId, onHand!, reserved!, version!) };
  },
  async readStock(productId, warehouseId) {
    const stock = await redis.hmget(
      stockKey(productId, warehouseId),
      'on_hand',
      'reserved',
      'version',
    );
    if (stock[0] === null) return errorAnswer(404, 'not_found', 'unknown stock key');
    const [onHand, reserved, version] = stock.map(Number);
    return { status: 200, body: stockBody(productId, warehouseId, onHand!, reserved!, version!) };
  },
  async close() {
    const stockKeys = await redis.keys(`${stockKeyPrefix}*`);
    await redis.unlink(idempotencyHash, reservationsHash, cartsHash, ...stockKeys);
    await redis.quit();
  },
});
