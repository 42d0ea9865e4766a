// What applying one command to a partition gives back: the outcome, and the record(s) of the
// change with the stock keys they changed. Its own file, so the partition and the cart work it
// hands carts to both speak it without importing each other.
import type { StockActor } from './stock-actor.js';
import type { JournalRecord, Outcome } from './types.js';

/** One record of a change and the stock key it changed (none for product and cart records). */
export interface Write {
  readonly record: JournalRecord;
  readonly actor: StockActor | undefined;
}

export interface ApplyResult {
  readonly outcome: Outcome;
  /** The change's record when it is one record on one key (the common case). */
  readonly record: JournalRecord | undefined;
  /** The actor whose state the outcome observed; undefined when no stock key was involved. */
  readonly actor: StockActor | undefined;
  /**
   * A change of several records (a cart): journaled as one group, all durable or none, in this
   * order; `record` is then undefined. Also every key the outcome observed.
   */
  readonly writes?: readonly Write[];
  readonly observed?: readonly StockActor[];
}
