// What each journaled change did to its stock key, kept until the change is durable, then told
// to the main thread (live feed, read view, event publisher wake-up). Only durable state is ever
// told: notes of a failed write are dropped with it.
import { assert, type StockActor } from '../actors/index.js';
import { commitsInFlightCeiling, walPendingRecordsMax } from '../limits.js';
import { stockChangeOf, type DurableChanges, type StockChange } from './protocol.js';

interface ChangeNote {
  readonly sequence: number;
  readonly partition: number;
  readonly lsn: number;
  /** Undefined for a record on no stock key (a product's settings, a cart's decision). */
  readonly actor: StockActor | undefined;
  readonly onHand: number;
  readonly reserved: number;
  readonly version: number;
  readonly incoming: number;
  /** For a record that ends a hold: the hold's expires_at (Infinity otherwise). */
  readonly holdExpiresAtMs: number;
}

export class DurableNotes {
  private notes: ChangeNote[] = [];

  /**
   * A change was journaled with this sequence; `actor` is its key, as it stands after it;
   * `holdExpiresAtMs` the expires_at of the hold it ends, if it ends one.
   */
  add(
    sequence: number,
    partition: number,
    lsn: number,
    actor: StockActor | undefined,
    holdExpiresAtMs: number,
  ): void {
    // One note per row pending or in flight: bounded with them (each write in flight took at
    // most what was pending).
    const bound = (1 + commitsInFlightCeiling) * walPendingRecordsMax;
    assert(this.notes.length < bound, 'change notes over the bound');
    const onHand = actor?.onHand ?? 0;
    const reserved = actor?.reserved ?? 0;
    const version = actor?.version ?? 0;
    const incoming = actor?.incoming ?? 0;
    this.notes.push({
      sequence,
      partition,
      lsn,
      actor,
      onHand,
      reserved,
      version,
      incoming,
      holdExpiresAtMs,
    });
  }

  /**
   * The earliest expires_at of a hold ended by a change not yet durable: in the journal that
   * hold is still pending, so reads of durable state are exact only before this instant.
   */
  get earliestEndedHoldMs(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const note of this.notes) earliest = Math.min(earliest, note.holdExpiresAtMs);
    return earliest;
  }

  /** The changes durable up to `sequence`, each key's latest; undefined if none. */
  take(sequence: number): Omit<DurableChanges, 'readableUntilMs'> | undefined {
    let count = 0;
    while (count < this.notes.length && (this.notes[count] as ChangeNote).sequence <= sequence)
      count += 1;
    if (count === 0) return undefined;
    const done = this.notes.slice(0, count);
    this.notes = this.notes.slice(count);
    const heads = new Map<number, number>();
    const latest = new Map<StockActor, ChangeNote>();
    for (const note of done) {
      heads.set(note.partition, note.lsn);
      if (note.actor !== undefined) latest.set(note.actor, note);
    }
    const durableLsns: number[] = [];
    for (const [partition, lsn] of heads) durableLsns.push(partition, lsn);
    const stock: StockChange[] = [];
    for (const note of latest.values()) {
      const actor = note.actor as StockActor;
      const counts = [note.onHand, note.reserved, note.version, note.incoming] as const;
      const lots = actor.lots !== undefined;
      stock.push(stockChangeOf(actor.productId, actor.warehouseId, counts, lots));
    }
    return { durableLsns, stock };
  }

  /** A write failed: what it carried may not be durable, so none of it is ever told. */
  clear(): void {
    this.notes = [];
  }
}
