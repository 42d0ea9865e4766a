// Proves the shard writes lots off on its own: its sweep journals a `lot-expired` record per lot
// whose day ended (unheld units only), never before, and a shard recovered from that journal
// has the same stock and still writes off the lots that end later; the metric counts them.
import { describe, expect, it } from 'vitest';
import type { Command, LotExpiredRecord, StockView } from '../../../src/actors/index.js';
import type { Clock } from '../../../src/clock.js';
import {
  decodeRecord,
  type JournalConnection,
  type SnapshotRow,
  type WalRow,
} from '../../../src/persistence/index.js';
import type { ShardReply } from '../../../src/shards/index.js';
import { Shard } from '../../../src/shards/shard.js';

/** A journal in memory whose every write lands at once. */
class InstantJournal {
  readonly wal = new Map<number, Uint8Array>();
  readonly snapshots: SnapshotRow[] = [];

  connection(): JournalConnection {
    return {
      append: async (rows: readonly WalRow[]) => {
        for (const row of rows) this.wal.set(row.lsn, Uint8Array.from(row.payload));
      },
      writeSnapshot: async (row) => {
        this.snapshots.push(row);
      },
      latestSnapshots: async () => {
        const latest = this.snapshots.at(-1);
        return latest === undefined ? new Map() : new Map([[latest.partition, latest]]);
      },
      readTail: async (_partition, afterLsn, onRow) => {
        let last = afterLsn;
        for (const [lsn, payload] of [...this.wal].sort((a, b) => a[0] - b[0])) {
          if (lsn <= afterLsn) continue;
          onRow(lsn, payload);
          last = lsn;
        }
        return last;
      },
      ping: async () => undefined,
      cutTail: async () => 0,
      close: async () => undefined,
    };
  }

  records() {
    return [...this.wal].sort((a, b) => a[0] - b[0]).map(([, row]) => decodeRecord(row));
  }
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
const retention = { retainFinishedMs: 3_600_000, retainFinishedMax: 1000, onHandMax: 1e9 };

class ShardHarness {
  nowMs: number;
  private readonly replies = new Map<number, ShardReply>();
  private nextId = 1;
  readonly shard: Shard;

  constructor(journal: InstantJournal, startMs: number) {
    this.nowMs = startMs;
    const clock: Clock = {
      now: () => this.nowMs,
      monotonic: () => this.nowMs,
      defer: (task) => void setImmediate(task),
      sleep: () => turn().then(() => undefined),
    };
    this.shard = new Shard(
      {
        shard: 0,
        partitions: [0],
        retention,
        walBatchRecordsMax: 100,
        snapshotEveryRecords: 100_000,
        expiriesPerSweepMax: 100,
        inflightMax: 100,
      },
      {
        connect: async () => journal.connection(),
        clock,
        send: (replies) => {
          for (const reply of replies) this.replies.set(reply.id, reply);
        },
        log: () => undefined,
        flushed: () => undefined,
        durableChanges: () => undefined,
        census: () => undefined,
      },
    );
  }

  async send(command: Command): Promise<ShardReply> {
    const id = this.nextId;
    this.nextId += 1;
    this.shard.handle([{ id, partition: 0, command }]);
    for (let round = 0; round < 1000 && !this.replies.has(id); round += 1) await turn();
    const reply = this.replies.get(id);
    if (reply === undefined) throw new Error(`no reply to ${command.kind}`);
    return reply;
  }

  async stock(): Promise<StockView> {
    const reply = await this.send({ kind: 'read-stock', productId: 'p', warehouseId: 'w' });
    const outcome = reply.outcome as { stock?: StockView };
    if (outcome.stock === undefined) throw new Error(JSON.stringify(reply));
    return outcome.stock;
  }
}

const adjust = (delta: number, lotId: string, expiresOn: string): Command => ({
  kind: 'adjust',
  productId: 'p',
  warehouseId: 'w',
  delta,
  reason: '',
  idempotencyKey: '',
  actorId: '',
  traceId: 't',
  lot: { lotId, expiresOn },
});

describe('lot write-offs in the shard', () => {
  it('journals each ended lot once, at its end, and recovery keeps it and the rest', async () => {
    const journal = new InstantJournal();
    const first = new ShardHarness(journal, Date.UTC(2026, 11, 2, 12));
    await first.shard.start();
    await first.send(adjust(3, 'early', '2026-12-05'));
    await first.send(adjust(2, 'late', '2026-12-09'));
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
