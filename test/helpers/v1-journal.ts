// Writes a journal as a hash v1 ledger would have (partitions by stock key), with the library's
// own pieces: the migrations a v1 ledger had (1 and 2), the layout at hash version 1,
// PartitionState applies routed by the v1 hash, records through encodeRecord into ledger_wal,
// and one snapshot mid-way, each written as a v1 ledger wrote it.
import pg from 'pg';
import {
  PartitionState,
  captureSnapshot,
  type Command,
  type ReserveCommand,
} from '../../src/actors/index.js';
import { retentionOf } from '../../src/config.js';
import {
  encodeRecord,
  encodeSnapshot,
  openLayout,
  type WalRow,
} from '../../src/persistence/index.js';
import { migrations } from '../../src/persistence/migrations.js';
import { mintReservationId, partitionOf, partitionOfV1 } from '../../src/router/index.js';

export const warehouses = ['wh-1', 'wh-2', 'wh-3'] as const;

export interface V1Journal {
  readonly partitions: number;
  readonly products: readonly string[];
  /** Every stock key written, as the HTTP API names them. */
  readonly keys: ReadonlyArray<{ product_id: string; warehouse_id: string }>;
  /** A hold still pending whose key hash v2 puts in another partition than its id names. */
  readonly movedPending: ReserveCommand;
  /** A hold confirmed under v1, on the same moved key. */
  readonly movedConfirmedId: string;
  /** An adjust made with an idempotency key. */
  readonly keyedAdjust: Extract<Command, { kind: 'adjust' }>;
  readonly walRows: number;
  readonly highestLsn: number;
}

/** Products whose first warehouse changes partition from hash v1 to v2, so holds need routes. */
function movingProducts(partitions: number, count: number, prefix: string): string[] {
  const products: string[] = [];
  for (let index = 0; products.length < count; index += 1) {
    const productId = `${prefix}-${index}`;
    if (partitionOfV1(productId, 'wh-1', partitions) !== partitionOf(productId, partitions))
      products.push(productId);
  }
  return products;
}

/** The schema a hash v1 ledger left: migrations 1 and 2 only (3 came with hash v2). */
async function migrateAsV1(client: pg.Client): Promise<void> {
  await client.query(
    `CREATE TABLE ledger_migrations (
       id integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`,
  );
  for (const migration of migrations.filter((candidate) => candidate.id <= 2)) {
    await client.query(migration.sql);
    await client.query('INSERT INTO ledger_migrations (id) VALUES ($1)', [migration.id]);
  }
}

class V1Writer {
  readonly states: PartitionState[];
  readonly rows: WalRow[] = [];
  private readonly lsns: number[];

  constructor(readonly partitions: number) {
    const retention = retentionOf(
      { retainFinishedSeconds: 86_400, retainFinishedMax: 1e6 },
      partitions,
    );
    this.states = Array.from({ length: partitions }, (_, p) => new PartitionState(p, retention));
    this.lsns = new Array<number>(partitions).fill(0);
  }

  partitionOfCommand(command: Command): number {
    if ('warehouseId' in command)
      return partitionOfV1(command.productId, command.warehouseId, this.partitions);
    if ('reservationId' in command) return Number.parseInt(command.reservationId.slice(0, 4), 16);
    throw new Error(`a v1 journal has no ${command.kind} command`);
  }

  apply(command: Command, nowMs: number): void {
    const partition = this.partitionOfCommand(command);
    const result = (this.states[partition] as PartitionState).apply(command, nowMs);
    if (!result.outcome.ok)
      throw new Error(`v1 ${command.kind}: ${JSON.stringify(result.outcome)}`);
    if (result.record === undefined) return;
    this.lsns[partition] = (this.lsns[partition] ?? 0) + 1;
    this.rows.push({
      partition,
      lsn: this.lsns[partition] as number,
      payload: encodeRecord(result.record),
    });
  }

  lsnOf(partition: number): number {
    return this.lsns[partition] ?? 0;
  }
}

