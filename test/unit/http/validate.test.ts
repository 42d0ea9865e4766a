// Proves request validation turns bodies into commands or names the offending field, including
// text that would not survive the journal unchanged, and reads the stock listing's query string
// (a cursor only in the exact form the ledger writes it).
import { describe, expect, it } from 'vitest';
import { encodeStockCursor } from '../../../src/http/schemas.js';
import { ValidationError } from '../../../src/http/validate.js';
import { testValidator } from '../../helpers/validation.js';

const validator = testValidator();
const caller = { subject: 'user-1' };
const adjustCommand = (body: Record<string, unknown>, trace: string) =>
  validator.adjust(body, trace, caller);
const reserveCommand = (body: Record<string, unknown>, trace: string) =>
  validator.reserve(body, trace, caller);

function fieldOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error.field;
    throw error;
  }
  return undefined;
}

describe('adjust validation', () => {
  const base = { product_id: 'p', warehouse_id: 'w', delta: 5 };

  it('accepts a reason with paired surrogates (emoji) and keeps it as sent', () => {
    const command = adjustCommand({ ...base, reason: 'restock 📦' }, 't');
    expect(command).toMatchObject({ kind: 'adjust', reason: 'restock 📦', delta: 5 });
  });

  it('refuses a reason with a lone surrogate, which UTF-8 cannot carry unchanged', () => {
    expect(fieldOf(() => adjustCommand({ ...base, reason: 'bad \ud800' }, 't'))).toBe('reason');
    expect(fieldOf(() => adjustCommand({ ...base, reason: '\udc00' }, 't'))).toBe('reason');
  });

  it('reads a lot with or without its date', () => {
    const dated = adjustCommand(
      { ...base, lot: { lot_id: 'B-2026.1', expires_on: '2028-02-29' } },
      't',
    );
    expect(dated).toMatchObject({ lot: { lotId: 'B-2026.1', expiresOn: '2028-02-29' } });
    const plain = adjustCommand({ ...base, lot: { lot_id: 'B' } }, 't');
    expect(plain).toMatchObject({ lot: { lotId: 'B' } });
    expect(plain).not.toHaveProperty('lot.expiresOn');
    expect(adjustCommand(base, 't')).not.toHaveProperty('lot');
  });

  it('refuses a bad lot, naming lot.lot_id or lot.expires_on', () => {
    const lotField = (lot: unknown) => fieldOf(() => adjustCommand({ ...base, lot }, 't'));
    expect(lotField({ lot_id: 'a/b' })).toBe('lot.lot_id');
    expect(lotField({ lot_id: '' })).toBe('lot.lot_id');
    expect(lotField({ lot_id: 'x'.repeat(65) })).toBe('lot.lot_id');
    expect(lotField({})).toBe('lot.lot_id');
    expect(lotField('B-1')).toBe('lot.lot_id');
    expect(lotField({ lot_id: 'B', expires_on: '2026-02-30' })).toBe('lot.expires_on');
    expect(lotField({ lot_id: 'B', expires_on: '2027-02-29' })).toBe('lot.expires_on');
    expect(lotField({ lot_id: 'B', expires_on: '2026-13-01' })).toBe('lot.expires_on');
    expect(lotField({ lot_id: 'B', expires_on: '2026-1-01' })).toBe('lot.expires_on');
    expect(lotField({ lot_id: 'B', expires_on: '2026-12-01T00:00:00Z' })).toBe('lot.expires_on');
    expect(lotField({ lot_id: 'B', expires_on: 20261201 })).toBe('lot.expires_on');
  });

  it('refuses a zero delta and a reason over 500 characters', () => {
    expect(fieldOf(() => adjustCommand({ ...base, delta: 0 }, 't'))).toBe('delta');
    expect(fieldOf(() => adjustCommand({ ...base, reason: 'x'.repeat(501) }, 't'))).toBe('reason');
  });
});

describe('reserve validation', () => {
  it('fills the default ttl and names the first bad field', () => {
    const body = {
      product_id: 'p',
      warehouse_id: 'w',
      quantity: 2,
      idempotency_key: 'k'.repeat(16),
    };
    expect(reserveCommand(body, 't')).toMatchObject({ ttlSeconds: 600, quantity: 2 });
    expect(fieldOf(() => reserveCommand({ ...body, quantity: 0 }, 't'))).toBe('quantity');
    expect(fieldOf(() => reserveCommand({ ...body, ttl_seconds: 30 }, 't'))).toBe('ttl_seconds');
  });
});

