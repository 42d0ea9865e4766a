// The journal in memory, for the simulator: Postgres's part of the contract (rows keyed by
// (partition, lsn), a write either lands whole or not at all, queries on one connection answer
// in order) with every completion held until the simulator decides it: it lands, fails, or the
// connection is lost before or after the write reached the server.
//
// Writes on different connections land in whatever order the simulator completes them, so a
// partition's lsns can have a gap (a later group commit landed, an earlier one did not). A row
// counts as durable only once every lsn before it landed: `onLanded` is told of rows then, never
// of rows past a gap, which recovery must remove (`cutTail`) before the partition is written again.
import { isMovement } from '../../src/actors/index.js';
import {
  decodeRecord,
  leaseLostCode,
  type JournalConnection,
  type JournalReader,
  type MovementKey,
  type SnapshotRow,
  type SnapshotWrite,
  type WalPageRow,
  type WalRow,
} from '../../src/persistence/index.js';
import type { LeaseTable } from './lease-table.js';

export type Completion = 'ok' | 'error' | 'lost-before' | 'lost-after';

type OpKind = 'append' | 'snapshot' | 'latest' | 'tail' | 'ping' | 'cut';

interface Op {
  readonly kind: OpKind;
  readonly label: string;
  /** Applies the op to the journal and returns its result; throws on a key conflict. */
  readonly run: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

interface PendingConnect {
  readonly incarnation: number;
  readonly node: string | undefined;
  readonly resolve: (connection: JournalConnection) => void;
  readonly reject: (error: Error) => void;
}

export class SimJournalError extends Error {
  override readonly name = 'SimJournalError';
}

/** What Postgres raises when ledger_fence refuses a write (SQLSTATE LDG01, the lost partitions). */
export class SimLeaseLostError extends SimJournalError {
  readonly code = leaseLostCode;
  constructor(readonly detail: string) {
    super(`partition leases lost: ${detail}`);
  }
}

/** A row written by a node in a cluster without an epoch: JournalStore asserts on it. */
export class SimUnfencedWriteError extends SimJournalError {}

/** Rows of a page of `readAll` (the real store's are thousands; a few here, so pages split). */
const pageRows = 5;

export class MemoryJournal {
  private readonly wal = new Map<number, Map<number, Uint8Array>>();
  private readonly snapshots = new Map<number, Map<number, Uint8Array>>();
  /** Per partition, the last lsn up to which every row landed (no gap before it). */
  private readonly heads = new Map<number, number>();
  /** Rows landed past a gap: not durable (unless the gap fills), not told yet. */
  private readonly pastGap = new Map<number, Map<number, WalRow>>();
  /** The history beside the WAL: movement rows by key and version, and how often written. */
  private readonly movements = new Map<string, number>();
  /** Each row's place in the order rows were written, by `partition:lsn` (readAll's order). */
  private readonly writtenAt = new Map<string, number>();
  private writes = 0;
  /** Rows past a gap removed by recovery (a count for the runs' totals). */
  rowsCut = 0;
  private connections: SimConnection[] = [];
  private connects: PendingConnect[] = [];
  private nextConnectionId = 0;
  /** Told of every batch of rows that lands (the checker keeps durable versions from it). */
  onLanded: (rows: readonly WalRow[], node: string | undefined) => void = () => undefined;
  /** Told of every batch the fence refused: the node and the partitions it lost. */
  onFenced: (node: string, lost: readonly number[]) => void = () => undefined;
  /** Told of a node's row without an epoch (the real store asserts: a bug, not a refusal). */
  onUnfenced: (node: string, partition: number) => void = () => undefined;

  /** `leases`: a cluster's lease table; each node's appends are then fenced by it. */
  constructor(private readonly leases?: LeaseTable) {}

  /** `node`: the connection of a node in a cluster, whose every append is fenced. */
  connect(incarnation: number, node?: string): Promise<JournalConnection> {
    return new Promise((resolve, reject) =>
      this.connects.push({ incarnation, node, resolve, reject }),
    );
  }

