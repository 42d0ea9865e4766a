// A partition's pending holds, kept off the collected heap.
//
// A flash sale keeps hundreds of thousands of holds pending on one key. As objects (a hold, its
// id and idempotency key strings, three hash table entries) they were most of what the hot
// shard's major collections marked: 347 bytes of heap a hold, and 130 ms of full collection for
// 600,000 of them, where the same holds as columns took 6 (bench/micro/pending-hold-heap.ts). So
// here a plain hold is no object: its numbers sit in typed arrays, its strings' code units in an
// arena (text-arena.ts), and it is found by id and by its key's idempotency key through hash
// indexes of numbers (hash-index.ts). Each hold has a slot; a reader gets a handle on the slot
// (`ColumnHold`), which reads and writes the columns. The few holds with more to them (a buyer, a
// reference, a cart, lots, a cart's pin) stay objects (`Hold`): they have a slot too, for the
// indexes and their key's list, and the object holds their fields.
//
// Slots come in chunks of 1,024 that never move; a freed slot is used again, the lowest chunk's
// first, so that the chunks at the end empty and go as the holds end. Nothing here works on all
// the holds at once: an index splits one bucket at a time, and an arena is compacted one chunk
// at a time.
//
// Each key's holds are a list through the slots, in the order made: its snapshot's order. A
// snapshot taken in slices (snapshot-capture.ts) opens a view of a key's list: the holds live
// when it opened. While a key has a view open, a hold that ends stays linked (gone, no longer
// found), so that the view can still walk past it; the view tells its holds from later ones by
// a clock that ticks at every hold made or gone. When the key's last view closes, its
// gone holds are unlinked and their slots freed, a few at each later change.
import { assert, fail } from './assert.js';
import { column, grown } from './columns.js';
import { HashIndex } from './hash-index.js';
import { plainHold, type Hold, type Pin, type Reservation } from './hold.js';
import { TextArena } from './text-arena.js';
import { hashText } from './text-hash.js';
import type { LotUnits, ReservationStatus } from './types.js';

/**
 * A key's holds in the store: a list through the slots, oldest first. It reads as a Map of them
 * by id (a hold it gives is for the command at hand: see `ColumnHold`).
 */
export class HoldList<Owner> implements ReadonlyMap<string, Reservation> {
  head = -1;
  tail = -1;
  /** Live holds (gone ones a view still walks past are not counted). */
  count = 0;
  /** Views open (snapshots in slices): while any is, an ending hold stays linked. */
  views = 0;
  /** Holds gone while a view was open: unlinked once none is. */
  gone: number[] | undefined = undefined;

  constructor(
    readonly store: PendingHolds<Owner>,
    readonly owner: Owner,
  ) {}

  /** Nothing left: no hold live or waiting to be unlinked. */
  get empty(): boolean {
    return this.count === 0 && this.gone === undefined;
  }

  get size(): number {
    return this.count;
  }

