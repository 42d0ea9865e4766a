// What a partition retains of finished business, oldest first: its finished holds, kept whole so
// that reads, idempotent retries and snapshots still answer for them until retention forgets
// them, and its adjusts' idempotency keys, kept only to know when to forget their memos.
//
// A day of a hot key retains hundreds of thousands of holds. As objects (each with its id and
// idempotency key strings and three map entries) they were most of a partition's heap, and the
// garbage collector copied every one of them twice as it grew: recovery replayed at half the
// speed it does with nothing retained (bench/micro/recovery-replay.ts --retain none). So here they
// are no objects: their numbers in typed arrays, their strings' UTF-16 code units in one arena,
// found by id and by idempotency key through open-addressing tables of their own. A hold becomes
// an object again only when a read or a retry asks for it (`hold`).
//
// The columns form one generation: entries are appended, never changed, and forgetting the oldest
// only moves the head. When a generation is full a new one is made of the live entries only, so a
// snapshot taken in slices reads the generation it noted (`noted`) whatever happens meanwhile.
import { assert } from './assert.js';
import type { Reservation, StockActor } from './stock-actor.js';
import type { LotUnits, ReservationStatus } from './types.js';

/** The hold's fields beyond the common ones, for the few holds that have any. */
interface Extras {
  readonly buyerId: string;
  readonly reference: string;
  readonly cartId: string;
  readonly lots: readonly LotUnits[] | undefined;
}

/** The status byte: 0 marks an adjust's idempotency key, the rest a finished hold. */
const statuses: readonly (ReservationStatus | '')[] = ['', 'CONFIRMED', 'RELEASED', 'EXPIRED'];
const adjustEntry = 0;

function statusCode(status: ReservationStatus): number {
  switch (status) {
    case 'CONFIRMED':
      return 1;
    case 'RELEASED':
      return 2;
    case 'EXPIRED':
      return 3;
    default:
      throw new Error(`a ${status} hold retained as finished`);
  }
}

// Numbers per entry, in `numbers` at index * numberStride.
const numberStride = 6;
const [atOffset, quantityOffset, createdOffset, expiresOffset, originalOffset, confirmedOffset] = [
  0, 1, 2, 3, 4, 5,
];
// String bounds per entry, in `bounds` at index * boundStride: the id (empty for an adjust key),
// the idempotency key and the requester are contiguous in the arena, so four offsets bound them.
const boundStride = 4;
// The id's and the key's hashes, in `hashes` at index * 2: made as the strings are copied in, so
// neither a new generation's tables nor forgetting reads the strings again.
const hashStride = 2;

const firstCapacity = 64;
const firstChars = 4096;

/** One generation's columns, indexed from its first entry (sequence number `base`). */
export class RetainedColumns {
  readonly actors: StockActor[] = [];
  readonly numbers: Float64Array;
  readonly status: Uint8Array;
  readonly bounds: Int32Array;
  readonly hashes: Int32Array;
  /** The arena: it may be replaced by a larger copy; what an entry wrote never changes. */
  chars: Uint16Array;
  charsUsed = 0;
  readonly extras = new Map<number, Extras>();
  /** Entries written: indexes [0, length). */
  length = 0;

  constructor(
    readonly base: number,
    readonly capacity: number,
    chars: number,
  ) {
    this.numbers = new Float64Array(capacity * numberStride);
    this.status = new Uint8Array(capacity);
    this.bounds = new Int32Array(capacity * boundStride);
    this.hashes = new Int32Array(capacity * hashStride);
    this.chars = new Uint16Array(chars);
  }

  actorAt(index: number): StockActor {
    return this.actors[index] as StockActor;
  }

  atMsAt(index: number): number {
    return this.numbers[index * numberStride + atOffset] as number;
  }

  isHold(index: number): boolean {
    return this.status[index] !== adjustEntry;
  }

  /** The hold's id ('' for an adjust key). */
  idAt(index: number): string {
    const at = index * boundStride;
    return this.text(this.bounds[at] as number, this.bounds[at + 1] as number);
  }

  /** The hold's idempotency key, or the adjust's. */
  keyAt(index: number): string {
    const at = index * boundStride;
    return this.text(this.bounds[at + 1] as number, this.bounds[at + 2] as number);
  }

