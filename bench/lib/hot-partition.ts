// A partition whose one hot key holds N pending reservations, as after a flash sale's first
// minutes: what the snapshot micro-benches capture, encode and write.
import { PartitionState, type Command } from '../../src/actors/index.js';
import { mintReservationId } from '../../src/router/reservation-id.js';
import { aDayRetained } from './retention.js';

export const hotPartitionNumber = 5;
const retention = aDayRetained;

export function hotPartition(holds: number): PartitionState {
  const state = new PartitionState(hotPartitionNumber, retention);
  let nowMs = 1_790_000_000_000;
  const key = { productId: 'hot-sku', warehouseId: 'bench-wh' };
  const adjust: Command = {
    kind: 'adjust',
    ...key,
    delta: 1_000_000_000,
    reason: 'bench',
    idempotencyKey: '',
    actorId: 'bench',
    traceId: 'bench',
  };
  state.apply(adjust, nowMs);
  for (let index = 0; index < holds; index += 1) {
    nowMs += 1;
    const result = state.apply(
      {
        kind: 'reserve',
        ...key,
        quantity: 1,
        ttlSeconds: 3600,
        idempotencyKey: `bench-abcdef12-0-${index.toString(36).padStart(6, '0')}`,
        reservationId: mintReservationId(hotPartitionNumber),
        requesterId: 'bench',
        traceId: 'bench',
      },
      nowMs,
    );
    if (result.record === undefined) throw new Error(`reserve ${index} was refused`);
  }
  return state;
}