  get(id: string): Reservation | undefined {
    const slot = this.store.findId(id);
    return slot >= 0 && this.store.ownerAt(slot) === this.owner ? this.store.hold(slot) : undefined;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  *entries(): MapIterator<[string, Reservation]> {
    for (const slot of this.store.slots(this)) {
      const hold = this.store.hold(slot);
      yield [hold.id, hold];
    }
    return undefined;
  }

  *keys(): MapIterator<string> {
    for (const slot of this.store.slots(this)) yield this.store.textAt(slot, 0);
    return undefined;
  }

  *values(): MapIterator<Reservation> {
    for (const slot of this.store.slots(this)) yield this.store.hold(slot);
    return undefined;
  }

  [Symbol.iterator](): MapIterator<[string, Reservation]> {
    return this.entries();
  }

  forEach(visit: (hold: Reservation, id: string, map: ReadonlyMap<string, Reservation>) => void) {
    for (const [id, hold] of this.entries()) visit(hold, id, this);
  }
}

/** A view of a key's holds as they were when it opened; `close` it when done. */
export interface HoldsView {
  readonly size: number;
  /** The first hold of the view's, from `slot` on (-1 for the list's head); -1 past the end. */
  next(after: number): number;
  hold(slot: number): Reservation;
  close(): void;
}

/**
 * Ticks at each hold made or gone, in any store of this thread: views tell their holds by it, and
 * a hold's serial (the tick it was made at) is never another's, not even in a store made anew for
 * the same partition (the shard's expiry schedule may still name a hold of the one before).
 */
let clock = 0;

const chunkBits = 10;
const chunkSize = 1 << chunkBits;
const chunkMask = chunkSize - 1;
/** A partition's first chunk starts this small and grows to a full one (most have few holds). */
const firstCapacity = 16;
/** An emptied first chunk larger than this is made small again (idle partitions' memory). */
const idleCapacityMax = 64;
/** The arena's first room, in code units a slot: an id, an idempotency key and a requester. */
const charsPerSlot = 96;
/** Past this many holds at once, an emptied store makes its indexes anew (their memory goes). */
const idleIndexMax = 4096;
/** Gone holds unlinked at each change once their key's views have closed. */
const reapStep = 16;

// A slot's state.
const free = 0;
const live = 1;
const gone = 2;

const statusCodes: Readonly<Record<ReservationStatus, number>> = {
  PENDING: 0,
  CONFIRMED: 1,
  RELEASED: 2,
  EXPIRED: 3,
};
const statuses: readonly ReservationStatus[] = ['PENDING', 'CONFIRMED', 'RELEASED', 'EXPIRED'];

// Numbers a slot, at slot * numberStride.
const numberStride = 6;
const quantityAt = 0;
const createdAt = 1;
const expiresAt = 2;
const originalAt = 3;
const finishedAt = 4;
const confirmedAt = 5;
// String bounds a slot, at slot * boundStride: id, idempotency key and requester, contiguous.
const boundStride = 4;

class Chunk<Owner> {
  readonly owners: (Owner | undefined)[] = [];
  numbers: Float64Array;
  status: Uint8Array;
  state: Uint8Array;
  /** The previous and the next slot of the key's list (-1: none), at offset * 2. */
  links: Int32Array;
  /** The id's and the idempotency key's hashes, at offset * 2. */
  hashes: Int32Array;
  bounds: Int32Array;
  /** The clock when the hold was made, and when it went (Infinity while live), at offset * 2. */
  clocks: Float64Array;
  /** Bumped as the slot is freed: a handle on its earlier hold then fails. */
  generations: Int32Array;
  arena: TextArena;
  /** Offsets [0, length) have been used; the freed ones are on `freed`. */
  length = 0;
  readonly freed: number[] = [];
  /** Slots live or gone. */
  used = 0;

  constructor(
    public capacity: number,
    /** Where its slots' generations start: a chunk made again at a number starts past the last. */
    generation: number,
  ) {
    this.numbers = column(Float64Array, capacity * numberStride);
    this.status = column(Uint8Array, capacity);
    this.state = column(Uint8Array, capacity);
    this.links = column(Int32Array, capacity * 2);
    this.hashes = column(Int32Array, capacity * 2);
    this.bounds = column(Int32Array, capacity * boundStride);
    this.clocks = column(Float64Array, capacity * 2);
    this.generations = column(Int32Array, capacity).fill(generation);
    this.arena = new TextArena(capacity * charsPerSlot);
  }

  get hasRoom(): boolean {
    return this.freed.length > 0 || this.length < chunkSize;
  }

  /** Twice the room (up to a full chunk), what was written copied. */
  grow(): void {
    const capacity = Math.min(chunkSize, this.capacity * 2);
    this.numbers = grown(this.numbers, capacity * numberStride);
    this.status = grown(this.status, capacity);
    this.state = grown(this.state, capacity);
    this.links = grown(this.links, capacity * 2);
    this.hashes = grown(this.hashes, capacity * 2);
    this.bounds = grown(this.bounds, capacity * boundStride);
    this.clocks = grown(this.clocks, capacity * 2);
    const generation = this.generations[0] as number;
    this.generations = grown(this.generations, capacity);
    this.generations.fill(generation, this.capacity);
    this.capacity = capacity;
  }

