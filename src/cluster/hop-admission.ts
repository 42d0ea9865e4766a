// Load shedding on the way to another node. A node forwards every command for a partition
// another node owns, one NATS request each, and under a crowd that does not wait those forwards
// queued in the hop without bound: the owner's shard was never the one waited on, so it shed
// nothing, and the crowded node's clients waited seconds (wrk timeouts by the thousand). The
// same rule as a shard's front door (src/shards/queue-admission.ts) now holds over each owner
// node's forwards: a reserve is refused at once, 503 overloaded with retry-after, when at least
// `floor` forwards to that node are in flight and by its drain rate (answers per second of busy
// time, over the hop and the owner together) a newcomer would wait longer than the bound. Only
// reserves: a confirm or release ends a hold already granted, and operators' writes must get
// through a crowd, as at a shard.
import {
  DrainRate,
  TurnedAway,
  retryAfterSeconds,
  sheds,
  type AdmissionRule,
} from '../shards/index.js';

interface Hop {
  inFlight: number;
  readonly drain: DrainRate;
  readonly turnedAway: TurnedAway;
  /** The retry-after the last refusal was given, seconds. */
  retryAfter: number;
}

export class HopAdmission {
  private readonly hops = new Map<string, Hop>();

  constructor(private readonly rule: AdmissionRule) {}

  private hop(node: string): Hop {
    let hop = this.hops.get(node);
    if (hop === undefined) {
      hop = { inFlight: 0, drain: new DrainRate(), turnedAway: new TurnedAway(), retryAfter: 1 };
      this.hops.set(node, hop);
    }
    return hop;
  }

  /**
   * A command for `node` arriving at `nowMs` (monotonic): the retry-after, in seconds, to refuse
   * it with, or undefined when it may go (then it counts in flight until `answered`).
   */
  admit(node: string, sheddable: boolean, nowMs: number): number | undefined {
    const hop = this.hop(node);
    if (sheddable) {
      const { perSecond, cycleMs } = hop.drain;
      const state = { inFlight: hop.inFlight, drainPerSecond: perSecond, cycleMs };
      if (sheds(state, this.rule)) {
        hop.turnedAway.add(nowMs);
        const turnedAway = hop.turnedAway.within(hop.retryAfter, nowMs);
        hop.retryAfter = retryAfterSeconds(state, turnedAway);
        return hop.retryAfter;
      }
    }
    if (hop.inFlight === 0) hop.drain.busyFrom(nowMs);
    hop.inFlight += 1;
    return undefined;
  }

  /** A forward to `node` was answered (or failed) at `nowMs`. */
  answered(node: string, nowMs: number): void {
    const hop = this.hop(node);
    hop.inFlight = Math.max(0, hop.inFlight - 1);
    hop.drain.answered(1, nowMs);
  }

  /** Forwards to `node` in flight now. */
  inFlight(node: string): number {
    return this.hops.get(node)?.inFlight ?? 0;
  }
}
