// A partition's carts, in both roles of the two-phase cart. As a cart's home: its decisions (the
// cart records), the idempotency keys of committed carts, and the keys claimed by carts being
// prepared right now (memory only: a claim dies with the coordinator that made it). As a
// participant: the carts whose holds here are in doubt, prepared but not yet known decided.
// A cart confirm across partitions adds the same two roles once more, per attempt: the home's
// decisions of confirm attempts, and each participant's holds pinned by an attempt.
import { assert, fail } from './assert.js';
import { OldestFirst } from './oldest-first.js';
import { StringTable } from './string-table.js';
import type { CartConfirmRecord, CartRecord, CartTerms } from './types.js';

export interface Claim {
  readonly cartId: string;
  readonly fingerprint: string;
}

export interface InDoubt {
  readonly homePartition: number;
  /** The cart's holds in this partition that are still PENDING. */
  readonly holdIds: Set<string>;
  /** When the first of them was prepared: the resolver asks about old ones only. */
  readonly sinceMs: number;
}

/** At a participant: the holds of a cart pinned by one confirm attempt, awaiting its decision. */
export interface Pinned {
  readonly attempt: string;
  readonly homePartition: number;
  readonly holdIds: Set<string>;
  readonly sinceMs: number;
  /** The attempt's trace id: a confirm finished by the resolver still names it. */
  readonly traceId: string;
}

/** At the home: the confirm attempts decided for one cart. */
export interface ConfirmDecisions {
  /** The attempt journaled as confirmed ('' none yet): at most one per cart. */
  confirmed: string;
  readonly aborted: Set<string>;
}

/** A cart's home partition: the first 16 bits of its id, as in reservation ids. */
export function homePartitionOf(cartId: string): number {
  return Number.parseInt(cartId.slice(0, 4), 16);
}

export class CartBook {
  /** Decided carts, committed and aborted, in the order decided (for retention). */
  readonly decided = new Map<string, CartRecord>();
  /** Idempotency key -> committed cart. */
  readonly keys = new Map<string, CartRecord>();
  // The tables a cart passes through (a claim while it is prepared, a doubt or a pin while it is
  // decided) are string tables, not Maps: they churn at every cart, and a churning Map keeps what
  // it held until a full collection (string-table.ts). Those kept for retention stay Maps.
  readonly claims = new StringTable<Claim>();
  /** Cart id -> the key it claimed: an abort or a resolve finds the claim without a scan. */
  private readonly claimedKeys = new StringTable<string>();
  readonly inDoubt = new StringTable<InDoubt>();
  /** Cart id -> its holds here pinned by a confirm attempt (one attempt per cart at a time). */
  readonly pinned = new StringTable<Pinned>();
  /** Cart id -> its confirm attempts decided here (as its home). */
  readonly confirms = new Map<string, ConfirmDecisions>();
  /** `decided` oldest first: only `prune` forgets a decided cart, through it. */
  private readonly oldestDecided = new OldestFirst(this.decided);

  /** What a cart request with these terms finds at its home. */
  lookup(
    terms: CartTerms,
  ): 'new' | 'claimed' | 'reused' | { readonly replay: CartRecord } | 'decided' {
    const committed = this.keys.get(terms.idempotencyKey);
    if (committed !== undefined) {
      return committed.fingerprint === terms.fingerprint ? { replay: committed } : 'reused';
    }
    if (this.claims.has(terms.idempotencyKey)) return 'claimed';
    // A cart id is minted once per request: a decided one is never placed again.
    if (this.decided.has(terms.cartId)) return 'decided';
    return 'new';
  }

  claim(terms: CartTerms, claimsMax: number): boolean {
    if (this.claims.size >= claimsMax) return false;
    this.claims.set(terms.idempotencyKey, {
      cartId: terms.cartId,
      fingerprint: terms.fingerprint,
    });
    this.claimedKeys.set(terms.cartId, terms.idempotencyKey);
    return true;
  }

  /** The key this cart claimed ('' if none). */
  claimedKey(cartId: string): string {
    return this.claimedKeys.get(cartId) ?? '';
  }

