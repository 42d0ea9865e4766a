// Proves how an import's NDJSON bytes become lines: numbered as an editor numbers them, blank
// lines skipped but counted, a final newline starting no line, CRLF accepted, and the count the
// line limit checks agreeing with the lines handed out.
import { describe, expect, it } from 'vitest';
import { NdjsonLines } from '../../../src/http/ndjson-lines.js';

function linesOf(text: string): Array<[number, string]> {
  const lines = new NdjsonLines(Buffer.from(text));
  const found: Array<[number, string]> = [];
  for (let line = lines.next(); line !== undefined; line = lines.next()) {
    found.push([line.line, line.bytes.toString()]);
  }
  expect(NdjsonLines.count(Buffer.from(text))).toBe(found.length);
  return found;
}

describe('NDJSON lines', () => {
  it('hands out each line in order, numbered from 1', () => {
    expect(linesOf('{"a":1}\n{"b":2}\n{"c":3}')).toEqual([
      [1, '{"a":1}'],
      [2, '{"b":2}'],
      [3, '{"c":3}'],
    ]);
  });

  it('treats a final newline as the end of the last line, not as a line of its own', () => {
    expect(linesOf('{"a":1}\n{"b":2}\n')).toEqual([
      [1, '{"a":1}'],
      [2, '{"b":2}'],
    ]);
  });

  it('skips blank and whitespace-only lines but keeps counting them', () => {
    expect(linesOf('\n{"a":1}\n\n  \t\n{"b":2}\n\n')).toEqual([
      [2, '{"a":1}'],
      [5, '{"b":2}'],
    ]);
  });

  it('accepts CRLF line ends (the CR stays: it is whitespace to JSON)', () => {
    expect(linesOf('{"a":1}\r\n\r\n{"b":2}\r\n')).toEqual([
      [1, '{"a":1}\r'],
      [3, '{"b":2}\r'],
    ]);
  });

  it('has no lines in an empty or all-blank body', () => {
    expect(linesOf('')).toEqual([]);
    expect(linesOf('\n\n \r\n')).toEqual([]);
  });

  it('hands out a line that is not JSON as it is (parsing is the caller’s business)', () => {
    expect(linesOf('not json\n[1]\n')).toEqual([
      [1, 'not json'],
      [2, '[1]'],
    ]);
  });
});
