// Strings kept as code units in one typed array, not as strings: a string is an object the
// garbage collector visits each time it marks the old generation, and a hot key keeps hundreds of
// thousands of ids and idempotency keys (retained-holds.ts, pending-holds.ts). A string comes
// back out as a new string only when someone asks for it (`text`); a lookup compares the units in
// place (`equals`).
//
// One byte a unit while every unit written fits one (ids, idempotency keys and requesters are
// ASCII but for a rare requester); from the first that does not, two, for good.
import { column } from './columns.js';
import { hashPrime, hashSeed, mixHash } from './text-hash.js';

export class TextArena {
  chars: Uint8Array | Uint16Array;
  /** Units written: the next string goes at this offset. */
  used = 0;

  constructor(capacity: number) {
    this.chars = column(Uint8Array, capacity);
  }

  get capacity(): number {
    return this.chars.length;
  }

  /** Room for `length` more units: a larger array if need be (twice at least), the used copied. */
  makeRoom(length: number): void {
    const needed = this.used + length;
    if (needed <= this.chars.length) return;
    const chars = this.chars;
    const larger =
      chars instanceof Uint8Array
        ? column(Uint8Array, Math.max(needed, chars.length * 2))
        : column(Uint16Array, Math.max(needed, chars.length * 2));
    larger.set(chars.subarray(0, this.used));
    this.chars = larger;
  }

  /**
   * Writes `text` at `used` (the room made first) and moves `used` past it; returns its hash, the
   * one `hashText` (text-hash.ts) gives the same string.
   */
  append(text: string): number {
    this.makeRoom(text.length);
    const chars = this.chars;
    const start = this.used;
    let hash = hashSeed;
    // Every code unit or-ed together: one past a byte means a byte arena kept only its low bits.
    let units = 0;
    for (let index = 0; index < text.length; index += 1) {
      const code = text.charCodeAt(index);
      chars[start + index] = code;
      units |= code;
      hash = Math.imul(hash ^ code, hashPrime);
    }
    if (units > 0xff && chars instanceof Uint8Array) {
      // Wider than a byte: two bytes a unit from now on, and this string is written again.
      const wide = column(Uint16Array, chars.length);
      wide.set(chars.subarray(0, start));
      this.chars = wide;
      return this.append(text);
    }
    this.used = start + text.length;
    return mixHash(hash);
  }

  /** Copies units [start, end) of `from` to `used` (room made first); returns where they went. */
  copy(from: TextArena, start: number, end: number): number {
    this.makeRoom(end - start);
    const at = this.used;
    this.place(from, start, end, at);
    this.used = at + end - start;
    return at;
  }

  /**
   * Writes units [start, end) of `from` at `to` in this arena, which has the room (two bytes a
   * unit from now on if `from` has). From this arena itself, the units may lie past `to` and
   * overlap where they go: a compaction in place moves them down.
   */
  place(from: TextArena, start: number, end: number, to: number): void {
    if (from === this) {
      this.chars.copyWithin(to, start, end);
      return;
    }
    if (from.chars instanceof Uint16Array && this.chars instanceof Uint8Array) {
      const wide = column(Uint16Array, this.chars.length);
      wide.set(this.chars.subarray(0, to));
      this.chars = wide;
    }
    this.chars.set(from.chars.subarray(start, end), to);
  }

  text(start: number, end: number): string {
    let text = '';
    // fromCharCode takes its arguments on the stack: long strings go in pieces. apply takes the
    // typed array as it is; a spread would go through its iterator.
    for (let from = start; from < end; from += 4096) {
      const piece = this.chars.subarray(from, Math.min(end, from + 4096));
      text += String.fromCharCode.apply(null, piece as unknown as number[]);
    }
    return text;
  }

  /** Whether units [start, end) are `other`'s [otherStart, otherEnd). */
  sameAs(
    start: number,
    end: number,
    other: TextArena,
    otherStart: number,
    otherEnd: number,
  ): boolean {
    if (end - start !== otherEnd - otherStart) return false;
    const [chars, others] = [this.chars, other.chars];
    for (let index = 0; index < end - start; index += 1) {
      if (chars[start + index] !== others[otherStart + index]) return false;
    }
    return true;
  }

  /** Whether units [start, end) are `text`'s. */
  equals(start: number, end: number, text: string): boolean {
    if (end - start !== text.length) return false;
    const chars = this.chars;
    for (let index = 0; index < text.length; index += 1) {
      if (chars[start + index] !== text.charCodeAt(index)) return false;
    }
    return true;
  }
}
