// A bounded Map's oldest entry forgotten to make room (the token cache, the rate limiter's
// buckets). A Map iterates in insertion order, so its first key is the oldest; but a new iterator
// steps again over every entry deleted since the table was last rebuilt, a cost that grows with
// the table (bench/micro/bounded-maps.ts). So one iterator is kept from call to call: every entry
// before its place was forgotten through it, and entries set later come after it.
export class OldestFirst<K> {
  private cursor: Iterator<K> | undefined = undefined;

  constructor(private readonly map: Map<K, unknown>) {}

  /** Deletes the oldest entry (none if the map is empty). */
  forget(): void {
    this.cursor ??= this.map.keys();
    const next = this.cursor.next();
    if (next.done === true) this.cursor = undefined;
    else this.map.delete(next.value);
  }
}
