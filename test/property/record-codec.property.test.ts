// Proves encode→decode is the identity, encodings are msgpackr's bytes for the positional row, and
// decodeRecord agrees with msgpackr plus the shape check on any bytes, by fast-check.
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { JournalRecord, StockRecord } from '../../src/actors/index.js';
import { decodeV11 } from '../../src/persistence/record-codec-v11.js';
import {
  decodeRecord,
  decodeRecordAt,
  encodeRecord,
  readRow,
  RecordDecodeError,
} from '../../src/persistence/record-codec.js';
import { runOptions } from '../helpers/fc-options.js';

// Any text, and ASCII text (control characters too), which the fast reader reads itself, and
// ASCII text at each side of a header's bound (fixstr to str 8, str 8 to str 16).
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }),
  fc
    .constantFrom(31, 32, 255, 256)
    .chain((length) => fc.string({ unit: 'binary-ascii', minLength: length, maxLength: length })),
);
const safeInteger = fc.maxSafeInteger();
const count = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const base = {
  productId: text,
  warehouseId: text,
  version: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  atMs: count,
  traceId: text,
};

// Plain objects, as decodeRecord returns them (fast-check defaults to null prototypes).
const plain = { noNullPrototype: true } as const;

const record: fc.Arbitrary<JournalRecord> = fc.oneof(
  fc.record(
    {
      type: fc.constant('reserved' as const),
      ...base,
      reservationId: fc.uuid(),
      quantity: count,
      expiresAtMs: count,
      idempotencyKey: text,
      requesterId: text,
    },
    plain,
  ),
  fc.record(
    {
      type: fc.constantFrom('confirmed' as const, 'released' as const, 'expired' as const),
      ...base,
      reservationId: fc.uuid(),
      quantity: count,
      requesterId: text,
    },
    plain,
  ),
  fc.record(
    {
      type: fc.constant('adjusted' as const),
      ...base,
      delta: safeInteger,
      onHand: count,
      reserved: count,
      reason: fc.oneof(
        fc.string({ unit: 'grapheme', maxLength: 500 }),
        fc.string({ unit: 'binary-ascii', minLength: 200, maxLength: 500 }),
      ),
      idempotencyKey: text,
      actorId: text,
    },
    plain,
  ),
);

// ---- The reference: the codec as it was before it had a reader of its own. ----

const packr = new Packr({ useRecords: false, moreTypes: false });
const typeCodes = { reserved: 1, confirmed: 2, released: 3, expired: 4, adjusted: 5 } as const;
const typeNames = [undefined, 'reserved', 'confirmed', 'released', 'expired', 'adjusted'] as const;

/** The records that have v1 rows. */
type V1Record = Exclude<StockRecord, { type: 'transfer' }>;

/** The record as the positional row the journal stores. */
function rowOf(record: V1Record): Array<string | number> {
  const head = [
    typeCodes[record.type as keyof typeof typeCodes],
    record.productId,
    record.warehouseId,
    record.version,
    record.atMs,
    record.traceId,
  ];
  switch (record.type) {
    case 'reserved': {
      const { reservationId, quantity, expiresAtMs, idempotencyKey, requesterId } = record;
      return [...head, reservationId, quantity, expiresAtMs, idempotencyKey, requesterId];
    }
    case 'adjusted': {
      const { delta, onHand, reserved, reason, idempotencyKey, actorId } = record;
      return [...head, delta, onHand, reserved, reason, idempotencyKey, actorId];
    }
    case 'lot-expired':
      throw new TypeError('a lot-expired record has no v1 row');
    default:
      return [...head, record.reservationId, record.quantity, record.requesterId];
  }
}

const shapes: Record<number, { readonly length: number; readonly strings: readonly number[] }> = {
  1: { length: 11, strings: [1, 2, 5, 6, 9, 10] },
  2: { length: 9, strings: [1, 2, 5, 6, 8] },
  3: { length: 9, strings: [1, 2, 5, 6, 8] },
  4: { length: 9, strings: [1, 2, 5, 6, 8] },
  5: { length: 12, strings: [1, 2, 5, 9, 10, 11] },
};

