// What a partition retains of finished business, oldest first: its finished holds, kept whole so
// that reads, idempotent retries and snapshots still answer for them until retention forgets
// them, and its adjusts' idempotency keys, kept only to know when to forget their memos.
//
// A day of a hot key retains hundreds of thousands of holds. As objects (each with its id and
// idempotency key strings and three map entries) they were most of a partition's heap, and the
// garbage collector copied every one of them twice as it grew: recovery replayed at half the
// speed it does with nothing retained (bench/micro/recovery-replay.ts --retain none). So here they
// are no objects: their numbers in typed arrays, their strings' UTF-16 code units in an arena,
// found by id and by idempotency key through hash tables of their own. A hold becomes an object
// again only when a read or a retry asks for it (`hold`).
//
// Nothing here ever copies or rehashes everything at once, which on a hot key would stop the
// shard for as long as a million entries take (a Map of them stops it for about half a second as
// it doubles): entries go into chunks of a fixed size that are never moved, and the tables are
// extendible hashing, whose buckets split one at a time. Entries are numbered for good (their
// sequence); forgetting the oldest only moves the head and drops chunks left behind it, so what
// a snapshot taken in slices noted (`noted`) never changes.
import { assert, fail } from './assert.js';
import { column, grown } from './columns.js';
import { HashIndex } from './hash-index.js';
import { holdNumber, type FinishedHolds, type PendingHolds } from './pending-holds.js';
import { TextArena } from './text-arena.js';
import { hashText } from './text-hash.js';
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

// Numbers per entry, in a chunk's `numbers` at offset * numberStride.
const numberStride = 6;
const [atOffset, quantityOffset, createdOffset, expiresOffset, originalOffset, confirmedOffset] = [
  0, 1, 2, 3, 4, 5,
];
// String bounds per entry, in `bounds` at offset * boundStride: the id (empty for an adjust key),
// the idempotency key and the requester are contiguous in the chunk's arena.
const boundStride = 4;
// The id's and the key's hashes, in `hashes` at offset * 2: made as the strings are copied in, so
// neither a bucket's split nor forgetting reads the strings again.
const hashStride = 2;

/** Entries per chunk; a chunk's first entries start in a smaller one that grows to this. */
const chunkSize = 1024;
const firstCapacity = 16;
/** A chunk this small stays while nothing is kept (a larger one goes: idle partitions' memory). */
const idleCapacityMax = 64;
/**
 * The arena's first room, in code units per entry: a hold's id, idempotency key and requester
 * are about 80 (a 36-character id and key), so a full chunk's arena is not grown and copied.
 */
const charsPerEntry = 96;

/** A run of `chunkSize` entries by sequence, never moved once full. */
class Chunk {
  readonly actors: StockActor[] = [];
  numbers: Float64Array;
  status: Uint8Array;
  bounds: Int32Array;
  hashes: Int32Array;
  /**
   * The strings' code units. The arena is the largest part of a retained hold: 96 bytes of the
   * 204 a hold that `bench/micro/retained-growth.ts` counts (`charsPerEntry`, in bytes).
   */
  readonly arena: TextArena;
  readonly extras = new Map<number, Extras>();
  /** Entries written: offsets [0, length). */
  length = 0;

  constructor(public capacity: number) {
    this.numbers = column(Float64Array, capacity * numberStride);
    this.status = column(Uint8Array, capacity);
    this.bounds = column(Int32Array, capacity * boundStride);
    this.hashes = column(Int32Array, capacity * hashStride);
    this.arena = new TextArena(capacity * charsPerEntry);
  }

  /** Twice the room (up to a full chunk), what was written copied: at most one chunk's worth. */
  grow(): void {
    const capacity = Math.min(chunkSize, this.capacity * 2);
    this.numbers = grown(this.numbers, capacity * numberStride);
    this.status = grown(this.status, capacity);
    this.bounds = grown(this.bounds, capacity * boundStride);
    this.hashes = grown(this.hashes, capacity * hashStride);
    this.capacity = capacity;
  }

