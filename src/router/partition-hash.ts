// The partition hash. A frozen contract: the journal records which version and partition count
// it was created with, and a ledger refuses to open a journal made with others (a changed hash
// would route a key to a partition that does not hold its history).
//
// Version 2 (the one in use) hashes the product id alone, so every warehouse of a product lives in
// one partition and work over a product's warehouses is one actor turn. Version 1 hashed the whole
// stock key; it is kept, unchanged, for `ledger migrate-partitions`, which moves a v1 journal.

export const partitionHashVersion = 2;

const fnvOffsetBasis = 0x811c9dc5;

/** Version 2: FNV-1a over the product id's UTF-16 code units, then murmur3's finalizer. */
export function hashProduct(productId: string): number {
  return finalize(mix(fnvOffsetBasis, productId));
}

/** The partition of a product (and so of each of its stock keys), with hash version 2. */
export function partitionOf(productId: string, partitions: number): number {
  return hashProduct(productId) % partitions;
}

/** Version 1: FNV-1a over the stock key's UTF-16 code units, then murmur3's finalizer. */
export function hashStockKeyV1(productId: string, warehouseId: string): number {
  let hash = mix(fnvOffsetBasis, productId);
  hash = Math.imul(hash ^ 0, 0x01000193); // separator: a zero unit between the two ids
  return finalize(mix(hash, warehouseId));
}

/** The partition a version 1 journal holds a stock key in. */
export function partitionOfV1(productId: string, warehouseId: string, partitions: number): number {
  return hashStockKeyV1(productId, warehouseId) % partitions;
}

function mix(start: number, text: string): number {
  let hash = start;
  for (let index = 0; index < text.length; index += 1) {
    hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  }
  return hash;
}

/** murmur3's 32-bit finalizer: spreads the low bits, which the modulo keeps. */
function finalize(start: number): number {
  let hash = start;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
