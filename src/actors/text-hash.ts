// One string hash for the partition's own tables (retained-holds.ts, split-map.ts).
//
// A seed of this process's own: the tables' layout is never stored or compared, and keys chosen
// to collide under one seed do not collide under another.
export const hashSeed = crypto.getRandomValues(new Int32Array(1))[0] as number;
export const hashPrime = 0x01000193;

/** FNV-1a (seeded) over the code units. */
export function hashText(text: string): number {
  let hash = hashSeed;
  for (let index = 0; index < text.length; index += 1) {
    hash = Math.imul(hash ^ text.charCodeAt(index), hashPrime);
  }
  return hash;
}