  /** Appends the strings to the arena; their bounds and the id's and key's hashes go to `at`. */
  writeStrings(offset: number, id: string, key: string, requesterId: string): void {
    const { arena, bounds, hashes } = this;
    arena.makeRoom(id.length + key.length + requesterId.length);
    const at = offset * boundStride;
    bounds[at] = arena.used;
    hashes[offset * hashStride] = arena.append(id);
    bounds[at + 1] = arena.used;
    hashes[offset * hashStride + 1] = arena.append(key);
    bounds[at + 2] = arena.used;
    arena.append(requesterId);
    bounds[at + 3] = arena.used;
  }

  text(start: number, end: number): string {
    return this.arena.text(start, end);
  }

  /** Whether the arena's code units [start, end) are `text`'s. */
  equals(start: number, end: number, text: string): boolean {
    return this.arena.equals(start, end, text);
  }
}

/**
 * Entries by sequence, over the chunks as they were when this reader was made: the chunks it
 * names are never dropped from under it, and what they hold below their length never changes.
 */
export class RetainedColumns {
  constructor(
    private readonly chunks: readonly Chunk[],
    /** The chunk number of `chunks[0]`. */
    private readonly firstChunk: number,
  ) {}

  private chunkOf(sequence: number): Chunk {
    const chunk = this.chunks[Math.floor(sequence / chunkSize) - this.firstChunk];
    if (chunk === undefined) fail(`retained entry ${sequence} is not here`);
    return chunk;
  }

  actorAt(sequence: number): StockActor {
    return this.chunkOf(sequence).actors[sequence % chunkSize] as StockActor;
  }

  atMsAt(sequence: number): number {
    const chunk = this.chunkOf(sequence);
    return chunk.numbers[(sequence % chunkSize) * numberStride + atOffset] as number;
  }

  isHold(sequence: number): boolean {
    return this.chunkOf(sequence).status[sequence % chunkSize] !== adjustEntry;
  }

  /** The hold's id ('' for an adjust key). */
  idAt(sequence: number): string {
    const chunk = this.chunkOf(sequence);
    const at = (sequence % chunkSize) * boundStride;
    return chunk.text(chunk.bounds[at] as number, chunk.bounds[at + 1] as number);
  }

  /** The hold's idempotency key, or the adjust's. */
  keyAt(sequence: number): string {
    const chunk = this.chunkOf(sequence);
    const at = (sequence % chunkSize) * boundStride;
    return chunk.text(chunk.bounds[at + 1] as number, chunk.bounds[at + 2] as number);
  }

