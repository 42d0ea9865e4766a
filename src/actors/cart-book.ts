// A partition's carts, in both roles of the two-phase cart. As a cart's home: its decisions (the
// cart records), the idempotency keys of committed carts, and the keys claimed by carts being
// prepared right now (memory only: a claim dies with the coordinator that made it). As a
// participant: the carts whose holds here are in doubt, prepared but not yet known decided.
import { assert } from './assert.js';
import type { CartRecord, CartTerms } from './types.js';

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

export class CartBook {
  /** Decided carts, committed and aborted, in the order decided (for retention). */
  readonly decided = new Map<string, CartRecord>();
  /** Idempotency key -> committed cart. */
  readonly keys = new Map<string, CartRecord>();
  readonly claims = new Map<string, Claim>();
  /** Cart id -> the key it claimed: an abort or a resolve finds the claim without a scan. */
  private readonly claimedKeys = new Map<string, string>();
  readonly inDoubt = new Map<string, InDoubt>();

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
    assert(!this.decided.has(record.cartId), () => `cart ${record.cartId} decided twice`);
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
    for (const [cartId, record] of this.decided) {
      const live = record.atMs >= liveSinceMs;
      if ((this.decided.size <= max || live) && record.atMs >= oldestKeptMs) return;
      this.decided.delete(cartId);
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
    if (entry === undefined) return;
    entry.holdIds.delete(holdId);
    if (entry.holdIds.size === 0) this.inDoubt.delete(cartId);
  }
}