  /**
   * Room in the arena for `length` more units: if need be, the used slots' strings moved to its
   * start, in place while they and `length` fit in half of it, else copied to a larger one.
   */
  arenaRoom(length: number): void {
    const arena = this.arena;
    if (arena.used + length <= arena.capacity) return;
    const { bounds, state } = this;
    // Each used slot by where its strings start: start * chunkSize + offset, in start order.
    const order = arenaOrder.subarray(0, this.length);
    let [count, kept] = [0, 0];
    for (let offset = 0; offset < this.length; offset += 1) {
      if (state[offset] === free) continue;
      const at = offset * boundStride;
      const start = bounds[at] as number;
      kept += (bounds[at + 3] as number) - start;
      order[count] = start * chunkSize + offset;
      count += 1;
    }
    // Half full at most after the move: a chunk that keeps its holds does not move at each one.
    // A larger arena is twice as large at least, up to a full chunk's first room: were it just
    // twice the strings kept, a chunk whose holds grow by a few between fills (a partition's
    // first, as a sale begins or a journal replays) made a new arena at each fill, fresh memory
    // for every string appended (bench/micro/recovery-replay.ts: the columns a replay of its
    // million records made, 266.5 MiB before, 235.8 after).
    // In start order, a run moved in place goes down to just past the runs moved before it.
    const wanted = (kept + length) * 2;
    const capacity =
      wanted <= arena.capacity
        ? arena.capacity
        : Math.max(wanted, Math.min(arena.capacity * 2, chunkSize * charsPerSlot));
    const target = capacity === arena.capacity ? arena : new TextArena(capacity);
    order.subarray(0, count).sort();
    let to = 0;
    for (let index = 0; index < count; index += 1) {
      const offset = (order[index] as number) % chunkSize;
      const at = offset * boundStride;
      const start = bounds[at] as number;
      const end = bounds[at + 3] as number;
      target.place(arena, start, end, to);
      for (let bound = at; bound < at + boundStride; bound += 1) {
        bounds[bound] = (bounds[bound] as number) + to - start;
      }
      to += end - start;
    }
    target.used = to;
    this.arena = target;
  }
}

/** The used slots of a chunk by where their strings start, as `arenaRoom` sorts them. */
const arenaOrder = new Float64Array(chunkSize);

/**
 * Where a finished hold goes as it leaves the store (the partition's retained holds): a hold kept
 * as an object as that object, a plain one read straight from the store's columns before its
 * slot is freed (`numberAt` with `holdNumber`, `statusAt`, `copyTexts`, `hashAt`), so that no
 * object or string is made for it.
 */
export interface FinishedHolds<Owner> {
  pushHold(owner: Owner, hold: Reservation): void;
  pushSlot(owner: Owner, store: PendingHolds<Owner>, slot: number): void;
}

/** A plain hold's numbers, as `numberAt` reads them. */
export const holdNumber = {
  quantity: quantityAt,
  createdAtMs: createdAt,
  expiresAtMs: expiresAt,
  originalExpiresAtMs: originalAt,
  finishedAtMs: finishedAt,
  confirmedQuantity: confirmedAt,
} as const;

/** What a hold of the store is made with (the `Reservation` fields a plain hold has). */
export interface HoldFields {
  readonly id: string;
  readonly quantity: number;
  readonly createdAtMs: number;
  readonly expiresAtMs: number;
  readonly originalExpiresAtMs: number;
  readonly idempotencyKey: string;
  readonly requesterId: string;
  readonly status: ReservationStatus;
  readonly finishedAtMs: number;
  readonly confirmedQuantity: number;
}

export class PendingHolds<Owner> {
  private chunks: Chunk<Owner>[] = [];
  /** Bit c of word c >> 5: chunk c has room (a freed slot, or offsets never used). */
  private open = new Int32Array(1);
  /** Holds live, over all keys. */
  private count = 0;