  /** The finished hold at `sequence`, as an object of its own (changing it changes nothing). */
  holdAt(sequence: number): Reservation {
    const chunk = this.chunkOf(sequence);
    const offset = sequence % chunkSize;
    const status = statuses[chunk.status[offset] as number];
    assert(status !== undefined && status !== '', 'an adjust key read as a hold');
    const n = offset * numberStride;
    const at = offset * boundStride;
    const { numbers, bounds } = chunk;
    const extras = chunk.extras.get(offset);
    const hold: Reservation = {
      id: chunk.text(bounds[at] as number, bounds[at + 1] as number),
      quantity: numbers[n + quantityOffset] as number,
      createdAtMs: numbers[n + createdOffset] as number,
      expiresAtMs: numbers[n + expiresOffset] as number,
      originalExpiresAtMs: numbers[n + originalOffset] as number,
      idempotencyKey: chunk.text(bounds[at + 1] as number, bounds[at + 2] as number),
      requesterId: chunk.text(bounds[at + 2] as number, bounds[at + 3] as number),
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
}

/** The entries as they stood when noted, for a snapshot: sequences [head, end) of `columns`. */
export interface RetainedView {
  readonly columns: RetainedColumns | undefined;
  readonly head: number;
  readonly end: number;
}

export class RetainedHolds implements FinishedHolds<StockActor> {
  private chunks: Chunk[] = [];
  /** The chunk number of `chunks[0]`. */
  private firstChunk = 0;
  /** The oldest entry kept, and the next to be written, by sequence. */
  private head = 0;
  private end = 0;
  /** Of the entries kept, the holds. */
  holdCount = 0;
  /** Finished holds by id, and by idempotency key (the actor compared as well). */
  private readonly byId = new HashIndex();
  private readonly byKey = new HashIndex();
  /** A reader over the chunks as they are, made again when they change. */
  private reader: RetainedColumns | undefined = undefined;
  // What a lookup or an insert is after, for the tables' callbacks (no closure per call): an
  // id, or an actor's idempotency key (an insert's older holds of the key leave the table).
  private wantedId = '';
  private wantedActor: StockActor | undefined = undefined;
  private wantedKey = '';
  private readonly idMatches = (sequence: number): boolean => this.idIs(sequence, this.wantedId);
  private readonly keyMatches = (sequence: number): boolean =>
    this.isKeyOf(sequence, this.wantedActor as StockActor, this.wantedKey);
  /** The entry being pushed, whose key an insert compares with in place (`pushSlot`). */
  private wantedSequence = -1;
  private readonly sameKeyAsWanted = (sequence: number): boolean =>
    this.sameKey(sequence, this.wantedSequence);

  /** Entries kept: holds and adjust keys. */
  get size(): number {
    return this.end - this.head;
  }

  /** A finished hold (no longer in its actor's maps) is kept from now on. */
  pushHold(actor: StockActor, hold: Reservation): void {
    assert(hold.status !== 'PENDING', 'a pending hold retained as finished');
    const [chunk, offset] = this.room();
    chunk.actors[offset] = actor;
    const n = offset * numberStride;
    const numbers = chunk.numbers;
    numbers[n + atOffset] = hold.finishedAtMs;
    numbers[n + quantityOffset] = hold.quantity;
    numbers[n + createdOffset] = hold.createdAtMs;
    numbers[n + expiresOffset] = hold.expiresAtMs;
    numbers[n + originalOffset] = hold.originalExpiresAtMs;
    numbers[n + confirmedOffset] = hold.confirmedQuantity;
    chunk.status[offset] = statusCode(hold.status);
    chunk.writeStrings(offset, hold.id, hold.idempotencyKey, hold.requesterId);
    if (hold.buyerId !== '' || hold.reference !== '' || hold.cartId !== '' || hold.lots) {
      const { buyerId, reference, cartId, lots } = hold;
      chunk.extras.set(offset, { buyerId, reference, cartId, lots });
    }
    this.pushed(chunk, offset);
  }

  /**
   * A finished plain hold, straight from the pending store's columns (its slot still there): the
   * same entry `pushHold` makes of it, with its strings' units and hashes copied, not decoded
   * and encoded again.
   */
  pushSlot(actor: StockActor, store: PendingHolds<StockActor>, slot: number): void {
    const status = store.statusAt(slot);
    assert(status !== 'PENDING', 'a pending hold retained as finished');
    const [chunk, offset] = this.room();
    chunk.actors[offset] = actor;
    const n = offset * numberStride;
    const numbers = chunk.numbers;
    numbers[n + atOffset] = store.numberAt(slot, holdNumber.finishedAtMs);
    numbers[n + quantityOffset] = store.numberAt(slot, holdNumber.quantity);
    numbers[n + createdOffset] = store.numberAt(slot, holdNumber.createdAtMs);
    numbers[n + expiresOffset] = store.numberAt(slot, holdNumber.expiresAtMs);
    numbers[n + originalOffset] = store.numberAt(slot, holdNumber.originalExpiresAtMs);
    numbers[n + confirmedOffset] = store.numberAt(slot, holdNumber.confirmedQuantity);
    chunk.status[offset] = statusCode(status);
    store.copyTexts(slot, chunk.arena, chunk.bounds, offset * boundStride);
    chunk.hashes[offset * hashStride] = store.hashAt(slot, 0);
    chunk.hashes[offset * hashStride + 1] = store.hashAt(slot, 1);
    this.pushed(chunk, offset);
  }

  /** The hold just written at `offset` of the last chunk is kept: counted and indexed. */
  private pushed(chunk: Chunk, offset: number): void {
    chunk.length = offset + 1;
    const sequence = this.end;
    this.end += 1;
    this.holdCount += 1;
    this.byId.insert(chunk.hashes[offset * hashStride] as number, sequence);
    if (this.hasKey(sequence)) {
      // A newer hold of the same actor's key replaces the older in the table, as in a Map.
      this.wantedSequence = sequence;
      this.byKey.insert(
        chunk.hashes[offset * hashStride + 1] as number,
        sequence,
        this.sameKeyAsWanted,
      );
      this.wantedSequence = -1;
    }
  }

  /** An adjust's idempotency key, whose memo (in its actor) is forgotten with this entry. */
  pushAdjustKey(actor: StockActor, key: string, atMs: number): void {
    const [chunk, offset] = this.room();
    chunk.actors[offset] = actor;
    chunk.numbers[offset * numberStride + atOffset] = atMs;
    chunk.status[offset] = adjustEntry;
    chunk.writeStrings(offset, '', key, '');
    chunk.length = offset + 1;
    this.end += 1;
  }

  /** When the oldest entry finished; undefined when none is kept. */
  oldestAtMs(): number | undefined {
    return this.size === 0 ? undefined : this.columns().atMsAt(this.head);
  }

  /** Forgets the oldest entry; an adjust key's actor and key are returned (its memo goes too). */
  shift(): { actor: StockActor; adjustKey: string; atMs: number } | undefined {
    assert(this.size > 0, 'nothing retained to forget');
    const sequence = this.head;
    const columns = this.columns();
    let forgotten: { actor: StockActor; adjustKey: string; atMs: number } | undefined;
    if (columns.isHold(sequence)) {
      this.holdCount -= 1;
      this.byId.remove(this.hashAt(sequence, 0), sequence);
      if (this.hasKey(sequence)) this.byKey.remove(this.hashAt(sequence, 1), sequence);
    } else {
      const [actor, adjustKey] = [columns.actorAt(sequence), columns.keyAt(sequence)];
      forgotten = { actor, adjustKey, atMs: columns.atMsAt(sequence) };
    }
    this.head = sequence + 1;
    // A chunk wholly behind the head goes (a snapshot's reader keeps its own list of them).
    if (this.head % chunkSize === 0 || this.head === this.end) this.dropBehind();
    return forgotten;
  }

  /** The retained hold with this id, or -1. */
  find(id: string): number {
    if (this.holdCount === 0) return -1;
    this.wantedId = id;
    return this.byId.find(hashText(id), this.idMatches);
  }

  /** The retained hold of `actor` made with this idempotency key, or -1. */
  findKey(actor: StockActor, key: string): number {
    if (this.holdCount === 0 || key === '') return -1;
    this.wantedActor = actor;
    this.wantedKey = key;
    const found = this.byKey.find(hashText(key), this.keyMatches);
    this.wantedActor = undefined;
    return found;
  }

  /** The hold at a sequence `find` or `findKey` gave, as an object of its own. */
  hold(sequence: number): Reservation {
    return this.columns().holdAt(sequence);
  }

  actorAt(sequence: number): StockActor {
    return this.columns().actorAt(sequence);
  }

  /** A finished hold's expires_at, without making it an object. */
  expiresAtMsAt(sequence: number): number {
    const chunk = this.chunkOf(sequence);
    return chunk.numbers[(sequence % chunkSize) * numberStride + expiresOffset] as number;
  }

  /** The entries as they stand, for a snapshot taken in slices (they never change after). */
  noted(): RetainedView {
    return {
      columns: this.size === 0 ? undefined : this.columns(),
      head: this.head,
      end: this.end,
    };
  }

  private columns(): RetainedColumns {
    this.reader ??= new RetainedColumns(this.chunks, this.firstChunk);
    return this.reader;
  }

  private chunkOf(sequence: number): Chunk {
    return this.chunks[Math.floor(sequence / chunkSize) - this.firstChunk] as Chunk;
  }

  private hashAt(sequence: number, which: 0 | 1): number {
    const chunk = this.chunkOf(sequence);
    return chunk.hashes[(sequence % chunkSize) * hashStride + which] as number;
  }

  private hasKey(sequence: number): boolean {
    const chunk = this.chunkOf(sequence);
    const at = (sequence % chunkSize) * boundStride;
    return (chunk.bounds[at + 2] as number) > (chunk.bounds[at + 1] as number);
  }

  private idIs(sequence: number, id: string): boolean {
    const chunk = this.chunkOf(sequence);
    const at = (sequence % chunkSize) * boundStride;
    return chunk.equals(chunk.bounds[at] as number, chunk.bounds[at + 1] as number, id);
  }

  private isKeyOf(sequence: number, actor: StockActor, key: string): boolean {
    const chunk = this.chunkOf(sequence);
    const offset = sequence % chunkSize;
    if (chunk.actors[offset] !== actor) return false;
    const at = offset * boundStride;
    return chunk.equals(chunk.bounds[at + 1] as number, chunk.bounds[at + 2] as number, key);
  }

  /** Whether two entries are holds of one actor made with the same idempotency key. */
  private sameKey(sequence: number, other: number): boolean {
    const chunk = this.chunkOf(sequence);
    const otherChunk = this.chunkOf(other);
    const offset = sequence % chunkSize;
    const otherOffset = other % chunkSize;
    if (chunk.actors[offset] !== otherChunk.actors[otherOffset]) return false;
    const at = offset * boundStride;
    const otherAt = otherOffset * boundStride;
    return chunk.arena.sameAs(
      chunk.bounds[at + 1] as number,
      chunk.bounds[at + 2] as number,
      otherChunk.arena,
      otherChunk.bounds[otherAt + 1] as number,
      otherChunk.bounds[otherAt + 2] as number,
    );
  }

  /** The chunk and offset the next entry goes to. */
  private room(): [Chunk, number] {
    const offset = this.end % chunkSize;
    let chunk = this.chunks[this.chunks.length - 1];
    if (chunk === undefined || offset === 0) {
      // A new chunk (copy on write: a snapshot's reader keeps the list it was made with).
      // Only a chunk after a full one starts full: most partitions retain few entries.
      chunk = new Chunk(this.chunks.length === 0 ? firstCapacity : chunkSize);
      if (this.chunks.length === 0) this.firstChunk = Math.floor(this.end / chunkSize);
      this.chunks = [...this.chunks, chunk];
      this.reader = undefined;
    }
    while (offset >= chunk.capacity) chunk.grow();
    return [chunk, offset];
  }

  /**
   * Drops the chunks wholly behind the head. When nothing is kept, a small chunk the next entry
   * goes to stays (the next entries fill it on); any other goes, and the numbering goes on at the
   * next chunk's first sequence (sequences only grow; some are skipped), so the next entry starts
   * a small chunk at its start. A partition that forgets everything it finishes (a count bound of
   * one or a few, as `ledger verify`'s rebuild uses, or finishes further apart than the retention
   * time) thus makes a chunk every few dozen entries. Before, it made one for every entry, grown
   * to the entry's offset in it: up to 1,024 entries' arrays, copied six times.
   */
  private dropBehind(): void {
    let keep = Math.floor(this.head / chunkSize);
    if (this.head === this.end) {
      const last = this.chunks[this.chunks.length - 1];
      // A chunk this small has room for the next entry's offset (1 to 64) within its numbering.
      if (last === undefined || last.capacity > idleCapacityMax) {
        keep = Math.ceil(this.end / chunkSize);
        this.head = keep * chunkSize;
        this.end = this.head;
      }
    }
    const drop = keep - this.firstChunk;
    if (drop <= 0) return;
    this.chunks = this.chunks.slice(drop);
    this.firstChunk = keep;
    this.reader = undefined;
  }
}
