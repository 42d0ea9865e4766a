// Proves round trips, frozen type codes and bytes, every msgpack form read as msgpackr reads
// it, and malformed rows refused, by example.
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import type { JournalRecord, ReservationChangedRecord } from '../../../src/actors/index.js';
import {
  decodeRecord,
  encodeRecord,
  readRow,
  RecordDecodeError,
} from '../../../src/persistence/record-codec.js';

const packr = new Packr({ useRecords: false, moreTypes: false });
const base = {
  productId: 'sku-1',
  warehouseId: 'wh-1',
  version: 7,
  atMs: 1_700_000_000_123,
  traceId: 'trace-abc',
};

const examples: Array<[code: number, record: JournalRecord]> = [
  [
    1,
    {
      type: 'reserved',
      ...base,
      reservationId: '00070000-1111-8222-9333-444455556666',
      quantity: 3,
      expiresAtMs: 1_700_000_600_123,
      idempotencyKey: 'client-key-000001',
      requesterId: 'user-9',
    },
  ],
  [2, { type: 'confirmed', ...base, reservationId: 'r-1', quantity: 3, requesterId: 'user-9' }],
  [3, { type: 'released', ...base, reservationId: 'r-2', quantity: 1, requesterId: '' }],
  [4, { type: 'expired', ...base, reservationId: 'r-3', quantity: 1_000, requesterId: '' }],
  [
    5,
    {
      type: 'adjusted',
      ...base,
      delta: -1_000_000_000,
      onHand: 999_999_999_999,
      reserved: 12,
      reason: 'cycle count — Lager Nord 😀',
      idempotencyKey: '',
      actorId: 'admin-1',
    },
  ],
];

