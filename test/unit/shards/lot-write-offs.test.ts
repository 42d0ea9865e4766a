// Proves the shard writes lots off on its own: its sweep journals a `lot-expired` record per lot
// whose day ended (unheld units only), never before, and a shard recovered from that journal
// has the same stock and still writes off the lots that end later; the metric counts them.
import { describe, expect, it } from 'vitest';
import type { LotExpiredRecord } from '../../../src/actors/index.js';
import { adjust } from '../../helpers/actor-fixtures.js';
import { InstantJournal, ShardHarness } from '../../helpers/shard-harness.js';

/** An adjust of the harness's key into a named lot. */
const lotAdjust = (delta: number, lotId: string, expiresOn: string) =>
  adjust(delta, { productId: 'p', warehouseId: 'w', lot: { lotId, expiresOn } });

describe('lot write-offs in the shard', () => {
  it('journals each ended lot once, at its end, and recovery keeps it and the rest', async () => {
    const journal = new InstantJournal();
    const first = new ShardHarness(journal, Date.UTC(2026, 11, 2, 12));
    await first.shard.start();
    await first.send(lotAdjust(3, 'early', '2026-12-05'));
    await first.send(lotAdjust(2, 'late', '2026-12-09'));
    const endOfDec5 = Date.UTC(2026, 11, 6);
    first.nowMs = endOfDec5 - 1;
    expect(first.shard.sweep(first.nowMs)).toBe(0);
    first.nowMs = endOfDec5 + 250;
    expect(first.shard.sweep(first.nowMs)).toBe(1);
    expect(first.shard.sweep(first.nowMs)).toBe(0);
    expect(await first.stock()).toMatchObject({ onHand: 2, version: 3 });
    // The metric counts durable write-offs only.
    expect(first.shard.lotUnitsWrittenOff).toBe(3);
    const records = journal.records();
    expect(records.map((record) => record.type)).toEqual(['adjusted', 'adjusted', 'lot-expired']);
    expect(records[2] as LotExpiredRecord).toMatchObject({
      lotId: 'early',
      quantity: 3,
      onHand: 2,
      atMs: endOfDec5 + 250,
    });

    // A shard recovered from the journal has the same key and writes off the later lot.
    const second = new ShardHarness(journal, endOfDec5 + 1000);
    await second.shard.start();
    expect(await second.stock()).toEqual(await first.stock());
    const endOfDec9 = Date.UTC(2026, 11, 10);
    second.nowMs = endOfDec9;
    expect(second.shard.sweep(second.nowMs)).toBe(1);
    expect(await second.stock()).toMatchObject({ onHand: 0, lots: [] });
    expect(second.shard.lotUnitsWrittenOff).toBe(2);
    expect(journal.records().map((record) => record.type)).toEqual([
      'adjusted',
      'adjusted',
      'lot-expired',
      'lot-expired',
    ]);
  });
});