  /** Chunks made so far: a new chunk's generations start here. */
  private made = 0;
  /** The holds with more than a plain hold has, as objects, by slot. */
  private readonly objects = new Map<number, Hold>();
  private byId = new HashIndex();
  private byKey = new HashIndex();
  /** The most holds live since the indexes were made: large ones are made anew once all end. */
  private peak = 0;
  /** Lists whose views have all closed with gone holds still linked: unlinked a few at a time. */
  private reaping: HoldList<Owner>[] = [];
  // What a lookup or an insert is after, for the indexes' callbacks (no closure per call).
  private wantedId = '';
  private wantedOwner: Owner | undefined = undefined;
  private wantedKey = '';
  private duplicate = false;
  /** The slot `findId` found or `add` filled last (-1: none); checked live before use. */
  private lastFound = -1;
  private readonly idMatches = (slot: number): boolean => this.idIs(slot, this.wantedId);
  private readonly keyMatches = (slot: number): boolean =>
    this.isKeyOf(slot, this.wantedOwner as Owner, this.wantedKey);
  private readonly sameId = (slot: number): boolean => {
    if (this.idIs(slot, this.wantedId)) this.duplicate = true;
    return false;
  };

  /** Holds live, over all keys. */
  get size(): number {
    return this.count;
  }

  /** Slots in use (live, or gone but still linked for a view): for tests and measurements. */
  get slotsUsed(): number {
    return this.chunks.reduce((used, chunk) => used + chunk.used, 0);
  }

  /** Chunks kept (for tests: they go as the holds at the end go). */
  get chunkCount(): number {
    return this.chunks.length;
  }

  /** Chunks made since the store was: each new columns, a store's churn. */
  get chunksMade(): number {
    return this.made;
  }

  /**
   * Adds a hold to a key's list (its last) and returns its slot. `object`: a hold with more than
   * the plain fields, kept as that object (the fields are then read from it).
   */
  add(list: HoldList<Owner>, fields: HoldFields, object?: Hold): number {
    assert(list.store === this, "a list of another store's");
    this.reap();
    const owner = list.owner;
    const { id, idempotencyKey: key, requesterId } = fields;
    const slot = this.allocate();
    const chunk = this.chunks[slot >> chunkBits] as Chunk<Owner>;
    const offset = slot & chunkMask;
    // Room first: a compaction of the arena copies the slots in use, and this one is not yet.
    chunk.arenaRoom(id.length + key.length + requesterId.length);
    chunk.owners[offset] = owner;
    chunk.state[offset] = live;
    const arena = chunk.arena;
    const { bounds, hashes } = chunk;
    const at = offset * boundStride;
    bounds[at] = arena.used;
    hashes[offset * 2] = arena.append(id);
    bounds[at + 1] = arena.used;
    hashes[offset * 2 + 1] = arena.append(key);
    bounds[at + 2] = arena.used;
    arena.append(requesterId);
    bounds[at + 3] = arena.used;
    if (object === undefined) {
      const numbers = chunk.numbers;
      const n = offset * numberStride;
      numbers[n + quantityAt] = fields.quantity;
      numbers[n + createdAt] = fields.createdAtMs;
      numbers[n + expiresAt] = fields.expiresAtMs;
      numbers[n + originalAt] = fields.originalExpiresAtMs;
      numbers[n + finishedAt] = fields.finishedAtMs;
      numbers[n + confirmedAt] = fields.confirmedQuantity;
      chunk.status[offset] = statusCodes[fields.status];
    } else {
      this.objects.set(slot, object);
    }
    clock += 1;
    chunk.clocks[offset * 2] = clock;
    chunk.clocks[offset * 2 + 1] = Number.POSITIVE_INFINITY;
    // The list: last.
    const links = chunk.links;
    links[offset * 2] = list.tail;
    links[offset * 2 + 1] = -1;
    if (list.tail < 0) list.head = slot;
    else this.setLink(list.tail, 1, slot);
    list.tail = slot;
    list.count += 1;
    this.count += 1;
    if (this.count > this.peak) this.peak = this.count;
    // The indexes. An id already pending is a broken journal (the state is then discarded).
    this.wantedId = id;
    this.duplicate = false;
    this.byId.insert(hashes[offset * 2] as number, slot, this.sameId);
    if (this.duplicate) fail(`duplicate reservation id ${id}`);
    this.lastFound = slot;
    if (key !== '') {
      // A newer hold of the key's idempotency key replaces the older in the index, as in a Map.
      this.wantedOwner = owner;
      this.wantedKey = key;
      this.byKey.insert(hashes[offset * 2 + 1] as number, slot, this.keyMatches);
      this.wantedOwner = undefined;
    }
    return slot;
  }

