// Rebuilds the ledger's state from nothing but the journal's WAL rows, with the domain's own
// replay (src/actors) and record codec (src/persistence): what the journal says is true, to
// compare with what the running ledger serves.
import {
  PartitionState,
  type JournalRecord,
  type RetentionPolicy,
  type StockView,
} from '../../src/actors/index.js';
import { decodeRecord } from '../../src/persistence/index.js';
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

interface WalRow {
  partition: number;
  lsn: string | number;
  payload: Buffer;
}

export async function rebuildFromWal(
  database: TestDatabase,
  retention: RetentionPolicy = defaultRetention,
): Promise<JournalTruth> {
  const rows = await database.query<WalRow>(
    'SELECT partition, lsn, payload FROM ledger_wal ORDER BY partition, lsn',
  );
  const states = new Map<number, PartitionState>();
  const records: JournalRecord[] = [];
  const statuses = new Map<string, string>();
  let previous: { partition: number; lsn: number } | undefined;
  for (const row of rows) {
    const lsn = Number(row.lsn);
    // The WAL of a partition is gapless: lsn 1, 2, 3, ...
    const expected = previous?.partition === row.partition ? previous.lsn + 1 : 1;
    if (lsn !== expected) throw new Error(`WAL gap in partition ${row.partition} at lsn ${lsn}`);
    previous = { partition: row.partition, lsn };
    let state = states.get(row.partition);
    if (state === undefined) {
      state = new PartitionState(row.partition, retention);
      states.set(row.partition, state);
    }
    const record = decodeRecord(row.payload);
    state.replay(record);
    records.push(record);
    if (record.type !== 'adjusted') statuses.set(record.reservationId, statusOf(record.type));
  }
  const stocks = new Map<string, StockView>();
  for (const state of states.values()) {
    for (const actor of state.actors.values()) {
      stocks.set(`${actor.productId}/${actor.warehouseId}`, actor.stockView());
    }
  }
  return { stocks, records, statuses };
}

function statusOf(type: Exclude<JournalRecord['type'], 'adjusted'>): string {
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
    version: view.version,
  };
}