  /** Connections whose head query waits for a completion. */
  busyConnections(): SimConnection[] {
    return this.connections.filter((connection) => connection.waiting > 0);
  }

  get pendingConnects(): number {
    return this.connects.length;
  }

  completeConnect(index: number, ok: boolean): string {
    const pending = this.connects.splice(index, 1)[0] as PendingConnect;
    if (!ok) {
      pending.reject(new SimJournalError('injected: could not connect'));
      return 'connect failed';
    }
    this.nextConnectionId += 1;
    const connection = new SimConnection(
      this,
      this.nextConnectionId,
      pending.incarnation,
      pending.node,
    );
    this.connections.push(connection);
    pending.resolve(connection);
    return `connect ok c${connection.id}`;
  }

  forget(connection: SimConnection): void {
    this.connections = this.connections.filter((candidate) => candidate !== connection);
  }

  /**
   * A shard incarnation died (kill -9): the queries its connections had at the server land or
   * not as `lands` decides (only a connection's head query can have reached the server), its
   * pending connects never complete, and nothing it started ever answers.
   */
  killIncarnation(incarnation: number, lands: (kind: OpKind) => boolean): string[] {
    const notes: string[] = [];
    for (const connection of this.connections.filter((c) => c.incarnation === incarnation)) {
      notes.push(...connection.die(lands));
    }
    this.connects = this.connects.filter((pending) => pending.incarnation !== incarnation);
    return notes;
  }

  // ---- What the journal holds (Postgres's side of each query). ----

  insertRows(rows: readonly WalRow[], node?: string): void {
    // The fence and the insert are one step, as they are one statement in Postgres (holding the
    // lease rows share-locked): no take-over can come between the check and the write.
    if (node !== undefined && this.leases !== undefined) this.fence(rows, node, this.leases);
    for (const row of rows) {
      if (this.wal.get(row.partition)?.has(row.lsn) === true) {
        throw new SimJournalError(
          `duplicate key value violates unique constraint: (${row.partition}, ${row.lsn})`,
        );
      }
    }
    for (const row of rows) {
      let partition = this.wal.get(row.partition);
      if (partition === undefined) this.wal.set(row.partition, (partition = new Map()));
      partition.set(row.lsn, Uint8Array.from(row.payload));
      this.writes += 1;
      this.writtenAt.set(`${row.partition}:${row.lsn}`, this.writes);
      if (row.movement !== undefined) {
        const name = movementName(row.movement);
        this.movements.set(name, (this.movements.get(name) ?? 0) + 1);
      }
      let waiting = this.pastGap.get(row.partition);
      if (waiting === undefined) this.pastGap.set(row.partition, (waiting = new Map()));
      waiting.set(row.lsn, row);
    }
    // Rows that now follow their partition's head without a gap became durable, in lsn order.
    const durable: WalRow[] = [];
    for (const partition of new Set(rows.map((row) => row.partition))) {
      const waiting = this.pastGap.get(partition) as Map<number, WalRow>;
      let head = this.heads.get(partition) ?? 0;
      for (let row = waiting.get(head + 1); row !== undefined; row = waiting.get(head + 1)) {
        waiting.delete(head + 1);
        durable.push(row);
        head += 1;
      }
      this.heads.set(partition, head);
    }
    if (durable.length > 0) this.onLanded(durable, node);
  }

  /** Removes the partition's rows after `lastLsn` and the movements named, as the store does. */
  cutRows(partition: number, lastLsn: number, movements: readonly MovementKey[]): number {
    const rows = this.wal.get(partition) ?? new Map<number, Uint8Array>();
    let removed = 0;
    for (const lsn of [...rows.keys()]) {
      if (lsn <= lastLsn) continue;
      rows.delete(lsn);
      this.writtenAt.delete(`${partition}:${lsn}`);
      this.pastGap.get(partition)?.delete(lsn);
      removed += 1;
    }
    for (const movement of movements) this.movements.delete(movementName(movement));
    // A cut below the durable head removes durable rows: the checks then find them missing.
    this.heads.set(partition, Math.min(this.heads.get(partition) ?? 0, lastLsn));
    this.rowsCut += removed;
    return removed;
  }