function reserveOf(
  productId: string,
  warehouseId: string,
  hold: number,
  partitions: number,
): ReserveCommand {
  return {
    kind: 'reserve',
    productId,
    warehouseId,
    quantity: hold,
    idempotencyKey: `${productId}-${warehouseId}-hold-${hold}`.padEnd(16, '.'),
    ttlSeconds: 3600,
    reservationId: mintReservationId(partitionOfV1(productId, warehouseId, partitions)),
    requesterId: 'checkout-v1',
    traceId: `v1-${hold}`,
  };
}

export async function writeV1Journal(
  databaseUrl: string,
  partitions: number,
  prefix: string,
): Promise<V1Journal> {
  const products = movingProducts(partitions, 3, prefix);
  const writer = new V1Writer(partitions);
  const nowMs = Date.now() - 60_000;
  const keys = products.flatMap((product_id) =>
    warehouses.map((warehouse_id) => ({ product_id, warehouse_id })),
  );
  const keyedAdjust: Extract<Command, { kind: 'adjust' }> = {
    kind: 'adjust',
    productId: products[0] as string,
    warehouseId: 'wh-1',
    delta: 50,
    reason: 'opening stock',
    idempotencyKey: 'opening-stock-0000001',
    actorId: 'admin-v1',
    traceId: 'v1-adjust',
  };
  for (const { product_id, warehouse_id } of keys) {
    const first = product_id === keyedAdjust.productId && warehouse_id === keyedAdjust.warehouseId;
    writer.apply(
      first
        ? keyedAdjust
        : { ...keyedAdjust, productId: product_id, warehouseId: warehouse_id, idempotencyKey: '' },
      nowMs,
    );
  }
  // A snapshot of the first key's partition now: its recovery is then snapshot + tail.
  const snapshotPartition = partitionOfV1(keyedAdjust.productId, 'wh-1', partitions);
  const snapshot = {
    partition: snapshotPartition,
    lsn: writer.lsnOf(snapshotPartition),
    payload: encodeSnapshot(captureSnapshot(writer.states[snapshotPartition] as PartitionState)),
  };
  let movedPending: ReserveCommand | undefined;
  let movedConfirmedId = '';
  for (const { product_id, warehouse_id } of keys) {
    const holds = [1, 2, 3].map((hold) => reserveOf(product_id, warehouse_id, hold, partitions));
    for (const hold of holds) writer.apply(hold, nowMs + 1_000);
    writer.apply(
      { kind: 'confirm', reservationId: holds[0]?.reservationId as string, traceId: 'v1-c' },
      nowMs + 2_000,
    );
    writer.apply(
      { kind: 'release', reservationId: holds[1]?.reservationId as string, traceId: 'v1-r' },
      nowMs + 3_000,
    );
    if (product_id === products[0] && warehouse_id === 'wh-1') {
      movedPending = holds[2];
      movedConfirmedId = holds[0]?.reservationId as string;
    }
  }
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await migrateAsV1(client);
    await openLayout(client, { partitions, hashVersion: 1 }, true);
    // As a v1 ledger wrote its WAL: the rows alone (its schema has no movement history).
    await client.query(
      `INSERT INTO ledger_wal (partition, lsn, payload)
       SELECT * FROM unnest($1::integer[], $2::bigint[], $3::bytea[])`,
      [
        writer.rows.map((row) => row.partition),
        writer.rows.map((row) => row.lsn),
        writer.rows.map((row) => row.payload),
      ],
    );
    // As a v1 ledger wrote its snapshots: the payload in the row (parts came with migration 8).
    await client.query(
      'INSERT INTO ledger_snapshots (partition, lsn, payload) VALUES ($1, $2, $3)',
      [snapshot.partition, snapshot.lsn, snapshot.payload],
    );
  } finally {
    await client.end();
  }
  return {
    partitions,
    products,
    keys,
    movedPending: movedPending as ReserveCommand,
    movedConfirmedId,
    keyedAdjust,
    walRows: writer.rows.length,
    highestLsn: Math.max(...writer.rows.map((row) => row.lsn)),
  };
}
