// Assertions are for programmer errors only: a failed one crashes the shard, which is then
// rebuilt from the journal. Operating errors (bad input, lost connections) are handled instead.

export class AssertionError extends Error {
  override readonly name: string = 'AssertionError';
}

/**
 * A broken stock invariant (0 <= reserved <= on_hand): the one assertion that means an oversell
 * was about to happen. Its own class, so the shard can report it as such (the oversell metric)
 * without reading the message.
 */
export class InvariantError extends AssertionError {
  override readonly name: string = 'InvariantError';
}

/**
 * `message` is a constant. A message built from values (a template string) goes to `fail`
 * behind the check instead: `if (!ok) fail(message)`. A message passed as a function would cost
 * a closure allocated on every call, held or not: on the per-record paths of a recovery that was
 * about a quarter of its scavenges (bench/README.md, "Where a cold start's CPU goes").
 */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** As `assert`, for the stock invariants. */
export function assertInvariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

/** A failed check whose message is built from values (the check itself is the caller's). */
export function fail(message: string): never {
  throw new AssertionError(message);
}

/** As `fail`, for the stock invariants. */
export function failInvariant(message: string): never {
  throw new InvariantError(message);
}
