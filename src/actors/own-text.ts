// Strings a pending hold keeps, made the partition's own.
//
// A command's strings come from msgpack (the router's batch, decoded on the shard's thread), and
// msgpackr's native decoder reads a batch's strings as one joined string and hands out slices of
// it. V8 keeps a slice of 13 characters or more as a view of the whole joined string, so a hold
// that kept its id and idempotency key as they came kept every string of its batch alive (trace
// ids, other commands' keys) for as long as it stays pending: 602 bytes of heap per pending hold
// against 447 with strings of their own (bench/micro/pending-hold-heap.ts). A hot key holds
// hundreds of thousands, and the old generation the collector marks grows with them.
//
// `ownText` copies such a string; shorter ones are copies already. An id or an idempotency key is
// ASCII, so it goes out as latin1 into a scratch buffer and back: one native copy each way, a
// new flat string, in about two thirds of the time JSON's round trip takes
// (bench/micro/hot-paths.ts, "ownText").
// Any string with a code unit past a byte comes back different, which the comparison sees: it is
// copied by JSON's round trip then (exact for any string, lone surrogates included, and flat).
// `sharedText` also keeps one string per value for the few values that many holds repeat (a
// requester, the JWT subject), up to `sharedTextsMax` of them per thread; past that it copies.

/** V8's `SlicedString::kMinLength`: a shorter slice is a copy. */
const slicedMin = 13;
const sharedTextsMax = 1024;
const shared = new Map<string, string>();
/** The latin1 copy's room: an idempotency key is at most 128 characters; longer go by JSON. */
const scratch = Buffer.allocUnsafe(256);

export function ownText(text: string): string {
  if (text.length < slicedMin) return text;
  if (text.length <= scratch.length) {
    const copy = scratch.toString('latin1', 0, scratch.write(text, 0, 'latin1'));
    if (copy === text) return copy;
  }
  return JSON.parse(JSON.stringify(text)) as string;
}

export function sharedText(text: string): string {
  const known = shared.get(text);
  if (known !== undefined) return known;
  const own = ownText(text);
  if (shared.size < sharedTextsMax) shared.set(own, own);
  return own;
}
