// Proves the group commit's binary array parameters (src/persistence/binary-arrays.ts) are read by
// Postgres as exactly the values encoded, for any values of each column type, empty arrays and
// the extremes included, written into Buffers of their own or one after another into a scratch
// that each statement writes over; and that a value the column cannot hold is refused before it
// is sent.
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArrayScratch,
  byteaArray,
  freshRoom,
  int4Array,
  int8Array,
  textArray,
} from '../../src/persistence/binary-arrays.js';
import { runOptions } from '../helpers/fc-options.js';
import { adminDatabaseUrl, havePostgres } from '../helpers/services.js';

describe('binary array parameters, unit', () => {
  it('refuses what the column cannot hold', () => {
    expect(() => int4Array([2 ** 31])).toThrow(RangeError);
    expect(() => int4Array([1.5])).toThrow(RangeError);
    expect(() => int8Array([2 ** 53])).toThrow(RangeError);
    expect(() => int8Array([Number.NaN])).toThrow(RangeError);
  });

  it('writes the same bytes into the scratch, grown as a statement needs, and over them next', () => {
    const scratch = new ArrayScratch();
    const many = Array.from({ length: 9000 }, (_, index) => index * 7919 - 2 ** 30);
    const words = Array.from({ length: 300 }, (_, index) => `word ${index} ü`);
    const write = (room = freshRoom) => [
      int4Array(many, room),
      int8Array(many, room),
      textArray(words, room),
      byteaArray([Uint8Array.of(1, 2, 3), new Uint8Array(0)], room),
    ];
    const expected = write().map((array) => [...array]);
    const room = scratch.take();
    const first = write(room);
    // Over 64 KB in all: the scratch grew during the statement, the earlier arrays kept.
    expect(first.map((array) => [...array])).toStrictEqual(expected);
    expect(new Set(first.map((array) => array.buffer)).size).toBe(2);
    // Taken while the first statement holds it: arrays of their own.
    const other = scratch.take();
    expect(other).toBe(freshRoom);
    scratch.release(other);
    scratch.release(room);
    const again = scratch.take();
    const second = write(again);
    expect(second.map((array) => [...array])).toStrictEqual(expected);
    expect(second[0]?.buffer).toBe(first[3]?.buffer);
    expect(second[0]?.byteOffset).toBe(0);
    scratch.release(again);
  });
});

describe.runIf(await havePostgres())('binary array parameters, read back by Postgres', () => {
  const client = new pg.Client({ connectionString: adminDatabaseUrl });

  beforeAll(async () => {
    await client.connect();
  });

  afterAll(async () => {
    await client.end();
  });

  // Text without NUL (Postgres's text holds none; ids are validated to have none).
  const text = fc
    .string({ unit: 'binary', maxLength: 30 })
    .map((value) => value.replace(/\0/g, ''));
  const columns = fc.record({
    int4: fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 20 }),
    int8: fc.array(
      fc.oneof(
        fc.maxSafeInteger(),
        fc.integer({ min: Number.MIN_SAFE_INTEGER, max: 0 }),
        fc.constantFrom(0, -1, 2 ** 32, 2 ** 32 - 1, -(2 ** 32), Number.MIN_SAFE_INTEGER),
      ),
      { maxLength: 20 },
    ),
    text: fc.array(text, { maxLength: 20 }),
    bytea: fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }),
  });

  it('reads every column back as the values encoded', async () => {
    // One scratch for every run, as a connection keeps one; every other run in arrays of their own.
    const scratch = new ArrayScratch();
    let run = 0;
    const property = fc.asyncProperty(columns, async (values) => {
      run += 1;
      const room = run % 2 === 0 ? scratch.take() : freshRoom;
      const { rows } = await client.query({
        // bigint[] comes back as text (exact); the others as pg parses them.
        text: `SELECT $1::integer[] AS int4, $2::bigint[]::text[] AS int8, $3::text[] AS text,
                      $4::bytea[] AS bytea`,
        values: [
          int4Array(values.int4, room),
          int8Array(values.int8, room),
          textArray(values.text, room),
          byteaArray(values.bytea, room),
        ],
      });
      scratch.release(room);
      const row = rows[0] as { int4: number[]; int8: string[]; text: string[]; bytea: Buffer[] };
      expect(row.int4).toStrictEqual(values.int4);
      expect(row.int8).toStrictEqual(values.int8.map((value) => String(value)));
      expect(row.text).toStrictEqual(values.text);
      expect(row.bytea.map((value) => [...value])).toStrictEqual(
        values.bytea.map((value) => [...value]),
      );
    });
    await fc.assert(property, runOptions(200));
  });

  it('is refused by Postgres for a column of another type', async () => {
    await expect(
      client.query({ text: 'SELECT $1::bigint[] AS a', values: [int4Array([1, 2])] }),
    ).rejects.toThrow(/array element type 23/);
  });
});
