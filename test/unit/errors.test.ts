// Proves the error registry matches API.md's error tables (v1 and v1.1, plus named additions) by
// parsing API.md.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorBody, errorCodes, errorStatus, type ErrorCode } from '../../src/errors.js';

// Codes we answer with that API.md does not list; each needs a reason to exist.
const additions: Readonly<Record<string, number>> = {
  method_not_allowed: 405, // a known path with the wrong method (GitHub and Stripe do the same)
};

// Codes of API.md's tables for features this ledger does not have yet; each must really be
// absent from the registry (a test below says so), and leaves this list when it is built.
const notYetBuilt: Readonly<Record<string, string>> = {};

/** The `code`s of the table rows in `text` (`| status | codes | when |`), with their status. */
function tableCodes(text: string, codes: Map<string, number>): void {
  for (const line of text.split('\n')) {
    const row = /^\|\s*(\d{3})\s*\|([^|]*)\|/.exec(line);
    if (row === null) continue;
    for (const code of row[2]?.matchAll(/`([a-z_]+)`/g) ?? []) {
      codes.set(code[1] ?? '', Number(row[1]));
    }
  }
}

/** Every `code` in API.md's "Errors" table and in the v1.1 "New error codes" table. */
function contractCodes(): Map<string, number> {
  // Missing file: readFileSync throws and the test fails, as it must; never skip.
  const text = readFileSync(new URL('../../../shared/API.md', import.meta.url), 'utf8');
  const section = text.split(/^## /m).find((part) => part.startsWith('Errors'));
  if (section === undefined) throw new Error('API.md has no "## Errors" section');
  const codes = new Map<string, number>();
  tableCodes(section, codes);
  const additions = text.split(/^# /m).find((part) => part.startsWith('Additions (v1.1)'));
  const newCodes = additions?.split(/^New error codes:$/m)[1]?.split(/\n\s*\n/)[0];
  if (newCodes === undefined) throw new Error('API.md has no v1.1 "New error codes" table');
  tableCodes(newCodes, codes);
  return codes;
}

const registry = Object.entries(errorCodes) as Array<[ErrorCode, { status: number }]>;

describe('error registry against API.md', () => {
  const contract = contractCodes();

  it('finds both error tables in API.md', () => {
    expect(contract.size).toBeGreaterThanOrEqual(20);
    expect(contract.get('insufficient_stock')).toBe(409);
    expect(contract.get('purchase_limit_exceeded')).toBe(409);
    expect(contract.get('reservation_not_pending')).toBe(409);
  });

  const built = [...contract].filter(([code]) => !(code in notYetBuilt));
  it.each(built)('has API.md code %s with status %i', (code, status) => {
    expect(code in errorCodes, `${code} is missing from the registry`).toBe(true);
    expect(errorStatus(code as ErrorCode)).toBe(status);
  });

  it.each(Object.keys(notYetBuilt))(
    'lists %s among the codes of features not built yet only while it is not answered',
    (code) => {
      expect(contract.has(code), `${code} is no longer in API.md`).toBe(true);
      expect(code in errorCodes, `${code} is built now: drop it from notYetBuilt`).toBe(false);
    },
  );

  it.each(registry)('lists %s in API.md or among our additions', (code, { status }) => {
    const expected = contract.get(code) ?? additions[code];
    expect(expected, `${code} is neither in API.md nor an addition`).toBeDefined();
    expect(status).toBe(expected);
  });

  it('keeps no addition that API.md has since adopted', () => {
    expect(Object.keys(additions).filter((code) => contract.has(code))).toStrictEqual([]);
  });
});

describe('errorBody', () => {
  it('writes the contract body with the registry message by default', () => {
    expect(JSON.parse(errorBody('not_found'))).toStrictEqual({
      error: { code: 'not_found', message: errorCodes.not_found.message },
    });
  });

  it('writes a given message and details', () => {
    expect(
      JSON.parse(errorBody('insufficient_stock', 'Only 3 left.', { available: 3 })),
    ).toStrictEqual({
      error: { code: 'insufficient_stock', message: 'Only 3 left.', details: { available: 3 } },
    });
  });

  it('uses snake_case codes and a 4xx or 5xx status for every code', () => {
    for (const [code, { status }] of registry) {
      expect(code).toMatch(/^[a-z]+(_[a-z]+)*$/);
      expect(status >= 400 && status <= 599).toBe(true);
    }
  });
});
