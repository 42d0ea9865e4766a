// The erp-sync bench's end-state check of the feed's keys: every key of the catalogue is read
// back (GET /v1/stock/:product_id/:warehouse_id) and must show the on_hand and version the feed's
// lines imply (each line bumps its key's version once: a lost line or one applied twice shows),
// and nothing reserved (the hot-SKU load never touches them).
import { erpKeyAt, erpKeyCount, type ErpFeed } from './erp-feed.js';
import type { KeysCheck } from './erp-report.js';
import { readStock } from './ledger-api.js';

/** Reads in flight at once. */
const readConcurrency = 16;
/** Mismatched keys described in the result (the count is always exact). */
const mismatchesListed = 10;

export async function checkImportedKeys(baseUrl: string, feed: ErpFeed): Promise<KeysCheck> {
  const mismatches: string[] = [];
  let keysMatching = 0;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < erpKeyCount) {
      const index = next;
      next += 1;
      const key = erpKeyAt(index);
      const read = await readStock(baseUrl, key);
      const expected = feed.expected(index);
      if (
        read.onHand === expected.onHand &&
        read.version === expected.version &&
        read.reserved === 0
      ) {
        keysMatching += 1;
      } else if (mismatches.length < mismatchesListed) {
        mismatches.push(
          `${key.productId}/${key.warehouseId}: read on_hand ${read.onHand} version ` +
            `${read.version} reserved ${read.reserved}, expected on_hand ${expected.onHand} ` +
            `version ${expected.version} reserved 0`,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: readConcurrency }, lane));
  return {
    keysRead: erpKeyCount,
    keysMatching,
    mismatches,
    ok: keysMatching === erpKeyCount,
  };
}
