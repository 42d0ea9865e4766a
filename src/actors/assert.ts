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
 * `message` may be a function, so that a message built from values (a template string) costs
 * nothing on the hot path when the assertion holds, which is always.
 */
export function assert(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionError(typeof message === 'string' ? message : message());
}

/** As `assert`, for the stock invariants. */
export function assertInvariant(
  condition: boolean,
  message: string | (() => string),
): asserts condition {
  if (!condition) throw new InvariantError(typeof message === 'string' ? message : message());
}
