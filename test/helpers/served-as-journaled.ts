// After a fault: every 200 a workload got is in the WAL, retries resolve every unanswered request,
// the books balance, and what the ledger serves (each stock key, each hold) is exactly what a
// replay of the WAL gives. Shared by the fault tests that cut, stall or restart Postgres.
import { expect } from 'vitest';
import type { TestDatabase } from './database.js';
import type { DurableWorkload } from './durable-workload.js';
import { timedCall } from './timed-http.js';
import { rebuildFromWal, stockBodyOf } from './wal-rebuild.js';

export async function expectServedAsJournaled(
  baseUrl: string,
  database: TestDatabase,
  workload: DurableWorkload,
): Promise<void> {
  const before = await rebuildFromWal(database);
  for (const id of workload.acknowledgedIds()) {
    expect(before.statuses.has(id), `acknowledged hold ${id} is in the WAL`).toBe(true);
  }
  await workload.checkAcknowledged(baseUrl);
  await workload.resolveUnknown(baseUrl);
  await workload.checkBooks(baseUrl);
  const truth = await rebuildFromWal(database);
  for (const stock of workload.stocks) {
    const served = await timedCall(baseUrl, {
      method: 'GET',
      path: `/v1/stock/${stock.product_id}/${stock.warehouse_id}`,
    });
    const journaled = truth.stocks.get(`${stock.product_id}/${stock.warehouse_id}`);
    expect(journaled, `${stock.product_id} in the WAL`).toBeDefined();
    expect(served.body, `${stock.product_id}: served = replayed WAL`).toEqual(
      stockBodyOf(journaled as NonNullable<typeof journaled>),
    );
  }
  for (const id of workload.holdIds()) {
    const read = await timedCall(baseUrl, { method: 'GET', path: `/v1/reservations/${id}` });
    expect(read.body.status, `hold ${id}: served = replayed WAL`).toBe(truth.statuses.get(id));
  }
}