describe('v1.1 validation', () => {
  const key = 'k'.repeat(16);

  it('passes buyer_id and reference to a reserve only when sent', () => {
    const body = { product_id: 'p', warehouse_id: 'w', quantity: 1, idempotency_key: key };
    expect(reserveCommand(body, 't')).not.toHaveProperty('buyerId');
    const command = reserveCommand({ ...body, buyer_id: 'b@x', reference: 'PO 1' }, 't');
    expect(command).toMatchObject({ buyerId: 'b@x', reference: 'PO 1' });
    expect(fieldOf(() => reserveCommand({ ...body, buyer_id: 'a b' }, 't'))).toBe('buyer_id');
  });

  it('turns a settings body into only the changes it names, null kept as null', () => {
    const command = validator.settings(
      'p',
      { max_per_buyer: null, low_stock_threshold: 0 },
      't',
      caller,
    );
    expect(command).toEqual({
      kind: 'put-settings',
      productId: 'p',
      changes: { maxPerBuyer: null, lowStockThreshold: 0 },
      actorId: 'user-1',
      traceId: 't',
    });
    expect(validator.settings('p', {}, 't', caller)).toMatchObject({ changes: {} });
    expect(fieldOf(() => validator.settings('p', { max_per_buyer: 0 }, 't', caller))).toBe(
      'max_per_buyer',
    );
    const twice = { warehouse_priority: ['a', 'a'] };
    expect(fieldOf(() => validator.settings('p', twice, 't', caller))).toBe('warehouse_priority');
    expect(fieldOf(() => validator.settings('a/b', {}, 't', caller))).toBe('product_id');
  });

  it('names `lines` for any error inside a cart line, and fills what a line leaves out', () => {
    const line = { product_id: 'p', quantity: 2 };
    const request = validator.cart({ idempotency_key: key, lines: [line] }, 't', caller);
    expect(request).toMatchObject({
      lines: [{ productId: 'p', warehouseId: '', quantity: 2 }],
      ttlSeconds: 600,
      buyerId: '',
      reference: '',
      requesterId: 'user-1',
    });
    for (const lines of [
      [],
      Array(101).fill(line),
      [{ ...line, quantity: 0 }],
      [{ ...line, product_id: 'a/b' }],
      [1],
    ]) {
      expect(fieldOf(() => validator.cart({ idempotency_key: key, lines }, 't', caller))).toBe(
        'lines',
      );
    }
  });

  it('reads partial quantities of a cart confirm and refuses a hold named twice', () => {
    const id = '0000aaaa-bbbb-4ccc-8ddd-eeeeffff0000';
    expect(validator.cartConfirm({})).toEqual(new Map());
    expect(validator.cartConfirm({ lines: [{ reservation_id: id, quantity: 2 }] })).toEqual(
      new Map([[id, 2]]),
    );
    const twice = {
      lines: [
        { reservation_id: id, quantity: 1 },
        { reservation_id: id, quantity: 1 },
      ],
    };
    expect(fieldOf(() => validator.cartConfirm(twice))).toBe('lines');
  });

  it('gives an extend the lifetime cap of 3 x the largest TTL', () => {
    const id = '0000aaaa-bbbb-4ccc-8ddd-eeeeffff0000';
    expect(validator.extend({ reservation_id: id, ttl_seconds: 60 }, 't')).toMatchObject({
      kind: 'extend',
      ttlSeconds: 60,
      lifetimeMaxMs: 3 * 3600 * 1000,
    });
  });
});

describe('stock listing query validation', () => {
  const cursor = encodeStockCursor({ productId: 'sku-1.a', warehouseId: 'wh:2' });

  it('fills the default limit, reads a cursor back as the key it names, and ignores the rest', () => {
    expect(validator.stockPage('')).toEqual({ productId: undefined, after: undefined, limit: 100 });
    expect(validator.stockPage(`product_id=sku-1.a&after=${cursor}&limit=1000&sort=x`)).toEqual({
      productId: 'sku-1.a',
      after: { productId: 'sku-1.a', warehouseId: 'wh:2' },
      limit: 1000,
    });
    expect(validator.stockPage('limit=1&product_id=p%3Aq')).toMatchObject({
      productId: 'p:q',
      limit: 1,
    });
  });

  it.each([
    ['limit=0', 'limit'],
    ['limit=1001', 'limit'],
    ['limit=', 'limit'],
    ['limit=-1', 'limit'],
    ['limit=1.5', 'limit'],
    ['limit=1e2', 'limit'],
    ['limit=+5', 'limit'],
    ['limit=ten', 'limit'],
    ['limit=5&limit=5', 'limit'],
    ['product_id=', 'product_id'],
    ['product_id=a%20b', 'product_id'],
    ['product_id=a+b', 'product_id'],
    [`product_id=${'p'.repeat(65)}`, 'product_id'],
    ['product_id=p&product_id=q', 'product_id'],
    ['after=', 'after'],
    ['after=!!', 'after'],
    ['after=c2t1LTE', 'after'], // "sku-1": no warehouse
    [`after=${encodeStockCursor({ productId: 'a/b', warehouseId: 'w' })}`, 'after'],
    [`after=${encodeStockCursor({ productId: 'a b', warehouseId: 'w' })}`, 'after'],
    [`after=${cursor}=`, 'after'],
    [`after=${cursor}&after=${cursor}`, 'after'],
  ])('refuses %s naming %s', (query, field) => {
    expect(fieldOf(() => validator.stockPage(query))).toBe(field);
  });

  it('refuses a cursor that decodes only leniently (stray bits in its last character)', () => {
    // "p/w" is cC93; the last character's low bits must be zero in the exact form.
    expect(encodeStockCursor({ productId: 'p', warehouseId: 'w' })).toBe('cC93');
    expect(validator.stockPage('after=cC93').after).toEqual({ productId: 'p', warehouseId: 'w' });
    const stray = encodeStockCursor({ productId: 'p', warehouseId: 'wx' });
    const bent = `${stray.slice(0, -1)}${String.fromCharCode(stray.charCodeAt(stray.length - 1) + 1)}`;
    expect(fieldOf(() => validator.stockPage(`after=${bent}`))).toBe('after');
  });
});