  /** The finished hold at `index`, as an object of its own (changing it changes nothing here). */
  holdAt(index: number): Reservation {
    const status = statuses[this.status[index] as number];
    assert(status !== undefined && status !== '', 'an adjust key read as a hold');
    const n = index * numberStride;
    const at = index * boundStride;
    const numbers = this.numbers;
    const extras = this.extras.get(index);
    const hold: Reservation = {
      id: this.idAt(index),
      quantity: numbers[n + quantityOffset] as number,
      createdAtMs: numbers[n + createdOffset] as number,
      expiresAtMs: numbers[n + expiresOffset] as number,
      originalExpiresAtMs: numbers[n + originalOffset] as number,
      idempotencyKey: this.keyAt(index),
      requesterId: this.text(this.bounds[at + 2] as number, this.bounds[at + 3] as number),
      buyerId: extras?.buyerId ?? '',
      reference: extras?.reference ?? '',
      cartId: extras?.cartId ?? '',
      status,
      finishedAtMs: numbers[n + atOffset] as number,
      confirmedQuantity: numbers[n + confirmedOffset] as number,
      pin: undefined,
    };
    if (extras?.lots !== undefined) hold.lots = extras.lots;
    return hold;
  }

  /** Whether the arena's code units [start, end) are `text`'s. */
  equals(start: number, end: number, text: string): boolean {
    if (end - start !== text.length) return false;
    const chars = this.chars;
    for (let index = 0; index < text.length; index += 1) {
      if (chars[start + index] !== text.charCodeAt(index)) return false;
    }
    return true;
  }

  text(start: number, end: number): string {
    let text = '';
    // fromCharCode takes its arguments on the stack: long strings go in pieces.
    for (let from = start; from < end; from += 4096) {
      const piece = this.chars.subarray(from, Math.min(end, from + 4096));
      // apply takes the typed array as it is; a spread would go through its iterator.
      text += String.fromCharCode.apply(null, piece as unknown as number[]);
    }
    return text;
  }

  /** Appends the strings to the arena; their bounds and the id's and key's hashes go to `index`. */
  writeStrings(index: number, id: string, key: string, requesterId: string): void {
    const needed = this.charsUsed + id.length + key.length + requesterId.length;
    if (needed > this.chars.length) {
      const grown = new Uint16Array(Math.max(needed, this.chars.length * 2));
      grown.set(this.chars.subarray(0, this.charsUsed));
      this.chars = grown;
    }
    const [chars, bounds, hashes] = [this.chars, this.bounds, this.hashes];
    const at = index * boundStride;
    let used = this.charsUsed;
    bounds[at] = used;
    let hash = hashSeed;
    for (let char = 0; char < id.length; char += 1) {
      const code = id.charCodeAt(char);
      chars[used + char] = code;
      hash = Math.imul(hash ^ code, hashPrime);
    }
    hashes[index * hashStride] = hash;
    used += id.length;
    bounds[at + 1] = used;
    hash = hashSeed;
    for (let char = 0; char < key.length; char += 1) {
      const code = key.charCodeAt(char);
      chars[used + char] = code;
      hash = Math.imul(hash ^ code, hashPrime);
    }
    hashes[index * hashStride + 1] = hash;
    used += key.length;
    bounds[at + 2] = used;
    for (let char = 0; char < requesterId.length; char += 1) {
      chars[used + char] = requesterId.charCodeAt(char);
    }
    used += requesterId.length;
    bounds[at + 3] = used;
    this.charsUsed = used;
  }

  idHash(index: number): number {
    return this.hashes[index * hashStride] as number;
  }

  keyHash(index: number): number {
    return this.hashes[index * hashStride + 1] as number;
  }

  idIs(index: number, id: string): boolean {
    const at = index * boundStride;
    return this.equals(this.bounds[at] as number, this.bounds[at + 1] as number, id);
  }

  keyIs(index: number, key: string): boolean {
    const at = index * boundStride;
    return this.equals(this.bounds[at + 1] as number, this.bounds[at + 2] as number, key);
  }

  /** Whether two entries have the same idempotency key. */
  sameKey(one: number, other: number): boolean {
    const [a, b] = [one * boundStride, other * boundStride];
    const start = this.bounds[a + 1] as number;
    const length = (this.bounds[a + 2] as number) - start;
    const otherStart = this.bounds[b + 1] as number;
    if ((this.bounds[b + 2] as number) - otherStart !== length) return false;
    const chars = this.chars;
    for (let index = 0; index < length; index += 1) {
      if (chars[start + index] !== chars[otherStart + index]) return false;
    }
    return true;
  }

  hasKey(index: number): boolean {
    const at = index * boundStride;
    return (this.bounds[at + 2] as number) > (this.bounds[at + 1] as number);
  }
}

const hashSeed = 0x811c9dc5 | 0;
const hashPrime = 0x01000193;

/** FNV-1a over the code units, as `RetainedColumns.writeStrings` hashes them. */
export function hashText(text: string): number {
  let hash = hashSeed;
  for (let index = 0; index < text.length; index += 1) {
    hash = Math.imul(hash ^ text.charCodeAt(index), hashPrime);
  }
  return hash;
}

