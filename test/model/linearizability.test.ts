// Proves the linearizability checker rejects histories no sequential order explains (a stale
// read, an oversell, an expiry before its time) and accepts the ones some order does, including
// orders that differ from the order of the responses, lost replies, and retried requests.
import { describe, expect, it } from 'vitest';
import { ledgerSpec, type LedgerOperation } from './ledger-history.js';
import {
  checkLinearizable,
  describeFailure,
  type Operation,
  type SequentialSpec,
} from './linearizability.js';
import type { ModelReply, ModelRequest } from './reference-ledger.js';

/** A register, the textbook case: write(v) answers undefined, read answers the value. */
type RegisterInput = { readonly write: number } | { readonly read: true };
const register: SequentialSpec<number, RegisterInput, number | 'ok'> = {
  initial: 0,
  step(state, { input, output }) {
    if ('write' in input) return [input.write];
    return output === undefined || output === state ? [state] : [];
  },
  key: (state) => String(state),
};

function op<I, O>(
  client: number,
  input: I,
  output: O | undefined,
  invokeMs: number,
  responseMs: number,
): Operation<I, O> {
  return { client, input, output, invokeMs, responseMs };
}

const key = { productId: 'sku', warehouseId: 'wh' };
const t0 = 1_000_000;

const adjust = (delta: number): ModelRequest => ({
  kind: 'adjust',
  ...key,
  delta,
  reason: '',
  idempotencyKey: '',
});
const reserve = (quantity: number, idempotencyKey: string, ttlSeconds = 60): ModelRequest => ({
  kind: 'reserve',
  ...key,
  quantity,
  idempotencyKey,
  ttlSeconds,
  reservationId: '',
});
const stock = (onHand: number, reserved: number, version: number): ModelReply => ({
  ok: true,
  replayed: false,
  stock: { ...key, onHand, reserved, available: onHand - reserved, version },
});
const held = (id: string, quantity: number, createdAtMs: number, ttlSeconds = 60): ModelReply => ({
  ok: true,
  replayed: false,
  reservation: {
    id,
    status: 'PENDING',
    ...key,
    quantity,
    createdAtMs,
    expiresAtMs: createdAtMs + ttlSeconds * 1000,
  },
});
const readStock: ModelRequest = { kind: 'read-stock', ...key };

/** A ledger operation with its observed reply (undefined: the reply was lost). */
function lop(
  client: number,
  input: ModelRequest,
  output: ModelReply | undefined,
  invokeMs: number,
  responseMs: number,
): LedgerOperation {
  return { client, input, output, invokeMs, responseMs };
}

function check(history: LedgerOperation[]) {
  return checkLinearizable(history, ledgerSpec());
}