function referenceDecode(payload: Uint8Array): JournalRecord {
  const row: unknown = packr.unpack(payload);
  if (!Array.isArray(row)) throw new RecordDecodeError('journal row is not an array');
  const code: unknown = row[0];
  // The v1.1 rows (codes 6 and up) have one decoder, the general path's; the fast reader never
  // takes them, so the two paths meet there by construction (their own test: record-codec-v11).
  if (typeof code === 'number' && code >= 6) return decodeV11(row, RecordDecodeError);
  const shape = typeof code === 'number' ? shapes[code] : undefined;
  if (shape === undefined)
    throw new RecordDecodeError(`unknown journal record type code ${String(code)}`);
  if (row.length !== shape.length) {
    throw new RecordDecodeError(
      `record type ${String(code)} has ${row.length} fields, not ${shape.length}`,
    );
  }
  for (let index = 1; index < row.length; index += 1) {
    const wanted = shape.strings.includes(index) ? 'string' : 'number';
    if (typeof row[index] !== wanted) {
      throw new RecordDecodeError(`record type ${String(code)} field ${index} is not a ${wanted}`);
    }
  }
  const [, productId, warehouseId, version, atMs, traceId] = row;
  const type = typeNames[code as number] as JournalRecord['type'];
  if (type === 'reserved') {
    const head = { type, productId, warehouseId, version, atMs, traceId };
    const [reservationId, quantity, expiresAtMs, idempotencyKey, requesterId] = row.slice(6);
    return { ...head, reservationId, quantity, expiresAtMs, idempotencyKey, requesterId };
  }
  if (type === 'adjusted') {
    const head = { type, productId, warehouseId, version, atMs, traceId };
    const [delta, onHand, reserved, reason, idempotencyKey, actorId] = row.slice(6);
    return { ...head, delta, onHand, reserved, reason, idempotencyKey, actorId };
  }
  const head = { type, productId, warehouseId, version, atMs, traceId };
  const [reservationId, quantity, requesterId] = row.slice(6);
  return { ...head, reservationId, quantity, requesterId } as JournalRecord;
}

type Outcome =
  { readonly decoded: JournalRecord } | { readonly error: string; readonly message: string };

function outcome(decode: (payload: Uint8Array) => JournalRecord, payload: Uint8Array): Outcome {
  try {
    return { decoded: decode(payload) };
  } catch (error) {
    const { name, message } = error as Error;
    return { error: name, message };
  }
}

/** A reserved row's first byte: an 11-element array (its type code, 1, follows). */
const reservedHeader = 0x9b;

/**
 * decodeRecord and the reference give the same record or the same error, and the fast reader on
 * its own (which leaves what it does not know to the general path) never accepts a row the
 * reference refuses nor reads one differently. Each gets its own copy of the bytes, since msgpackr
 * caches a DataView on the bytes it reads. So does the row where recovery decodes it, inside a
 * page: bytes before it, and after it more row bytes (its own again), which a reader that ran
 * past its end would take for the rest of a cut row.
 */
function expectSameOutcome(payload: Uint8Array): void {
  const reference = outcome(referenceDecode, Uint8Array.from(payload));
  expect(outcome(decodeRecord, Uint8Array.from(payload))).toStrictEqual(reference);
  const read = readRow(Uint8Array.from(payload), 0, payload.length);
  if (read !== undefined) expect({ decoded: read }).toStrictEqual(reference);
  const page = Uint8Array.from([reservedHeader, 1, ...payload, ...payload]);
  const inPage = (bytes: Uint8Array) => decodeRecordAt(bytes, 2, 2 + payload.length);
  expect(outcome(inPage, page)).toStrictEqual(reference);
}

// ---- Other msgpack spellings of the same row: every form a decoder must read. ----

const hex = (value: number, bytes: number): string =>
  value
    .toString(16)
    .padStart(bytes * 2, '0')
    .slice(-bytes * 2);

/** A spelling of one value, and whether the fast reader must read it itself. */
type Form = readonly [hex: string, usual: boolean];

function stringForms(value: string): Form[] {
  const bytes = Buffer.from(value, 'utf8');
  const body = bytes.toString('hex');
  // Only ASCII is the fast reader's: msgpackr's decoders treat other bytes by length.
  const usual = bytes.every((byte) => byte < 0x80);
  const forms: Form[] = [[`db${hex(bytes.length, 4)}${body}`, usual]];
  if (bytes.length < 0x10000) forms.push([`da${hex(bytes.length, 2)}${body}`, usual]);
  if (bytes.length < 0x100) forms.push([`d9${hex(bytes.length, 1)}${body}`, usual]);
  if (bytes.length < 0x20) forms.push([`${hex(0xa0 + bytes.length, 1)}${body}`, usual]);
  return forms;
}