/** The entries as they stood when noted, for a snapshot: [head, end) of `columns`, by index. */
export interface RetainedView {
  readonly columns: RetainedColumns | undefined;
  readonly head: number;
  readonly end: number;
}

// Table slots: 0 empty, -1 an entry forgotten since the table was built, else its index + 1.
const empty = 0;
const forgotten = -1;

export class RetainedHolds {
  private columns: RetainedColumns | undefined = undefined;
  /** The oldest entry kept, an index into `columns`. */
  private head = 0;
  /** Finished holds by id, and by idempotency key (the actor compared as well). */
  private byId = new Int32Array(0);
  private byKey = new Int32Array(0);

  /** Of the entries kept, the holds. */
  holdCount = 0;

  /** Entries kept: holds and adjust keys. */
  get size(): number {
    return this.columns === undefined ? 0 : this.columns.length - this.head;
  }

  /** A finished hold (no longer in its actor's maps) is kept from now on. */
  pushHold(actor: StockActor, hold: Reservation): void {
    assert(hold.status !== 'PENDING', 'a pending hold retained as finished');
    const columns = this.room(
      hold.id.length + hold.idempotencyKey.length + hold.requesterId.length,
    );
    const index = columns.length;
    columns.actors.push(actor);
    const n = index * numberStride;
    const numbers = columns.numbers;
    numbers[n + atOffset] = hold.finishedAtMs;
    numbers[n + quantityOffset] = hold.quantity;
    numbers[n + createdOffset] = hold.createdAtMs;
    numbers[n + expiresOffset] = hold.expiresAtMs;
    numbers[n + originalOffset] = hold.originalExpiresAtMs;
    numbers[n + confirmedOffset] = hold.confirmedQuantity;
    columns.status[index] = statusCode(hold.status);
    columns.writeStrings(index, hold.id, hold.idempotencyKey, hold.requesterId);
    if (hold.buyerId !== '' || hold.reference !== '' || hold.cartId !== '' || hold.lots) {
      const { buyerId, reference, cartId, lots } = hold;
      columns.extras.set(index, { buyerId, reference, cartId, lots });
    }
    columns.length = index + 1;
    this.holdCount += 1;
    this.index(columns, index);
  }

  /** An adjust's idempotency key, whose memo (in its actor) is forgotten with this entry. */
  pushAdjustKey(actor: StockActor, key: string, atMs: number): void {
    const columns = this.room(key.length);
    const index = columns.length;
    columns.actors.push(actor);
    columns.numbers[index * numberStride + atOffset] = atMs;
    columns.status[index] = adjustEntry;
    columns.writeStrings(index, '', key, '');
    columns.length = index + 1;
  }

  /** When the oldest entry finished; undefined when none is kept. */
  oldestAtMs(): number | undefined {
    return this.size === 0 ? undefined : (this.columns as RetainedColumns).atMsAt(this.head);
  }

  /** Forgets the oldest entry; an adjust key's actor and key are returned (its memo goes too). */
  shift(): { actor: StockActor; adjustKey: string; atMs: number } | undefined {
    assert(this.size > 0, 'nothing retained to forget');
    const columns = this.columns as RetainedColumns;
    const index = this.head;
    this.head = index + 1;
    if (!columns.isHold(index)) {
      const [actor, adjustKey] = [columns.actorAt(index), columns.keyAt(index)];
      return { actor, adjustKey, atMs: columns.atMsAt(index) };
    }
    this.holdCount -= 1;
    this.unindex(this.byId, columns.idHash(index), index);
    if (columns.hasKey(index)) this.unindex(this.byKey, columns.keyHash(index), index);
    return undefined;
  }

  /** The retained hold with this id, or -1. */
  find(id: string): number {
    const columns = this.columns;
    if (columns === undefined) return -1;
    const mask = this.byId.length - 1;
    for (let slot = hashText(id) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.byId[slot] as number;
      if (entry === empty) return -1;
      if (entry !== forgotten && columns.idIs(entry - 1, id)) return entry - 1;
    }
  }

  /** The retained hold of `actor` made with this idempotency key, or -1. */
  findKey(actor: StockActor, key: string): number {
    const columns = this.columns;
    if (columns === undefined || key === '') return -1;
    const mask = this.byKey.length - 1;
    for (let slot = hashText(key) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.byKey[slot] as number;
      if (entry === empty) return -1;
      if (entry !== forgotten && columns.actorAt(entry - 1) === actor) {
        if (columns.keyIs(entry - 1, key)) return entry - 1;
      }
    }
  }

