// A micro-benchmark's holds: the reservation id it gives its n-th hold, and the reserve that makes
// one. The id is shaped as the router's (36 characters, hex groups), made from n alone so that
// runs repeat; the router's ids name their partition in the first 16 bits, which nothing the
// micro-benchmarks drive reads.
import type { ReserveCommand } from '../../src/actors/index.js';

export function benchHoldId(n: number): string {
  return `${n.toString(16).padStart(8, '0')}-0000-8000-8000-000000000000`;
}

/** What a bench's reserve may set beyond its key, idempotency key and id. */
export interface BenchReserveFields {
  readonly warehouseId?: string;
  readonly quantity?: number;
  readonly ttlSeconds?: number;
  readonly requesterId?: string;
  readonly traceId?: string;
}

/**
 * A reserve as a micro-benchmark applies it: one unit of `productId` at 'wh-1' for ten minutes,
 * no requester and no trace unless given; its fields in the order the router sends them (the
 * validator's, then the id it mints), a shape the shard batches know (protocol.ts).
 */
export function benchReserve(
  productId: string,
  idempotencyKey: string,
  reservationId: string,
  fields: BenchReserveFields = {},
): ReserveCommand {
  return {
    kind: 'reserve',
    productId,
    warehouseId: fields.warehouseId ?? 'wh-1',
    quantity: fields.quantity ?? 1,
    idempotencyKey,
    ttlSeconds: fields.ttlSeconds ?? 600,
    requesterId: fields.requesterId ?? '',
    traceId: fields.traceId ?? '',
    reservationId,
  };
}