describe('the linearizability checker', () => {
  it('rejects a read that misses a write completed before the read began', () => {
    const history = [
      op(1, { write: 1 }, 'ok' as const, 0, 10),
      op(2, { read: true } as const, 0, 20, 30),
    ];
    expect(checkLinearizable(history, register).verdict).toBe('not-linearizable');
  });

  it('accepts the same read when it overlaps the write', () => {
    const history = [
      op(1, { write: 1 }, 'ok' as const, 0, 25),
      op(2, { read: true } as const, 0, 20, 30),
      op(3, { read: true } as const, 1, 21, 29),
    ];
    expect(checkLinearizable(history, register).verdict).toBe('linearizable');
  });

  it('rejects two reads that see a write in opposite orders', () => {
    const history = [
      op(1, { write: 1 }, 'ok' as const, 0, 100),
      op(2, { read: true } as const, 1, 10, 20),
      op(2, { read: true } as const, 0, 30, 40),
    ];
    expect(checkLinearizable(history, register).verdict).toBe('not-linearizable');
  });

  it('rejects two acknowledged holds that together exceed the stock (an oversell)', () => {
    const history = [
      lop(1, adjust(10), stock(10, 0, 1), t0, t0 + 1),
      lop(1, reserve(6, 'key-a-0000000000'), held('a', 6, t0 + 3), t0 + 2, t0 + 4),
      lop(2, reserve(6, 'key-b-0000000000'), held('b', 6, t0 + 3), t0 + 2, t0 + 5),
    ];
    const result = check(history);
    expect(result.verdict).toBe('not-linearizable');
    expect(
      describeFailure(history, result, (operation) => JSON.stringify(operation.input)),
    ).toMatch(/none of these can come next/);
  });

  it('rejects a stock read that misses a hold acknowledged before it', () => {
    const history = [
      lop(1, adjust(10), stock(10, 0, 1), t0, t0 + 1),
      lop(1, reserve(3, 'key-a-0000000000'), held('a', 3, t0 + 2), t0 + 2, t0 + 3),
      lop(2, readStock, stock(10, 0, 1), t0 + 4, t0 + 5),
    ];
    expect(check(history).verdict).toBe('not-linearizable');
  });

  it('accepts an order in which a slow request takes effect before a quick later one', () => {
    const history = [
      lop(1, adjust(10), stock(10, 0, 1), t0, t0 + 1),
      lop(1, reserve(6, 'key-a-0000000000'), held('a', 6, t0 + 3), t0 + 2, t0 + 10),
      lop(
        2,
        reserve(6, 'key-b-0000000000'),
        { ok: false, code: 'insufficient_stock', available: 4 },
        t0 + 4,
        t0 + 5,
      ),
      lop(3, readStock, stock(10, 6, 2), t0 + 6, t0 + 7),
    ];
    const result = check(history);
    expect(result.verdict).toBe('linearizable');
    if (result.verdict === 'linearizable') expect(result.order).toEqual([0, 1, 2, 3]);
  });

  it('accepts an expiry that falls inside the interval of the confirm that saw it', () => {
    const created = t0 + 2;
    const history = [
      lop(1, adjust(10), stock(10, 0, 1), t0, t0 + 1),
      lop(1, reserve(3, 'key-a-0000000000', 1), held('a', 3, created, 1), t0 + 2, t0 + 3),
      lop(
        2,
        { kind: 'confirm', reservationId: 'a' } as const,
        { ok: false, code: 'reservation_expired' } as const,
        created + 500,
        created + 1500,
      ),
    ];
    expect(check(history).verdict).toBe('linearizable');
  });

  it('rejects a hold that expired before its expires_at', () => {
    const created = t0 + 2;
    const history = [
      lop(1, adjust(10), stock(10, 0, 1), t0, t0 + 1),
      lop(1, reserve(3, 'key-a-0000000000', 1), held('a', 3, created, 1), t0 + 2, t0 + 3),
      lop(
        2,
        { kind: 'confirm', reservationId: 'a' } as const,
        { ok: false, code: 'reservation_expired' } as const,
        created + 500,
        created + 999,
      ),
    ];
    expect(check(history).verdict).toBe('not-linearizable');
  });

  it('lets a request with a lost reply count as done or as never done, but nothing else', () => {
    const base = [
      lop(1, adjust(10), stock(10, 0, 1), t0, t0 + 1),
      lop(2, reserve(3, 'key-lost-00000000'), undefined, t0 + 2, Number.POSITIVE_INFINITY),
    ];
    const read = (reply: ModelReply) => lop(3, readStock, reply, t0 + 10, t0 + 11);
    expect(check([...base, read(stock(10, 3, 2))]).verdict).toBe('linearizable');
    expect(check([...base, read(stock(10, 0, 1))]).verdict).toBe('linearizable');
    expect(check([...base, read(stock(10, 5, 2))]).verdict).toBe('not-linearizable');
  });

  it('lets the answer to a retry replay its own earlier attempt, but not invent a hold', () => {
    const retried = (reply: ModelReply): ModelReply =>
      reply.ok ? { ...reply, replayed: undefined } : reply;
    const opening = lop(1, adjust(10), stock(10, 0, 1), t0, t0 + 1);
    // The first attempt made the hold at t0 + 3 and its answer was lost; the retry replayed it.
    const replay: ModelReply = { ...held('a', 3, t0 + 3), replayed: true } as ModelReply;
    const spanning = lop(2, reserve(3, 'key-retry-000000'), retried(replay), t0 + 2, t0 + 900);
    expect(check([opening, spanning]).verdict).toBe('linearizable');
    // Taken as a fresh answer, the same replay has no request before it that made the hold.
    const plain = lop(2, reserve(3, 'key-retry-000000'), replay, t0 + 2, t0 + 900);
    expect(check([opening, plain]).verdict).toBe('not-linearizable');
    // A hold made before the request was first sent cannot be its own.
    const early = lop(
      2,
      reserve(3, 'key-retry-000000'),
      retried(held('a', 3, t0)),
      t0 + 2,
      t0 + 900,
    );
    expect(check([opening, early]).verdict).toBe('not-linearizable');
    // The retried request made one hold, not two: stock counts it once.
    const readBack = (reply: ModelReply) => lop(3, readStock, reply, t0 + 901, t0 + 902);
    expect(check([opening, spanning, readBack(stock(10, 3, 2))]).verdict).toBe('linearizable');
    expect(check([opening, spanning, readBack(stock(10, 6, 3))]).verdict).toBe('not-linearizable');
  });

  it('reports an exhausted search budget as unknown, never as a pass', () => {
    const history = [
      lop(1, adjust(10), stock(10, 0, 1), t0, t0 + 1),
      lop(2, readStock, stock(10, 0, 1), t0 + 2, t0 + 3),
    ];
    expect(checkLinearizable(history, ledgerSpec(), { exploredMax: 1 }).verdict).toBe('unknown');
  });
});
