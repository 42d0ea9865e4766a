// Values waiting for an answer that comes back with the id they were sent under: a shard's reply
// callbacks, a cluster forward's. A Map would do the bookkeeping, but not the collector's: V8
// links a Map's replaced hash table to its successor (for iterators still on it) and leaves the
// old table's entries in place. A table that churns (every request added, then deleted) is
// replaced every few dozen requests; once one of the chain is in the old generation, every later
// table, and every value they held, is reachable from it in each scavenge, and so is promoted,
// until a full collection. On the HTTP thread that was every request's callback and all it
// captured: about a tenth of what the thread allocated, copied twice
// (`bench/micro/promotion-sources.ts`). Here an id names a slot of one array, cleared when its
// value is taken: what it held is garbage at once, young or not.

/** Slots at most: an id keeps its slot in its low 20 bits. */
const slotBits = 20;
export const pendingSlotsMax = 2 ** slotBits;
/** Ids a slot is given in turn before they repeat (the highest id is 2^31 - 1). */
const generationsMax = 2 ** (31 - slotBits) - 1;

export class PendingSlots<T extends object> {
  private readonly values: (T | undefined)[] = [];
  /** The id each slot was last given. */
  private readonly ids: number[] = [];
  /** Free slots, the last freed on top (a busy slot stays warm). */
  private readonly free: number[] = [];
  private count = 0;

  /** Values waiting. */
  get size(): number {
    return this.count;
  }

  /**
   * Keeps `value` until `take`; returns its id, at least 1, unique among the waiting ones and
   * not given again before its slot has been given 2,046 others.
   */
  add(value: T): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.values.length;
      if (slot >= pendingSlotsMax) throw new RangeError('more pending values than slots');
      this.values.push(undefined);
      this.ids.push(slot);
    }
    const generation = Math.floor((this.ids[slot] ?? 0) / pendingSlotsMax);
    const id = (generation >= generationsMax ? 1 : generation + 1) * pendingSlotsMax + slot;
    this.values[slot] = value;
    this.ids[slot] = id;
    this.count += 1;
    return id;
  }

  /** The value waiting under `id`, left waiting; undefined if none does. */
  peek(id: number): T | undefined {
    const slot = id % pendingSlotsMax;
    return this.ids[slot] === id ? this.values[slot] : undefined;
  }

  /** The value waiting under `id`, removed; undefined if none does (taken, or never given). */
  take(id: number): T | undefined {
    const slot = id % pendingSlotsMax;
    const value = this.values[slot];
    if (value === undefined || this.ids[slot] !== id) return undefined;
    this.values[slot] = undefined;
    this.free.push(slot);
    this.count -= 1;
    return value;
  }

  /** Each waiting value with its id, in slot order; `visit` may take it. */
  forEach(visit: (value: T, id: number) => void): void {
    for (let slot = 0; slot < this.values.length; slot += 1) {
      const value = this.values[slot];
      if (value !== undefined) visit(value, this.ids[slot] ?? 0);
    }
  }

  /** The ids waiting, in slot order. */
  waiting(): number[] {
    const waiting: number[] = [];
    this.forEach((_value, id) => waiting.push(id));
    return waiting;
  }
}