function numberForms(value: number): Form[] {
  const float64 = Buffer.alloc(8);
  float64.writeDoubleBE(value);
  const forms: Form[] = [[`cb${float64.toString('hex')}`, true]];
  if (Math.fround(value) === value || Number.isNaN(value)) {
    const float32 = Buffer.alloc(4);
    float32.writeFloatBE(value);
    forms.push([`ca${float32.toString('hex')}`, true]);
  }
  if (!Number.isInteger(value)) return forms;
  const ranges: Array<[prefix: string, min: number, max: number, bytes: number]> = [
    ['', 0, 0x7f, 1],
    ['', -32, -1, 1],
    ['cc', 0, 0xff, 1],
    ['cd', 0, 0xffff, 2],
    ['ce', 0, 0xffffffff, 4],
    ['d0', -0x80, 0x7f, 1],
    ['d1', -0x8000, 0x7fff, 2],
    ['d2', -0x80000000, 0x7fffffff, 4],
  ];
  for (const [prefix, min, max, bytes] of ranges) {
    const unsigned = value < 0 ? value + 2 ** (bytes * 8) : value;
    if (value >= min && value <= max) forms.push([prefix + hex(unsigned, bytes), true]);
  }
  // A 64-bit integer (of some value): msgpackr reads it as a BigInt, so the row must be refused.
  forms.push([`cf${hex(0, 4)}${hex(value >>> 0, 4)}`, false]);
  return forms;
}

const formsOf = (value: string | number): Form[] =>
  typeof value === 'string' ? stringForms(value) : numberForms(value);

/** Mostly a form the encoder might write, so that whole rows of them come up often. */
function pickForm(forms: Form[]): fc.Arbitrary<Form> {
  const usual = forms.filter(([, isUsual]) => isUsual);
  const other = forms.filter(([, isUsual]) => !isUsual);
  if (usual.length === 0 || other.length === 0) return fc.constantFrom(...forms);
  return fc.oneof(
    { weight: 9, arbitrary: fc.constantFrom(...usual) },
    { weight: 1, arbitrary: fc.constantFrom(...other) },
  );
}

/** Confirmed, released and expired rows differ only in their code. */
const sameShape = (code: number, other: number): boolean =>
  code === other || (code >= 2 && code <= 4 && other >= 2 && other <= 4);

/** A record's row spelled with random msgpack forms for its header and each element. */
const respelled: fc.Arbitrary<{ bytes: Buffer; usual: boolean }> = fc
  .tuple(record, fc.integer({ min: -1, max: 6 }))
  .chain(([original, otherCode]) => {
    const row = rowOf(original as V1Record);
    // Now and then another type's code, on a row of the first type's length and fields.
    if (otherCode >= 0) row[0] = otherCode;
    const [code, ...fields] = row as [number, ...Array<string | number>];
    // The encoder writes the code as a fixint, the only spelling the fast reader reads itself.
    const codeForms = numberForms(code).map(([form]): Form => [form, form.length === 2]);
    const elements = [codeForms, ...fields.map(formsOf)].map(pickForm);
    const headers: Form[] = [
      [hex(0x90 + row.length, 1), true],
      [`dc${hex(row.length, 2)}`, false],
      [`dd${hex(row.length, 4)}`, false],
    ];
    return fc.tuple(pickForm(headers), fc.tuple(...elements)).map(([header, parts]) => {
      const forms = [header, ...parts];
      const bytes = Buffer.from(forms.map(([form]) => form).join(''), 'hex');
      const fits = otherCode < 0 || sameShape(otherCode, rowOf(original as V1Record)[0] as number);
      return { bytes, usual: fits && forms.every(([, usual]) => usual) };
    });
  });

/** Numbers of every kind msgpack has, beyond the ones records hold. */
const anyNumber = fc.oneof(
  fc.integer({ min: -40, max: 300 }),
  fc.integer(),
  fc.double(),
  fc.float(),
  fc.maxSafeInteger(),
);

/** The bytes of an encoded record, then changed: bytes set, cut off, or added at the end. */
const mutated: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.oneof(
      record.map(encodeRecord),
      respelled.map(({ bytes }) => bytes),
    ),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
    fc.constantFrom('set', 'cut', 'append'),
  )
  .map(([payload, changes, how]) => {
    const bytes = Uint8Array.from(payload);
    if (how === 'cut') return bytes.subarray(0, (changes[0]?.[0] ?? 0) % bytes.length);
    if (how === 'append') return Uint8Array.from([...bytes, ...changes.map(([, value]) => value)]);
    for (const [at, value] of changes) bytes[at % bytes.length] = value;
    return bytes;
  });

