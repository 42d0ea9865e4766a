// The stock key -> partition hash. A frozen contract: the journal records which version and
// partition count it was created with, and a ledger refuses to open a journal made with others
// (a changed hash would route a key to a partition that does not hold its history).

export const partitionHashVersion = 1;

/** FNV-1a over the key's UTF-16 code units, then murmur3's finalizer to spread low bits. */
export function hashStockKey(productId: string, warehouseId: string): number {
  let hash = 0x811c9dc5;
  hash = mix(hash, productId);
  hash = Math.imul(hash ^ 0, 0x01000193); // separator: a zero unit between the two ids
  hash = mix(hash, warehouseId);
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

function mix(start: number, text: string): number {
  let hash = start;
  for (let index = 0; index < text.length; index += 1) {
    hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  }
  return hash;
}

export function partitionOf(productId: string, warehouseId: string, partitions: number): number {
  return hashStockKey(productId, warehouseId) % partitions;
}