  /** The hold at an index `find` or `findKey` gave, as an object of its own. */
  hold(index: number): Reservation {
    return (this.columns as RetainedColumns).holdAt(index);
  }

  actorAt(index: number): StockActor {
    return (this.columns as RetainedColumns).actorAt(index);
  }

  /** A finished hold's expires_at, without making it an object. */
  expiresAtMsAt(index: number): number {
    const numbers = (this.columns as RetainedColumns).numbers;
    return numbers[index * numberStride + expiresOffset] as number;
  }

  /** The entries as they stand, for a snapshot taken in slices (they never change after). */
  noted(): RetainedView {
    const columns = this.columns;
    return { columns, head: this.head, end: columns?.length ?? 0 };
  }

  /** Every entry kept, oldest first, by index (for checks and snapshots taken at once). */
  *indexes(): Generator<number, undefined> {
    const end = this.columns?.length ?? 0;
    for (let index = this.head; index < end; index += 1) yield index;
    return undefined;
  }

  /** The columns the indexes of `indexes`, `find` and `findKey` point into. */
  get current(): RetainedColumns | undefined {
    return this.columns;
  }

  /** Room for one more entry with `chars` code units: a new generation when this one is full. */
  private room(chars: number): RetainedColumns {
    const columns = this.columns;
    if (columns !== undefined && columns.length < columns.capacity) return columns;
    const live = this.size;
    const capacity = Math.max(firstCapacity, live * 2);
    const liveChars = columns === undefined ? 0 : columns.charsUsed - this.firstChar(columns);
    const next = new RetainedColumns(
      (columns?.base ?? 0) + this.head,
      capacity,
      Math.max(firstChars, (liveChars + chars) * 2),
    );
    if (columns !== undefined) this.copyLive(columns, next);
    this.columns = next;
    this.head = 0;
    // At most `capacity` entries are ever indexed in a generation: half full at most.
    let size = 1;
    while (size < capacity * 2) size *= 2;
    this.byId = new Int32Array(size);
    this.byKey = new Int32Array(size);
    for (let index = 0; index < next.length; index += 1) this.index(next, index);
    return next;
  }

  private firstChar(columns: RetainedColumns): number {
    return this.head < columns.length ? (columns.bounds[this.head * boundStride] as number) : 0;
  }

  private copyLive(from: RetainedColumns, to: RetainedColumns): void {
    const [head, end] = [this.head, from.length];
    const charStart = this.firstChar(from);
    for (let index = head; index < end; index += 1) to.actors.push(from.actorAt(index));
    to.numbers.set(from.numbers.subarray(head * numberStride, end * numberStride));
    to.status.set(from.status.subarray(head, end));
    to.hashes.set(from.hashes.subarray(head * hashStride, end * hashStride));
    const bounds = from.bounds.subarray(head * boundStride, end * boundStride);
    if (charStart === 0) to.bounds.set(bounds);
    else
      for (let at = 0; at < bounds.length; at += 1)
        to.bounds[at] = (bounds[at] as number) - charStart;
    to.chars.set(from.chars.subarray(charStart, from.charsUsed));
    to.charsUsed = from.charsUsed - charStart;
    for (const [index, extras] of from.extras) {
      if (index >= head) to.extras.set(index - head, extras);
    }
    to.length = end - head;
  }

  /** Puts a hold into the tables; a hold kept by the same actor's key before is shadowed. */
  private index(columns: RetainedColumns, index: number): void {
    if (!columns.isHold(index)) return;
    insert(this.byId, columns.idHash(index), index);
    if (!columns.hasKey(index)) return;
    // Only ever an empty slot is taken, so every entry of the key's chain comes before it.
    const mask = this.byKey.length - 1;
    const actor = columns.actorAt(index);
    for (let slot = columns.keyHash(index) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.byKey[slot] as number;
      if (entry === empty) {
        this.byKey[slot] = index + 1;
        return;
      }
      if (entry !== forgotten && columns.actorAt(entry - 1) === actor) {
        if (columns.sameKey(entry - 1, index)) this.byKey[slot] = forgotten;
      }
    }
  }

  private unindex(table: Int32Array, hash: number, index: number): void {
    const mask = table.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = table[slot] as number;
      // A key shadowed by a newer hold of the same key is already out of the table.
      if (entry === empty) return;
      if (entry === index + 1) {
        table[slot] = forgotten;
        return;
      }
    }
  }
}

function insert(table: Int32Array, hash: number, index: number): void {
  const mask = table.length - 1;
  let slot = hash & mask;
  while (table[slot] !== empty) slot = (slot + 1) & mask;
  table[slot] = index + 1;
}