  /** Drops the key's claim if this cart made it. */
  unclaim(idempotencyKey: string, cartId: string): void {
    if (this.claims.get(idempotencyKey)?.cartId === cartId) this.claims.delete(idempotencyKey);
    this.claimedKeys.delete(cartId);
  }

  /** A decision (live or replayed). */
  decide(record: CartRecord): void {
    if (this.decided.has(record.cartId)) fail(`cart ${record.cartId} decided twice`);
    this.decided.set(record.cartId, record);
    this.unclaim(record.idempotencyKey, record.cartId);
    if (record.decision === 'committed') {
      assert(!this.keys.has(record.idempotencyKey), 'a cart key bound twice');
      this.keys.set(record.idempotencyKey, record);
      // The home's own prepared holds are decided now. An abort leaves them in doubt: the
      // coordinator's abort (or the resolver's) releases them.
      this.inDoubt.delete(record.cartId);
    }
  }

  /**
   * Forgets decided carts older than `oldestKeptMs`, and beyond `max` (oldest first) those
   * decided before `liveSinceMs`: a cart whose holds may still be PENDING is never forgotten
   * (the hold bound, not this one, limits how many such carts there are).
   */
  prune(oldestKeptMs: number, max: number, liveSinceMs: number): void {
    const oldest = this.oldestDecided;
    for (let entry = oldest.peek(); entry !== undefined; entry = oldest.peek()) {
      const [cartId, record] = entry;
      const live = record.atMs >= liveSinceMs;
      if ((this.decided.size <= max || live) && record.atMs >= oldestKeptMs) return;
      oldest.forget();
      this.confirms.delete(cartId);
      if (this.keys.get(record.idempotencyKey) === record) this.keys.delete(record.idempotencyKey);
    }
  }

  /** A prepared hold of a cart not decided here. */
  addInDoubt(cartId: string, homePartition: number, holdId: string, atMs: number): void {
    const entry = this.inDoubt.get(cartId);
    if (entry === undefined) {
      this.inDoubt.set(cartId, { homePartition, holdIds: new Set([holdId]), sinceMs: atMs });
    } else {
      entry.holdIds.add(holdId);
    }
  }

  /** A hold left PENDING: once none of its cart's is, nothing is in doubt any more. */
  holdEnded(cartId: string, holdId: string): void {
    const entry = this.inDoubt.get(cartId);
    if (entry !== undefined) {
      entry.holdIds.delete(holdId);
      if (entry.holdIds.size === 0) this.inDoubt.delete(cartId);
    }
    const pinned = this.pinned.get(cartId);
    if (pinned !== undefined) {
      pinned.holdIds.delete(holdId);
      if (pinned.holdIds.size === 0) this.pinned.delete(cartId);
    }
  }

  /** A confirm attempt's step (live or replayed): pins here, or a decision as the home. */
  confirmStep(record: CartConfirmRecord, homePartition: number): void {
    const { cartId, attempt } = record;
    if (record.step === 'pinned') {
      const entry = this.pinned.get(cartId);
      assert(entry === undefined || entry.attempt === attempt, 'a cart pinned by two attempts');
      const holdIds = entry?.holdIds ?? new Set<string>();
      for (const hold of record.holds) holdIds.add(hold.reservationId);
      const { atMs: sinceMs, traceId } = record;
      this.pinned.set(cartId, entry ?? { attempt, homePartition, holdIds, sinceMs, traceId });
      return;
    }
    if (record.step === 'unpinned') {
      if (this.pinned.get(cartId)?.attempt === attempt) this.pinned.delete(cartId);
      return;
    }
    let decisions = this.confirms.get(cartId);
    if (decisions === undefined) {
      decisions = { confirmed: '', aborted: new Set() };
      this.confirms.set(cartId, decisions);
    }
    if (record.step === 'aborted') {
      assert(decisions.confirmed !== attempt, 'a confirmed attempt aborted');
      decisions.aborted.add(attempt);
    } else {
      assert(decisions.confirmed === '', 'a cart confirmed by two attempts');
      assert(!decisions.aborted.has(attempt), 'an aborted attempt confirmed');
      decisions.confirmed = attempt;
    }
  }
}
