// Load shedding at the front door (issue 13): whether a new reserve may join a shard's queue, or
// is refused at once on the HTTP thread (503 overloaded + retry-after, nothing sent to the shard)
// because it would wait there longer than the queue-delay bound. The rule: shed when
//   (1) at least `floor` requests are in flight (a short queue is always fine; a cold shard whose
//       drain rate is not known yet is never refused below it), and
//   (2) by Little's law the wait a newcomer would see, in flight / drain rate, passes the bound
//       plus two cycles of the shard (a cycle: the time between its batches of answers, one group
//       commit; a reserve that arrives while a commit is under way waits for it, then for its own).
// It is a prediction, made as each request arrives, so the first wave of a crowd (thousands in
// one millisecond, before any answer) is cut too. The cycles are added because a request waits
// them however few are in flight, while more in flight fill bigger commits: without them, a shard
// whose commit takes longer than the bound (a slow disk, a starved CPU) would be held at the
// floor and sell slower for no shorter wait. The bound is on the queueing beyond the commits.
// The drain rate and the cycle are measured only over time the shard had work, so an idle spell
// does not make it look slow. Pure arithmetic: asked per reserve, for a few comparisons.
//
// A shed answer's retry-after is sized from the same figures: the backlog a newcomer is behind is
// what is in flight plus the crowd turned away lately (it comes back), and the shard serves it
// at its drain rate. Those turned away are counted over the last retry-after given (and the
// second under way): told to wait R, a crowd of N comes back spread over R or more, so the count
// is about N whatever R is, and the answer settles at once near N / drain rate. A bigger crowd is
// sent back later, so it returns about as fast as the shard serves it, not all in the next
// second to be shed again. Whole seconds, at least 1 (also when the drain rate is not known
// yet), at most `shedRetryAfterSecondsMax`.
import { drainRateWindowMs, shedRetryAfterSecondsMax } from '../limits.js';

export interface AdmissionRule {
  /** LEDGER_SHARD_QUEUE_DELAY_MS: the longest a reserve should wait in a shard's queue; 0: off. */
  readonly queueDelayMs: number;
  /** LEDGER_SHARD_SHED_FLOOR: requests in flight below which nothing is shed. */
  readonly floor: number;
}

export interface QueueState {
  /** Requests sent to the shard and not answered yet. */
  readonly inFlight: number;
  /** Answers per second while the shard had work (0: not measured yet). */
  readonly drainPerSecond: number;
  /** Busy milliseconds per batch of answers: one cycle of the shard (0: not measured yet). */
  readonly cycleMs: number;
}

/** True when a new reserve should be refused now rather than queue longer than the bound. */
export function sheds(state: QueueState, rule: AdmissionRule): boolean {
  if (rule.queueDelayMs === 0 || state.inFlight < rule.floor) return false;
  // inFlight / (drainPerSecond / 1000) > queueDelayMs + 2 cycles, without a division (drain 0:
  // shed).
  return state.inFlight * 1000 > state.drainPerSecond * (rule.queueDelayMs + 2 * state.cycleMs);
}

/**
 * The retry-after of a shed answer, whole seconds: the time the shard needs to serve what is in
 * flight and the `turnedAway` that will come back, rounded up, within 1..shedRetryAfterSecondsMax.
 */
export function retryAfterSeconds(state: QueueState, turnedAway: number): number {
  if (state.drainPerSecond <= 0) return 1;
  const waitSeconds = (state.inFlight + turnedAway) / state.drainPerSecond;
  return Math.min(shedRetryAfterSecondsMax, Math.max(1, Math.ceil(waitSeconds)));
}

/**
 * Requests turned away (shed) per second of the last `shedRetryAfterSecondsMax` + 1, in a ring of
 * counts: `within(R)` is those of the second under way and the R before it.
 */
export class TurnedAway {
  private readonly counts: number[];
  private readonly seconds: number[];

  constructor() {
    this.counts = new Array<number>(shedRetryAfterSecondsMax + 1).fill(0);
    this.seconds = new Array<number>(shedRetryAfterSecondsMax + 1).fill(-1);
  }

  add(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const slot = second % this.counts.length;
    if (this.seconds[slot] !== second) {
      this.seconds[slot] = second;
      this.counts[slot] = 0;
    }
    this.counts[slot] = (this.counts[slot] ?? 0) + 1;
  }

  /** Those turned away in the second under way and the `seconds` before it. */
  within(seconds: number, nowMs: number): number {
    const now = Math.floor(nowMs / 1000);
    const span = Math.min(seconds, this.counts.length - 1);
    let total = 0;
    for (let second = now - span; second <= now; second += 1) {
      if (second < 0) continue;
      const slot = second % this.counts.length;
      if (this.seconds[slot] === second) total += this.counts[slot] ?? 0;
    }
    return total;
  }
}

/**
 * A shard's drain rate, answers per second of busy time, and its cycle, busy milliseconds per
 * batch of answers, over windows of at least `drainRateWindowMs` busy milliseconds. A faster rate
 * or a shorter cycle is taken at once (the shard showed it); a slower or longer one moves the
 * figure half way (a window of few requests is slow because little was asked, not because the
 * shard slowed). Time while nothing is in flight is not counted.
 */
export class DrainRate {
  private busyMs = 0;
  private answers = 0;
  private batches = 0;
  /** When the busy time not yet counted began (a send to an idle shard, or the last answers). */
  private markMs = 0;
  private rate = 0;
  private cycle = 0;

  get perSecond(): number {
    return this.rate;
  }

  get cycleMs(): number {
    return this.cycle;
  }

  /** The shard had nothing in flight and is sent a request now. */
  busyFrom(nowMs: number): void {
    this.markMs = nowMs;
  }

  /**
   * The shard's thread was replaced: the new one is cold (its code not yet optimized, its
   * connections new) and recovering, so what the old one showed says nothing of it. Until the new
   * one shows its own speed it is a shard whose drain rate is not known: the floor bounds its
   * first wave, not a rate it never had.
   */
  forget(): void {
    this.busyMs = 0;
    this.answers = 0;
    this.batches = 0;
    this.rate = 0;
    this.cycle = 0;
  }

  /** `count` answers arrived at `nowMs`; the shard had work since the last mark. */
  answered(count: number, nowMs: number): void {
    this.busyMs += Math.max(0, nowMs - this.markMs);
    this.answers += count;
    this.batches += 1;
    this.markMs = nowMs;
    if (this.busyMs < drainRateWindowMs) return;
    const sample = (this.answers * 1000) / this.busyMs;
    this.rate = sample >= this.rate ? sample : (this.rate + sample) / 2;
    const cycle = this.busyMs / this.batches;
    this.cycle = this.cycle === 0 || cycle <= this.cycle ? cycle : (this.cycle + cycle) / 2;
    this.busyMs = 0;
    this.answers = 0;
    this.batches = 0;
  }
}
