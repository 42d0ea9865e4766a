// The reference model of API.md: plain, sequential, written from the contract and the team's
// decisions (README "Choices where the contract leaves room"), sharing no code with src/actors,
// so that a test comparing the two cannot agree with the ledger's own bugs. Time is a parameter.

export type ModelStatus = 'PENDING' | 'CONFIRMED' | 'RELEASED' | 'EXPIRED';

export type ModelErrorCode =
  | 'not_found'
  | 'insufficient_stock'
  | 'reservation_expired'
  | 'reservation_released'
  | 'reservation_confirmed'
  | 'idempotency_key_reused'
  | 'validation_failed';

/** API.md's error table, for the codes a valid request can meet. */
export const statusOfCode: Readonly<Record<ModelErrorCode, number>> = {
  not_found: 404,
  insufficient_stock: 409,
  reservation_expired: 409,
  reservation_released: 409,
  reservation_confirmed: 409,
  idempotency_key_reused: 422,
  validation_failed: 422,
};

export interface ReservationBody {
  readonly id: string;
  readonly status: ModelStatus;
  readonly productId: string;
  readonly warehouseId: string;
  readonly quantity: number;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
}

export interface StockBody {
  readonly productId: string;
  readonly warehouseId: string;
  readonly onHand: number;
  readonly reserved: number;
  readonly available: number;
  readonly version: number;
}

export type ModelRequest =
  | {
      readonly kind: 'reserve';
      readonly productId: string;
      readonly warehouseId: string;
      readonly quantity: number;
      readonly idempotencyKey: string;
      readonly ttlSeconds: number;
      /** The id a new hold gets (the ledger mints it; the model is told which). */
      readonly reservationId: string;
      /**
       * When the ledger says it made the hold (its created_at), if known. The hold may take
       * effect later than that, once durable; its times are counted from this instant.
       */
      readonly createdAtMs?: number;
    }
  | { readonly kind: 'confirm' | 'release' | 'read-reservation'; readonly reservationId: string }
  | {
      readonly kind: 'adjust';
      readonly productId: string;
      readonly warehouseId: string;
      readonly delta: number;
      readonly reason: string;
      /** '' when the request carried none. */
      readonly idempotencyKey: string;
    }
  | { readonly kind: 'read-stock'; readonly productId: string; readonly warehouseId: string };

/**
 * What the contract says the answer is. `replayed` is the `idempotent-replayed` header where
 * the contract defines it (reserve and adjust with a key); undefined where it is silent.
 */
export type ModelReply =
  | { readonly ok: true; readonly reservation: ReservationBody; readonly replayed?: boolean }
  | { readonly ok: true; readonly stock: StockBody; readonly replayed?: boolean }
  | { readonly ok: false; readonly code: ModelErrorCode; readonly available?: number };

export interface ModelLimits {
  /** The largest on_hand an adjust may produce (beyond: 422 validation_failed on delta). */
  readonly onHandMax: number;
}

/**
 * When a due hold turns EXPIRED. `eager`: the moment its expires_at passes, before any request
 * (API.md's wording; the linearizability checks use it). `swept`: only when an expiry sweep
 * reaches it (`sweep`, `expire`), or when a request names the hold itself (a confirm, release or
 * read of a due hold finds it expired: README, "Choices"); until then its units stay reserved.
 * The simulator mirrors the shard's own sweeps with it.
 */
export type ExpiryTiming = 'eager' | 'swept';

interface Hold {
  readonly id: string;
  readonly key: string;
  readonly quantity: number;
  readonly ttlSeconds: number;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  status: ModelStatus;
}

interface AdjustMemo {
  readonly delta: number;
  readonly reason: string;
  readonly answer: StockBody;
}

interface StockRow {
  readonly productId: string;
  readonly warehouseId: string;
  onHand: number;
  reserved: number;
  version: number;
  /** Idempotency keys of requests that changed this stock key: one table per operation. */
  readonly reserveKeys: Map<string, Hold>;
  readonly adjustKeys: Map<string, AdjustMemo>;
}

const keyOf = (productId: string, warehouseId: string): string =>
  `${productId}\u0000${warehouseId}`;