  /** Rows that lie past a gap in their partition now. */
  get rowsPastGap(): number {
    let count = 0;
    for (const waiting of this.pastGap.values()) count += waiting.size;
    return count;
  }

  /**
   * What is wrong with the journal's shape, if anything: a row past a gap, or a movement row
   * that is not its WAL row's exactly once (history a cut left behind, or one it took).
   */
  shapeProblems(): string[] {
    const problems: string[] = [];
    for (const [partition, waiting] of this.pastGap) {
      if (waiting.size > 0) problems.push(`partition ${partition}: rows past a gap remain`);
    }
    const expected = new Map<string, number>();
    for (const rows of this.wal.values()) {
      for (const payload of rows.values()) {
        const record = decodeRecord(payload);
        if (!isMovement(record)) continue;
        const name = movementName(record);
        expected.set(name, (expected.get(name) ?? 0) + 1);
      }
    }
    for (const [name, count] of this.movements) {
      if (expected.get(name) !== count) problems.push(`movement ${name} written ${count} times`);
    }
    for (const name of expected.keys()) {
      if (!this.movements.has(name)) problems.push(`movement ${name} missing`);
    }
    return problems;
  }

  private fence(rows: readonly WalRow[], node: string, leases: LeaseTable): void {
    const fenced = new Map<string, { partition: number; epoch: number }>();
    for (const row of rows) {
      if (row.epoch === undefined) {
        this.onUnfenced(node, row.partition);
        throw new SimUnfencedWriteError(`partition ${row.partition} written without a lease`);
      }
      fenced.set(`${row.partition}:${row.epoch}`, { partition: row.partition, epoch: row.epoch });
    }
    const lost = leases.fenceOf(node, [...fenced.values()]);
    // A partition under two epochs in one write: ledger_fence refuses it (one pair is not held).
    const partitions = new Set([...fenced.values()].map(({ partition }) => partition));
    if (lost.length > 0 || partitions.size !== fenced.size) {
      this.onFenced(node, lost);
      throw new SimLeaseLostError(lost.join(','));
    }
  }

  insertSnapshot(row: SnapshotWrite): void {
    let partition = this.snapshots.get(row.partition);
    if (partition === undefined) this.snapshots.set(row.partition, (partition = new Map()));
    if (!partition.has(row.lsn)) partition.set(row.lsn, Buffer.concat(row.blocks));
    // As the store does: keep the newest two.
    const lsns = [...partition.keys()].sort((a, b) => b - a);
    for (const old of lsns.slice(2)) partition.delete(old);
  }

  latestSnapshots(partitions: readonly number[]): Map<number, SnapshotRow> {
    const found = new Map<number, SnapshotRow>();
    for (const partition of partitions) {
      const stored = this.snapshots.get(partition);
      if (stored === undefined || stored.size === 0) continue;
      const lsn = Math.max(...stored.keys());
      found.set(partition, { partition, lsn, payload: stored.get(lsn) as Uint8Array });
    }
    return found;
  }

  /** The partition's WAL rows after `afterLsn`, in lsn order. */
  rowsAfter(partition: number, afterLsn: number): [number, Uint8Array][] {
    const rows = [...(this.wal.get(partition) ?? new Map<number, Uint8Array>())];
    return rows.filter(([lsn]) => lsn > afterLsn).sort((a, b) => a[0] - b[0]);
  }

