// A Shard driven directly, without a worker thread: its journal in memory (every write lands at
// once), its clock set by the test, its replies kept by request id.
import type { Command, StockView } from '../../src/actors/index.js';
import type { Clock } from '../../src/clock.js';
import {
  decodeRecord,
  type JournalConnection,
  type SnapshotRow,
  type WalRow,
} from '../../src/persistence/index.js';
import type { ShardReply } from '../../src/shards/index.js';
import { Shard } from '../../src/shards/shard.js';
import { roomyRetention } from './actor-fixtures.js';

/** A journal in memory whose every write lands at once. */
export class InstantJournal {
  readonly wal = new Map<number, Uint8Array>();
  readonly snapshots: SnapshotRow[] = [];

  connection(): JournalConnection {
    return {
      append: async (rows: readonly WalRow[]) => {
        for (const row of rows) this.wal.set(row.lsn, Uint8Array.from(row.payload));
      },
      writeSnapshot: async ({ partition, lsn, blocks }) => {
        this.snapshots.push({ partition, lsn, payload: Buffer.concat(blocks) });
      },
      latestSnapshots: async () => {
        const latest = this.snapshots.at(-1);
        return latest === undefined ? new Map() : new Map([[latest.partition, latest]]);
      },
      // One partition here (the harness's 0), its rows in the order they were written.
      readTails: async (tails, onRow) => {
        const afterLsn = tails.get(0);
        if (afterLsn === undefined) return 0;
        let rows = 0;
        for (const [lsn, payload] of this.wal) {
          if (lsn <= afterLsn) continue;
          onRow(0, lsn, payload, 0, payload.length);
          rows += 1;
        }
        return rows;
      },
      readAll: async (partitions, onRow, onPageEnd) => {
        if (!partitions.includes(0)) return 0;
        for (const [lsn, payload] of this.wal) onRow(0, lsn, payload, 0, payload.length);
        onPageEnd?.();
        return this.wal.size;
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

export class ShardHarness {
  nowMs: number;
  private readonly replies = new Map<number, ShardReply>();
  private nextId = 1;
  readonly shard: Shard;

  /**
   * `monotonic`: the shard's duration clock; by default the test's wall clock (`nowMs`), so no
   * time passes within a turn unless the test says so.
   */
  constructor(journal: InstantJournal, startMs: number, monotonic?: () => number) {
    this.nowMs = startMs;
    const clock: Clock = {
      now: () => this.nowMs,
      monotonic: monotonic ?? (() => this.nowMs),
      defer: (task) => void setImmediate(task),
      sleep: () => turn().then(() => undefined),
    };
    this.shard = new Shard(
      {
        shard: 0,
        partitions: [0],
        retention: roomyRetention,
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