export class ReferenceLedger {
  private readonly stocks = new Map<string, StockRow>();
  private readonly holds = new Map<string, Hold>();
  private clockMs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly limits: ModelLimits = { onHandMax: 1_000_000_000_000 },
    readonly expiry: ExpiryTiming = 'eager',
  ) {}

  /** The time of the latest request applied (the model's clock never runs backwards). */
  get nowMs(): number {
    return this.clockMs;
  }

  apply(request: ModelRequest, nowMs: number): ModelReply {
    if (nowMs < this.clockMs) throw new Error(`model clock ran backwards: ${nowMs}`);
    this.clockMs = nowMs;
    // A PENDING hold whose expires_at has passed is EXPIRED, whether or not anyone looked.
    if (this.expiry === 'eager') this.expireDue(nowMs);
    else if ('reservationId' in request && request.kind !== 'reserve') {
      this.expireIfDue(request.reservationId, nowMs);
    }
    switch (request.kind) {
      case 'reserve':
        return this.reserve(request, nowMs);
      case 'confirm':
      case 'release':
        return this.finish(request.kind, request.reservationId);
      case 'read-reservation': {
        const hold = this.holds.get(request.reservationId);
        return hold === undefined ? fail('not_found') : { ok: true, reservation: this.view(hold) };
      }
      case 'adjust':
        return this.adjust(request);
      case 'read-stock': {
        const row = this.stocks.get(keyOf(request.productId, request.warehouseId));
        return row === undefined ? fail('not_found') : { ok: true, stock: stockOf(row) };
      }
    }
  }

  /** Expires every PENDING hold due at `nowMs`; returns how many. */
  expireDue(nowMs: number): number {
    let expired = 0;
    for (const hold of this.holds.values()) {
      if (hold.status !== 'PENDING' || hold.expiresAtMs > nowMs) continue;
      this.expireHold(hold);
      expired += 1;
    }
    return expired;
  }

  /**
   * A sweep at `nowMs` (swept timing): expires the due PENDING holds earliest first (ties by
   * reservation id), at most `max` of them; returns their ids in that order.
   */
  sweep(nowMs: number, max: number): string[] {
    return ReferenceLedger.sweepAll([this], nowMs, max);
  }

  /** One sweep over several ledgers (one per partition of a shard): a shard's sweep is shared. */
  static sweepAll(ledgers: readonly ReferenceLedger[], nowMs: number, max: number): string[] {
    const due: { hold: Hold; ledger: ReferenceLedger }[] = [];
    for (const ledger of ledgers) {
      ledger.advanceTo(nowMs);
      for (const hold of ledger.holds.values()) {
        if (hold.status === 'PENDING' && hold.expiresAtMs <= nowMs) due.push({ hold, ledger });
      }
    }
    due.sort((a, b) =>
      a.hold.expiresAtMs !== b.hold.expiresAtMs
        ? a.hold.expiresAtMs - b.hold.expiresAtMs
        : a.hold.id < b.hold.id
          ? -1
          : 1,
    );
    const expired = due.slice(0, max);
    for (const { hold, ledger } of expired) ledger.expireHold(hold);
    return expired.map(({ hold }) => hold.id);
  }

  /**
   * Expires one hold at `nowMs`, as a journal's expiry record says happened; throws if the hold
   * is unknown, not PENDING or not yet due (an expiry the contract does not allow).
   */
  expire(id: string, nowMs: number): void {
    this.advanceTo(nowMs);
    const hold = this.holds.get(id);
    if (hold === undefined) throw new Error(`expiry of an unknown hold ${id}`);
    if (hold.status !== 'PENDING') throw new Error(`expiry of a ${hold.status} hold ${id}`);
    if (hold.expiresAtMs > nowMs) throw new Error(`expiry of ${id} before its time`);
    this.expireHold(hold);
  }

  private advanceTo(nowMs: number): void {
    if (nowMs < this.clockMs) throw new Error(`model clock ran backwards: ${nowMs}`);
    this.clockMs = nowMs;
  }

  private expireIfDue(id: string, nowMs: number): void {
    const hold = this.holds.get(id);
    if (hold !== undefined && hold.status === 'PENDING' && hold.expiresAtMs <= nowMs) {
      this.expireHold(hold);
    }
  }

  private expireHold(hold: Hold): void {
    const row = this.row(hold.key);
    hold.status = 'EXPIRED';
    row.reserved -= hold.quantity;
    row.version += 1;
  }

  private reserve(request: Extract<ModelRequest, { kind: 'reserve' }>, nowMs: number): ModelReply {
    const row = this.stocks.get(keyOf(request.productId, request.warehouseId));
    if (row === undefined) return fail('not_found');
    const earlier = row.reserveKeys.get(request.idempotencyKey);
    if (earlier !== undefined) {
      if (earlier.quantity !== request.quantity || earlier.ttlSeconds !== request.ttlSeconds) {
        return fail('idempotency_key_reused');
      }
      // The original answer, as first sent.
      return {
        ok: true,
        reservation: { ...this.view(earlier), status: 'PENDING' },
        replayed: true,
      };
    }
    const available = row.onHand - row.reserved;
    // Refused requests bind no key: a retry may succeed once stock is back.
    if (request.quantity > available) return { ok: false, code: 'insufficient_stock', available };
    if (this.holds.has(request.reservationId)) throw new Error('reservation id issued twice');
    const createdAtMs = request.createdAtMs ?? nowMs;
    const expiresAtMs = createdAtMs + request.ttlSeconds * 1000;
    if (createdAtMs > nowMs || expiresAtMs <= nowMs) {
      throw new Error('a hold created after it took effect, or expired before it did');
    }
    const hold: Hold = {
      id: request.reservationId,
      key: keyOf(request.productId, request.warehouseId),
      quantity: request.quantity,
      ttlSeconds: request.ttlSeconds,
      createdAtMs,
      expiresAtMs,
      status: 'PENDING',
    };
    this.holds.set(hold.id, hold);
    row.reserveKeys.set(request.idempotencyKey, hold);
    row.reserved += hold.quantity;
    row.version += 1;
    return { ok: true, reservation: this.view(hold), replayed: false };
  }

  private finish(kind: 'confirm' | 'release', id: string): ModelReply {
    const hold = this.holds.get(id);
    if (hold === undefined) return fail('not_found');
    const done: ModelStatus = kind === 'confirm' ? 'CONFIRMED' : 'RELEASED';
    if (hold.status === done) return { ok: true, reservation: this.view(hold) };
    if (hold.status === 'EXPIRED') return fail('reservation_expired');
    if (hold.status === 'RELEASED') return fail('reservation_released');
    if (hold.status === 'CONFIRMED') return fail('reservation_confirmed');
    const row = this.row(hold.key);
    row.reserved -= hold.quantity;
    if (kind === 'confirm') row.onHand -= hold.quantity;
    row.version += 1;
    hold.status = done;
    return { ok: true, reservation: this.view(hold) };
  }

  private adjust(request: Extract<ModelRequest, { kind: 'adjust' }>): ModelReply {
    const key = keyOf(request.productId, request.warehouseId);
    const existing = this.stocks.get(key);
    const memo =
      request.idempotencyKey === '' ? undefined : existing?.adjustKeys.get(request.idempotencyKey);
    if (memo !== undefined) {
      if (memo.delta !== request.delta || memo.reason !== request.reason) {
        return fail('idempotency_key_reused');
      }
      return { ok: true, stock: memo.answer, replayed: true };
    }
    const onHand = (existing?.onHand ?? 0) + request.delta;
    const reserved = existing?.reserved ?? 0;
    if (onHand < 0 || onHand < reserved) {
      return {
        ok: false,
        code: 'insufficient_stock',
        available: (existing?.onHand ?? 0) - reserved,
      };
    }
    if (onHand > this.limits.onHandMax) return fail('validation_failed');
    // An adjust that changed something creates the key (a refused one does not).
    const row = existing ?? this.newRow(request.productId, request.warehouseId);
    row.onHand = onHand;
    row.version += 1;
    const answer = stockOf(row);
    if (request.idempotencyKey !== '') {
      row.adjustKeys.set(request.idempotencyKey, {
        delta: request.delta,
        reason: request.reason,
        answer,
      });
    }
    return { ok: true, stock: answer, replayed: false };
  }

  private newRow(productId: string, warehouseId: string): StockRow {
    const row: StockRow = {
      productId,
      warehouseId,
      onHand: 0,
      reserved: 0,
      version: 0,
      reserveKeys: new Map(),
      adjustKeys: new Map(),
    };
    this.stocks.set(keyOf(productId, warehouseId), row);
    return row;
  }

  private row(key: string): StockRow {
    const row = this.stocks.get(key);
    if (row === undefined) throw new Error('a hold on a stock key that does not exist');
    return row;
  }

  private view(hold: Hold): ReservationBody {
    const row = this.row(hold.key);
    return {
      id: hold.id,
      status: hold.status,
      productId: row.productId,
      warehouseId: row.warehouseId,
      quantity: hold.quantity,
      createdAtMs: hold.createdAtMs,
      expiresAtMs: hold.expiresAtMs,
    };
  }

  /** The stock view of a key as it stands (no clock change), or undefined if never stocked. */
  stock(productId: string, warehouseId: string): StockBody | undefined {
    const row = this.stocks.get(keyOf(productId, warehouseId));
    return row === undefined ? undefined : stockOf(row);
  }

  /** Every stock key that exists, in the order they came to exist. */
  stockKeys(): { productId: string; warehouseId: string }[] {
    return [...this.stocks.values()].map(({ productId, warehouseId }) => ({
      productId,
      warehouseId,
    }));
  }

  reservation(id: string): ReservationBody | undefined {
    const hold = this.holds.get(id);
    return hold === undefined ? undefined : this.view(hold);
  }

  /** Every hold ever created, oldest first. */
  reservations(): ReservationBody[] {
    return [...this.holds.values()].map((hold) => this.view(hold));
  }

  /** Expiry times of PENDING holds (where the answer to a request can change with time). */
  pendingExpiries(): number[] {
    const times: number[] = [];
    for (const hold of this.holds.values()) {
      if (hold.status === 'PENDING') times.push(hold.expiresAtMs);
    }
    return times;
  }

  clone(): ReferenceLedger {
    const copy = new ReferenceLedger(this.limits, this.expiry);
    copy.clockMs = this.clockMs;
    for (const hold of this.holds.values()) copy.holds.set(hold.id, { ...hold });
    for (const [key, row] of this.stocks) {
      const reserveKeys = new Map<string, Hold>();
      for (const [idempotencyKey, hold] of row.reserveKeys) {
        reserveKeys.set(idempotencyKey, copy.holds.get(hold.id) as Hold);
      }
      copy.stocks.set(key, { ...row, reserveKeys, adjustKeys: new Map(row.adjustKeys) });
    }
    return copy;
  }

  /** A canonical text of the whole state but the clock: equal text, equal future answers. */
  fingerprint(): string {
    const parts: string[] = [];
    for (const [key, row] of [...this.stocks].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const reserveKeys = [...row.reserveKeys].map(([k, hold]) => `${k}>${hold.id}`).sort();
      const adjustKeys = [...row.adjustKeys]
        .map(([k, memo]) => `${k}>${memo.delta}/${memo.reason}/${memo.answer.version}`)
        .sort();
      parts.push(`${key}:${row.onHand}/${row.reserved}/${row.version}`);
      parts.push(reserveKeys.join(','), adjustKeys.join(','));
    }
    for (const hold of [...this.holds.values()].sort((a, b) => (a.id < b.id ? -1 : 1))) {
      parts.push(`${hold.id}:${hold.status}:${hold.createdAtMs}`);
    }
    return parts.join('|');
  }
}

