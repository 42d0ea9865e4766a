// Proves the error registry and the error table of docs/api.md (the API reference in the
// repository) are the same codes with the same statuses, both ways, by parsing the table.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { errorBody, errorCodes, errorStatus, type ErrorCode } from '../../src/errors.js';

/** The `code`s of the "## Errors" table of docs/api.md (`| status | code | when |`). */
function documentedCodes(): Map<string, number> {
  // Missing file: readFileSync throws and the test fails, as it must; never skip.
  const text = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
  const section = text.split(/^## /m).find((part) => part.startsWith('Errors'));
  if (section === undefined) throw new Error('docs/api.md has no "## Errors" section');
  const codes = new Map<string, number>();
  for (const line of section.split('\n')) {
    const row = /^\|\s*(\d{3})\s*\|([^|]*)\|/.exec(line);
    if (row === null) continue;
    for (const code of row[2]?.matchAll(/`([a-z_]+)`/g) ?? []) {
      codes.set(code[1] ?? '', Number(row[1]));
    }
  }
  return codes;
}

const registry = Object.entries(errorCodes) as Array<[ErrorCode, { status: number }]>;

describe('error registry against docs/api.md', () => {
  const documented = documentedCodes();

  it('finds the error table', () => {
    expect(documented.size).toBeGreaterThanOrEqual(20);
    expect(documented.get('insufficient_stock')).toBe(409);
    expect(documented.get('unavailable')).toBe(503);
  });

  it.each([...documented])('answers documented code %s with status %i', (code, status) => {
    expect(code in errorCodes, `${code} is missing from the registry`).toBe(true);
    expect(errorStatus(code as ErrorCode)).toBe(status);
  });

  it.each(registry)('documents %s with its status', (code, { status }) => {
    expect(documented.get(code), `${code} is not in docs/api.md`).toBe(status);
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
