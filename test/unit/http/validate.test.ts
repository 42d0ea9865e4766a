// Proves request validation turns bodies into commands or names the offending field, including
// text that would not survive the journal unchanged.
import { describe, expect, it } from 'vitest';
import { RequestValidator, ValidationError } from '../../../src/http/validate.js';

const limits = {
  quantityMax: 1000,
  ttlSecondsMin: 60,
  ttlSecondsMax: 3600,
  ttlSecondsDefault: 600,
  adjustDeltaMax: 1_000_000_000,
  cartLinesMax: 100,
};

const validator = new RequestValidator(limits);
const caller = { subject: 'user-1' };
const adjustCommand = (body: Record<string, unknown>, _limits: unknown, trace: string) =>
  validator.adjust(body, trace, caller);
const reserveCommand = (body: Record<string, unknown>, _limits: unknown, trace: string) =>
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
    const command = adjustCommand({ ...base, reason: 'restock 📦' }, limits, 't');
    expect(command).toMatchObject({ kind: 'adjust', reason: 'restock 📦', delta: 5 });
  });

  it('refuses a reason with a lone surrogate, which UTF-8 cannot carry unchanged', () => {
    expect(fieldOf(() => adjustCommand({ ...base, reason: 'bad \ud800' }, limits, 't'))).toBe(
      'reason',
    );
    expect(fieldOf(() => adjustCommand({ ...base, reason: '\udc00' }, limits, 't'))).toBe('reason');
  });

  it('refuses a zero delta and a reason over 500 characters', () => {
    expect(fieldOf(() => adjustCommand({ ...base, delta: 0 }, limits, 't'))).toBe('delta');
    expect(fieldOf(() => adjustCommand({ ...base, reason: 'x'.repeat(501) }, limits, 't'))).toBe(
      'reason',
    );
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
    expect(reserveCommand(body, limits, 't')).toMatchObject({ ttlSeconds: 600, quantity: 2 });
    expect(fieldOf(() => reserveCommand({ ...body, quantity: 0 }, limits, 't'))).toBe('quantity');
    expect(fieldOf(() => reserveCommand({ ...body, ttl_seconds: 30 }, limits, 't'))).toBe(
      'ttl_seconds',
    );
  });
});