  /** The slot of the live hold with this id, or -1. */
  findId(id: string): number {
    if (this.count === 0) return -1;
    // A command finds its hold more than once (a reserve's slot for its expiry, a finish's
    // hold and then its retirement): the last one found or made is compared first, unhashed.
    const last = this.lastFound;
    const chunk = this.chunks[last >> chunkBits];
    if (last >= 0 && chunk?.state[last & chunkMask] === live && this.idIs(last, id)) return last;
    this.wantedId = id;
    const slot = this.byId.find(hashText(id), this.idMatches);
    this.lastFound = slot;
    return slot;
  }

  /** The slot of `owner`'s live hold made with this idempotency key, or -1. */
  findKey(owner: Owner, key: string): number {
    if (this.count === 0 || key === '') return -1;
    this.wantedOwner = owner;
    this.wantedKey = key;
    const found = this.byKey.find(hashText(key), this.keyMatches);
    this.wantedOwner = undefined;
    return found;
  }

  /** The serial the slot's hold was made with: with the slot, it names that hold for good. */
  serialAt(slot: number): number {
    return this.chunkOf(slot).clocks[(slot & chunkMask) * 2] as number;
  }

  /** Whether the slot holds a live hold, the one made with this serial. */
  isLive(slot: number, serial: number): boolean {
    const chunk = this.chunks[slot >> chunkBits];
    const offset = slot & chunkMask;
    return chunk?.state[offset] === live && chunk.clocks[offset * 2] === serial;
  }

  ownerAt(slot: number): Owner {
    return this.chunkOf(slot).owners[slot & chunkMask] as Owner;
  }

  /** The hold in a slot (a gone one too, for a view): its object, or a handle on its columns. */
  hold(slot: number): Reservation {
    const chunk = this.chunkOf(slot);
    const offset = slot & chunkMask;
    assert(chunk.state[offset] !== free, `no hold in slot ${slot}`);
    return (
      this.objects.get(slot) ?? new ColumnHold(this, slot, chunk.generations[offset] as number)
    );
  }

  /** The slot's hold if it is kept as an object (`hold` gives the same), else undefined. */
  objectAt(slot: number): Hold | undefined {
    return this.objects.get(slot);
  }

  /** A live hold leaves its key's list (unlinked, or kept linked for an open view). */
  remove(list: HoldList<Owner>, slot: number): void {
    const chunk = this.chunkOf(slot);
    const offset = slot & chunkMask;
    assert(chunk.state[offset] === live, `no live hold in slot ${slot}`);
    this.byId.remove(chunk.hashes[offset * 2] as number, slot);
    const bounds = chunk.bounds;
    if ((bounds[offset * boundStride + 2] as number) > (bounds[offset * boundStride + 1] as number))
      this.byKey.remove(chunk.hashes[offset * 2 + 1] as number, slot);
    list.count -= 1;
    this.count -= 1;
    clock += 1;
    if (list.views > 0) {
      chunk.state[offset] = gone;
      chunk.clocks[offset * 2 + 1] = clock;
      (list.gone ??= []).push(slot);
    } else {
      this.unlink(list, slot);
      this.release(slot);
    }
    this.reap();
  }

  /**
   * `list`'s live holds, oldest first. The hold just given may end before the next is asked for;
   * no other may (unlike a Map's iteration).
   */
  *slots(list: HoldList<Owner>): Generator<number, undefined> {
    for (let slot = this.liveFrom(list.head); slot >= 0;) {
      // The next live one, taken before this one is given: it may end meanwhile, and a gone one
      // between them may be unlinked then (`reap`).
      const next = this.liveFrom(this.link(slot, 1));
      yield slot;
      slot = next;
    }
    return undefined;
  }

