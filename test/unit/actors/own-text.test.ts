// Proves the copies a pending hold keeps of its strings (own-text.ts) are the same text, for any
// string: every UTF-16 code unit, lone surrogates and characters JSON escapes included, short and
// long (a slice of 13 or more is what gets copied), and a repeated value shared or not. What the
// copies save is heap, measured in bench/micro/pending-hold-heap.ts.
import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import { ownText, sharedText } from '../../../src/actors/own-text.js';
import { runOptions } from '../../helpers/fc-options.js';

const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
const anyText = fc.oneof(
  fc.string({ unit: codeUnit, maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
);

describe('own copies of a hold’s strings', () => {
  it('are the same text, whatever the string', () => {
    fc.assert(
      fc.property(anyText, (text) => {
        expect(ownText(text)).toBe(text);
        expect(sharedText(text)).toBe(text);
        expect(sharedText(text)).toBe(text);
      }),
      runOptions(2000),
    );
  });

  it('are the same text for strings msgpack decoded as slices of a batch', () => {
    const packr = new Packr({ useRecords: true, moreTypes: false });
    fc.assert(
      fc.property(fc.array(anyText, { minLength: 1, maxLength: 20 }), (texts) => {
        const decoded = packr.unpack(packr.pack(texts.map((text) => ({ text })))) as {
          text: string;
        }[];
        // As decoded (UTF-8 carries no lone surrogate: msgpack's text, not the copy's, differs).
        expect(decoded).toHaveLength(texts.length);
        for (const { text } of decoded) {
          expect(ownText(text)).toBe(text);
          expect(sharedText(text)).toBe(text);
        }
      }),
      runOptions(500),
    );
  });
});
