// Proves docs/api.md, the API reference in the repository, is in step with the code: a section
// for every operation of the OpenAPI document (and none for an operation that does not exist),
// naming the error codes the operation may answer beyond the ones every route shares; and an
// events table whose fields are exactly each subject's JSON Schema (required and optional).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { errorCodes } from '../../../src/errors.js';
import { openApiDocument } from '../../../src/http/openapi.js';
import { RequestValidator } from '../../../src/http/validate.js';
import { adjustDeltaMax } from '../../../src/limits.js';

const reference = readFileSync(new URL('../../../docs/api.md', import.meta.url), 'utf8');
const schemasDir = new URL('../../../schemas/events/', import.meta.url);

// The document a ledger with the default settings serves (as docs/openapi.json is).
const validator = new RequestValidator({ ...loadConfig({}), adjustDeltaMax });
const document = openApiDocument(validator.specs, '0.0.0') as {
  paths: Record<string, Record<string, { responses: unknown }>>;
};

/** The codes docs/api.md says every route of a kind may answer (the paragraph under Errors). */
const shared = new Set([
  'unauthenticated',
  'forbidden',
  'rate_limited',
  'malformed_json',
  'payload_too_large',
  'unsupported_media_type',
  'overloaded',
  'unavailable',
  'method_not_allowed',
]);

/** `### \`METHOD /path\`` sections: heading -> the text up to the next heading. */
function sections(): Map<string, string> {
  const found = new Map<string, string>();
  const parts = reference.split(/^#{2,3} /m);
  for (const part of parts) {
    const heading = /^`(GET|POST|PUT|DELETE) ([^`]+)`\n/.exec(part);
    if (heading !== null) found.set(`${heading[1]} ${heading[2]}`, part);
  }
  return found;
}

function codesOf(responses: unknown): Set<string> {
  const codes = new Set<string>();
  JSON.stringify(responses, (key, value: unknown) => {
    if (key === 'enum' && Array.isArray(value)) {
      for (const code of value) if (String(code) in errorCodes) codes.add(String(code));
    }
    return value;
  });
  return codes;
}

describe('docs/api.md against the OpenAPI document', () => {
  const documented = sections();
  const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({
      name: `${method.toUpperCase()} ${path}`,
      operation,
    })),
  );

  it('has a section for every operation, and none for an operation that does not exist', () => {
    expect(operations.length).toBeGreaterThanOrEqual(28);
    expect([...documented.keys()].sort()).toEqual(operations.map(({ name }) => name).sort());
  });

  it.each(operations.map(({ name, operation }) => [name, operation] as const))(
    'names the error codes of %s',
    (name, operation) => {
      const text = documented.get(name) ?? '';
      const missing = [...codesOf(operation.responses)].filter(
        (code) => !shared.has(code) && !text.includes(`\`${code}\``),
      );
      expect(missing, name).toEqual([]);
    },
  );
});

/** The events table: subject -> its fields, each required or not ("x?" is optional). */
function documentedEvents(): Map<string, Map<string, boolean>> {
  const rows = new Map<string, string>();
  for (const line of reference.split('\n')) {
    const row = /^\|\s*`(inventory\.[a-z_.]+)`\s*\|[^|]*\|(.*)\|\s*$/.exec(line);
    if (row !== null) rows.set(row[1] ?? '', row[2] ?? '');
  }
  const fieldsOf = (subject: string, seen: Set<string>): Map<string, boolean> => {
    const cell = rows.get(subject);
    if (cell === undefined || seen.has(subject)) throw new Error(`no events row for ${subject}`);
    const fields = new Map<string, boolean>();
    for (const [, group] of cell.matchAll(/`([^`]+)`/g)) {
      const text = group ?? '';
      if (text.startsWith('inventory.')) {
        for (const [field, required] of fieldsOf(text, new Set([...seen, subject])))
          fields.set(field, required);
      } else {
        for (const entry of text.split(',').map((part) => part.trim())) {
          fields.set(entry.replace(/\?$/, ''), !entry.endsWith('?'));
        }
      }
    }
    return fields;
  };
  return new Map([...rows.keys()].map((subject) => [subject, fieldsOf(subject, new Set())]));
}

describe('docs/api.md events against schemas/events', () => {
  const events = documentedEvents();
  const subjects = readdirSync(schemasDir)
    .filter((name) => name.endsWith('.schema.json'))
    .map((name) => name.replace(/\.schema\.json$/, ''));

  it('lists every subject with a schema, and no other', () => {
    expect(subjects.length).toBeGreaterThanOrEqual(16);
    expect([...events.keys()].sort()).toEqual([...subjects].sort());
  });

  it.each(subjects)('gives %s exactly the fields of its schema', (subject) => {
    const schema = JSON.parse(
      readFileSync(new URL(`${subject}.schema.json`, schemasDir), 'utf8'),
    ) as { required?: string[]; properties: Record<string, unknown> };
    const required = new Set(schema.required ?? []);
    const expected = Object.keys(schema.properties)
      .map((field) => `${field}${required.has(field) ? '' : '?'}`)
      .sort();
    const fields = [...(events.get(subject) ?? new Map<string, boolean>())]
      .map(([field, isRequired]) => `${field}${isRequired ? '' : '?'}`)
      .sort();
    expect(fields).toEqual(expected);
  });
});
