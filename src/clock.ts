// Time and deferred work as a parameter (STYLE.md: "I/O is a parameter"). Production code takes a
// Clock and never calls Date.now, setImmediate or setTimeout itself on the durability path, so
// the deterministic simulator (test/sim) can drive the very same code from one seed.

export interface Clock {
  /** Wall-clock time, epoch milliseconds: record times, hold expiry. */
  now(): number;
  /** A monotonic reading in milliseconds, for durations only. */
  monotonic(): number;
  /** Runs `task` after the current turn, once everything this turn handles is done. */
  defer(task: () => void): void;
  /** Resolves after `ms` milliseconds. */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  // setImmediate, not a microtask: it runs after every message and socket read of this turn.
  defer: (task) => void setImmediate(task),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
