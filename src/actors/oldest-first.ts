// A bounded Map's entries forgotten oldest first: the decided carts, and on the HTTP thread the
// token cache and the rate limiter's buckets. A Map iterates in insertion order, so its first
// entry is the oldest; but a new iterator steps again over every entry deleted since the table
// was last rebuilt, a cost that grows with the table (bench/micro/bounded-maps.ts). So one
// iterator is kept from call to call: every entry before its place was forgotten through it or
// deleted, and entries set later come after it.
export class OldestFirst<K, V> {
  private cursor: Iterator<[K, V]> | undefined = undefined;
  /** The entry `peek` found and nothing forgot yet (the cursor is past it). */
  private found: [K, V] | undefined = undefined;

  constructor(private readonly map: Map<K, V>) {}

  /**
   * The oldest entry, or undefined when the map is empty. For a map whose entries leave only
   * through `forget` (the entry found stays the oldest until then); `forget` alone works for any.
   */
  peek(): [K, V] | undefined {
    this.found ??= this.advance();
    return this.found;
  }

  /** Deletes the oldest entry (none if the map is empty). */
  forget(): void {
    const oldest = this.found ?? this.advance();
    this.found = undefined;
    if (oldest !== undefined) this.map.delete(oldest[0]);
  }

  private advance(): [K, V] | undefined {
    if (this.map.size === 0) return undefined;
    this.cursor ??= this.map.entries();
    let next = this.cursor.next();
    if (next.done === true) {
      // The iterator ended while the map was empty; entries set since need a new one.
      this.cursor = this.map.entries();
      next = this.cursor.next();
    }
    return next.done === true ? undefined : next.value;
  }
}