function stockOf(row: StockRow): StockBody {
  return {
    productId: row.productId,
    warehouseId: row.warehouseId,
    onHand: row.onHand,
    reserved: row.reserved,
    available: row.onHand - row.reserved,
    version: row.version,
  };
}

function fail(code: ModelErrorCode): ModelReply {
  return { ok: false, code };
}

/** The JSON body API.md specifies for a reservation (times as RFC 3339 UTC). */
export function reservationJson(view: ReservationBody): Record<string, unknown> {
  return {
    reservation_id: view.id,
    status: view.status,
    product_id: view.productId,
    warehouse_id: view.warehouseId,
    quantity: view.quantity,
    // v1.1: a CONFIRMED hold names its sold units (all of them: the model sells whole holds).
    ...(view.status === 'CONFIRMED' ? { confirmed_quantity: view.quantity } : {}),
    expires_at: new Date(view.expiresAtMs).toISOString(),
    created_at: new Date(view.createdAtMs).toISOString(),
  };
}

export function stockJson(view: StockBody): Record<string, unknown> {
  return {
    product_id: view.productId,
    warehouse_id: view.warehouseId,
    on_hand: view.onHand,
    reserved: view.reserved,
    available: view.available,
    incoming: 0,
    version: view.version,
  };
}

/**
 * Why `actual` is not the answer the model gives, or undefined if it is. Compares status/code,
 * every body field, `details.available` of insufficient_stock, and `replayed` where defined.
 */
