// A byte stream cut into chunks at arbitrary offsets, as a socket may hand it over: for the
// property tests of the readers that must cope with any cut (copy-out.ts, wal-copy-reader.ts).

/** The stream cut at the given offsets (each taken modulo its length + 1; repeats ignored). */
export function cutAt(stream: Buffer, offsets: readonly number[]): Buffer[] {
  const points = [...new Set(offsets.map((offset) => offset % (stream.length + 1)))].sort(
    (a, b) => a - b,
  );
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, stream.length]) {
    chunks.push(stream.subarray(start, point));
    start = point;
  }
  return chunks;
}
