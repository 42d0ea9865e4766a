// Rebuilds the ledger's state from nothing but the journal's WAL rows, with the very routine the
// shards recover with (src/shards partition recovery: the record codec, its checks and the
// actors' replay): what the journal says is true, to compare with what the running ledger serves.
import {
  type JournalRecord,
  type RetentionPolicy,
  type StockView,
} from '../../src/actors/index.js';
import { JournalStore } from '../../src/persistence/index.js';
import { recoverPartitions } from '../../src/shards/index.js';
import type { TestDatabase } from './database.js';

/** The ledger's default retention (86400 s; 1,000,000 finished entries over 256 partitions). */
export const defaultRetention: RetentionPolicy = {
  retainFinishedMs: 86_400_000,
  retainFinishedMax: Math.ceil(1_000_000 / 256),
  onHandMax: 1_000_000_000_000,
};

export interface JournalTruth {
  /** Stock views by `product_id/warehouse_id`. */
  readonly stocks: Map<string, StockView>;
  /** Every record, in (partition, lsn) order. */
  readonly records: JournalRecord[];
  /** Reservation status by id, as the journal leaves it. */
  readonly statuses: Map<string, string>;
}

/** Replays every WAL record from lsn 1 (snapshots ignored), so every record is seen. */
export async function rebuildFromWal(
  database: TestDatabase,
  retention: RetentionPolicy = defaultRetention,
): Promise<JournalTruth> {
  const store = await JournalStore.connect(database.url, { onError: () => undefined });
  const records: JournalRecord[] = [];
  const statuses = new Map<string, string>();
  try {
    const [meta] = await database.query<{ partitions: number }>(
      'SELECT partitions FROM ledger_meta',
    );
    const partitions = Array.from({ length: Number(meta?.partitions ?? 0) }, (_, index) => index);
    const recovered = await recoverPartitions(store, partitions, {
      retention,
      fromSnapshots: false,
      onRecord: (_partition, _lsn, record) => {
        records.push(record);
        if (record.type === 'reserved' || endsHold(record)) {
          statuses.set(record.reservationId, statusOf(record.type));
        }
      },
    });
    const stocks = new Map<string, StockView>();
    for (const { state } of recovered.values()) {
      for (const actor of state.actors.values()) {
        stocks.set(`${actor.productId}/${actor.warehouseId}`, actor.stockView());
      }
    }
    return { stocks, records, statuses };
  } finally {
    await store.close();
  }
}

const endsHold = (
  record: JournalRecord,
): record is Extract<JournalRecord, { type: 'confirmed' | 'released' | 'expired' }> =>
  record.type === 'confirmed' || record.type === 'released' || record.type === 'expired';

function statusOf(type: 'reserved' | 'confirmed' | 'released' | 'expired'): string {
  return { reserved: 'PENDING', confirmed: 'CONFIRMED', released: 'RELEASED', expired: 'EXPIRED' }[
    type
  ];
}

/** A stock view as the HTTP body API.md gives for it. */
export function stockBodyOf(view: StockView): Record<string, unknown> {
  return {
    product_id: view.productId,
    warehouse_id: view.warehouseId,
    on_hand: view.onHand,
    reserved: view.reserved,
    available: view.available,
    incoming: 0,
    version: view.version,
  };
}
