// The keys of a partition whose busy part (their hold and idempotency tables) has just emptied,
// kept for a while before they let it go.
//
// A key's busy part is made at its first hold and was dropped at its last. In a catalogue whose
// keys each hold a hold or none at a time, that made and dropped two split maps and their tables
// per hold (1.7 KB then); and whenever the hold lived through two scavenges (a checkout's does),
// all of it was promoted to the old generation, to die there. Kept, the tables are reused by the
// key's next hold: `promotion-sources.ts --cases partition-lifecycle --keys 10000 --partitions
// 128` promoted a tenth as much (bench/README.md, "Quiet keys keep their tables a while").
//
// So a key whose busy part empties joins the back of this ring, and lets its busy part go (if it
// is still empty then) when it reaches the front and the ring is full: memory stays bounded by the
// ring's room, and the keys that come back soonest are the ones that keep their tables. A key in
// the ring that gets busy again stays in its place; it is only let go if it has emptied again by
// the time it leaves.
import { assert } from './assert.js';

/** What the ring asks of a key. */
export interface QuietKey {
  /** Lets the key's busy part go if it is empty; it is no longer in the ring. */
  leaveQuiet(): void;
}

/**
 * Keys one partition keeps with their tables at most: about 70 KB a partition (1.1 KB a key; a
 * ledger's 256 partitions: 18 MB; `bench/micro/idle-key-heap.ts`), beside up to a million
 * finished holds each partition may retain.
 */
export const quietKeysMaxDefault = 64;

export class QuietKeys<K extends QuietKey> {
  /** The ring: `count` keys from `head` on, oldest first. */
  private readonly ring: (K | undefined)[];
  private head = 0;
  private count = 0;

  constructor(readonly room = quietKeysMaxDefault) {
    assert(Number.isInteger(room) && room >= 1, 'a quiet-key ring of room 1 at least');
    this.ring = new Array<K | undefined>(room).fill(undefined);
  }

  get size(): number {
    return this.count;
  }

  /** A key whose busy part has just emptied (and which is not in the ring): at the back. */
  push(key: K): void {
    const room = this.room;
    if (this.count === room) {
      const oldest = this.ring[this.head] as K;
      this.ring[this.head] = undefined;
      this.head = this.head + 1 === room ? 0 : this.head + 1;
      this.count -= 1;
      oldest.leaveQuiet();
    }
    const tail = this.head + this.count;
    this.ring[tail >= room ? tail - room : tail] = key;
    this.count += 1;
  }
}
