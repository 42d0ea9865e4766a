// The simulator's clock: virtual time that moves only when the simulator says, and the shard's
// deferred work and sleeps held in queues the simulator runs when it chooses. Each shard
// incarnation gets its own view, so a crash can drop everything the dead one had scheduled.
import type { Clock } from '../../src/clock.js';

interface Timer {
  readonly atMs: number;
  readonly order: number;
  readonly resolve: () => void;
}

export class SimTime {
  nowMs: number;
  private order = 0;

  constructor(startMs: number) {
    this.nowMs = startMs;
  }

  nextOrder(): number {
    this.order += 1;
    return this.order;
  }
}

export class SimClock implements Clock {
  private deferred: (() => void)[] = [];
  private timers: Timer[] = [];
  private dead = false;

  constructor(private readonly time: SimTime) {}

  now(): number {
    return this.time.nowMs;
  }

  monotonic(): number {
    return this.time.nowMs;
  }

  defer(task: () => void): void {
    if (!this.dead) this.deferred.push(task);
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.dead) return;
      this.timers.push({ atMs: this.time.nowMs + ms, order: this.time.nextOrder(), resolve });
    });
  }

  get deferredCount(): number {
    return this.deferred.length;
  }

  get timerCount(): number {
    return this.timers.length;
  }

  /** Runs the deferred tasks queued so far, in order (the end of an event-loop turn). */
  runDeferred(): number {
    const tasks = this.deferred;
    this.deferred = [];
    for (const task of tasks) task();
    return tasks.length;
  }

  /** Fires the sleeps that are due, in time order (then in the order they began). */
  fireDue(): number {
    const due = this.timers
      .filter((timer) => timer.atMs <= this.time.nowMs)
      .sort((a, b) => a.atMs - b.atMs || a.order - b.order);
    this.timers = this.timers.filter((timer) => timer.atMs > this.time.nowMs);
    for (const timer of due) timer.resolve();
    return due.length;
  }

  /** The earliest pending sleep's time, if any. */
  nextTimerMs(): number | undefined {
    let next: number | undefined;
    for (const timer of this.timers)
      next = next === undefined ? timer.atMs : Math.min(next, timer.atMs);
    return next;
  }

  /** The incarnation died: nothing it scheduled ever runs. */
  kill(): void {
    this.dead = true;
    this.deferred = [];
    this.timers = [];
  }
}