  /** The first live slot of a list from `slot` on (-1 past its end). */
  private liveFrom(slot: number): number {
    let at = slot;
    while (at >= 0 && this.chunkOf(at).state[at & chunkMask] !== live) at = this.link(at, 1);
    return at;
  }

  /** Every live hold's slot, over all keys (in no order that means anything). */
  *allSlots(): Generator<number, undefined> {
    for (let number = 0; number < this.chunks.length; number += 1) {
      const chunk = this.chunks[number] as Chunk<Owner>;
      for (let offset = 0; offset < chunk.length; offset += 1) {
        if (chunk.state[offset] === live) yield (number << chunkBits) + offset;
      }
    }
    return undefined;
  }

  /** Every live hold's id, over all keys (in no order that means anything). */
  *ids(): Generator<string, undefined> {
    for (const slot of this.allSlots()) yield this.textAt(slot, 0);
    return undefined;
  }

  /** Opens a view of `list` as it is now: its live holds, whatever happens to them meanwhile. */
  view(list: HoldList<Owner>): HoldsView {
    list.views += 1;
    const openedAt = clock;
    const size = list.count;
    let open = true;
    return {
      size,
      next: (after) => {
        assert(open, 'a closed view read');
        for (let slot = after < 0 ? list.head : this.link(after, 1); slot >= 0;) {
          const chunk = this.chunkOf(slot);
          const offset = slot & chunkMask;
          // The list is in the order made: what follows a later hold is later too.
          if ((chunk.clocks[offset * 2] as number) > openedAt) return -1;
          if ((chunk.clocks[offset * 2 + 1] as number) > openedAt) return slot;
          slot = chunk.links[offset * 2 + 1] as number;
        }
        return -1;
      },
      hold: (slot) => this.hold(slot),
      close: () => {
        if (!open) return;
        open = false;
        list.views -= 1;
        if (list.views === 0 && list.gone !== undefined) this.reaping.push(list);
      },
    };
  }

  // Column reads and writes, for `ColumnHold` (its slot checked there).

  generationAt(slot: number): number {
    return this.chunkOf(slot).generations[slot & chunkMask] as number;
  }

  numberAt(slot: number, field: number): number {
    return this.chunkOf(slot).numbers[(slot & chunkMask) * numberStride + field] as number;
  }

  setNumber(slot: number, field: number, value: number): void {
    this.chunkOf(slot).numbers[(slot & chunkMask) * numberStride + field] = value;
  }

  statusAt(slot: number): ReservationStatus {
    return statuses[this.chunkOf(slot).status[slot & chunkMask] as number] as ReservationStatus;
  }

  setStatus(slot: number, status: ReservationStatus): void {
    this.chunkOf(slot).status[slot & chunkMask] = statusCodes[status];
  }

  /** The hash of the slot's id (0) or idempotency key (1), as `hashText` gives it. */
  hashAt(slot: number, which: 0 | 1): number {
    return this.chunkOf(slot).hashes[(slot & chunkMask) * 2 + which] as number;
  }

  /**
   * Copies the slot's id, idempotency key and requester (one run of units) to the end of
   * `arena`, and their four bounds there to `bounds` from `at`.
   */
  copyTexts(slot: number, arena: TextArena, bounds: Int32Array, at: number): void {
    const chunk = this.chunkOf(slot);
    const from = (slot & chunkMask) * boundStride;
    const start = chunk.bounds[from] as number;
    const moved = arena.copy(chunk.arena, start, chunk.bounds[from + 3] as number) - start;
    for (let bound = 0; bound < boundStride; bound += 1) {
      bounds[at + bound] = (chunk.bounds[from + bound] as number) + moved;
    }
  }

  /** String `which` of the slot: 0 the id, 1 the idempotency key, 2 the requester. */
  textAt(slot: number, which: 0 | 1 | 2): string {
    const chunk = this.chunkOf(slot);
    const at = (slot & chunkMask) * boundStride + which;
    return chunk.arena.text(chunk.bounds[at] as number, chunk.bounds[at + 1] as number);
  }

