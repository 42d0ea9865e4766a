// The movement history's rows (ledger_movements): one row per stock key per group commit, not one
// per movement. A hot key's group commit holds dozens of its changes; as a row each, every one
// paid a heap tuple, an index entry and their WAL records, which more than doubled what a group
// commit cost Postgres (bench/README.md, "The movement history, a row per key and commit").
//
// A row's own columns are its first movement (the lowest version), as a row of one movement
// always was; `later` packs the movements after it, in version order: each one's record bytes,
// the key's counts after it and the caller's subject. A commit writes a run of its partitions'
// journals in order, and a key's versions grow along its partition's journal: so a key's
// movements come to a commit in version order, none of another commit falls between two of
// them, and the rows of a key hold disjoint runs of versions, ordered as their first versions
// are. A page read by `version < before ORDER BY version DESC` stays exact (history-store.ts).
import { Packr } from 'msgpackr';
import type { MovementColumns } from './journal-connection.js';

/** One later movement: its record's bytes, the counts after it, the subject ('' when none). */
export type LaterMovement = [
  payload: Uint8Array,
  onHand: number,
  reserved: number,
  incoming: number,
  subject: string,
];

/**
 * Movements of a row at most. A packed movement is its record's bytes and a few more, so a full
 * row is about 32 records' worth before Postgres compresses it.
 */
export const movementsPerRowMax = 32;

const packr = new Packr({ useRecords: false });

export function packLater(later: readonly LaterMovement[]): Uint8Array {
  return packr.pack(later);
}

/** `later` as stored; throws on bytes that are not a list of later movements. */
export function unpackLater(bytes: Uint8Array): LaterMovement[] {
  const later: unknown = packr.unpack(bytes);
  if (!Array.isArray(later) || !later.every(isLaterMovement)) {
    throw new Error('a movement row whose later movements are not a list of them');
  }
  return later;
}

function isLaterMovement(value: unknown): value is LaterMovement {
  return (
    Array.isArray(value) &&
    value.length === 5 &&
    value[0] instanceof Uint8Array &&
    typeof value[1] === 'number' &&
    typeof value[2] === 'number' &&
    typeof value[3] === 'number' &&
    typeof value[4] === 'string'
  );
}

/** A row being filled: its first movement, and the movements after it. */
export interface MovementRow {
  /** The 1-based position of the first movement's record among the commit's WAL rows. */
  readonly rowNumber: number;
  readonly first: MovementColumns;
  readonly later: LaterMovement[];
}

/**
 * A group commit's movements, grouped into rows by stock key in the order they come. A key's next
 * movement goes to its open row, or opens a new one once that has `movementsPerRowMax`.
 */
export class MovementRows {
  readonly rows: MovementRow[] = [];
  /** Each product's open rows, one per warehouse it has in this commit. */
  private readonly open = new Map<string, MovementRow[]>();

  add(rowNumber: number, movement: MovementColumns, payload: Uint8Array): void {
    let open = this.open.get(movement.productId);
    if (open === undefined) {
      open = [];
      this.open.set(movement.productId, open);
    }
    // A product's warehouses in one commit are few: searched in turn, newest first.
    let index = open.length - 1;
    while (index >= 0 && (open[index] as MovementRow).first.warehouseId !== movement.warehouseId) {
      index -= 1;
    }
    const row = open[index];
    if (row !== undefined && row.later.length + 1 < movementsPerRowMax) {
      const { onHand, reserved, incoming, subject } = movement;
      row.later.push([payload, onHand, reserved, incoming, subject]);
      return;
    }
    const started: MovementRow = { rowNumber, first: movement, later: [] };
    this.rows.push(started);
    if (index >= 0) open[index] = started;
    else open.push(started);
  }
}
