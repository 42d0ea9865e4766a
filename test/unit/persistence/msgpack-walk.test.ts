// The msgpack walker (msgpack-walk.ts) against msgpackr's own packing: it finds where any value
// msgpackr writes ends, values back to back, every width of header, and refuses bytes cut short.
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { headerAt, skipValues } from '../../../src/persistence/msgpack-walk.js';
import { runOptions } from '../../helpers/fc-options.js';

// The snapshot codec's options.
const packr = new Packr({ useRecords: false, moreTypes: false });

/** Values of every msgpack type msgpackr writes from these options, nested. */
const value = fc.oneof(
  fc.anything({ withNullPrototype: false, withBigInt: false, maxDepth: 3 }),
  fc.double(),
  fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
  fc.string({ maxLength: 300 }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  // Dates are msgpack's timestamp extension: fixext 4 and 8, and ext 8.
  fc.date({ noInvalidDate: true }),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((seconds) => new Date(seconds * 1000)),
  fc.constant(undefined),
);

describe('skipValues and headerAt', () => {
  it('find where msgpackr’s values end, one or several back to back', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 6 }), (values) => {
        const packed = values.map((each) => packr.pack(each));
        const bytes = Buffer.concat(packed);
        expect(skipValues(bytes, 0, 1)).toBe(packed[0]?.length);
        expect(skipValues(bytes, 0, values.length)).toBe(bytes.length);
        // Cut one byte short, the last value does not end.
        expect(() => skipValues(bytes.subarray(0, bytes.length - 1), 0, values.length)).toThrow(
          RangeError,
        );
      }),
      runOptions(500),
    );
  });

  it('read every width of array and map header, and where their elements start', () => {
    for (const count of [0, 15, 16, 65_535, 65_536]) {
      const array = packr.pack(new Array<number>(count).fill(7));
      expect(headerAt(array, 0)).toStrictEqual({
        kind: 'array',
        count,
        start: array.length - count,
      });
      expect(skipValues(array, 0, 1)).toBe(array.length);
      // msgpackr writes no map32 from these options: that header is made here.
      const map =
        count < 65_536
          ? packr.pack(Object.fromEntries(Array.from({ length: count }, (_, i) => [i, i])))
          : Buffer.concat([Buffer.from([0xdf, 0, 1, 0, 0]), Buffer.alloc(count * 2, 0x05)]);
      const header = headerAt(map, 0);
      expect([header.kind, header.count]).toStrictEqual(['map', count]);
      expect(skipValues(map, header.start, count * 2)).toBe(map.length);
    }
    for (const length of [31, 32, 255, 256, 65_535, 65_536]) {
      const text = packr.pack('x'.repeat(length));
      expect(skipValues(text, 0, 1)).toBe(text.length);
    }
  });

  it('refuses a header where there is none, and bytes that end first', () => {
    expect(() => headerAt(packr.pack('text'), 0)).toThrow(TypeError);
    expect(() => headerAt(new Uint8Array(0), 0)).toThrow(RangeError);
    expect(() => skipValues(Uint8Array.of(0x92, 0x01), 0, 1)).toThrow(RangeError);
    expect(() => skipValues(Uint8Array.of(0xc1), 0, 1)).toThrow(/type 0xc1/);
  });
});