  private chunkOf(slot: number): Chunk<Owner> {
    const chunk = this.chunks[slot >> chunkBits];
    if (chunk === undefined) fail(`slot ${slot} is not here`);
    return chunk;
  }

  private idIs(slot: number, id: string): boolean {
    const chunk = this.chunkOf(slot);
    const at = (slot & chunkMask) * boundStride;
    return chunk.arena.equals(chunk.bounds[at] as number, chunk.bounds[at + 1] as number, id);
  }

  private isKeyOf(slot: number, owner: Owner, key: string): boolean {
    const chunk = this.chunkOf(slot);
    const offset = slot & chunkMask;
    if (chunk.owners[offset] !== owner) return false;
    const at = offset * boundStride + 1;
    return chunk.arena.equals(chunk.bounds[at] as number, chunk.bounds[at + 1] as number, key);
  }

  /** The previous (0) or next (1) slot of the slot's list. */
  private link(slot: number, which: 0 | 1): number {
    return this.chunkOf(slot).links[(slot & chunkMask) * 2 + which] as number;
  }

  private setLink(slot: number, which: 0 | 1, to: number): void {
    this.chunkOf(slot).links[(slot & chunkMask) * 2 + which] = to;
  }

  private unlink(list: HoldList<Owner>, slot: number): void {
    const previous = this.link(slot, 0);
    const next = this.link(slot, 1);
    if (previous < 0) list.head = next;
    else this.setLink(previous, 1, next);
    if (next < 0) list.tail = previous;
    else this.setLink(next, 0, previous);
  }

  /** A free slot: the lowest chunk with room's, a new chunk's if none has. */
  private allocate(): number {
    let number = -1;
    const open = this.open;
    for (let word = 0; word < open.length; word += 1) {
      const bits = open[word] as number;
      if (bits !== 0) {
        number = (word << 5) + 31 - Math.clz32(bits & -bits);
        break;
      }
    }
    if (number < 0) number = this.newChunk();
    const chunk = this.chunks[number] as Chunk<Owner>;
    let offset = chunk.freed.pop();
    if (offset === undefined) {
      offset = chunk.length;
      chunk.length += 1;
      while (offset >= chunk.capacity) chunk.grow();
    }
    chunk.used += 1;
    if (!chunk.hasRoom) this.markOpen(number, false);
    return (number << chunkBits) + offset;
  }

  private newChunk(): number {
    const number = this.chunks.length;
    this.chunks.push(this.madeChunk(number === 0 ? firstCapacity : chunkSize));
    if (number >> 5 >= this.open.length) {
      const open = new Int32Array(this.open.length * 2);
      open.set(this.open);
      this.open = open;
    }
    this.markOpen(number, true);
    return number;
  }

  private madeChunk(capacity: number): Chunk<Owner> {
    this.made += 1;
    return new Chunk<Owner>(capacity, this.made << 20);
  }

  private markOpen(number: number, room: boolean): void {
    const bit = 1 << (number & 31);
    const word = number >> 5;
    this.open[word] = room ? (this.open[word] as number) | bit : (this.open[word] as number) & ~bit;
  }

  /**
   * Frees an unlinked slot. Chunks emptied at the end go but one, kept as a spare: a count going
   * up and down across a chunk's edge would otherwise make and drop a chunk each time (and a
   * dropped chunk's columns wait for a collection: columns.ts). All empty, the first alone stays.
   */
  private release(slot: number): void {
    const number = slot >> chunkBits;
    const chunk = this.chunkOf(slot);
    const offset = slot & chunkMask;
    chunk.state[offset] = free;
    chunk.owners[offset] = undefined;
    chunk.generations[offset] = ((chunk.generations[offset] as number) + 1) | 0;
    this.objects.delete(slot);
    chunk.freed.push(offset);
    chunk.used -= 1;
    this.markOpen(number, true);
    if (chunk.used > 0) return;
    const chunks = this.chunks;
    let end = chunks.length;
    while (end > 1 && (chunks[end - 1] as Chunk<Owner>).used === 0) end -= 1;
    // [0, end) ends with the last chunk in use (or is the first alone, all empty).
    const keep = (chunks[end - 1] as Chunk<Owner>).used > 0 ? Math.min(end + 1, chunks.length) : 1;
    while (chunks.length > keep) {
      chunks.pop();
      this.markOpen(chunks.length, false);
    }
    const first = chunks[0] as Chunk<Owner>;
    if (chunks.length > 1 || first.used > 0) return;
    // Nothing left: an index never shrinks, and one that held a flash sale's holds would keep its
    // buckets (tens of bytes a hold) for good; nor would a full first chunk.
    if (first.capacity > idleCapacityMax) {
      this.chunks[0] = this.madeChunk(firstCapacity);
      this.markOpen(0, true);
    }
    if (this.peak > idleIndexMax) {
      this.byId = new HashIndex();
      this.byKey = new HashIndex();
      this.peak = 0;
    }
  }