export function replyMismatch(expected: ModelReply, actual: ModelReply): string | undefined {
  const show = (reply: ModelReply): string => JSON.stringify(reply);
  if (expected.ok !== actual.ok) return `expected ${show(expected)}, got ${show(actual)}`;
  if (!expected.ok || !actual.ok) {
    const a = actual as Extract<ModelReply, { ok: false }>;
    const e = expected as Extract<ModelReply, { ok: false }>;
    if (e.code !== a.code) return `expected ${e.code}, got ${a.code}`;
    if (e.available !== undefined && e.available !== a.available) {
      return `expected details.available ${e.available}, got ${a.available}`;
    }
    return undefined;
  }
  if (expected.replayed !== undefined && expected.replayed !== actual.replayed) {
    return `expected replayed=${expected.replayed}, got ${show(actual)}`;
  }
  const body = (reply: ModelReply) =>
    'reservation' in reply
      ? JSON.stringify(reply.reservation)
      : 'stock' in reply
        ? JSON.stringify(reply.stock)
        : '';
  const expectedBody = body(expected);
  const actualBody = body(actual);
  const sameShape = 'reservation' in expected === 'reservation' in actual;
  if (!sameShape || !sameFields(expectedBody, actualBody)) {
    return `expected ${expectedBody}, got ${actualBody}`;
  }
  return undefined;
}

function sameFields(expectedJson: string, actualJson: string): boolean {
  const expected = JSON.parse(expectedJson) as Record<string, unknown>;
  const actual = JSON.parse(actualJson) as Record<string, unknown>;
  const keys = Object.keys(expected);
  return (
    keys.length === Object.keys(actual).length && keys.every((key) => expected[key] === actual[key])
  );
}
