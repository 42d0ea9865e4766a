// The partition tables' string hash (text-hash.ts) remembers the last two strings it hashed: a
// remembered answer must be the one hashing the text again gives, whatever order strings come in
// and whether an equal string is the same object or a copy.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashPrime, hashSeed, hashText, mixHash } from '../../../src/actors/text-hash.js';
import { runOptions } from '../../helpers/fc-options.js';

/** FNV-1a seeded and mixed, written out again here, with nothing remembered. */
function expected(text: string): number {
  let hash = hashSeed;
  for (let index = 0; index < text.length; index += 1) {
    hash = Math.imul(hash ^ text.charCodeAt(index), hashPrime);
  }
  return mixHash(hash);
}

describe('hashText', () => {
  it('gives every string the hash of its text, in any order, copies or not', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        (texts, picks) => {
          for (const pick of picks) {
            const text = texts[pick % texts.length] as string;
            // Every other time a copy of the text: equal, but not the same object.
            const asked = pick % 2 === 0 ? text : [...text].join('');
            expect(hashText(asked)).toBe(expected(text));
          }
        },
      ),
      runOptions(300),
    );
  });

  it('tells apart the strings a partition hashes in a row', () => {
    const id = '0000002a-0000-8000-8000-000000000000';
    const key = 'checkout-7f3a9c2e';
    expect(hashText(id)).toBe(expected(id));
    expect(hashText(key)).toBe(expected(key));
    expect(hashText(id)).toBe(expected(id));
    expect(hashText('')).toBe(expected(''));
    expect(hashText(key)).toBe(expected(key));
    expect(hashText(id)).not.toBe(hashText(key));
  });
});
