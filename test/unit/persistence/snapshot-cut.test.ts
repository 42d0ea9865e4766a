// A snapshot's blocks cut in parts as JournalStore writes them (cutInParts): every byte once, in
// order; a part within one block is a view of it (the encoder's blocks go with no copy).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cutInParts } from '../../../src/persistence/journal-store.js';

const blockOf = (length: number, seed: number): Uint8Array =>
  Uint8Array.from({ length }, (_, index) => (index * 13 + seed) % 256);

describe('cutInParts', () => {
  it('writes blocks of the part size as they are, views and not copies', () => {
    const blocks = [blockOf(8, 1), blockOf(8, 2), blockOf(3, 3)];
    const parts = [...cutInParts(blocks, 8)];
    expect(parts.map((part) => part.length)).toStrictEqual([8, 8, 3]);
    parts.forEach((part, index) => {
      const block = blocks[index] as Uint8Array;
      expect(part.buffer).toBe(block.buffer);
      expect(part.byteOffset).toBe(block.byteOffset);
    });
  });

  it('joins pieces of several blocks into a part, and cuts a long block in several', () => {
    const blocks = [blockOf(5, 1), blockOf(0, 2), blockOf(6, 3), blockOf(17, 4)];
    const parts = [...cutInParts(blocks, 8)];
    expect(parts.map((part) => part.length)).toStrictEqual([8, 8, 8, 4]);
    expect(Buffer.concat(parts).equals(Buffer.concat(blocks))).toBe(true);
    // The third part lies within the last block: a view of it.
    expect(parts[2]?.buffer).toBe(blocks[3]?.buffer);
  });

  it('gives every byte once, in order, in full parts but the last', () => {
    const property = fc.property(
      fc.array(fc.nat({ max: 40 }), { maxLength: 12 }),
      fc.integer({ min: 1, max: 16 }),
      (lengths, partBytes) => {
        const blocks = lengths.map((length, index) => blockOf(length, index));
        const parts = [...cutInParts(blocks, partBytes)];
        const total = lengths.reduce((sum, length) => sum + length, 0);
        expect(Buffer.concat(parts).equals(Buffer.concat(blocks))).toBe(true);
        expect(parts.length).toBe(Math.ceil(total / partBytes));
        for (const part of parts.slice(0, -1)) expect(part.length).toBe(partBytes);
        for (const part of parts) expect(part.length).toBeGreaterThan(0);
      },
    );
    fc.assert(property);
  });

  it('refuses a part size that is not a positive integer', () => {
    expect(() => [...cutInParts([blockOf(4, 1)], 0)]).toThrow();
    expect(() => [...cutInParts([blockOf(4, 1)], 1.5)]).toThrow();
  });
});
