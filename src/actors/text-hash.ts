// One string hash for the partition's own tables (retained-holds.ts, split-map.ts).
//
// A seed of this process's own: the tables' layout is never stored or compared, and keys chosen
// to collide under one seed do not collide under another.
export const hashSeed = crypto.getRandomValues(new Int32Array(1))[0] as number;
export const hashPrime = 0x01000193;

// The last two strings hashed, and their hashes: a hold's id and its idempotency key are each
// looked up in several tables in a row (the pending holds', the retained ones').
let lastText = '';
let lastHash = hashOf('');
let otherText = '';
let otherHash = lastHash;

/** FNV-1a (seeded) over the code units, then mixed (`mixHash`). */
export function hashText(text: string): number {
  if (text === lastText) return lastHash;
  if (text === otherText) return otherHash;
  otherText = lastText;
  otherHash = lastHash;
  lastText = text;
  lastHash = hashOf(text);
  return lastHash;
}

function hashOf(text: string): number {
  let hash = hashSeed;
  for (let index = 0; index < text.length; index += 1) {
    hash = Math.imul(hash ^ text.charCodeAt(index), hashPrime);
  }
  return mixHash(hash);
}

/**
 * MurmurHash3's finalizer. The tables split by the hash's top bits, and FNV-1a leaves them
 * nearly alike for keys that differ only in their last characters (`order-1` ... `order-8`):
 * every bit of the result must depend on every bit of the input.
 */
export function mixHash(fnv: number): number {
  let hash = fnv ^ (fnv >>> 16);
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  return hash ^ (hash >>> 16);
}