  /**
   * The listed partitions' WAL rows in the order they were written, as Postgres reads a table in
   * its physical order: with several commits in flight, a later lsn may come first.
   */
  rowsInWriteOrder(partitions: readonly number[]): [number, number, Uint8Array][] {
    const rows: [number, number, Uint8Array][] = [];
    for (const partition of partitions) {
      for (const [lsn, payload] of this.wal.get(partition) ?? [])
        rows.push([partition, lsn, payload]);
    }
    const at = ([partition, lsn]: [number, number, Uint8Array]) =>
      this.writtenAt.get(`${partition}:${lsn}`) as number;
    return rows.sort((a, b) => at(a) - at(b));
  }

  /**
   * `rowsInWriteOrder` to `onRow`, in pages of a few rows (a page's end falls anywhere). A page's
   * rows lie in one buffer, as in a COPY chunk, each between bytes of no row (0xc1, which msgpack
   * never uses): a reader that took a row's range wrong would read them. Once the page has ended
   * its buffer is written over, as a real one may be reused.
   */
  readAll(
    partitions: readonly number[],
    onRow: WalPageRow,
    onPageEnd: () => void = () => undefined,
  ): number {
    const rows = this.rowsInWriteOrder(partitions);
    for (let first = 0; first < rows.length; first += pageRows) {
      const page = rows.slice(first, first + pageRows);
      const bytes = new Uint8Array(
        page.reduce((sum, [, , payload]) => sum + payload.length + 1, 1),
      );
      bytes.fill(0xc1);
      let start = 1;
      for (const [partition, lsn, payload] of page) {
        bytes.set(payload, start);
        onRow(partition, lsn, bytes, start, start + payload.length);
        start += payload.length + 1;
      }
      onPageEnd();
      bytes.fill(0xc1);
    }
    // And a last page with no rows, as a table's last blocks may be.
    onPageEnd();
    return rows.length;
  }

  /**
   * The rows after each partition's lsn in `tails`, in the order they were written, as the real
   * store gives them in no set order. Each lies in a buffer between bytes of no row, written over
   * once `onRow` returns: a reader that kept a view of a row would read 0xc1s.
   */
  readTails(tails: ReadonlyMap<number, number>, onRow: WalPageRow): number {
    const rows = this.rowsInWriteOrder([...tails.keys()]).filter(
      ([partition, lsn]) => lsn > (tails.get(partition) as number),
    );
    for (const [partition, lsn, payload] of rows) {
      const bytes = new Uint8Array(payload.length + 2).fill(0xc1);
      bytes.set(payload, 1);
      onRow(partition, lsn, bytes, 1, 1 + payload.length);
      bytes.fill(0xc1);
    }
    return rows.length;
  }

  /** A reader of what the journal holds now, as recovery reads it (no queue, no faults). */
  reader(): JournalReader {
    return {
      latestSnapshots: (partitions) => Promise.resolve(this.latestSnapshots(partitions)),
      readTails: (tails, onRow) => Promise.resolve(this.readTails(tails, onRow)),
      readAll: (partitions, onRow, onPageEnd) =>
        Promise.resolve(this.readAll(partitions, onRow, onPageEnd)),
    };
  }

  partitionsWithRows(): number[] {
    return [...this.wal.keys()].sort((a, b) => a - b);
  }

  get rowCount(): number {
    let count = 0;
    for (const partition of this.wal.values()) count += partition.size;
    return count;
  }
}

export class SimConnection implements JournalConnection {
  private queue: Op[] = [];
  private state: 'open' | 'dead' | 'closed' = 'open';

  constructor(
    private readonly journal: MemoryJournal,
    readonly id: number,
    readonly incarnation: number,
    readonly node?: string,
  ) {}

  get waiting(): number {
    return this.queue.length;
  }

  get head(): string {
    return this.queue[0]?.label ?? '';
  }

  get headKind(): OpKind | undefined {
    return this.queue[0]?.kind;
  }

  append(rows: readonly WalRow[]): Promise<void> {
    const copy = rows.map((row) => ({ ...row }));
    const label = `append ${copy.map((row) => `${row.partition}:${row.lsn}`).join(',')}`;
    return this.enqueue('append', label, () =>
      this.journal.insertRows(copy, this.node),
    ) as Promise<void>;
  }