describe('encodeRecord / decodeRecord', () => {
  it.each(examples)('round-trips a record with type code %i unchanged', (_code, record) => {
    expect(decodeRecord(encodeRecord(record))).toStrictEqual(record);
  });

  it.each(examples)('writes type code %i as the first element of the row', (code, record) => {
    const row = packr.unpack(encodeRecord(record)) as unknown[];
    expect(row[0]).toBe(code);
  });

  it.each([0, 6, 99, -1])('refuses a row with the unknown type code %i', (code) => {
    const row = [code, 'sku-1', 'wh-1', 1, 0, '', 'r-1', 1];
    expect(() => decodeRecord(packr.pack(row))).toThrow(RecordDecodeError);
  });

  it('refuses a payload that is not an array', () => {
    expect(() => decodeRecord(packr.pack({ type: 'confirmed' }))).toThrow(RecordDecodeError);
  });

  it('refuses a row too short to be a record', () => {
    expect(() => decodeRecord(packr.pack([2, 'sku-1', 'wh-1']))).toThrow(RecordDecodeError);
  });

  // A truncated reserved row would otherwise replay as a hold with no expiry that never ends.
  it.each([
    ['reserved', 8, [1, 'sku-1', 'wh-1', 2, 1_000, 't', 'r-1', 3]],
    ['reserved', 10, [1, 'sku-1', 'wh-1', 2, 1_000, 't', 'r-1', 3, 61_000, 'client-key-000001']],
    ['adjusted', 8, [5, 'sku-1', 'wh-1', 1, 1_000, 't', 10, 10]],
    ['adjusted', 11, [5, 'sku-1', 'wh-1', 1, 1_000, 't', 10, 10, 0, '', '']],
    ['confirmed', 8, [2, 'sku-1', 'wh-1', 3, 1_000, 't', 'r-1', 3]],
  ])('refuses a row of type %s cut short to %i fields', (_type, _length, row) => {
    expect(() => decodeRecord(packr.pack(row))).toThrow(RecordDecodeError);
  });

  // The journal on disk must stay readable and byte-identical: these are the bytes of HEAD's codec.
  it.each([
    [
      examples[0]?.[1],
      '9b01a5736b752d31a477682d3107cb4278bcfe5687b000a974726163652d616263d9243030303730303030' +
        '2d313131312d383232322d393333332d34343434353535353636363603cb4278bcfee903b000b1636c69' +
        '656e742d6b65792d303030303031a6757365722d39',
    ],
    [
      examples[1]?.[1],
      '9902a5736b752d31a477682d3107cb4278bcfe5687b000a974726163652d616263a3722d3103a6757365722d39',
    ],
    [
      examples[3]?.[1],
      '9904a5736b752d31a477682d3107cb4278bcfe5687b000a974726163652d616263a3722d33cd03e8a0',
    ],
    [
      examples[4]?.[1],
      '9c05a5736b752d31a477682d3107cb4278bcfe5687b000a974726163652d616263d2c4653600cb426d1a94a1' +
        'ffe0000cbf6379636c6520636f756e7420e28094204c61676572204e6f726420f09f9880a0a761646d696e2d31',
    ],
    [
      {
        type: 'adjusted',
        ...base,
        version: 70_000,
        atMs: 200,
        delta: -5,
        onHand: 128,
        reserved: 0,
        reason: '',
        idempotencyKey: 'k',
        actorId: 'a',
      } satisfies JournalRecord,
      '9c05a5736b752d31a477682d31ce00011170ccc8a974726163652d616263fbcc8000a0a16ba161',
    ],
  ])('encodes %o to the same bytes as ever', (record, bytes) => {
    const encoded = encodeRecord(record as JournalRecord);
    expect(encoded.toString('hex')).toBe(bytes);
    expect(decodeRecord(Buffer.from(bytes, 'hex'))).toStrictEqual(record);
  });

  // At the str 16 and str 32 bounds (too long for the property test's strings) a row is still
  // msgpackr's bytes for its positional row, and reads back.
  it.each([0xffff, 0x1_0000])(
    'writes an ASCII reason of %i characters as msgpackr does',
    (length) => {
      const record: JournalRecord = {
        type: 'adjusted',
        ...base,
        delta: 1,
        onHand: 1,
        reserved: 0,
        reason: 'r'.repeat(length),
        idempotencyKey: '',
        actorId: 'admin-1',
      };
      const row = [5, 'sku-1', 'wh-1', 7, 1_700_000_000_123, 'trace-abc', 1, 1, 0];
      const encoded = encodeRecord(record);
      expect(encoded.equals(packr.pack([...row, record.reason, '', 'admin-1']))).toBe(true);
      expect(decodeRecord(encoded)).toStrictEqual(record);
    },
  );

  it('refuses every cut-short prefix of a record', () => {
    for (const [, record] of examples) {
      const encoded = encodeRecord(record);
      for (let length = 0; length < encoded.length; length += 1) {
        expect(() => decodeRecord(encoded.subarray(0, length))).toThrow();
      }
    }
  });

  it('refuses a record followed by one more byte, as msgpackr does', () => {
    const encoded = encodeRecord(examples[1]?.[1] as JournalRecord);
    const longer = Buffer.concat([encoded, Buffer.from([0x00])]);
    expect(() => packr.unpack(longer)).toThrow();
    expect(() => decodeRecord(longer)).toThrow();
  });

  // The reader must not walk four gigabytes of bytes that are not there.
  it('refuses at once a string whose length runs far past the end of the row', () => {
    const row = Buffer.from('9902' + 'dbffffffff' + '41'.repeat(64), 'hex');
    const started = performance.now();
    expect(() => decodeRecord(row)).toThrow();
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it.each([
    ['a reserved code on a confirmed row', 1, examples[1]],
    ['an adjusted code on a confirmed row', 5, examples[1]],
    ['a confirmed code on a reserved row', 2, examples[0]],
    ['a confirmed code on an adjusted row', 2, examples[4]],
  ])('refuses %s', (_case, code, example) => {
    const encoded = encodeRecord((example as [number, JournalRecord])[1]);
    encoded[1] = code;
    expect(() => decodeRecord(encoded)).toThrow(RecordDecodeError);
  });

  it('decodes a record from a plain Uint8Array as from a Buffer', () => {
    for (const [, record] of examples) {
      expect(decodeRecord(Uint8Array.from(encodeRecord(record)))).toStrictEqual(record);
    }
  });
});

/** fixstr of an ASCII text, as hex. */
const fixstr = (text: string): string =>
  (0xa0 + text.length).toString(16) + Buffer.from(text).toString('hex');

/** A confirmed row, as hex, with its quantity and requester spelled as given. */
function confirmedRow(quantity: string, requester = fixstr('user-9')): Buffer {
  const head = '9902' + fixstr('sku-1') + fixstr('wh-1') + '07' + 'cb4278bcfe5687b000';
  return Buffer.from(head + fixstr('t') + fixstr('r-1') + quantity + requester, 'hex');
}

function decodeConfirmed(row: Buffer): ReservationChangedRecord {
  const record = decodeRecord(row);
  if (record.type !== 'confirmed') throw new Error(`decoded a ${record.type} record`);
  return record;
}

describe('decodeRecord on every msgpack form of a field', () => {
  it.each([
    ['positive fixint 0', '00', 0],
    ['positive fixint 64 (a record id only with useRecords)', '40', 64],
    ['positive fixint 127', '7f', 127],
    ['negative fixint -1', 'ff', -1],
    ['negative fixint -32', 'e0', -32],
    ['uint 8', 'ccff', 255],
    ['uint 16', 'cdffff', 65_535],
    ['uint 32', 'ceffffffff', 4_294_967_295],
    ['int 8', 'd080', -128],
    ['int 16', 'd18000', -32_768],
    ['int 32', 'd280000000', -2_147_483_648],
    ['int 32, positive', 'd27fffffff', 2_147_483_647],
    ['float 32', 'ca3fc00000', 1.5],
    ['float 64', 'cb3ff8000000000000', 1.5],
    ['float 64, -0', 'cb8000000000000000', -0],
    ['float 64, NaN', 'cb7ff8000000000000', Number.NaN],
  ])('reads %s as msgpackr does', (_form, bytes, value) => {
    const row = confirmedRow(bytes);
    expect(decodeConfirmed(row).quantity).toBe(value);
    expect((packr.unpack(row) as unknown[])[7]).toBe(value);
  });

  // msgpackr reads 64-bit integers as BigInts, which are no numbers: such rows never were records.
  it.each([
    ['uint 64', 'cf0000000000000001'],
    ['int 64', 'd30000000000000001'],
    ['nil', 'c0'],
    ['true', 'c3'],
    ['a string', fixstr('1')],
  ])('refuses a quantity spelled as %s', (_form, bytes) => {
    expect(() => decodeRecord(confirmedRow(bytes))).toThrow(RecordDecodeError);
  });

  it.each([
    ['fixstr', fixstr('user-9')],
    ['str 8', 'd906' + Buffer.from('user-9').toString('hex')],
    ['str 16', 'da0006' + Buffer.from('user-9').toString('hex')],
    ['str 32', 'db00000006' + Buffer.from('user-9').toString('hex')],
  ])('reads a string spelled as %s', (_form, bytes) => {
    expect(decodeConfirmed(confirmedRow('03', bytes)).requesterId).toBe('user-9');
  });

  it.each([
    ['str 16', 'da012c'],
    ['str 32', 'db0000012c'],
  ])('reads a long ASCII string spelled as %s itself, as msgpackr does', (_form, header) => {
    const row = confirmedRow('03', header + '41'.repeat(300));
    expect(readRow(row, 0, row.length)).toStrictEqual(decodeRecord(row));
    expect(decodeConfirmed(row).requesterId).toBe('A'.repeat(300));
  });

  // msgpackr's decoders differ by length on bad UTF-8 and on a leading byte-order mark; the
  // codec must give what msgpackr gives, whatever that is.
  it.each([
    ['a lone continuation byte', '80'],
    ['an invalid lead byte', 'ff41'],
    ['an overlong slash', 'c0af'],
    ['a surrogate', 'eda080'],
    ['a short byte-order mark', 'efbbbf41'],
    ['a long byte-order mark', 'efbbbf' + '41'.repeat(70)],
    ['a long text with a bad byte', '41'.repeat(70) + 'ff'],
    ['Latin-1 text', 'e9'],
  ])('reads a requester with %s as msgpackr does', (_case, body) => {
    const length = body.length / 2;
    const header = length < 32 ? (0xa0 + length).toString(16) : 'd9' + length.toString(16);
    const row = confirmedRow('03', header + body);
    expect(decodeConfirmed(row).requesterId).toBe((packr.unpack(row) as unknown[])[8]);
  });
});