/** Rows near the right shape: a known or unknown code, then values of any msgpack type. */
const nearRow: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.integer({ min: -1, max: 7 }),
    fc.array(
      fc.oneof(
        { weight: 6, arbitrary: text },
        { weight: 6, arbitrary: anyNumber },
        fc.constantFrom(null, true, false, undefined),
        fc.constant(new Uint8Array([1, 2])),
        fc.constant({ a: 1 }),
        fc.constant(['x']),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      ),
      { minLength: 7, maxLength: 12 },
    ),
  )
  .map(([code, rest]) => packr.pack([code, ...rest]));

describe('record codec round trip', () => {
  it('decodes every encoded record to an equal record', () => {
    fc.assert(
      fc.property(record, (original) => {
        expect(decodeRecord(encodeRecord(original))).toStrictEqual(original);
      }),
      runOptions(2_000),
    );
  });

  it('encodes a record as the bytes msgpackr writes for its positional row', () => {
    fc.assert(
      fc.property(record, (original) => {
        expect(encodeRecord(original).equals(packr.pack(rowOf(original as V1Record)))).toBe(true);
      }),
      runOptions(2_000),
    );
  });

  // Every number form msgpackr has (fractions, infinities, NaN and -0 included) in every numeric
  // field: the row is msgpackr's bytes for it, and the hand-written reader gives the number back
  // (-0 as 0, as msgpackr writes it).
  it('writes any number in any numeric field as msgpackr does, and reads it back', () => {
    const anyNumber = fc.oneof(
      fc.integer(),
      fc.integer({ min: -0x8000, max: 0x1_0000 }),
      fc.maxSafeInteger(),
      fc.double(),
      fc.constantFrom(-0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x1_0000, -0x20, -0x21, -0x80, -0x81),
      fc.constantFrom(-0x8000, -0x8001, 2 ** 31, -(2 ** 31), 2 ** 32 - 1, 2 ** 32),
    );
    const numbers = fc.array(anyNumber, { minLength: 6, maxLength: 6 });
    fc.assert(
      fc.property(record, numbers, (original, [a, b, c, d, e, f]) => {
        const changed = (
          original.type === 'adjusted'
            ? { ...original, version: a, atMs: b, delta: c, onHand: d, reserved: e }
            : original.type === 'reserved'
              ? { ...original, version: a, atMs: b, quantity: c, expiresAtMs: f }
              : { ...original, version: a, atMs: b, quantity: c }
        ) as V1Record;
        const encoded = encodeRecord(changed);
        expect(encoded.equals(packr.pack(rowOf(changed)))).toBe(true);
        const signless = Object.fromEntries(
          Object.entries(changed).map(([key, value]) => [key, Object.is(value, -0) ? 0 : value]),
        );
        expect(decodeRecord(encoded)).toStrictEqual(signless);
        // The fast reader takes every row whose strings are ASCII (others go general).
        const ascii = Object.values(changed).every(
          (value) => typeof value !== 'string' || /^[\x00-\x7f]*$/.test(value),
        );
        const read = readRow(encoded, 0, encoded.length);
        if (ascii) expect(read).toStrictEqual(signless);
        else expect(read).toBeUndefined();
      }),
      runOptions(2_000),
    );
  });
});

describe('decodeRecord against msgpackr and the shape check', () => {
  it('reads every msgpack spelling of a record as the reference does', () => {
    fc.assert(
      fc.property(respelled, ({ bytes, usual }) => {
        expectSameOutcome(bytes);
        // What the encoder could have written, the fast reader reads itself.
        if (usual) {
          expect(readRow(bytes, 0, bytes.length)).toStrictEqual(referenceDecode(bytes));
        }
      }),
      runOptions(3_000),
    );
  });

  it('accepts and refuses damaged records exactly as the reference does', () => {
    fc.assert(fc.property(mutated, expectSameOutcome), runOptions(5_000));
  });

  it('accepts and refuses rows of any msgpack values exactly as the reference does', () => {
    fc.assert(fc.property(nearRow, expectSameOutcome), runOptions(3_000));
  });
});
