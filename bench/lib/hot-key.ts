// One hot key's partition driven as its shard drives it, for the micro-benches of holds piling up
// and churning (pending-growth.ts, hold-churn.ts): PartitionState.apply of a reserve or a confirm
// and the shard's expiry schedule beside it (a reserve's entry by its slot and serial; a confirm
// leaves it stale, and the schedule drops stale entries once they are half of it). Ids are
// minted as the router mints them; idempotency keys are fresh UUIDs, as a checkout's are.
import { randomUUID } from 'node:crypto';
import { PartitionState, type ReserveCommand } from '../../src/actors/index.js';
import type { DueEntry } from '../../src/shards/expiry-heap.js';
import { mintReservationId } from '../../src/router/reservation-id.js';
import { ExpirySchedule } from '../../src/shards/expiry-schedule.js';
import { stockAdjust } from './stock-adjust.js';
import { aDayRetained } from './retention.js';

const retention = aDayRetained;
const partition = 7;
/** An hour: no hold a bench makes at a millisecond a step comes due. */
const ttlSeconds = 3600;

export class HotKey {
  readonly state = new PartitionState(partition, retention);
  private readonly schedule = new ExpirySchedule();
  private readonly isPending = (entry: DueEntry<number>): boolean =>
    this.state.isPendingHold(entry.tag, entry.key);

  /** The key stocked with `stock` units at `nowMs`. */
  constructor(stock: number, nowMs: number) {
    const stocked = this.state.apply(stockAdjust('hot-sku', 'wh-1', stock), nowMs);
    if (!stocked.outcome.ok) throw new Error(`stocking failed: ${stocked.outcome.code}`);
  }

  /** A reserve of one unit with a fresh id and idempotency key. */
  reserveCommand(): ReserveCommand {
    return {
      kind: 'reserve',
      productId: 'hot-sku',
      warehouseId: 'wh-1',
      quantity: 1,
      idempotencyKey: randomUUID(),
      ttlSeconds,
      reservationId: mintReservationId(partition),
      requesterId: 'bench',
      traceId: '',
    };
  }

  /** Applies the reserve and schedules its expiry, as the shard does. */
  reserve(command: ReserveCommand, nowMs: number): void {
    const result = this.state.apply(command, nowMs);
    if (!result.outcome.ok) throw new Error(`reserve failed: ${result.outcome.code}`);
    const slot = this.state.holdSlot(command.reservationId);
    this.schedule.schedule(partition, this.state.holdSerial(slot), nowMs + ttlSeconds * 1000, slot);
  }

  /** Confirms the hold, and lets the schedule drop what went stale. */
  confirm(reservationId: string, nowMs: number): void {
    const result = this.state.apply({ kind: 'confirm', reservationId, traceId: '' }, nowMs);
    if (!result.outcome.ok) throw new Error(`confirm failed: ${result.outcome.code}`);
    this.schedule.finishedEarly(this.isPending);
  }
}
