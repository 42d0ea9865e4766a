// A hot SKU's journal rows as a group commit writes them, for the micro-benches that commit
// without a ledger (wal-append.ts, wal-file-commits.ts): a hold's `reserved` record, encoded as
// the journal stores it (about 90 bytes), and its movement row.
import type { MovementColumns } from '../../src/persistence/index.js';
import { encodeRecord } from '../../src/persistence/record-codec.js';

/** The `reserved` record of hold `lsn`, made at `atMs`, encoded. */
export function reservePayload(lsn: number, atMs: number): Uint8Array {
  return encodeRecord({
    type: 'reserved',
    productId: 'hot-sku',
    warehouseId: 'bench-wh',
    version: lsn,
    atMs,
    traceId: 'a1b2c3d4e5f600000001',
    reservationId: `0001e1f0-5c3b-8d2e-9f00-${lsn.toString(16).padStart(12, '0')}`,
    quantity: 1,
    expiresAtMs: atMs + 600_000,
    idempotencyKey: `bench-key-${lsn.toString(36).padStart(8, '0')}`,
    requesterId: 'bench',
  });
}

/** The movement row of the same change. */
export function reserveMovement(lsn: number, atMs: number): MovementColumns {
  return {
    productId: 'hot-sku',
    warehouseId: 'bench-wh',
    version: lsn,
    atMs,
    onHand: 100_000_000,
    reserved: lsn,
    incoming: 0,
    subject: 'bench',
  };
}