  /** Unlinks a few gone holds of lists whose views have all closed. */
  private reap(): void {
    let budget = reapStep;
    while (budget > 0 && this.reaping.length > 0) {
      const list = this.reaping[this.reaping.length - 1] as HoldList<Owner>;
      const goneSlots = list.gone;
      if (list.views > 0 || goneSlots === undefined) {
        // Viewed again (its gone holds wait for the new views to close), or reaped already.
        this.reaping.pop();
        continue;
      }
      while (budget > 0 && goneSlots.length > 0) {
        const slot = goneSlots.pop() as number;
        this.unlink(list, slot);
        this.release(slot);
        budget -= 1;
      }
      if (goneSlots.length === 0) {
        list.gone = undefined;
        this.reaping.pop();
      }
    }
  }
}

/**
 * A plain hold, read and written in its slot's columns. Made for each lookup and dropped after
 * the command: a handle kept past its hold's end fails on its next use, never reads another's.
 */
export class ColumnHold<Owner> implements Reservation {
  constructor(
    private readonly store: PendingHolds<Owner>,
    readonly slot: number,
    private readonly generation: number,
  ) {}

  private at(): number {
    if (this.store.generationAt(this.slot) !== this.generation) {
      fail(`a handle on slot ${this.slot} read after its hold ended`);
    }
    return this.slot;
  }

  get id(): string {
    return this.store.textAt(this.at(), 0);
  }

  get idempotencyKey(): string {
    return this.store.textAt(this.at(), 1);
  }

  get requesterId(): string {
    return this.store.textAt(this.at(), 2);
  }

  get quantity(): number {
    return this.store.numberAt(this.at(), quantityAt);
  }

  get createdAtMs(): number {
    return this.store.numberAt(this.at(), createdAt);
  }

  get expiresAtMs(): number {
    return this.store.numberAt(this.at(), expiresAt);
  }

  set expiresAtMs(ms: number) {
    this.store.setNumber(this.at(), expiresAt, ms);
  }

  get originalExpiresAtMs(): number {
    return this.store.numberAt(this.at(), originalAt);
  }

  get finishedAtMs(): number {
    return this.store.numberAt(this.at(), finishedAt);
  }

  set finishedAtMs(ms: number) {
    this.store.setNumber(this.at(), finishedAt, ms);
  }

  get confirmedQuantity(): number {
    return this.store.numberAt(this.at(), confirmedAt);
  }

  set confirmedQuantity(units: number) {
    this.store.setNumber(this.at(), confirmedAt, units);
  }

  get status(): ReservationStatus {
    return this.store.statusAt(this.at());
  }

  set status(status: ReservationStatus) {
    this.store.setStatus(this.at(), status);
  }

  get buyerId(): string {
    return '';
  }

  get reference(): string {
    return '';
  }

  get cartId(): string {
    return '';
  }

  get lots(): readonly LotUnits[] | undefined {
    return undefined;
  }

  get pin(): Pin | undefined {
    return undefined;
  }

  set pin(pin: Pin | undefined) {
    // Only a cart's hold is pinned, and a cart's hold is an object.
    if (pin !== undefined) fail(`a pin on plain hold ${this.id}`);
  }

  /** The hold as a plain object, every field its own property (tests, diagnostics, a copy). */
  toJSON(): Reservation {
    return plainHold(this);
  }
}
