// The lines of an NDJSON body, read where they lie in the bytes received: counted once before
// anything is applied (the line limit), then handed out one at a time, so no line is decoded or
// parsed before the lines ahead of it have been dispatched.

/** A line of the file: its number (from 1, counting every line) and its bytes (no newline). */
export interface NdjsonLine {
  readonly line: number;
  readonly bytes: Buffer;
}

const newline = 0x0a;

/** JSON's insignificant whitespace (RFC 8259): a line of only these is blank. */
function isWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d;
}

function blank(bytes: Buffer, start: number, end: number): boolean {
  for (let index = start; index < end; index += 1) {
    if (!isWhitespace(bytes[index] as number)) return false;
  }
  return true;
}

/**
 * Walks the lines of `bytes` in file order. A newline ends a line, so a file's final newline
 * does not start another; CRLF files work (the CR is whitespace to JSON). Blank lines are
 * skipped, but counted in the numbering, so a line's number is the one an editor shows.
 */
export class NdjsonLines {
  private offset = 0;
  private lineNumber = 0;

  constructor(private readonly bytes: Buffer) {}

  /** The next line that is not blank, or undefined after the last one. */
  next(): NdjsonLine | undefined {
    const bytes = this.bytes;
    while (this.offset < bytes.byteLength) {
      const start = this.offset;
      const found = bytes.indexOf(newline, start);
      const end = found < 0 ? bytes.byteLength : found;
      this.offset = end + 1;
      this.lineNumber += 1;
      if (!blank(bytes, start, end)) {
        return { line: this.lineNumber, bytes: bytes.subarray(start, end) };
      }
    }
    return undefined;
  }

  /** How many lines are not blank: what the line limit counts. Reads nothing but newlines. */
  static count(bytes: Buffer): number {
    const lines = new NdjsonLines(bytes);
    let count = 0;
    while (lines.next() !== undefined) count += 1;
    return count;
  }
}