  writeSnapshot(row: SnapshotWrite): Promise<void> {
    const label = `snapshot ${row.partition}@${row.lsn}`;
    return this.enqueue('snapshot', label, () => this.journal.insertSnapshot(row)) as Promise<void>;
  }

  latestSnapshots(partitions: readonly number[]): Promise<Map<number, SnapshotRow>> {
    return this.enqueue('latest', 'latest snapshots', () =>
      this.journal.latestSnapshots(partitions),
    ) as Promise<Map<number, SnapshotRow>>;
  }

  readTails(tails: ReadonlyMap<number, number>, onRow: WalPageRow): Promise<number> {
    const label = `tails ${[...tails].map(([partition, after]) => `${partition}>${after}`).join(',')}`;
    return this.enqueue('tail', label, () =>
      this.journal.readTails(tails, onRow),
    ) as Promise<number>;
  }

  readAll(
    partitions: readonly number[],
    onRow: WalPageRow,
    onPageEnd?: () => void,
  ): Promise<number> {
    return this.enqueue('tail', `all ${partitions.join(',')}`, () =>
      this.journal.readAll(partitions, onRow, onPageEnd),
    ) as Promise<number>;
  }

  ping(): Promise<void> {
    return this.enqueue('ping', 'ping', () => undefined) as Promise<void>;
  }

  cutTail(partition: number, lastLsn: number, movements: readonly MovementKey[]): Promise<number> {
    return this.enqueue('cut', `cut ${partition}>${lastLsn}`, () =>
      this.journal.cutRows(partition, lastLsn, movements),
    ) as Promise<number>;
  }

  close(): Promise<void> {
    this.fail(new SimJournalError('connection closed'), 'closed');
    return Promise.resolve();
  }

  private enqueue(kind: OpKind, label: string, run: () => unknown): Promise<unknown> {
    if (this.state !== 'open') {
      return Promise.reject(new SimJournalError(`connection ${this.state}: ${label}`));
    }
    return new Promise((resolve, reject) => this.queue.push({ kind, label, run, resolve, reject }));
  }

  /** Completes the head query as told; returns a line for the trace. */
  complete(completion: Completion): string {
    const op = this.queue.shift() as Op;
    const line = `c${this.id} ${op.label}: ${completion}`;
    if (completion === 'ok') {
      try {
        op.resolve(op.run());
      } catch (error) {
        op.reject(error as Error);
        return `${line} (${(error as Error).message})`;
      }
      return line;
    }
    if (completion === 'lost-after') {
      try {
        op.run();
      } catch {
        // The write did not land (a key conflict): it is lost all the same.
      }
    }
    if (completion === 'error') {
      op.reject(new SimJournalError(`injected: ${op.label} failed`));
      return line;
    }
    op.reject(new SimJournalError(`injected: connection lost (${op.label})`));
    this.fail(new SimJournalError('injected: connection lost'), 'dead');
    return line;
  }

  /** The incarnation died: the head query lands or not as `lands` says; nothing answers. */
  die(lands: (kind: OpKind) => boolean): string[] {
    const notes: string[] = [];
    const head = this.queue[0];
    if (head !== undefined && lands(head.kind)) {
      try {
        head.run();
        notes.push(`c${this.id} ${head.label}: landed at the crash`);
      } catch {
        notes.push(`c${this.id} ${head.label}: conflict at the crash`);
      }
    } else if (head !== undefined) {
      notes.push(`c${this.id} ${head.label}: lost at the crash`);
    }
    this.queue = [];
    this.state = 'dead';
    this.journal.forget(this);
    return notes;
  }

  private fail(error: Error, state: 'dead' | 'closed'): void {
    const queued = this.queue;
    this.queue = [];
    this.state = state;
    this.journal.forget(this);
    for (const op of queued) op.reject(error);
  }
}

export const movementName = (movement: MovementKey): string =>
  `${movement.productId}/${movement.warehouseId}@${movement.version}`;
